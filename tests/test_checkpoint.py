"""Checkpoint loading: our own format, damaged or from another dataset, stops with one clear CheckpointError."""
from __future__ import annotations

import re

import pytest
import torch

from toobig.checkpoint import CheckpointError, load_checkpoint


def _save_variant(tiny_run, tmp_path, **changes):
    cfg, run = tiny_run
    ckpt = torch.load(run / "best.pt", weights_only=True)
    ckpt.update(changes)
    path = tmp_path / "variant.pt"
    torch.save(ckpt, path)
    return path, ckpt


@pytest.mark.parametrize("vocab", [5, None, "abc", [1, 2], ["ab", "c"]], ids=["int", "none", "str", "ints", "long"])
def test_a_vocab_entry_that_is_not_a_list_of_characters(tiny_run, tmp_path, vocab):
    path, _ = _save_variant(tiny_run, tmp_path, vocab=vocab)
    with pytest.raises(CheckpointError, match=re.escape(f"{path} is damaged: its 'vocab' entry is not a list of "
                                                        "characters")):
        load_checkpoint(path, expect_vocab=list("abc"))


def test_model_entry_of_non_tensors_is_damaged(tiny_run, tmp_path):
    path, ckpt = _save_variant(tiny_run, tmp_path)
    ckpt["model"] = {k: 1 for k in ckpt["model"]}
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="is damaged: its 'model' entry is not a state dict"):
        load_checkpoint(path)


def test_a_same_size_vocabulary_mismatch_names_the_characters(tiny_run, tmp_path):
    """Both vocabularies have 17 characters: the message says which ones differ, not "17 ... but 17"."""
    cfg, run = tiny_run
    vocab = load_checkpoint(run / "best.pt")["vocab"]
    path, _ = _save_variant(tiny_run, tmp_path, vocab=sorted(c if c != "9" else "x" for c in vocab))
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path, expect_vocab=vocab)
    message = str(caught.value)
    assert "only in the checkpoint: 'x'" in message and "only in the dataset: '9'" in message
    assert "17 characters, but the dataset has 17" not in message
    assert "do not match" in message


def test_a_reordered_vocabulary_is_named_as_such(tiny_run, tmp_path):
    cfg, run = tiny_run
    vocab = load_checkpoint(run / "best.pt")["vocab"]
    path, _ = _save_variant(tiny_run, tmp_path, vocab=list(reversed(vocab)))
    with pytest.raises(CheckpointError, match="the same 17 characters in another order"):
        load_checkpoint(path, expect_vocab=vocab)


def test_a_vocabulary_of_another_size_keeps_its_message(tiny_run, tmp_path):
    cfg, run = tiny_run
    vocab = load_checkpoint(run / "best.pt")["vocab"]
    with pytest.raises(CheckpointError, match=r"vocabulary of 17 characters, but the dataset has 18 \(only in the "
                                              r"dataset: 'Z'\)"):
        load_checkpoint(run / "best.pt", expect_vocab=sorted(vocab + ["Z"]))
