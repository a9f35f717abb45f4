"""Atomic file writes: a kill mid-write never leaves a truncated file that looks complete."""
from __future__ import annotations

import os
from pathlib import Path

import torch


def _replace_atomically(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    _replace_atomically(Path(path), lambda tmp: tmp.write_text(text))


def atomic_torch_save(obj, path: str | Path) -> None:
    _replace_atomically(Path(path), lambda tmp: torch.save(obj, tmp))
