"""Atomic file writes: a kill mid-write never leaves a truncated file that looks complete.

The new content goes to a temp file beside the target, which is flushed to disk (fsync) before it is renamed over
the target, and the folder is flushed after the rename (best effort): without the first, a power loss soon after the
rename can leave an empty file under the final name (the rename reached the disk, the data not yet)."""
from __future__ import annotations

import io
import os
from pathlib import Path

import torch


def _replace_atomically(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        _fsync_path(tmp, os.O_RDWR)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # the rename itself is durable once the folder's entry is on disk; not every system can sync a folder
        _fsync_path(path.parent, os.O_RDONLY)
    except OSError:
        pass


def _fsync_path(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    _replace_atomically(Path(path), lambda tmp: tmp.write_text(text))


def atomic_write_csv(path: str | Path, df, **to_csv) -> None:
    """A pandas table as CSV (no index, "\n" line ends unless told otherwise), replaced atomically."""
    atomic_write_text(path, df.to_csv(**{"index": False, "lineterminator": "\n", **to_csv}))


def atomic_savefig(fig, path: str | Path, **savefig) -> None:
    """A matplotlib figure, in the format its file name ends with, replaced atomically."""
    path = Path(path)
    _replace_atomically(path, lambda tmp: fig.savefig(tmp, format=path.suffix.lstrip("."), **savefig))


def atomic_torch_save(obj, path: str | Path) -> None:
    # torch.save names the records inside its zip after the file it writes to; the temp file's name carries the
    # process id, so saving to it directly made identical checkpoints differ byte for byte between processes
    # (a resumed run's best.pt differed from an uninterrupted run's). Through a buffer the name is always "archive".
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    _replace_atomically(Path(path), lambda tmp: tmp.write_bytes(buffer.getbuffer()))
