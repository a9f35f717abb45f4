"""Batched sampling and answer parsing: one evaluation is one batched generate over every prompt x sample.

Prompts of different lengths share a batch: each row holds the last min(len, block_size) tokens of its
sequence starting at position 0, padded on the right, and the next token is read at the row's last real
position. Causal attention never lets a position see the padding after it, so this equals generating each
prompt on its own (tests/test_evaluate.py checks it against a one-prompt-at-a-time loop).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .data import Prompt

# The authors' regex (eval_utils.extract_math_answer), anchored at the prompt: the integer must follow the
# prompt's "=" directly, so a generation like "x=3>" is not read as the answer 3.
ARITH_ANSWER = re.compile(r"<\s*\d+\s*[+\-]\s*\d+\s*=\s*(-?\d+)(>?)")
ARITH_KINDS = ("add", "sub", "heldout", "ood_add", "ood_sub")


class Vocab:
    """Character <-> id mapping of one dataset."""

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    def encode(self, text: str) -> list[int]:
        missing = sorted(set(text) - set(self.stoi))
        if missing:
            raise ValueError(f"text {text!r} has characters {missing} outside the model's vocabulary")
        return [self.stoi[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


@dataclass(frozen=True)
class Judgement:
    answer: str | None  # the parsed answer, None when nothing parseable came out
    correct: bool
    terminated: bool  # arithmetic: the answer was closed by ">"


def judge_arithmetic(prompt_text: str, generated: str, expected: str) -> Judgement:
    """The integer right after the prompt's "=" in prompt + generation; ">" is not required but recorded."""
    match = ARITH_ANSWER.match(prompt_text + generated)
    if match is None:
        return Judgement(None, False, False)
    return Judgement(match.group(1), int(match.group(1)) == int(expected), match.group(2) == ">")


def judge_capital(generated: str, expected: str) -> Judgement:
    """The text up to the first newline, stripped, without trailing "." (the authors' rstrip('.')),
    compared case-insensitively."""
    answer = generated.split("\n", 1)[0].strip().rstrip(".")
    return Judgement(answer, answer.lower() == expected.lower(), "\n" in generated)


def judge(prompt: Prompt, generated: str) -> Judgement:
    if prompt.kind in ARITH_KINDS:
        return judge_arithmetic(prompt.text, generated, prompt.answer)
    return judge_capital(generated, prompt.answer)


@torch.no_grad()
def generate(model, prompts: list[list[int]], max_new_tokens: int, temperature: float, top_k: int | None,
             generator: torch.Generator | None = None) -> list[list[int]]:
    """Sample max_new_tokens after each prompt (token ids), all prompts in one batch; returns the new ids."""
    block = model.config.block_size
    device = next(model.parameters()).device
    n = len(prompts)
    lens = torch.tensor([len(p) for p in prompts], device=device)
    buf = torch.zeros(n, int(lens.max()) + max_new_tokens, dtype=torch.long, device=device)
    for i, p in enumerate(prompts):
        buf[i, : len(p)] = torch.tensor(p, dtype=torch.long)
    rows = torch.arange(n, device=device)
    for _ in range(max_new_tokens):
        wlen = lens.clamp(max=block)  # each row's context, cropped to block_size
        width = int(wlen.max())
        idx = (lens - wlen).unsqueeze(1) + torch.arange(width, device=device)  # (n, width)
        idx = torch.minimum(idx, (lens - 1).unsqueeze(1))  # right padding repeats the last token; never seen
        logits, _ = model(buf.gather(1, idx))
        logits = logits[rows, wlen - 1] / temperature  # (n, vocab)
        if top_k is not None:
            v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
            logits = logits.masked_fill(logits < v[:, [-1]], float("-inf"))
        probs = F.softmax(logits.float(), dim=-1)
        nxt = torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)
        buf[rows, lens] = nxt
        lens = lens + 1
    start = torch.tensor([len(p) for p in prompts])
    out = buf.cpu()
    return [out[i, start[i] : start[i] + max_new_tokens].tolist() for i in range(n)]


@dataclass
class Sample:
    prompt: Prompt
    generated: str
    judgement: Judgement


def sample_prompts(model, vocab: Vocab, prompts: list[Prompt], samples_per_prompt: int, temperature: float,
                   top_k: int | None, arithmetic_new_tokens: int, capitals_new_tokens: int,
                   generator: torch.Generator | None = None) -> list[Sample]:
    """Every prompt sampled samples_per_prompt times; arithmetic and capitals prompts in one batch each."""
    results: list[Sample] = []
    groups = (
        ([p for p in prompts if p.kind in ARITH_KINDS], arithmetic_new_tokens),
        ([p for p in prompts if p.kind not in ARITH_KINDS], capitals_new_tokens),
    )
    was_training = model.training
    model.eval()
    try:
        for group, new_tokens in groups:
            if not group:
                continue
            expanded = [p for p in group for _ in range(samples_per_prompt)]
            outs = generate(model, [vocab.encode(p.text) for p in expanded], new_tokens, temperature, top_k, generator)
            for p, ids in zip(expanded, outs):
                text = vocab.decode(ids)
                results.append(Sample(p, text, judge(p, text)))
    finally:
        model.train(was_training)
    return results


def tally(samples: list[Sample]) -> dict[str, int]:
    """Counts per prompt kind: {kind}_correct, {kind}_total, {kind}_terminated."""
    counts: Counter = Counter()
    for s in samples:
        counts[f"{s.prompt.kind}_total"] += 1
        counts[f"{s.prompt.kind}_correct"] += int(s.judgement.correct)
        counts[f"{s.prompt.kind}_terminated"] += int(s.judgement.terminated)
    return dict(counts)


SCORED_KINDS = ("add", "sub", "facts")  # the held-out four are a separate count, inside the grid already


def score(counts: dict[str, int]) -> float:
    """Accuracy over the tasks a run was trained on: (add + sub + facts correct) / their totals."""
    total = sum(counts.get(f"{k}_total", 0) for k in SCORED_KINDS)
    correct = sum(counts.get(f"{k}_correct", 0) for k in SCORED_KINDS)
    return correct / total if total else 0.0
