"""Checkpoint records: what they hold, and loading them with a clear error when they are not ours."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from .config import ConfigError, RunConfig, run_config_from_dict

FORMAT = "toobig-checkpoint"
VERSION = 1
REQUIRED = ("kind", "model", "run_config", "vocab")


class CheckpointError(ValueError):
    """A checkpoint is unreadable, foreign, or does not belong to the run or dataset at hand."""


def make_checkpoint(kind: str, model, cfg: RunConfig, vocab: list[str], **extra) -> dict:
    return {"format": FORMAT, "version": VERSION, "kind": kind, "model": model.state_dict(),
            "run_config": cfg.to_dict(), "vocab": list(vocab), **extra}


def load_checkpoint(path: str | Path, expect_kind: str | None = None, expect_config: RunConfig | None = None,
                    expect_vocab: list[str] | None = None) -> dict:
    """Load with weights_only=True (no code runs) and check that the file is a toobig checkpoint."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's own text advises weights_only=False, which would run the file's code
        raise CheckpointError(f"checkpoint {path} cannot be read: it is not a PyTorch file of tensors and plain data "
                              "(what this project writes); it may be damaged or written by other code") from None
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError) as err:
        first_line = (str(err).splitlines() or ["empty file" if path.stat().st_size == 0 else "no message"])[0]
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(err).__name__}: {first_line}); "
                              "it may be truncated or not a PyTorch file") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a toobig checkpoint (no '{FORMAT}' marker); "
                              "it was written by other code and cannot be used here")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {ckpt.get('version')}, this code reads version {VERSION}")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing or not isinstance(ckpt["model"], dict):
        raise CheckpointError(f"{path} is damaged: " + (f"it has no {', '.join(missing)}" if missing else
                                                         "its 'model' entry is not a state dict"))
    if expect_kind and ckpt["kind"] != expect_kind:
        raise CheckpointError(f"{path} is a '{ckpt['kind']}' checkpoint, expected '{expect_kind}'")
    try:
        cfg = run_config_from_dict(ckpt["run_config"])
    except ConfigError as err:
        raise CheckpointError(f"{path} holds an invalid run config: {err}") from None
    if expect_config is not None and cfg != expect_config:
        changed = sorted(k for k, v in expect_config.to_dict().items() if ckpt["run_config"].get(k) != v)
        raise CheckpointError(f"{path} was written with different settings ({', '.join(changed)}); "
                              "delete it to start this run afresh")
    if expect_vocab is not None and list(ckpt["vocab"]) != list(expect_vocab):
        raise CheckpointError(f"{path} was trained on a vocabulary of {len(ckpt['vocab'])} characters, "
                              f"but the dataset has {len(expect_vocab)}: checkpoint and dataset do not match")
    return ckpt
