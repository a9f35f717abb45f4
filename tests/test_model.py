"""The model: exact parameter counts, weight tying, init, optimizer groups, and a reference forward pass."""
from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from toobig.config import resolve_run
from toobig.model import GPT, GPTConfig
from toobig.train import build_model

VOCAB = {"arithmetic": 17, "capitals": 51, "joint": 66}
# protocol.md, "Model": all parameters minus the position embeddings
PARAMS = {
    ("arithmetic", "n14"): 1456, ("arithmetic", "n28"): 5264, ("arithmetic", "n56"): 19936, ("arithmetic", "mlt"): 10628352,
    ("capitals", "n14"): 1932, ("capitals", "n28"): 6216, ("capitals", "n56"): 21840, ("capitals", "mlt"): 10641408,
    ("joint", "n14"): 2142, ("joint", "n28"): 6636, ("joint", "n56"): 22680, ("joint", "mlt"): 10647168,
}


@pytest.mark.parametrize("task,model", sorted(PARAMS))
def test_parameter_count(config, task, model):
    cfg = resolve_run(config, task, model, "main", 1337)
    gpt = build_model(cfg, VOCAB[task])
    assert gpt.num_params() == PARAMS[(task, model)]
    # the same count from the architecture by hand: tied embedding + per layer (2 LN, qkv, proj, fc, proj) + ln_f
    n, m, L, V = cfg.n_embd, cfg.mlp_expansion, cfg.n_layer, VOCAB[task]
    assert PARAMS[(task, model)] == V * n + L * (2 * n + 3 * n * n + n * n + 2 * m * n * n) + n
    assert gpt.num_params(non_embedding=False) == PARAMS[(task, model)] + cfg.block_size * n


def test_controlled_regime_keeps_the_architecture(config):
    for model in ("n14", "mlt"):
        main = build_model(resolve_run(config, "joint", model, "main", 1337), 66)
        controlled = build_model(resolve_run(config, "joint", model, "controlled", 1337), 66)
        assert main.num_params() == controlled.num_params() == PARAMS[("joint", model)]


def small(**kw) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{"vocab_size": 17, "block_size": 9, "n_layer": 2, "n_head": 2, "n_embd": 16,
                            "mlp_expansion": 2, **kw}))


def test_weight_tying():
    gpt = small()
    assert gpt.lm_head.weight is gpt.transformer.wte.weight
    with torch.no_grad():
        gpt.lm_head.weight[3, 0] = 7.5
    assert gpt.transformer.wte.weight[3, 0].item() == 7.5
    # counted once
    assert sum(p.numel() for p in gpt.parameters()) == gpt.num_params(non_embedding=False)


def test_no_biases_and_mlp_width():
    gpt = small()
    assert not [n for n, _ in gpt.named_parameters() if n.endswith("bias")]
    assert gpt.transformer.h[0].mlp.c_fc.weight.shape == (2 * 16, 16)
    n14 = GPT(GPTConfig(vocab_size=17, block_size=9, n_layer=1, n_head=1, n_embd=14, mlp_expansion=1))
    assert n14.transformer.h[0].mlp.c_fc.weight.shape == (14, 14)


def test_init_std(config):
    torch.manual_seed(1337)
    cfg = resolve_run(config, "arithmetic", "mlt", "main", 1337)
    gpt = build_model(cfg, 17)
    sd = gpt.state_dict()
    resid = 0.02 / math.sqrt(2 * cfg.n_layer)
    for name, w in sd.items():
        if name.endswith("c_proj.weight"):
            assert w.std().item() == pytest.approx(resid, rel=0.03), name
        elif name.endswith(("c_attn.weight", "c_fc.weight", "wte.weight", "wpe.weight")):
            assert w.std().item() == pytest.approx(0.02, rel=0.05), name
            assert abs(w.mean().item()) < 0.002
        elif "ln" in name:
            assert torch.equal(w, torch.ones_like(w)), name


def test_dropout_setting_reaches_modules(config):
    mlt = build_model(resolve_run(config, "arithmetic", "mlt", "main", 1337), 17)
    rates = {m.p for m in mlt.modules() if isinstance(m, torch.nn.Dropout)}
    assert rates == {0.2}
    ctrl = build_model(resolve_run(config, "arithmetic", "mlt", "controlled", 1337), 17)
    assert {m.p for m in ctrl.modules() if isinstance(m, torch.nn.Dropout)} == {0.0}


def test_weight_decay_only_on_matrices():
    gpt = small()
    opt = gpt.configure_optimizer(0.1, 1e-3, (0.9, 0.99))
    assert isinstance(opt, torch.optim.AdamW)
    names = {id(p): n for n, p in gpt.named_parameters()}
    decayed = {names[id(p)] for g in opt.param_groups if g["weight_decay"] == 0.1 for p in g["params"]}
    plain = {names[id(p)] for g in opt.param_groups if g["weight_decay"] == 0.0 for p in g["params"]}
    everything = set(names.values())
    assert decayed | plain == everything and not decayed & plain
    assert sum(len(g["params"]) for g in opt.param_groups) == len(everything)  # the tied weight once
    assert decayed == {n for n, p in gpt.named_parameters() if p.dim() >= 2}
    assert plain == {n for n, p in gpt.named_parameters() if p.dim() < 2}
    assert all("ln" in n for n in plain) and plain
    assert "transformer.wte.weight" in decayed or "lm_head.weight" in decayed
    assert all(g["betas"] == (0.9, 0.99) for g in opt.param_groups)


def reference_logits(gpt: GPT, idx: torch.Tensor) -> torch.Tensor:
    """nanoGPT's forward written out from the state dict: checks the model's (optimised) code path."""
    sd = gpt.state_dict()
    cfg = gpt.config
    B, T = idx.shape
    C, nh = cfg.n_embd, cfg.n_head
    ln = lambda x, w: F.layer_norm(x, (C,), w, None, 1e-5)
    x = sd["transformer.wte.weight"][idx] + sd["transformer.wpe.weight"][:T]
    for i in range(cfg.n_layer):
        p = f"transformer.h.{i}."
        h = ln(x, sd[p + "ln_1.weight"])
        q, k, v = (h @ sd[p + "attn.c_attn.weight"].T).split(C, dim=2)
        q, k, v = (t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // nh)
        att = att.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ sd[p + "attn.c_proj.weight"].T
        h = ln(x, sd[p + "ln_2.weight"])
        x = x + F.gelu(h @ sd[p + "mlp.c_fc.weight"].T) @ sd[p + "mlp.c_proj.weight"].T
    x = ln(x, sd["transformer.ln_f.weight"])
    return x @ sd["lm_head.weight"].T


def test_forward_matches_reference_and_loss():
    gpt = small()
    with torch.no_grad():
        for p in gpt.parameters():
            p.mul_(20)  # large weights, so that a wrong mask or scale shows
    gpt.eval()
    g = torch.Generator().manual_seed(0)
    for T in (1, 5, 9):
        idx = torch.randint(17, (3, T), generator=g)
        tgt = torch.randint(17, (3, T), generator=g)
        logits, loss = gpt(idx, tgt)
        ref = reference_logits(gpt, idx)
        torch.testing.assert_close(logits, ref, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(loss, F.cross_entropy(ref.view(-1, 17), tgt.view(-1)), rtol=1e-4, atol=1e-4)
        assert gpt(idx)[1] is None


def test_causal():
    gpt = small()
    gpt.eval()
    idx = torch.randint(17, (1, 9), generator=torch.Generator().manual_seed(1))
    changed = idx.clone()
    changed[0, 6] = (changed[0, 6] + 1) % 17
    a, b = gpt(idx)[0], gpt(changed)[0]
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_initial_loss_is_near_uniform():
    gpt = small()
    g = torch.Generator().manual_seed(2)
    idx, tgt = torch.randint(17, (64, 9), generator=g), torch.randint(17, (64, 9), generator=g)
    loss = gpt(idx, tgt)[1].item()
    assert abs(loss - math.log(17)) < 0.1


def test_too_long_input_is_refused():
    gpt = small()
    with pytest.raises(AssertionError, match="length 10 exceeds block_size 9"):  # not an IndexError from wpe
        gpt(torch.zeros(1, 10, dtype=torch.long))


def test_an_unknown_attention_kind_is_refused():
    """A misspelt kind ("flash") would otherwise silently take the explicit path."""
    with pytest.raises(ValueError, match="must be 'auto', 'sdpa' or 'explicit', got 'flash'"):
        GPT(GPTConfig(vocab_size=17, attention="flash"))
