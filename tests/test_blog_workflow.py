"""The blog rules end to end on tiny data: a Snakefile that includes only workflow/rules/blog.smk."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

TINY_MODEL = {"init": "scratch", "pretrained": "", "n_layer": 1, "n_embd": 16, "n_head": 2, "n_positions": 40,
              "dropout": 0.1, "compact_vocab": True, "epochs": 2, "eval_every": 1}


def _write_blog_only_workflow(tmp_path: Path, blog: dict) -> None:
    """A config with only the blog section and a Snakefile that includes only blog.smk."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"results_dir": "results", "blog": blog}))
    (tmp_path / "Snakefile").write_text(
        'configfile: "config.yaml"\n'
        f'include: "{REPO}/workflow/rules/blog.smk"\n'
        "rule all:\n    input: blog_targets()\n")


@pytest.mark.slow  # runs 14 Snakemake jobs (~45 s CPU)
def test_blog_rules_run_end_to_end(tmp_path):
    blog = yaml.safe_load((REPO / "config.yaml").read_text())["blog"]
    blog["data"]["n_lines"] = 120
    blog["evaluation"].update(train_subset=10, max_new_tokens=4)
    blog["models"] = {"cpu": TINY_MODEL}
    blog["model"] = "cpu"
    _write_blog_only_workflow(tmp_path, blog)
    (tmp_path / "workflow" / "report").mkdir(parents=True)
    for f in (REPO / "workflow" / "report").glob("blog*"):
        shutil.copy(f, tmp_path / "workflow" / "report")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--quiet"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "results" / "blog" / "summary.json").read_text())
    assert sorted(summary["runs"]) == ["cpu_stop-off", "cpu_stop-on"]
    assert summary["runs"]["cpu_stop-on"]["learn_to_stop"] is True
    assert summary["learn_to_stop_comparison"]["claim"] == "learn_to_stop_removes_termination_failures"
    assert (tmp_path / "results" / "blog" / "runs" / "cpu_stop-off" / "dynamics.png").exists()
    assert "blog-experiment" in (tmp_path / "results" / "blog" / "report.html").read_text()
    # a changed setting re-trains both runs, also without Snakemake's records (a fresh clone has none)
    shutil.rmtree(tmp_path / ".snakemake")
    blog["training"]["learning_rate"] = blog["training"]["learning_rate"] / 2
    _write_blog_only_workflow(tmp_path, blog)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and out.count("rule train_blog_model:") == 2, out[-3000:]
    mark = tmp_path / "results" / "blog" / "runs" / "cpu_stop-on" / "config_changed.txt"
    assert f"Updated input files: results/blog/runs/cpu_stop-on/config_changed.txt" in out and "learning_rate" in mark.read_text()


def test_disabled_blog_has_no_targets(tmp_path):
    blog = yaml.safe_load((REPO / "config.yaml").read_text())["blog"]
    blog["enabled"] = False
    _write_blog_only_workflow(tmp_path, blog)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "train_blog_model" not in proc.stdout + proc.stderr
