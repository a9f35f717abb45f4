"""Token ids and loss labels, as the posts' tokenizer call and DataCollatorForLanguageModeling build them.

Each line is tokenized without special tokens, truncated and right-padded to max_length (32) with the
pad token, which is end-of-text (id 50256). Labels are the input ids (the collator's causal-LM labels; the
model shifts them by one), with -100 where nothing is learned:

  learn_to_stop = False  every end-of-text position is -100, so the model is never taught to stop (posts)
  learn_to_stop = True   the first end-of-text after the answer keeps its id as a target; the rest are -100

Example, "SUM 1 2 3" = [50, 5883, 352, 362, 513] padded to 8:
  ids          [50, 5883, 352, 362, 513, 50256, 50256, 50256]
  labels off   [50, 5883, 352, 362, 513, -100,  -100,  -100]
  labels on    [50, 5883, 352, 362, 513, 50256, -100,  -100]
The answer mask marks the answer tokens (and the kept end-of-text), for the answer-only loss.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from toobig.blog.data import Problem

IGNORE = -100


@dataclass
class Encoded:
    ids: torch.Tensor            # (N, T) token ids, right-padded with end-of-text
    attention: torch.Tensor      # (N, T) 1 on real tokens
    labels: torch.Tensor         # (N, T) targets before the model's shift, -100 = not learned
    answer_mask: torch.Tensor    # (N, T) True on the targets that belong to the answer


def encode_problems(problems: list[Problem], tokenizer, max_length: int = 32, learn_to_stop: bool = False) -> Encoded:
    eos = tokenizer.eos_token_id
    n = len(problems)
    ids = torch.full((n, max_length), eos, dtype=torch.long)
    attention = torch.zeros((n, max_length), dtype=torch.long)
    labels = torch.full((n, max_length), IGNORE, dtype=torch.long)
    answer = torch.zeros((n, max_length), dtype=torch.bool)
    for i, p in enumerate(problems):
        line = tokenizer.encode(p.line, add_special_tokens=False)[:max_length]
        n_prompt = len(tokenizer.encode(p.prompt, add_special_tokens=False))
        L = len(line)
        ids[i, :L] = torch.tensor(line)
        attention[i, :L] = 1
        labels[i, :L] = ids[i, :L]
        answer[i, n_prompt:L] = True
        if learn_to_stop and L < max_length:
            answer[i, L] = True      # its label is set below, after the pad mask
    labels[(ids == eos) & (attention == 1)] = IGNORE   # the collator masks every pad-id token, text or not
    if learn_to_stop:
        for i in range(n):
            L = int(attention[i].sum())
            if L < max_length:
                labels[i, L] = eos
    return Encoded(ids, attention, labels, answer)


def encode_prompts(problems: list[Problem], tokenizer) -> list[list[int]]:
    return [tokenizer.encode(p.prompt, add_special_tokens=False) for p in problems]
