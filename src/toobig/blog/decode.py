"""Batched greedy decoding, as the posts' model.generate(do_sample=False) does one prompt at a time.

Prompts are left-padded; position ids count real tokens only, so each row sees exactly what it would see
alone. A row that emits end-of-text is finished (generate's stopping rule); the others run to max_new_tokens.
"""
from __future__ import annotations

import torch

from toobig.blog.model import VocabMap


@torch.no_grad()
def greedy_decode(model, prompts: list[list[int]], vocab: VocabMap, max_new_tokens: int,
                  batch_size: int = 250) -> list[tuple[list[int], bool]]:
    """For each prompt (GPT-2 ids): (generated GPT-2 ids before end-of-text, whether end-of-text was emitted)."""
    was_training = model.training
    model.eval()
    results: list[tuple[list[int], bool]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        width = max(len(p) for p in chunk)
        B = len(chunk)
        ids = torch.full((B, width), vocab.eos, dtype=torch.long)
        mask = torch.zeros((B, width), dtype=torch.long)
        for i, p in enumerate(chunk):
            ids[i, width - len(p):] = vocab.to_model(torch.tensor(p))
            mask[i, width - len(p):] = 1
        pos = (mask.cumsum(1) - 1).clamp(min=0)                               # (B, T)
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
        finished = torch.zeros(B, dtype=torch.bool)
        generated = []
        for _ in range(max_new_tokens):
            nxt = out.logits[:, -1, :].argmax(-1)                              # (B,)
            nxt = torch.where(finished, torch.full_like(nxt, vocab.eos), nxt)
            generated.append(nxt)
            finished |= nxt == vocab.eos
            if finished.all():
                break
            mask = torch.cat([mask, torch.ones((B, 1), dtype=torch.long)], 1)
            pos = pos[:, -1:] + 1
            out = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=pos,
                        cache=out.cache, use_cache=True)
        gen = vocab.to_gpt2(torch.stack(generated, 1))                          # (B, steps)
        eos = vocab.to_gpt2(torch.tensor([vocab.eos]))[0]
        for row in gen.tolist():
            cut = row.index(eos) if eos in row else len(row)
            results.append((row[:cut], cut < len(row)))
    model.train(was_training)
    return results
