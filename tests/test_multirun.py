"""Stacked runs (toobig.multirun): equal to the runs trained one by one within a stated tolerance, the single
run's file formats, resume, and clear errors for runs that cannot share a stack.

Tolerance (CPU, float32): the stack's batched matmuls sum in another order than a single run's, so values agree
to rounding: every loss within 1e-5 relative over these 40-iteration runs, and identical evaluation counts,
scores and best iterations.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import REPO
from toobig.checkpoint import load_checkpoint
from toobig.multirun import STAGED, StackedTrainer, StackError, check_stackable
from toobig.train import METRIC_COLUMNS, Trainer, TrainingDiverged

QUIET = dict(device="cpu", log=lambda msg: None)
REL = 1e-5  # the stated float32 CPU tolerance for losses
# learns within 40 iterations (scores above 0, a best checkpoint that moves); no dropout, as a stack requires
LEARNING = dict(max_iters=40, eval_interval=10, loss_interval=20, checkpoint_interval=20, batch_size=128,
                warmup_iters=5, lr_decay_iters=40, learning_rate=3e-2)
LOSSES = ("batch_loss", "train_loss", "val_loss")


def rows_of(out):
    return list(csv.DictReader((out / "metrics.csv").open()))


@pytest.fixture(scope="module")
def stack_cfgs(make_cfg):
    """main and controlled (weight decay 0 and 0.1) of seed 1337, and main of another seed."""
    return [make_cfg(regime="main", **LEARNING),
            make_cfg(regime="controlled", **LEARNING),
            make_cfg(regime="main", seed=7, **LEARNING)]


@pytest.fixture(scope="module")
def singles(stack_cfgs, dataset_dirs, tmp_path_factory):
    root = tmp_path_factory.mktemp("singles")
    outs = [root / f"run{i}" for i in range(len(stack_cfgs))]
    for cfg, out in zip(stack_cfgs, outs):
        Trainer(cfg, dataset_dirs["arithmetic"], out, **QUIET).run()
    return outs


@pytest.fixture(scope="module")
def stacked(stack_cfgs, dataset_dirs, tmp_path_factory):
    root = tmp_path_factory.mktemp("stacked")
    outs = [root / f"run{i}" for i in range(len(stack_cfgs))]
    bests = StackedTrainer(stack_cfgs, dataset_dirs["arithmetic"], outs, **QUIET).run()
    return outs, bests


def test_stack_equals_single_runs_within_tolerance(stack_cfgs, singles, stacked):
    outs, bests = stacked
    assert stack_cfgs[0].weight_decay != stack_cfgs[1].weight_decay  # the regimes really differ
    for single, out in zip(singles, outs):
        a, b = rows_of(single), rows_of(out)
        assert [r["iter"] for r in a] == [r["iter"] for r in b] == ["0", "10", "20", "30", "40"]
        for ra, rb in zip(a, b):
            for col in METRIC_COLUMNS:
                if col in LOSSES:
                    assert (ra[col] == "") == (rb[col] == "")
                    if ra[col]:
                        assert float(rb[col]) == pytest.approx(float(ra[col]), rel=REL), (single, ra["iter"], col)
                else:  # counts, score, lr: identical
                    assert ra[col] == rb[col], (single, ra["iter"], col)
        sa = load_checkpoint(single / "best.pt")
        sb = load_checkpoint(out / "best.pt")
        assert sa["iter"] == sb["iter"] and sa["score"] == sb["score"]
        assert sa["model"].keys() == sb["model"].keys()
        for k in sa["model"]:
            torch.testing.assert_close(sb["model"][k], sa["model"][k], rtol=1e-4, atol=1e-5)
    # the counts compared are not all zero: both seed-1337 runs score above 0
    assert all(max(float(r["score"]) for r in rows_of(o)) > 0 for o in singles[:2])
    # the two seed-1337 runs saw the same batches but different weight decay: their weights differ
    w = [load_checkpoint(o / "resume.pt")["model"]["lm_head.weight"] for o in outs[:2]]
    assert not torch.equal(w[0], w[1])
    assert [b["iter"] for b in bests] == [int(load_checkpoint(o / "best.pt")["iter"]) for o in outs]


def test_stack_writes_the_single_run_files(stack_cfgs, singles, stacked, dataset_dirs, tmp_path):
    outs, _ = stacked
    for cfg, single, out in zip(stack_cfgs, singles, outs):
        assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in single.iterdir())
        assert (out / "metrics.csv").read_text().splitlines()[0] == ",".join(METRIC_COLUMNS)
        best = load_checkpoint(out / "best.pt", expect_kind="best", expect_config=cfg)
        resume = load_checkpoint(out / "resume.pt", expect_kind="resume", expect_config=cfg)
        ref = load_checkpoint(single / "resume.pt")
        assert set(resume) == set(ref)
        assert resume["optimizer"]["param_groups"][0]["params"] == ref["optimizer"]["param_groups"][0]["params"]
        assert resume["optimizer"]["state"].keys() == ref["optimizer"]["state"].keys()
        assert best["model"].keys() == load_checkpoint(single / "best.pt")["model"].keys()
        prov = json.loads((out / "provenance.json").read_text())
        assert prov["config_hash"] == cfg.config_hash() and len(prov["stacked_with"]) == 2
    # a stacked run's resume.pt is a single run's: `toobig train` on a finished stacked run changes nothing
    copy = tmp_path / "copy"
    shutil.copytree(outs[1], copy)
    before = (copy / "metrics.csv").read_bytes(), (copy / "best.pt").read_bytes()
    Trainer(stack_cfgs[1], dataset_dirs["arithmetic"], copy, **QUIET).run()
    assert ((copy / "metrics.csv").read_bytes(), (copy / "best.pt").read_bytes()) == before


def test_stack_is_deterministic_and_resumes_to_the_same_bytes(stack_cfgs, stacked, dataset_dirs, tmp_path):
    outs, _ = stacked
    again = [tmp_path / f"run{i}" for i in range(len(stack_cfgs))]
    StackedTrainer(stack_cfgs, dataset_dirs["arithmetic"], again, **QUIET).run(stop_after=30)  # resume.pt at 20
    assert all(load_checkpoint(o / "resume.pt")["iter"] == 20 for o in again)
    # a kill while staging the next checkpoint: one run has a staged later one, the others none. Dropped (promoted,
    # that run would be at another iteration than the others and the stack would refuse to resume)
    shutil.copy(outs[0] / "resume.pt", again[0] / STAGED)
    assert load_checkpoint(again[0] / STAGED)["iter"] == stack_cfgs[0].max_iters + 1
    StackedTrainer(stack_cfgs, dataset_dirs["arithmetic"], again, **QUIET).run()
    for a, b in zip(outs, again):
        assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
        assert (a / "best.pt").read_bytes() == (b / "best.pt").read_bytes()
        assert not (b / STAGED).exists()


def test_a_kill_during_the_renames_finishes_them(stack_cfgs, stacked, dataset_dirs, tmp_path):
    """Every run but the last renamed its staged checkpoint: the last one's staged file replaces its old resume.pt
    (dropped instead, that run would resume at 20 while the others are done, and the stack would refuse)."""
    outs, _ = stacked
    copies = [tmp_path / f"run{i}" for i in range(len(outs))]
    for src, dst in zip(outs, copies):
        shutil.copytree(src, dst)
    partial = tmp_path / "partial"
    Trainer(stack_cfgs[-1], dataset_dirs["arithmetic"], partial, **QUIET).run(stop_after=30)
    os.replace(copies[-1] / "resume.pt", copies[-1] / STAGED)
    shutil.copy(partial / "resume.pt", copies[-1] / "resume.pt")
    assert load_checkpoint(copies[-1] / "resume.pt")["iter"] == 20
    StackedTrainer(stack_cfgs, dataset_dirs["arithmetic"], copies, **QUIET).run()
    for src, dst in zip(outs, copies):
        done, ref = load_checkpoint(dst / "resume.pt"), load_checkpoint(src / "resume.pt")  # rewritten: its wall time
        assert done["iter"] == ref["iter"] == stack_cfgs[0].max_iters + 1
        assert all(torch.equal(done["model"][k], ref["model"][k]) for k in ref["model"])
        assert (dst / "metrics.csv").read_bytes() == (src / "metrics.csv").read_bytes()
        assert not (dst / STAGED).exists()


def test_a_stack_whose_weights_turn_nan_keeps_every_last_good_resume_file(stack_cfgs, dataset_dirs, tmp_path,
                                                                        monkeypatch):
    """One run's weights turn NaN in the step of iteration 19; iteration 20 is a checkpoint: the stack stops
    before any resume.pt is replaced, so every run's resume.pt stays the good one of iteration 10."""
    cfgs = [dataclasses.replace(c, checkpoint_interval=10) for c in stack_cfgs[:2]]
    outs = [tmp_path / "a", tmp_path / "b"]
    update, calls = StackedTrainer.update, {"n": 0}

    def poisoned_update(self, losses, lr):
        update(self, losses, lr)
        calls["n"] += 1
        if calls["n"] == 20:  # the step of iteration 19
            with torch.no_grad():
                next(iter(self.params.values()))[1].fill_(float("nan"))

    monkeypatch.setattr(StackedTrainer, "update", poisoned_update)
    with pytest.raises(TrainingDiverged, match=r"NaN or infinite before iteration 20\b"):
        StackedTrainer(cfgs, dataset_dirs["arithmetic"], outs, **QUIET).run()
    for out in outs:
        resume = load_checkpoint(out / "resume.pt")
        assert resume["iter"] == 10 and all(torch.isfinite(t).all() for t in resume["model"].values())


def test_a_stack_with_a_nan_loss_at_an_evaluation_keeps_best_checkpoints_with_their_rows(stack_cfgs, dataset_dirs,
                                                                                       tmp_path, monkeypatch):
    """Scores rise at every evaluation, so iteration 20's would be every run's best; one run's loss in the step of
    iteration 20 is NaN: no best.pt moves to iteration 20, as the error says of the rows kept."""
    original_evaluate, forward, calls = Trainer.evaluate, StackedTrainer.forward, {"n": 0}

    def evaluate(self, it, lr):
        return {**original_evaluate(self, it, lr), "score": it / 100}

    def poisoned_forward(self):
        losses = forward(self)
        calls["n"] += 1
        return losses * torch.tensor([1.0, float("nan")]) if calls["n"] == 21 else losses  # iteration 20

    monkeypatch.setattr(Trainer, "evaluate", evaluate)
    monkeypatch.setattr(StackedTrainer, "forward", poisoned_forward)
    outs = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(TrainingDiverged, match=r"loss is nan at iteration 20\b"):
        StackedTrainer(stack_cfgs[:2], dataset_dirs["arithmetic"], outs, **QUIET).run()
    for out in outs:
        assert [r["iter"] for r in rows_of(out)] == ["0", "10"]
        assert load_checkpoint(out / "best.pt")["iter"] == 10


def test_runs_stopped_at_different_iterations_are_refused(stack_cfgs, dataset_dirs, tmp_path):
    outs = [tmp_path / "a", tmp_path / "b"]
    Trainer(stack_cfgs[0], dataset_dirs["arithmetic"], outs[0], **QUIET).run(stop_after=25)  # resume.pt at 20
    with pytest.raises(StackError, match="different iterations"):
        StackedTrainer(stack_cfgs[:2], dataset_dirs["arithmetic"], outs, **QUIET).run()


def test_runs_that_cannot_share_a_stack(make_cfg, dataset_dirs, tmp_path):
    with pytest.raises(StackError, match="n_embd: 14 vs 28"):
        check_stackable([make_cfg(model="n14"), make_cfg(model="n28")])
    with pytest.raises(StackError, match="task: 'capitals' vs 'joint'"):
        check_stackable([make_cfg(task="capitals"), make_cfg(task="joint")])
    with pytest.raises(StackError, match="learning_rate"):
        check_stackable([make_cfg(), make_cfg(learning_rate=1e-3)])
    with pytest.raises(StackError, match="dropout 0.1"):
        check_stackable([make_cfg(dropout=0.1), make_cfg(regime="controlled", dropout=0.1)])
    with pytest.raises(StackError, match="twice"):
        check_stackable([make_cfg(), make_cfg()])
    with pytest.raises(StackError, match="output folders"):
        StackedTrainer([make_cfg()], dataset_dirs["arithmetic"], [], **QUIET)
    with pytest.raises(ValueError, match="for task 'capitals'"):
        StackedTrainer([make_cfg(task="arithmetic")], dataset_dirs["capitals"], [tmp_path / "x"], **QUIET)


def test_train_many_command_line_error(dataset_dirs, tmp_path):
    """The MLT's main regime has dropout 0.2: a clear one-line error, exit code 2, no traceback."""
    out = subprocess.run([sys.executable, "-m", "toobig", "train-many", "--config", str(REPO / "config.yaml"),
                          "--model", "mlt", "--data", str(dataset_dirs["arithmetic"]), "--out-root", str(tmp_path),
                          "--device", "cpu"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    assert "dropout" in out.stderr and "Traceback" not in out.stderr


def test_pipeline_switch_stack_runs_plans_one_job_per_regime_pair(tmp_path):
    """stack_runs: true trains each n-model's main + controlled runs as one train_stack job (dry run)."""
    import yaml

    extra = tmp_path / "overrides.yaml"
    extra.write_text(yaml.safe_dump({"results_dir": f"{tmp_path}/results", "run_mlt": "never", "stack_runs": True}))
    res = subprocess.run([sys.executable, "-m", "snakemake", "--nolock", "--cores", "2", "-n", "--configfiles",
                          str(REPO / "config.yaml"), str(extra), "--", f"{tmp_path}/results/tables/table3.csv"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert re.search(r"^train_stack\s+3$", out, re.M), out[-2000:]
    assert not re.search(r"^train_model\s+\d+$", out, re.M)
