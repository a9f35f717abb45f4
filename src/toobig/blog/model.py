"""GPT-2-family models: DistilGPT-2's shape from scratch, a smaller sibling, or from_pretrained weights.

`compact_vocab` (scratch only) keeps the GPT-2 tokenizer but gives the model an output layer over just the
token ids that occur in the data (plus end-of-text): a softmax over ~1,000 ids instead of 50,257. It is a
CPU shortcut, documented where it is used; every id the model reads or writes is mapped through VocabMap.
"""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from toobig.blog.config import BlogRunConfig

GPT2_VOCAB = 50257
GPT2_EOS = 50256


class VocabMap:
    """GPT-2 ids <-> model ids; the identity when the model uses GPT-2's full vocabulary."""

    def __init__(self, kept_ids: list[int] | None = None):
        self.kept = None if kept_ids is None else sorted(set(kept_ids) | {GPT2_EOS})
        if self.kept is None:
            self.size = GPT2_VOCAB
            return
        self.size = len(self.kept)
        self._to_model = torch.full((GPT2_VOCAB,), -1, dtype=torch.long)
        self._to_model[torch.tensor(self.kept)] = torch.arange(self.size)
        self._to_gpt2 = torch.tensor(self.kept, dtype=torch.long)

    def to_model(self, ids: torch.Tensor) -> torch.Tensor:
        if self.kept is None:
            return ids
        out = torch.where(ids >= 0, self._to_model[ids.clamp(min=0)], ids)   # keeps -100 labels
        if (out == -1).any():
            raise ValueError("token id outside the compact vocabulary")
        return out

    def to_gpt2(self, ids: torch.Tensor) -> torch.Tensor:
        return ids if self.kept is None else self._to_gpt2[ids]

    @property
    def eos(self) -> int:
        return GPT2_EOS if self.kept is None else int(self._to_model[GPT2_EOS])


def build_model(cfg: BlogRunConfig, vocab: VocabMap) -> GPT2LMHeadModel:
    if cfg.init == "pretrained":
        # the posts' path: AutoModelForCausalLM.from_pretrained("distilgpt2"); here a local directory
        return GPT2LMHeadModel.from_pretrained(cfg.pretrained)
    config = GPT2Config(
        vocab_size=vocab.size,
        n_positions=cfg.n_positions,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
        bos_token_id=vocab.eos,
        eos_token_id=vocab.eos,
        pad_token_id=vocab.eos,
    )
    torch.manual_seed(cfg.seed)
    return GPT2LMHeadModel(config)


def save_model(model: GPT2LMHeadModel, directory: str | Path) -> None:
    model.save_pretrained(directory)
