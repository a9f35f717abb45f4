"""The workflow's profiles, schemas and CI script: what a dry run (or a run in a temporary copy) shows.

Every Snakemake call here runs in a temporary copy of the workflow (results there too), never in the repository:
a run there would write Snakemake's records beside the committed results."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from test_workflow import ROOT, TRAINING_RULES, checkout_copy, planned_jobs, scheduled_runs


def workflow_copy(dest: Path) -> Path:
    """The workflow without results (the library linked, not copied), dated two hours ago (older than any result
    a test writes, as in a checkout whose results were made after its code): a place to run Snakemake for real."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml", "environment.yml"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("workflow", "paper", "profiles"):
        shutil.copytree(ROOT / name, dest / name)
    then = time.time() - 7200
    for f in dest.rglob("*"):
        if f.is_file():
            os.utime(f, (then, then))
    (dest / "src").symlink_to(ROOT / "src")
    return dest


def snakemake_in(repo: Path, *args: str, overrides: dict | None = None) -> tuple[int, str]:
    """snakemake in `repo`, with typed config overrides after config.yaml; (return code, its output)."""
    cmd = [sys.executable, "-m", "snakemake", "--nolock", "--cores", "1"]
    if overrides is not None:
        (repo / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        cmd += ["--configfiles", "config.yaml", "overrides.yaml"]
    res = subprocess.run(cmd + list(args), cwd=repo, capture_output=True, text=True, timeout=600)
    return res.returncode, res.stdout + res.stderr


def copy_runs(results: Path, runs: list[str], oldest: float) -> None:
    """Committed run folders (without resume.pt), their files dated in path order from `oldest` on."""
    for run in runs:
        shutil.copytree(ROOT / "results" / run, results / run, ignore=shutil.ignore_patterns("resume.pt"))
    for i, f in enumerate(sorted(p for run in runs for p in (results / run).rglob("*") if p.is_file())):
        os.utime(f, (oldest + i, oldest + i))


@pytest.mark.slow  # makes Figure 7 and the claims for real (~1 min)
def test_an_extended_run_brought_home_remakes_figure7_and_the_claims(tmp_path):
    """The appendix-B extended MLT run is a GPU job that may come home from another machine: its arrival remakes
    Figure 7 and results/claims.csv (its provenance digest is a param, as for the paper's MLT runs)."""
    repo = workflow_copy(tmp_path)
    results = repo / "results"
    paper = [f"runs/{regime}/{task}/{model}/seed1337" for regime in ("main", "controlled")
             for task in ("arithmetic", "capitals", "joint") for model in ("n14", "n28", "n56")]
    start = time.time() - 3600  # datasets, then runs, then the out-of-domain file made from a run
    copy_runs(results, ["datasets/arithmetic", "datasets/capitals", "datasets/joint"], start)
    copy_runs(results, paper, start + 100)
    copy_runs(results, ["ood/main/arithmetic/n14/seed1337"], start + 1000)
    where = {"blog": {"enabled": False}, "run_mlt": "never"}
    targets = ["--", "results/figures/figure7.png", "results/claims.csv"]
    code, out = snakemake_in(repo, "-n", *targets, overrides=where)
    assert code == 0, out[-3000:]
    assert planned_jobs(out) == {"make_figure": 1, "check_claims": 1}, out[-3000:]
    code, out = snakemake_in(repo, *targets, overrides=where)
    assert code == 0, out[-3000:]
    assert planned_jobs(snakemake_in(repo, "-n", *targets, overrides=where)[1]) == {}
    # the finished extended run arrives (a committed MLT run's files stand in for it: only its presence counts)
    shutil.copytree(ROOT / "results/runs/main/arithmetic/mlt/seed1337", results / "runs/extended/arithmetic/mlt/seed1337")
    code, out = snakemake_in(repo, "-n", *targets, overrides=where)
    assert code == 0, out[-3000:]
    assert planned_jobs(out) == {"make_figure": 1, "check_claims": 1}, out[-3000:]  # read, never trained here
    assert "Params have changed" in out and "wildcards: n=7" in out


def test_a_snapshot_with_a_blog_run_absent_trains_no_blog_model(tmp_path):
    """profiles/snapshot trains nothing: a blog run not there (no run.json) is left out, not trained."""
    results = tmp_path / "results"
    for part in ("blog/data", "blog/runs/cpu_stop-off"):
        shutil.copytree(ROOT / "results" / part, results / part)
    repo = workflow_copy(tmp_path / "repo")
    target = ["--", f"{results}/blog/summary.json"]
    plans = {}
    for snapshot in (False, True):
        code, out = snakemake_in(repo, "-n", *target, overrides={"results_dir": str(results),
                                                                 "finished_runs_only": snapshot})
        assert code == 0, out[-3000:]
        plans[snapshot] = (planned_jobs(out), out)
    assert plans[False][0]["train_blog_model"] == 1  # the full pipeline trains the missing run
    jobs, out = plans[True]
    assert "train_blog_model" not in jobs and "compare_blog_learn_to_stop" not in jobs, jobs
    assert jobs.get("write_blog_summary") == 1 and "cpu_stop-on" not in out


def _training_blocks(out: str) -> list[str]:
    return [block for block in out.split("\nrule ")[1:] if block.split(":", 1)[0] in TRAINING_RULES]


@pytest.mark.parametrize("profile", ["gpu", "slurm"])
def test_a_gpu_profile_on_a_fresh_clone_trains_only_the_missing_mlt_runs_and_keeps_the_experiments(tmp_path, profile):
    """Regenerating everything with profiles/gpu or profiles/slurm trains the paper's MLT runs not committed and
    nothing else, and its report and claims keep the committed experiments (profiles/cpu/experiments.yaml)."""
    repo = checkout_copy(tmp_path / "repo")
    res = subprocess.run([sys.executable, "-m", "snakemake", "--nolock", "-n", "--workflow-profile", f"profiles/{profile}",
                          "--forcerun", "check_claims", "render_report"],
                         cwd=repo, capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    missing = {(regime, task, "mlt") for regime in ("main", "controlled") for task in ("arithmetic", "capitals", "joint")
               if not (repo / f"results/runs/{regime}/{task}/mlt/seed1337/provenance.json").exists()}
    blocks = _training_blocks(out)
    assert all(b.startswith("train_model:") and "reason: Missing output files" in b for b in blocks), blocks[:1]
    assert scheduled_runs("\n".join(blocks)) == missing and len(blocks) == len(missing)
    claims = next(b for b in out.split("\nrule ")[1:] if b.startswith("check_claims:"))
    report = next(b for b in out.split("\nrule ")[1:] if b.startswith("render_report:"))
    assert "results/runs/main/arithmetic/n14/seed1338/metrics.csv" in claims  # the seeds experiment
    assert "results/runs/long/arithmetic/n28/seed1337/metrics.csv" in claims  # the longer training
    for table in ("seeds", "sweep", "long_training"):
        assert f"results/experiments/{table}.csv" in report


def test_the_slurm_profile_gives_the_stacked_and_blog_jobs_a_runtime(tmp_path):
    """The default runtime (120 min) is far too short for a 300k-iteration stack or a blog run."""
    repo = workflow_copy(tmp_path / "repo")
    (repo / "extra.yaml").write_text(yaml.safe_dump({
        "results_dir": f"{tmp_path}/results", "stack_runs": True, "tasks": ["arithmetic"], "models": ["n14"],
        "experiments": {"sweep": {"enabled": True, "widths": [8], "tasks": ["arithmetic"]},
                        "long_training": {"enabled": True, "models": ["n56"]}}}))
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--nolock", "-n", "--workflow-profile", "profiles/slurm",
         "--configfiles", "config.yaml", "profiles/slurm/overrides.yaml", "extra.yaml"],
        cwd=repo, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    runtimes = {}
    for block in out.split("\nrule ")[1:]:
        resources = re.search(r"\n\s+resources: ([^\n]*)", block)
        if resources and "runtime=" in resources.group(1):
            runtimes.setdefault(block.split(":", 1)[0], set()).add(int(re.search(r"runtime=(\d+)", resources.group(1)).group(1)))
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())["set-resources"]
    for rule in ("train_stack", "train_sweep_stack", "train_long_stack", "train_blog_model"):
        assert rule in runtimes, sorted(runtimes)
        assert runtimes[rule] == {profile[rule]["runtime"]} and profile[rule]["runtime"] > 120
    assert runtimes["train_long_stack"] == {1080}  # two 300k-iteration n56 runs: ~5 h each on a CPU core


def test_schema_defaults_are_config_yaml_values():
    """A key left out of config.yaml gets the schema's default: the same value config.yaml writes."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    schemas = ROOT / "workflow" / "schemas"
    mismatches = []

    def compare(default, value, path):
        if isinstance(default, dict) and isinstance(value, dict):
            for key, sub in default.items():  # a mapping default: each key it gives
                if key in value:
                    compare(sub, value[key], f"{path}.{key}")
        elif default != value:
            mismatches.append((path, default, value))

    def walk(schema, value, path):
        if schema.get("$ref", "").endswith(".yaml"):
            schema = {**yaml.safe_load((schemas / schema["$ref"]).read_text()), **schema}
        if "default" in schema:
            compare(schema["default"], value, path)
        if not isinstance(value, dict):
            return
        properties = schema.get("properties") or {}
        for key, sub in value.items():
            if key in properties:
                walk(properties[key], sub, f"{path}.{key}".lstrip("."))
            elif isinstance(schema.get("additionalProperties"), dict):
                walk(schema["additionalProperties"], sub, f"{path}.{key}".lstrip("."))

    walk(yaml.safe_load((schemas / "config.schema.yaml").read_text()), config, "")
    assert mismatches == []


@pytest.mark.parametrize("section, key, value", [
    ("data", "heldout_fraction", 1.0), ("data", "heldout_fraction", 0.0), ("data", "operand_min", 0),
    ("data", "n_lines", 0), ("training", "batch_size", 0), ("training", "learning_rate", 0.0),
    ("evaluation", "max_new_tokens", 0), ("claims", "termination_common", 1.5), ("claims", "grokking_jump", 0.0),
    ("models.cpu", "epochs", 0), ("models.cpu", "dropout", 1.5), ("models.distilgpt2", "init", "random"),
])
def test_blog_settings_out_of_range_stop_with_the_key_named(section, key, value):
    sys.path.insert(0, str(ROOT / "src"))
    from toobig.config import ConfigError, load_config, validate_config

    config = load_config(ROOT / "config.yaml")
    node = config["blog"]
    for part in section.split("."):
        node = node[part]
    node[key] = value
    with pytest.raises(ConfigError, match=re.escape(key) if key != "init" else "random"):
        validate_config(config, "test config", ROOT / "workflow" / "schemas" / "config.schema.yaml")


def _ci_run(tmp_path: Path, make_output: str, make_status: int) -> subprocess.CompletedProcess:
    """.ci/run with `make` and `python` stubbed: make prints make_output and exits make_status."""
    repo, stubs = tmp_path / "repo", tmp_path / "bin"
    (repo / ".ci").mkdir(parents=True)
    stubs.mkdir()
    shutil.copy2(ROOT / ".ci" / "run", repo / ".ci" / "run")
    (stubs / "python").write_text("#!/bin/sh\nexit 0\n")
    (stubs / "make").write_text(f"#!/bin/sh\nprintf '%s\\n' '{make_output}'\nexit {make_status}\n")
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", str(repo / ".ci" / "run")], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("make_output, make_status, ok", [
    ("===== 412 passed, 3 skipped in 600.00s =====", 0, True),
    ("===== no tests ran in 0.01s =====", 0, False),  # e.g. a make recipe that swallowed pytest's status
    ("===== 2 failed, 410 passed in 600.00s =====", 2, False),
])
def test_ci_fails_unless_some_tests_passed(tmp_path, make_output, make_status, ok):
    res = _ci_run(tmp_path, make_output, make_status)
    assert (res.returncode == 0) == ok, res.stdout + res.stderr
    assert make_output in res.stdout  # the test output is still shown
    if not ok and make_status:
        assert res.returncode == make_status
