"""The evaluator: answer parsing on hand-written generations, the score, and batched generation."""
from __future__ import annotations

import pytest
import torch

from toobig.data import Prompt
from toobig.evaluate import (
    Sample,
    Vocab,
    generate,
    judge,
    judge_arithmetic,
    judge_capital,
    sample_prompts,
    score,
    tally,
)
from toobig.model import GPT, GPTConfig

ARITH_VOCAB = ["\n", " ", "+", "-", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "<", "=", ">"]


# ---- arithmetic parsing -----------------------------------------------------------------------------
@pytest.mark.parametrize("prompt,generated,expected,answer,correct,terminated", [
    ("<3+4=", "7>  ", "7", "7", True, True),          # correct, terminated
    ("<3+4=", "7> \n", "7", "7", True, True),
    ("<3+4=", "8>  ", "7", "8", False, True),         # wrong
    ("<9+9=", "18>\n", "18", "18", True, True),
    ("<9+9=", "12", "12", "12", True, False),         # unterminated: correct, but no ">"
    ("<9+3=", "12", "12", "12", True, False),
    ("<1-4=", "-3>\n", "-3", "-3", True, True),       # negative
    ("<1-4=", "3>\n ", "-3", "3", False, True),       # sign dropped: wrong
    ("<4-1=", "-3> ", "3", "-3", False, True),
    ("<5-7=", "-2", "-2", "-2", True, False),
    ("<7-7=", "0> \n", "0", "0", True, True),
    ("<1+2=", "x=3>", "3", None, False, False),       # garbage before a later "=" is not an answer
    ("<1+2=", ">>>>", "3", None, False, False),       # garbage
    ("<1+2=", "-->3", "3", None, False, False),
    ("<1+2=", "\n<3+", "3", None, False, False),
    ("<1+2=", "3+1>", "3", "3", True, False),         # the integer stops at the first non-digit
    ("<1+2=", "31>\n", "3", "31", False, True),       # extra digits: a different integer
    ("<1+2=", "03> ", "3", "03", True, True),         # int("03") == 3, as the authors' int() parse
    ("<12+13=", "25>", "25", "25", True, True),       # out-of-domain prompt
    ("<0-19=", "-19>", "-19", "-19", True, True),
])
def test_judge_arithmetic(prompt, generated, expected, answer, correct, terminated):
    j = judge_arithmetic(prompt, generated, expected)
    assert (j.answer, j.correct, j.terminated) == (answer, correct, terminated)


def test_judge_dispatches_on_kind():
    for kind in ("add", "sub", "heldout", "ood_add", "ood_sub"):
        assert judge(Prompt("<5+7=", "12", kind), "12>\n").correct
    assert judge(Prompt("Capital of France is ", "Paris", "facts"), "Paris \n").correct
    assert not judge(Prompt("Capital of France is ", "Paris", "facts"), "12>\n").correct


# ---- capitals parsing -------------------------------------------------------------------------------
@pytest.mark.parametrize("generated,expected,answer,correct,terminated", [
    ("Paris \nCapital of ", "Paris", "Paris", True, True),
    ("Paris.\nCapit", "Paris", "Paris", True, True),           # trailing "." removed
    ("Paris. \n", "Paris", "Paris", True, True),
    ("paris \n", "Paris", "paris", True, True),                # case-insensitive
    ("PARIS", "Paris", "PARIS", True, False),                  # no newline: not terminated, still counts
    ("Washington DC \nCa", "Washington DC", "Washington DC", True, True),
    ("Washington \nDC", "Washington DC", "Washington", False, True),  # cut at the first newline
    ("New Delhi India \n", "New Delhi", "New Delhi India", False, True),
    ("Lond \n", "London", "Lond", False, True),
    ("\nParis", "Paris", "", False, True),
    ("Pa.ris \n", "Paris", "Pa.ris", False, True),
])
def test_judge_capital(generated, expected, answer, correct, terminated):
    j = judge_capital(generated, expected)
    assert (j.answer, j.correct, j.terminated) == (answer, correct, terminated)


# ---- tally and score --------------------------------------------------------------------------------
def _sample(kind, correct, terminated=True):
    from toobig.evaluate import Judgement
    return Sample(Prompt("p", "a", kind), "", Judgement("a", correct, terminated))


def test_tally_and_score_by_hand():
    samples = ([_sample("add", True)] * 89 + [_sample("add", False)] * 2 +
               [_sample("sub", True, False)] * 80 + [_sample("sub", False)] * 11 +
               [_sample("heldout", False)] * 4 + [_sample("facts", True)] * 30 + [_sample("facts", False)] * 20)
    counts = tally(samples)
    assert counts["add_correct"] == 89 and counts["add_total"] == 91 and counts["add_terminated"] == 91
    assert counts["sub_correct"] == 80 and counts["sub_total"] == 91 and counts["sub_terminated"] == 11
    assert counts["heldout_correct"] == 0 and counts["heldout_total"] == 4
    assert counts["facts_correct"] == 30 and counts["facts_total"] == 50
    # (add + sub + facts correct) / (their totals); the held-out four are not added again
    assert score(counts) == (89 + 80 + 30) / (91 + 91 + 50)


def test_score_per_task():
    assert score({"add_correct": 89, "add_total": 91, "sub_correct": 89, "sub_total": 91}) == 178 / 182
    assert score({"facts_correct": 7, "facts_total": 50}) == 7 / 50
    assert score({"heldout_correct": 4, "heldout_total": 4}) == 0.0
    assert score({}) == 0.0


# ---- generation -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def random_gpt():
    """A small random GPT with large weights, so that greedy choices are far from ties."""
    torch.manual_seed(3)
    gpt = GPT(GPTConfig(vocab_size=17, block_size=9, n_layer=2, n_head=2, n_embd=16, mlp_expansion=2))
    with torch.no_grad():
        for p in gpt.parameters():
            p.mul_(40)
    return gpt.eval()


def reference_generate(model, ids, n):
    """nanoGPT's generate, one prompt at a time, greedy: crop to the last block_size tokens, take argmax."""
    idx = torch.tensor([ids])
    for _ in range(n):
        cond = idx[:, -model.config.block_size:]
        logits, _ = model(cond)
        idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return idx[0, len(ids):].tolist()


def test_batched_generation_equals_one_at_a_time(random_gpt):
    g = torch.Generator().manual_seed(5)
    lengths = [1, 2, 5, 8, 9, 10, 13, 3, 5, 17, 9, 4]  # mixed, some longer than block_size 9
    prompts = [torch.randint(17, (n,), generator=g).tolist() for n in lengths]
    batched = generate(random_gpt, prompts, 6, temperature=1.0, top_k=1)
    expected = [reference_generate(random_gpt, p, 6) for p in prompts]
    assert batched == expected
    alone = [generate(random_gpt, [p], 6, temperature=1.0, top_k=1)[0] for p in prompts]
    assert alone == expected
    assert len({tuple(e) for e in expected}) > 3  # the check is not trivial: the outputs differ


def test_batched_near_greedy_sampling_equals_greedy(random_gpt):
    """Temperature 0.01 with top_k 10 (the protocol's sampling) picks the argmax for a model with clear margins."""
    g = torch.Generator().manual_seed(7)
    prompts = [torch.randint(17, (n,), generator=g).tolist() for n in (3, 5, 9, 12)]
    sampled = generate(random_gpt, prompts, 4, temperature=0.01, top_k=10, generator=torch.Generator().manual_seed(0))
    assert sampled == [reference_generate(random_gpt, p, 4) for p in prompts]


def test_top_k_restricts_choices():
    """With top_k 2 and a high temperature, only the two most likely tokens ever come out."""
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=17, block_size=9, n_layer=1, n_head=1, n_embd=8)).eval()
    with torch.no_grad():
        for p in gpt.parameters():
            p.mul_(30)
    prompt = [14, 5, 2, 6, 15]
    logits = gpt(torch.tensor([prompt]))[0][0, -1]
    top2 = set(logits.topk(2).indices.tolist())
    outs = generate(gpt, [prompt] * 400, 1, temperature=100.0, top_k=2, generator=torch.Generator().manual_seed(1))
    seen = {o[0] for o in outs}
    assert seen == top2


def test_generation_is_seeded(random_gpt):
    prompts = [[14, 5, 2, 6, 15]] * 50
    a = generate(random_gpt, prompts, 3, 1e4, None, torch.Generator().manual_seed(11))
    b = generate(random_gpt, prompts, 3, 1e4, None, torch.Generator().manual_seed(11))
    c = generate(random_gpt, prompts, 3, 1e4, None, torch.Generator().manual_seed(12))
    assert a == b and a != c


def test_sample_prompts(random_gpt):
    vocab = Vocab(ARITH_VOCAB)
    prompts = [Prompt("<1+2=", "3", "add"), Prompt("<5-7=", "-2", "heldout"), Prompt("<19+19=", "38", "ood_add")]
    random_gpt.train()
    samples = sample_prompts(random_gpt, vocab, prompts, 3, 0.01, 10, 4, 20, torch.Generator().manual_seed(0))
    assert random_gpt.training  # mode restored
    random_gpt.eval()
    assert len(samples) == 9
    assert [s.prompt for s in samples] == [p for p in prompts for _ in range(3)]
    for s in samples:
        assert len(s.generated) == 4
        assert s.generated == vocab.decode(reference_generate(random_gpt, vocab.encode(s.prompt.text), 4))
        assert s.judgement == judge(s.prompt, s.generated)
    counts = tally(samples)
    assert counts["add_total"] == 3 and counts["heldout_total"] == 3 and counts["ood_add_total"] == 3


def test_vocab_roundtrip_and_unknown_character():
    vocab = Vocab(ARITH_VOCAB)
    assert vocab.decode(vocab.encode("<1-4=-3>\n")) == "<1-4=-3>\n"
    assert vocab.encode("<0") == [14, 4]
    with pytest.raises(ValueError, match="outside the model's vocabulary"):
        vocab.encode("Capital")
