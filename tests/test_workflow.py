"""The Snakemake workflow: config validation, what a target schedules, profiles, lint, packaging."""
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

ROOT = Path(__file__).resolve().parents[1]


def snakemake(*args: str, overrides: dict | None = None, tmp_path: Path | None = None) -> subprocess.CompletedProcess:
    """Run snakemake in the repository, with typed config overrides from a temporary YAML file."""
    cmd = [sys.executable, "-m", "snakemake", "--nolock", "--cores", "2"]
    if overrides is not None:
        extra = tmp_path / "overrides.yaml"
        extra.write_text(yaml.safe_dump(overrides))
        cmd += ["--configfiles", str(ROOT / "config.yaml"), str(extra)]
    cmd += list(args)  # targets last, after "--" (list options would swallow them)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts from a dry run's 'Job stats' table."""
    stats = output.split("Job stats:", 1)[1] if "Job stats:" in output else ""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m.group(1) != "total"}


def scheduled_runs(output: str) -> set[tuple[str, str, str]]:
    return set(re.findall(r"wildcards: regime=(\w+), task=(\w+), model=(\w+), seed=\d+", output))


def test_table3_target_schedules_only_the_capitals_runs(tmp_path):
    res = snakemake("-n", "--", f"{tmp_path}/results/tables/table3.csv",
                    overrides={"results_dir": f"{tmp_path}/results", "run_mlt": "never"}, tmp_path=tmp_path)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert scheduled_runs(out) == {("main", "capitals", m) for m in ("n14", "n28", "n56")}
    jobs = planned_jobs(out)
    assert jobs["train_model"] == 3
    assert jobs["make_dataset"] == 1
    assert sum(v for k, v in jobs.items() if k not in ("train_model", "make_dataset")) == 1  # one table job


def test_mlt_runs_are_gpu_jobs_when_planned(tmp_path):
    res = snakemake("-n", "-p", "--", f"{tmp_path}/results/tables/table2.csv",
                    overrides={"results_dir": f"{tmp_path}/results", "run_mlt": "always"}, tmp_path=tmp_path)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert ("main", "arithmetic", "mlt") in scheduled_runs(out)
    # each job block lists its wildcards then its resources: the MLT block asks for a GPU, the n-models do not
    blocks = out.split("rule train_model:")[1:]
    gpus = {re.search(r"model=(\w+)", b).group(1): re.search(r"gpu=(\d)", b).group(1) for b in blocks}
    assert gpus == {"n14": "0", "n28": "0", "n56": "0", "mlt": "1"}


def test_without_a_gpu_the_default_plans_no_mlt_run(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: run_mlt: auto plans the MLT here")
    res = snakemake("-n", overrides={"results_dir": f"{tmp_path}/results", "blog": {"enabled": False}},
                    tmp_path=tmp_path)
    assert res.returncode == 0, res.stderr
    runs = scheduled_runs(res.stdout + res.stderr)
    assert len(runs) == 18 and not any(m == "mlt" for _, _, m in runs)


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"training": {"max_iter": 10}}, "max_iter"),
        ({"training": {"max_iters": "many"}}, "max_iters"),
        ({"evaluation": {"grid": 95}}, "grid"),
        ({"models": ["n14", "n99"]}, "models"),
        ({"seeds": [1337, 1337]}, "has non-unique elements"),
        ({"experiments": {"seeds": {"seeds": [1338, 1338]}}}, "has non-unique elements"),
    ],
)
def test_invalid_config_stops_with_a_message_naming_the_key(tmp_path, overrides, key):
    res = snakemake("-n", overrides=overrides, tmp_path=tmp_path)
    assert res.returncode != 0
    err = res.stderr + res.stdout
    assert "config.yaml (with any --configfile or --config) is invalid" in err and key in err
    assert "--config arrive as text" not in err  # the hint is for numbers in quotes only


def test_a_list_given_with_config_on_the_command_line_gets_a_hint():
    """Snakemake reads `--config seeds=[1337,1338]` as the strings '1337' and '1338': say so, and what to do."""
    res = snakemake("-n", "--config", "seeds=[1337,1338]")
    err = res.stderr + res.stdout
    assert res.returncode != 0 and "'1337' is not of type 'integer'" in err
    assert "put them in a YAML file and pass it with --configfile" in err


def test_jobs_run_the_library_beside_the_snakefile(tmp_path):
    """Another checkout's toobig (an editable install elsewhere) must not run this workflow's jobs."""
    probe = tmp_path / "probe.smk"
    probe.write_text(f'include: "{ROOT}/workflow/rules/common.smk"\n'
                     f'rule probe:\n    output: "{tmp_path}/where.txt"\n'
                     f'    shell: "python -c \'import toobig; print(toobig.__file__)\' > {{output}}"\n')
    cmd = [sys.executable, "-m", "snakemake", "--nolock", "--cores", "1", "-s", str(probe), "-d", str(ROOT),
           "--configfile", str(ROOT / "config.yaml")]
    elsewhere = tmp_path / "elsewhere" / "toobig"
    elsewhere.mkdir(parents=True)
    (elsewhere / "__init__.py").write_text("")  # a stand-in for another checkout's package, found first without the fix
    env = {**os.environ, "PYTHONPATH": str(elsewhere.parent)}
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "where.txt").read_text().strip() == str(ROOT / "src" / "toobig" / "__init__.py")


def test_editing_a_protocol_value_changes_only_the_affected_runs_params():
    """Run settings are rule params: a capitals batch-size edit changes capitals runs, nothing else."""
    sys.path.insert(0, str(ROOT / "src"))
    from toobig.config import load_config, resolve_run

    config = load_config(ROOT / "config.yaml")
    before = {(t, m): resolve_run(config, t, m, "main", 1337) for t in ("arithmetic", "capitals", "joint") for m in ("n14", "n56")}
    config["task_settings"]["capitals"]["batch_size"] = 100
    changed = {k for k, v in before.items() if resolve_run(config, *k, "main", 1337) != v}
    assert changed == {("capitals", "n14"), ("capitals", "n56")}


def test_slurm_profile_dry_run_requests_gpus_for_mlt(tmp_path):
    extra = tmp_path / "where.yaml"
    extra.write_text(yaml.safe_dump({"results_dir": f"{tmp_path}/results", "blog": {"enabled": False}}))
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--nolock", "-n", "--workflow-profile", "profiles/slurm",
         "--configfiles", "config.yaml", "profiles/slurm/overrides.yaml", str(extra)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout + res.stderr
    assert ("controlled", "joint", "mlt") in scheduled_runs(out)
    assert planned_jobs(out)["train_model"] == 24
    # each training job's resources: the 6 MLT runs ask for a GPU on the GPU partition, the 18 n-models for neither
    jobs = re.findall(r"rule train_model:.*?wildcards: regime=\w+, task=\w+, model=(\w+), seed=\d+\n\s+resources: ([^\n]*)",
                      out, re.S)
    assert len(jobs) == 24
    for model, resources in jobs:
        gpu = "gpu=1" in resources
        assert gpu == (model == "mlt") and (f"slurm_partition={'gpu' if gpu else 'cpu'}" in resources), resources
    assert "runtime=240" in jobs[0][1]


def test_lint_reports_nothing():
    res = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--nolock"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Lints for" not in res.stdout + res.stderr, res.stdout + res.stderr


def _pins(requirements) -> dict[str, str]:
    pins = {}
    for req in requirements:
        name, _, version = req.split("#")[0].strip().partition("==")
        pins[name.strip().lower()] = version.strip()
    return pins


def test_environment_yml_names_the_same_pinned_packages_as_pyproject():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    pip_section = next(d["pip"] for d in env if isinstance(d, dict))
    assert _pins(project) == _pins(pip_section)
    assert all(v for v in _pins(project).values()), "every dependency is pinned"


def test_a_snapshot_tabulates_finished_experiment_runs_and_trains_none(tmp_path):
    run = "runs/main/arithmetic/n14/seed1337"  # the committed run (its provenance.json is read: is it current?)
    shutil.copytree(ROOT / "results" / run, tmp_path / "results" / run, ignore=shutil.ignore_patterns("resume.pt"))
    seeds = {"enabled": True, "seeds": [1337, 1338], "tasks": ["arithmetic"], "models": ["n14"], "regimes": ["main"]}
    target = f"{tmp_path}/results/experiments/seeds.csv"
    plans, trained = {}, {}
    for snapshot in (False, True):
        res = snakemake("-n", "--", target, tmp_path=tmp_path,
                        overrides={"results_dir": f"{tmp_path}/results", "finished_runs_only": snapshot,
                                   "experiments": {"seeds": seeds}})
        assert res.returncode == 0, res.stderr
        plans[snapshot] = planned_jobs(res.stdout + res.stderr)
        trained[snapshot] = set(re.findall(r"model=n14, seed=(\d+)", res.stdout + res.stderr))
    assert "1338" in trained[False]  # the full pipeline trains the missing seed
    assert plans[True] == {"make_seeds_table": 1} and not trained[True]  # the snapshot lists it as not run


def test_a_snapshot_tabulates_an_mlt_run_trained_elsewhere_without_its_checkpoint(tmp_path):
    """The GPU-trained MLT runs come home without best.pt (42 MB each): a snapshot on this GPU-less machine
    puts them in the tables and trains nothing; so does the full pipeline, which trains no MLT here."""
    run = "runs/main/capitals/mlt/seed1337"
    shutil.copytree(ROOT / "results" / run, tmp_path / "results" / run)
    assert not (tmp_path / "results" / run / "best.pt").exists()
    target = f"{tmp_path}/results/tables/table3.csv"
    outs = {}
    for snapshot in (False, True):
        res = snakemake("-n", "--", target, tmp_path=tmp_path,
                        overrides={"results_dir": f"{tmp_path}/results", "finished_runs_only": snapshot,
                                   "run_mlt": "auto"})
        assert res.returncode == 0, res.stderr[-2000:]
        outs[snapshot] = res.stdout + res.stderr
    assert planned_jobs(outs[True]) == {"make_table": 1}  # no train_model for the missing best.pt
    assert f"{tmp_path}/results/{run}/metrics.csv" in outs[True]
    # an arithmetic MLT run without best.pt has nothing to evaluate out of domain: the table leaves it out
    # rather than retrain it for the checkpoint (the folder stands in for one; only its files' presence counts)
    shutil.copytree(ROOT / "results" / run, tmp_path / "results" / run.replace("capitals", "arithmetic"))
    res = snakemake("-n", "--", f"{tmp_path}/results/experiments/ood.csv", tmp_path=tmp_path,
                    overrides={"results_dir": f"{tmp_path}/results", "finished_runs_only": True, "run_mlt": "auto"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert planned_jobs(res.stdout + res.stderr) == {"make_ood_table": 1}
    import torch

    if not torch.cuda.is_available():
        assert "mlt" not in str(scheduled_runs(outs[False]))


def test_a_changed_setting_retrains_a_finished_run_without_snakemake_records(tmp_path):
    """A fresh clone has no .snakemake records, so params cannot trigger: the run's provenance.json is compared
    with the settings it gets now, and a finished run that differs is re-trained, saying what changed."""
    results = tmp_path / "results"
    run = "runs/main/arithmetic/n14/seed1337"
    for part in ("datasets/arithmetic", run):  # the committed dataset and run, the run written after the dataset
        shutil.copytree(ROOT / "results" / part, results / part, ignore=shutil.ignore_patterns("resume.pt"))
    start = time.time() - 3600
    for i, f in enumerate(sorted(p for p in results.rglob("*") if p.is_file())):
        os.utime(f, (start + i, start + i))
    target = ["--", f"{results}/{run}/metrics.csv"]
    mark = results / run / "config_changed.txt"

    def dry(overrides):
        res = snakemake("-n", *target, tmp_path=tmp_path, overrides={"results_dir": str(results), **overrides})
        assert res.returncode == 0, res.stderr[-2000:]
        return planned_jobs(res.stdout + res.stderr), res.stdout + res.stderr

    assert dry({})[0] == {}  # the committed settings: nothing to do
    jobs, out = dry({"training": {"max_iters": 1000}})
    assert jobs == {"train_model": 1} and f"Updated input files: {mark}" in out
    assert mark.read_text().splitlines()[1:] == ["max_iters: 30000 -> 1000"]
    assert dry({"finished_runs_only": True, "training": {"max_iters": 1000}})[0] == {}  # a snapshot trains nothing
    assert dry({})[0] == {} and not mark.exists()  # the change undone: the mark goes too
    # a data setting: the dataset's files are compared with what the settings give now
    data = yaml.safe_load((ROOT / "config.yaml").read_text())["data"]
    jobs, out = dry({"data": {**data, "shuffle_seed": 1}})
    data_mark = results / "datasets/arithmetic/config_changed.txt"
    assert jobs == {"make_dataset": 1, "train_model": 1} and f"Updated input files: {data_mark}" in out
    assert "train.txt differs from what the data settings give now" in data_mark.read_text()
    assert dry({})[0] == {} and not data_mark.exists()


def test_a_changed_blog_data_setting_rewrites_the_blog_dataset_without_snakemake_records(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results" / "blog" / "data", results / "blog" / "data")
    target = ["--", f"{results}/blog/data/train.txt"]
    mark = results / "blog/data/config_changed.txt"
    blog = yaml.safe_load((ROOT / "config.yaml").read_text())["blog"]

    def dry(overrides):
        res = snakemake("-n", *target, tmp_path=tmp_path, overrides={"results_dir": str(results), **overrides})
        assert res.returncode == 0, res.stderr[-2000:]
        return planned_jobs(res.stdout + res.stderr), res.stdout + res.stderr

    assert dry({})[0] == {}  # the committed dataset matches the settings
    jobs, out = dry({"blog": {**blog, "data": {**blog["data"], "n_lines": 500}}})
    assert jobs == {"make_blog_dataset": 1} and f"Updated input files: {mark}" in out
    assert "train.txt differs from what the blog.data settings give now" in mark.read_text()
    assert dry({})[0] == {} and not mark.exists()  # the change undone: the mark goes too


TRAINING_RULES = {"make_dataset", "make_blog_dataset", "train_model", "train_stack", "train_experiment", "train_sweep",
                  "train_sweep_stack", "train_long_stack", "train_blog_model"}


def checkout_copy(dest: Path) -> Path:
    """The tracked files copied as `git clone` writes them: no stored times, each file newer than the one before
    in path order, so every workflow/ file is newer than every results/ file."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True)
    if listing.returncode != 0:
        pytest.skip("not a git checkout")
    start = time.time() - 3600
    for i, name in enumerate(sorted(n for n in listing.stdout.split("\0") if n and (ROOT / n).is_file())):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, target)
        os.utime(target, (start + i * 0.01, start + i * 0.01))
    return dest


def test_a_fresh_clone_keeps_every_committed_run_and_dataset(tmp_path):
    """With the CPU profile (paper runs, experiments, blog), a fresh clone plans only the runs not committed:
    no dataset is rewritten and no committed run retrained because the code is newer than the results."""
    repo = checkout_copy(tmp_path / "repo")
    res = subprocess.run([sys.executable, "-m", "snakemake", "--nolock", "-n", "--workflow-profile", "profiles/cpu"],
                         cwd=repo, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout + res.stderr
    retrained = [block for block in out.split("\nrule ")[1:] if block.split(":", 1)[0] in TRAINING_RULES
                 and "reason: Missing output files" not in block]
    assert retrained == [], retrained[0][:800] if retrained else ""
    planned = re.findall(r"output: (\S+)/metrics\.csv", out)
    assert all(not (repo / d / "provenance.json").exists() for d in planned), planned


def test_every_committed_run_is_finished():
    """A run still training has metrics.csv and best.pt but no provenance.json (written last); committed, it
    would look like a result and restart from scratch in a clone (its resume.pt is not committed)."""
    tracked = subprocess.run(["git", "ls-files", "results/runs", "results/logs/train_*"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout with committed runs")
    run_dirs = {Path(p).parent for p in tracked if p.startswith("results/runs/")}
    unfinished = sorted(str(d) for d in run_dirs if f"{d}/provenance.json" not in tracked)
    assert unfinished == [], f"committed without provenance.json (still training?): {unfinished}"
    # results/logs/train_<rule>/<regime>/<task>/<model>/seed<seed>.log belongs to results/runs/<regime>/...
    orphan_logs = [p for p in tracked if p.startswith("results/logs/train_")
                   and "results/runs/" + "/".join(Path(p).with_suffix("").parts[3:]) + "/provenance.json" not in tracked]
    assert orphan_logs == [], f"training logs committed without a finished run: {orphan_logs}"


def test_a_run_brought_home_without_its_checkpoint_is_tabulated_and_never_retrained(tmp_path):
    """The committed arithmetic MLT run came from a GPU machine without its best.pt (42 MB): a GPU plan must not
    retrain it for the out-of-domain evaluation's sake, and a plan that trains no MLT must still read it."""
    results = tmp_path / "results"
    run = "runs/main/arithmetic/mlt/seed1337"
    shutil.copytree(ROOT / "results" / run, results / run)
    shutil.copytree(ROOT / "results" / "datasets", results / "datasets")  # as committed: not remade, so not newer
    assert not (results / run / "best.pt").exists()
    where = {"results_dir": str(results), "blog": {"enabled": False}}
    res = snakemake("-n", overrides={**where, "run_mlt": "always"}, tmp_path=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-2000:]
    trained = scheduled_runs(out)
    assert ("controlled", "arithmetic", "mlt") in trained and ("main", "arithmetic", "mlt") not in trained
    assert f"{run}/best.pt" not in out  # nothing asks for the checkpoint that is not here
    # a machine that trains no MLT: Table 2 made without it, then the run brought home remakes it (a param, so
    # that its arrival counts but its training never enters this machine's plan)
    shutil.move(results / run, tmp_path / "away")
    for model in ("n14", "n28", "n56"):
        paper_run = f"runs/main/arithmetic/{model}/seed1337"
        shutil.copytree(ROOT / "results" / paper_run, results / paper_run)
    never = {**where, "run_mlt": "never"}
    table = f"{results}/tables/table2.csv"
    assert snakemake("--", table, overrides=never, tmp_path=tmp_path).returncode == 0
    assert "main,arithmetic,mlt,1337,absent" in Path(table).read_text()
    assert planned_jobs(snakemake("-n", "--", table, overrides=never, tmp_path=tmp_path).stdout) == {}
    shutil.move(tmp_path / "away", results / run)
    res = snakemake("-n", "--", table, overrides=never, tmp_path=tmp_path)
    out = res.stdout + res.stderr
    assert planned_jobs(out) == {"make_table": 1} and "Params have changed" in out, out[-2000:]
    assert snakemake("--", table, overrides=never, tmp_path=tmp_path).returncode == 0
    assert "main,arithmetic,mlt,1337,complete" in Path(table).read_text()
