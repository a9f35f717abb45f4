"""Section 5.1: a run's best checkpoint on out-of-domain arithmetic (a, b in 0..19 without the pairs where
both are below 10), sampled exactly as the training-time evaluation samples (same temperature, top_k,
samples per prompt; contexts longer than block_size are cropped)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from ..data import ood_prompts
from ..evaluate import Vocab, sample_prompts, tally
from ..fsutil import atomic_write_csv
from ..train import load_trained

COLUMNS = ("checkpoint", "best_iter", "operand_max", "ood_add_correct", "ood_add_total", "ood_add_terminated",
           "ood_sub_correct", "ood_sub_total", "ood_sub_terminated")


def load_best(best_pt: str | Path):
    """(checkpoint, run config, vocabulary, model) of a best checkpoint, on the CPU."""
    ckpt, cfg, model = load_trained(best_pt, expect_kind="best")
    return ckpt, cfg, Vocab(ckpt["vocab"]), model


def sample_as_trained(best_pt: str | Path, prompts):
    """(checkpoint, samples): a best checkpoint sampled on prompts with its run's own evaluation settings and a
    generator seeded with its seed, so the same checkpoint always gives the same samples."""
    ckpt, cfg, vocab, model = load_best(best_pt)
    return ckpt, sample_prompts(model, vocab, prompts, cfg.samples_per_prompt, cfg.temperature, cfg.top_k,
                                cfg.arithmetic_new_tokens, cfg.capitals_new_tokens,
                                torch.Generator().manual_seed(cfg.seed))


def evaluate_ood(best_pt: str | Path, operand_max: int = 19, inner_max: int = 9) -> dict:
    ckpt, samples = sample_as_trained(best_pt, ood_prompts(operand_max, inner_max))
    counts = tally(samples)
    row = {"checkpoint": str(best_pt), "best_iter": ckpt.get("iter"), "operand_max": operand_max}
    row.update({c: counts.get(c, 0) for c in COLUMNS[3:]})
    return row


def write_ood(best_pt: str | Path, data_cfg: dict, out: str | Path) -> dict:
    row = evaluate_ood(best_pt, data_cfg.get("ood_operand_max", 19), data_cfg.get("operand_max", 9))
    atomic_write_csv(out, pd.DataFrame([row], columns=list(COLUMNS)))
    return row
