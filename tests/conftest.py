"""Shared fixtures: the project's config.yaml, one dataset folder per task, tiny run configs, one tiny trained run.

Every test runs on one CPU thread (the machine is shared, and one thread is what makes CPU runs
byte-identical run to run).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from toobig.config import load_config, resolve_run
from toobig.data import write_dataset

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
CONFIG_PATH = REPO / "config.yaml"

# A run small enough for a test: a few dozen iterations, one sample per prompt, two batches per loss estimate.
TINY = dict(max_iters=40, eval_interval=10, loss_interval=20, loss_batches=2, checkpoint_interval=20,
            samples_per_prompt=1, batch_size=64, compile=False)  # compiling costs ~30 s of start-up per run


@pytest.fixture(scope="session")
def config() -> dict:
    """config.yaml as loaded by the library (a fresh copy per session; tests must not mutate it)."""
    return load_config(CONFIG_PATH)


@pytest.fixture(scope="session")
def data_cfg(config) -> dict:
    return config["data"]


@pytest.fixture(scope="session")
def dataset_dirs(tmp_path_factory, data_cfg) -> dict[str, Path]:
    """One dataset folder per task, written by toobig.data.write_dataset from config.yaml's data section."""
    root = tmp_path_factory.mktemp("datasets")
    dirs = {}
    for task in ("arithmetic", "capitals", "joint"):
        dirs[task] = root / task
        write_dataset(task, data_cfg, dirs[task])
    return dirs


def tiny_run_config(config: dict, task: str = "arithmetic", model: str = "n14", regime: str = "main",
                    seed: int = 1337, **overrides):
    """The protocol's RunConfig for (task, model, regime, seed), shrunk to a test-sized run."""
    values = {**TINY, **overrides}
    return dataclasses.replace(resolve_run(config, task, model, regime, seed), **values)


@pytest.fixture(scope="session")
def make_cfg(config):
    """make_cfg(task=..., model=..., **overrides) -> a tiny RunConfig."""
    def make(task="arithmetic", model="n14", regime="main", seed=1337, **overrides):
        return tiny_run_config(config, task, model, regime, seed, **overrides)
    return make


# A configuration that learns something within 40 iterations (score > 0 and a best checkpoint that moves),
# with dropout and weight decay on, so that resuming must restore the torch RNG and the optimizer state too.
FAST_LEARNING = dict(max_iters=40, eval_interval=10, loss_interval=20, checkpoint_interval=20, batch_size=128,
                     warmup_iters=5, lr_decay_iters=40, learning_rate=3e-2, dropout=0.1, weight_decay=0.1)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, make_cfg, dataset_dirs):
    """One finished tiny arithmetic n14 run: (run config, run folder). Read-only for tests."""
    from toobig.train import Trainer

    cfg = make_cfg(**FAST_LEARNING)
    out = tmp_path_factory.mktemp("tiny_run")
    Trainer(cfg, dataset_dirs["arithmetic"], out, device="cpu", log=lambda msg: None).run()
    return cfg, out
