"""Checkpoint records: what they hold, and loading them with a clear error when they are not ours."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from .config import ConfigError, RunConfig, computed_settings, run_config_from_dict

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
    require_entries(path, ckpt, REQUIRED)
    if not isinstance(ckpt["model"], dict) or not all(isinstance(v, torch.Tensor) for v in ckpt["model"].values()):
        raise CheckpointError(f"{path} is damaged: its 'model' entry is not a state dict of tensors")
    vocab = ckpt["vocab"]
    if not isinstance(vocab, (list, tuple)) or not all(isinstance(c, str) and len(c) == 1 for c in vocab):
        raise CheckpointError(f"{path} is damaged: its 'vocab' entry is not a list of characters "
                              f"(it is {type(vocab).__name__} {_short(vocab)})")
    if expect_kind and ckpt["kind"] != expect_kind:
        raise CheckpointError(f"{path} is a '{ckpt['kind']}' checkpoint, expected '{expect_kind}'")
    try:
        cfg = run_config_from_dict(ckpt["run_config"])
    except ConfigError as err:
        raise CheckpointError(f"{path} holds an invalid run config: {err}") from None
    if expect_config is not None and computed_settings(cfg.to_dict()) != computed_settings(expect_config.to_dict()):
        changed = sorted(k for k, v in computed_settings(expect_config.to_dict()).items()
                         if ckpt["run_config"].get(k) != v)
        raise CheckpointError(f"{path} was written with different settings ({', '.join(changed)}); "
                              "delete it to start this run afresh")
    if expect_vocab is not None:
        check_vocab(path, ckpt["vocab"], expect_vocab)
    return ckpt


def require_entries(path: Path, ckpt: dict, keys) -> None:
    """A CheckpointError naming the file and the entries it lacks (a damaged or truncated-by-hand record)."""
    missing = [k for k in keys if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} is damaged: it has no {', '.join(missing)}")


def check_vocab(path: Path, saved, expected) -> None:
    """The checkpoint's vocabulary is the dataset's, character for character; else say which characters differ."""
    saved, expected = list(saved), list(expected)
    if saved == expected:
        return
    only_saved = sorted(set(saved) - set(expected))
    only_expected = sorted(set(expected) - set(saved))
    differ = "; ".join(f"only in the {where}: {_chars(chars)}" for where, chars in
                       (("checkpoint", only_saved), ("dataset", only_expected)) if chars)
    if not differ:  # the same set: another order (or a character twice)
        differ = (f"the same {len(saved)} characters in another order" if len(saved) == len(expected) else
                  "the same characters, some of them twice")
    if len(saved) == len(expected):
        said = f"was trained on another vocabulary of the same size ({len(saved)} characters; {differ})"
    else:
        said = f"was trained on a vocabulary of {len(saved)} characters, but the dataset has {len(expected)} ({differ})"
    raise CheckpointError(f"{path} {said}: checkpoint and dataset do not match")


def _chars(chars: list[str], most: int = 12) -> str:
    shown = ", ".join(repr(c) for c in chars[:most])
    return shown + (f" and {len(chars) - most} more" if len(chars) > most else "")


def _short(value, most: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."
