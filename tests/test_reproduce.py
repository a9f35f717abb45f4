"""The committed results still reproduce: tables from the committed metrics, the CI slice of the DAG, and
the headline of Table 2 re-trained at full protocol. Marked slow (minutes); `make test` and CI run them.
These compare the pipeline's output with what it wrote before, so they catch drift (in the code, the committed
runs or the machine), not a wrong formula: that the tables and verdicts are right is tested on hand-written runs
with known answers (test_tables.py, test_claims.py, test_experiments.py), and the training-time numbers against
the paper's in the report."""
from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from toobig.analysis.claims import write_claims
from toobig.analysis.runs import best_row, read_metrics
from toobig.analysis.tables import write_table
from toobig.config import load_config
from toobig.train import cpu_name

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ROOT / "tests" / "expected"
CI_RUNS = [("main", task, model) for task in ("arithmetic", "capitals") for model in ("n14", "n28")]


def test_committed_tables_regenerate_byte_for_byte_from_committed_metrics(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the tables name run folders relative to the repository, as the pipeline does
    # the committed tables are a snapshot of the finished runs (profiles/snapshot)
    config = {**load_config(ROOT / "config.yaml"), **load_config(ROOT / "profiles/snapshot/overrides.yaml")}
    committed = sorted((ROOT / "results" / "tables").glob("table*.csv"))
    assert len(committed) == 7, "results/tables/table1..7.csv are committed"
    for table in committed:
        number = int(table.stem.removeprefix("table"))
        out = tmp_path / table.name
        write_table(number, config, "results", "paper", out)
        assert out.read_bytes() == table.read_bytes(), f"{table.name} no longer follows from the committed runs"


def snapshot_config() -> dict:
    """The configuration profiles/snapshot runs with: its configfiles merged as Snakemake merges them."""
    from snakemake.utils import update_config

    config = {}
    for path in yaml.safe_load((ROOT / "profiles/snapshot/config.yaml").read_text())["configfiles"]:
        update_config(config, load_config(ROOT / path))
    return config


def test_committed_claims_and_experiment_tables_follow_from_the_committed_runs(tmp_path, monkeypatch):
    """The claims (byte for byte); seeds, sweep and longer training, with the held-out expressions re-sampled from each best checkpoint, and the
    out-of-domain and evaluation-sensitivity samples: every value equal to the committed one except the seconds
    the re-sampling took, which are measured anew."""
    from toobig import experiments as X
    from toobig.analysis import experiments as A

    monkeypatch.chdir(ROOT)
    config = snapshot_config()
    paper = {tuple(run.values()) for run in X.paper_runs(config)}
    runs = {name: X.experiment_runs(config, name) for name in ("seeds", "sweep", "long_training")}
    A.write_seeds_tables(runs["seeds"], "results", tmp_path / "seeds.csv", tmp_path / "seeds_outcomes.csv", paper)
    A.write_sweep(runs["sweep"], "results", {"model_settings": config["model_settings"]}, tmp_path / "sweep.csv",
                  tmp_path / "sweep.png", paper)
    long = A.write_runs_table(runs["long_training"], "results", tmp_path / "long_training.csv", paper, finished_only=True)
    A.write_heldout_stretches(long, X.experiments_section(config)["long_training"]["stretch_ends"],
                              tmp_path / "long_training_stretches.csv")
    write_claims(config, "results", "paper", tmp_path / "claims.csv")
    assert (tmp_path / "claims.csv").read_bytes() == (ROOT / "results/claims.csv").read_bytes(), \
        "results/claims.csv no longer follows from the committed runs"
    for name, run_list in runs.items():
        A.write_heldout_by_expression(run_list, "results", tmp_path / f"{name}_heldout.csv")
    compared = ["seeds.csv", "seeds_outcomes.csv", "sweep.csv", "long_training.csv", "long_training_stretches.csv",
                "seeds_heldout.csv", "sweep_heldout.csv", "long_training_heldout.csv"]
    # and the evaluation-only experiments' samples: each committed file re-sampled from its run's best checkpoint
    experiments = ROOT / "results/experiments"
    resampled = {}
    for path in sorted(experiments.glob("ood/*/*/seed*/samples.csv")):
        regime, model, seed = path.parts[-4:-1]
        name = str(path.relative_to(experiments))
        resampled[name] = A.write_ood_samples(f"results/runs/{regime}/arithmetic/{model}/{seed}/best.pt",
                                              config["data"], tmp_path / name)
    for path in sorted(experiments.glob("sensitivity/*/*/*/seed*.csv")):
        regime, task, model = path.parts[-4:-1]
        name = str(path.relative_to(experiments))
        resampled[name] = A.write_variants(f"results/runs/{regime}/{task}/{model}/{path.stem}/best.pt", config["data"],
                                           config["experiments"]["sensitivity_eval"]["variants"], tmp_path / name)
    # out of domain: every finished arithmetic n-model run of the paper and of the seeds experiment, both regimes;
    # evaluation sensitivity: n14/n28 x 3 tasks
    def evaluable(run):  # finished, with its checkpoint (a GPU run may have come home without one)
        folder = Path(f"results/runs/{run['regime']}/arithmetic/{run['model']}/seed{run['seed']}")
        return (folder / "provenance.json").exists() and (folder / "best.pt").exists()

    arithmetic = [run for run in X.paper_runs(config) + runs["seeds"] if run["task"] == "arithmetic" and evaluable(run)]
    assert {name for name in resampled if name.startswith("ood/")} == \
        {f"ood/{run['regime']}/{run['model']}/seed{run['seed']}/samples.csv" for run in arithmetic}
    assert len([name for name in resampled if name.startswith("sensitivity/")]) == 6
    for name in compared + list(resampled):
        ours = pd.read_csv(tmp_path / name, dtype=str, keep_default_na=False)
        committed = pd.read_csv(experiments / name, dtype=str, keep_default_na=False)
        if name.endswith("_heldout.csv"):  # no timing column: byte for byte
            assert (tmp_path / name).read_bytes() == (experiments / name).read_bytes(), name
        # seconds measured anew: wall_seconds where it is an evaluation's time (the samples keep theirs apart)
        measured = {"wall_seconds"} if name.startswith("sensitivity/") else set()
        timing = [c for c in committed if c in measured]
        pd.testing.assert_frame_equal(ours.drop(columns=timing), committed.drop(columns=timing), obj=name)
        assert len(committed) > 0, name


@pytest.mark.slow
def test_ci_slice_of_the_dag_matches_the_expected_outputs(tmp_path):
    """Datasets, four 1,000-iteration runs, tables, figures, claims and report, end to end."""
    where = tmp_path / "where.yaml"
    where.write_text(yaml.safe_dump({"results_dir": str(tmp_path / "results")}))
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--workflow-profile", "profiles/ci",
         "--configfiles", "config.yaml", "profiles/ci/overrides.yaml", str(where)],
        cwd=ROOT, capture_output=True, text=True, timeout=1500,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "results"
    # CPU training is deterministic on one kind of processor: there, metrics must match byte for byte. Another
    # kind rounds differently from the first steps on (see test_table2_headline...): there the schedule, the
    # evaluation totals and the columns must match, and the losses within 5% (at most 2.9% seen on AMD EPYC after
    # these 1,000 iterations; the difference grows with training), but not the accuracies, which jump by hundreds
    # of answers between neighbouring evaluations while a model learns.
    reference = REFERENCE_VENDOR in cpu_name()
    for regime, task, model in CI_RUNS:
        got = out / "runs" / regime / task / model / "seed1337" / "metrics.csv"
        want = EXPECTED / "ci" / regime / task / model / "metrics.csv"
        if reference:
            assert filecmp.cmp(got, want, shallow=False), f"{regime}/{task}/{model} metrics.csv differs from {want}"
            continue
        ours, theirs = pd.read_csv(got), pd.read_csv(want)
        fixed = ["iter", "lr"] + [c for c in theirs.columns if c.endswith("_total")]
        assert list(ours.columns) == list(theirs.columns)
        pd.testing.assert_frame_equal(ours[fixed], theirs[fixed])
        for loss in ("batch_loss", "train_loss", "val_loss"):
            pd.testing.assert_series_equal(ours[loss], theirs[loss], rtol=0.05, check_exact=False)
    for n in (2, 3):  # every column but run_dir, which names this test's temporary folder (and, see above,
        # on another kind of processor the measured ones)
        got = pd.read_csv(out / "tables" / f"table{n}.csv").drop(columns="run_dir")
        want = pd.read_csv(EXPECTED / "ci" / f"table{n}.csv").drop(columns="run_dir")
        if not reference:
            measured = measured_columns(want)
            got, want = got.drop(columns=measured), want.drop(columns=measured)
        pd.testing.assert_frame_equal(got, want)
    for n in range(1, 8):
        assert (out / "figures" / f"figure{n}.png").stat().st_size > 10_000
    html = (out / "report.html").read_text()
    assert "Table 2" in html and "Table 3" in html and "not run" in html


@pytest.mark.slow
def test_table2_headline_retrains_to_the_committed_metrics(tmp_path):
    """n14 and n28 on arithmetic at full protocol (30,001 iterations, seed 1337), two processes in parallel."""
    data = tmp_path / "arithmetic"
    subprocess.run([sys.executable, "-m", "toobig", "data", "--task", "arithmetic", "--out", str(data)],
                   cwd=ROOT, check=True, capture_output=True)
    committed = {m: ROOT / "results" / "runs" / "main" / "arithmetic" / m / "seed1337" / "metrics.csv" for m in ("n14", "n28")}
    assert all(p.exists() for p in committed.values()), "the committed Table 2 runs are missing"
    procs = {
        m: subprocess.Popen([sys.executable, "-m", "toobig", "train", "--task", "arithmetic", "--model", m,
                             "--regime", "main", "--seed", "1337", "--data", str(data), "--out", str(tmp_path / m)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for m in committed
    }
    for m, proc in procs.items():
        _, err = proc.communicate(timeout=2400)
        assert proc.returncode == 0, err[-2000:]
    if REFERENCE_VENDOR in cpu_name():
        for m, path in committed.items():
            assert (tmp_path / m / "metrics.csv").read_bytes() == path.read_bytes(), f"{m} no longer reproduces"
        return
    # Another kind of processor rounds differently from the first steps on (its BLAS takes other kernels; seen on
    # AMD EPYC: n14's loss at iteration 250 is 1.870 instead of 1.894), so no byte can be expected to match. What
    # must still follow is what Table 2 is read for, at the best evaluation: whether the held-out (5,7) answers
    # are all right, all wrong or in between, and whether the seen arithmetic reaches 97.8%.
    for m, path in committed.items():
        ours, theirs = (best_row(read_metrics(f)) for f in (tmp_path / m / "metrics.csv", path))
        assert table2_outcome(ours) == table2_outcome(theirs), \
            f"{m} on {cpu_name()}: {table2_outcome(ours)}; committed (trained on {REFERENCE_VENDOR}): {table2_outcome(theirs)}"


# The committed Table 2 runs were trained, and retrained byte for byte by this test, on Intel Xeon (AVX-512) machines.
REFERENCE_VENDOR = "GenuineIntel"


def measured_columns(table: pd.DataFrame) -> list[str]:
    """A paper table's columns that depend on what training measured: the best evaluation and each metric's value,
    count, difference from the paper and whether it matches the paper's printed value."""
    metrics = [c.removesuffix("_correct") for c in table.columns if c.endswith("_correct") and not c.startswith("paper_")]
    return ["best_iter"] + [c for c in table.columns
                            if c in metrics or any(c == m + end for m in metrics for end in ("_correct", "_diff", "_matches_printed"))]


def table2_outcome(row) -> tuple[str, bool]:
    held = int(row["heldout_correct"])
    seen = min(row["add_correct"] / row["add_total"], row["sub_correct"] / row["sub_total"])
    return ("all 40" if held == 40 else "none" if held == 0 else "some"), bool(seen >= 0.978)
