"""The learning-rate schedule at the protocol's landmark iterations, computed by hand from its formulas."""
from __future__ import annotations

import dataclasses
import math

import pytest

from toobig.config import resolve_run
from toobig.train import get_lr


def cosine(it, lr, min_lr, warmup=2000, decay=25000):
    return min_lr + 0.5 * (1 + math.cos(math.pi * (it - warmup) / (decay - warmup))) * (lr - min_lr)


@pytest.mark.parametrize("model,lr,min_lr", [("n14", 1e-2, 1e-4), ("n28", 1e-2, 1e-4), ("n56", 1e-2, 1e-4),
                                             ("mlt", 1e-5, 1e-6)])
def test_schedule_landmarks(config, model, lr, min_lr):
    cfg = resolve_run(config, "arithmetic", model, "main", 1337)
    assert (cfg.learning_rate, cfg.min_lr, cfg.warmup_iters, cfg.lr_decay_iters, cfg.max_iters) == (
        lr, min_lr, 2000, 25000, 30000)
    expected = {
        0: lr * 1 / 2001,              # warm-up: lr * (it + 1) / (warmup + 1)
        1999: lr * 2000 / 2001,        # last warm-up step, just below lr
        2000: lr,                      # cosine starts at lr
        13500: (lr + min_lr) / 2,      # half way through the cosine
        25000: min_lr,                 # cosine ends at min_lr
        25001: min_lr,
        30000: min_lr,                 # constant after lr_decay_iters
    }
    for it, value in expected.items():
        assert get_lr(it, cfg) == pytest.approx(value, rel=1e-12, abs=1e-18), it
    for it in (2001, 5000, 20000, 24999):
        assert get_lr(it, cfg) == pytest.approx(cosine(it, lr, min_lr), rel=1e-12)
    # monotone: up during warm-up, down after
    assert all(get_lr(i, cfg) < get_lr(i + 1, cfg) for i in range(0, 2000, 97))
    assert all(get_lr(i, cfg) >= get_lr(i + 1, cfg) for i in range(2000, 30000, 997))


def test_schedule_exact_values(config):
    n14 = resolve_run(config, "arithmetic", "n14", "main", 1337)
    assert get_lr(0, n14) == 0.01 / 2001
    assert get_lr(2000, n14) == 0.01
    assert get_lr(30000, n14) == 1e-4
    mlt = resolve_run(config, "joint", "mlt", "controlled", 1337)
    assert get_lr(0, mlt) == 1e-5 / 2001
    assert get_lr(1999, mlt) == 1e-5 * 2000 / 2001
    assert get_lr(30000, mlt) == 1e-6


def test_decay_off_is_constant(config):
    cfg = dataclasses.replace(resolve_run(config, "arithmetic", "n14", "main", 1337), decay_lr=False)
    assert {get_lr(it, cfg) for it in (0, 1999, 2000, 25000, 30000)} == {0.01}


def test_extended_training_schedule(config):
    """Appendix B: lr 1e-6, min_lr 1e-7, lr_decay_iters 1e7: still above min_lr at 1.5M iterations."""
    cfg = dataclasses.replace(resolve_run(config, "arithmetic", "mlt", "main", 1337), learning_rate=1e-6,
                              min_lr=1e-7, lr_decay_iters=10_000_000, max_iters=1_500_000)
    assert get_lr(1_500_000, cfg) == pytest.approx(cosine(1_500_000, 1e-6, 1e-7, 2000, 10_000_000), rel=1e-12)
    assert 1e-7 < get_lr(1_500_000, cfg) < 1e-6


def test_trainer_uses_the_schedule(tiny_run):
    """The lr column of metrics.csv is get_lr at each evaluated iteration (the optimizer really got it)."""
    import csv

    cfg, out = tiny_run
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["iter"]) for r in rows] == list(range(0, cfg.max_iters + 1, cfg.eval_interval))
    for r in rows:
        assert float(r["lr"]) == get_lr(int(r["iter"]), cfg)
    # the column is what the trainer computed; the optimizer's own state shows it was handed over: resume.pt is
    # saved after the last step, which ran with get_lr(max_iters) = min_lr (the config's learning_rate otherwise)
    from toobig.checkpoint import load_checkpoint

    groups = load_checkpoint(out / "resume.pt")["optimizer"]["param_groups"]
    assert cfg.min_lr != cfg.learning_rate
    assert [g["lr"] for g in groups] == [get_lr(cfg.max_iters, cfg)] * len(groups) == [cfg.min_lr] * len(groups)
