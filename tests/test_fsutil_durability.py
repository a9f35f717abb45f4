"""Atomic writes are durable: the temp file is flushed to disk before the rename, the folder after it."""
from __future__ import annotations

import os

import pytest
import torch

from toobig import fsutil


@pytest.mark.parametrize("write", [lambda p: fsutil.atomic_write_text(p, "text\n"),
                                   lambda p: fsutil.atomic_torch_save({"a": torch.zeros(2)}, p)],
                         ids=["text", "torch"])
def test_the_temp_file_is_synced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch, write):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.path.realpath(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    monkeypatch.setattr(fsutil.os, "replace", replace)
    target = tmp_path / "out.bin"
    write(target)
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync"], events
    assert events[0][1].endswith(".tmp") and events[0][1].startswith(str(tmp_path))  # the temp file
    assert events[2][1] == str(tmp_path)  # the folder that holds the new name
    assert target.exists() and not list(tmp_path.glob(".*.tmp"))


def test_a_folder_that_cannot_be_synced_is_no_error(tmp_path, monkeypatch):
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] == 2:  # the folder (some file systems refuse to sync a directory)
            raise OSError(22, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    fsutil.atomic_write_text(tmp_path / "a.txt", "kept\n")
    assert (tmp_path / "a.txt").read_text() == "kept\n"
