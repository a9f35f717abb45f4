import dataclasses

import pytest
import torch

from toobig.blog.config import BlogConfigError, BlogRunConfig, blog_run_config_from_dict, resolve_blog_run
from toobig.blog.decode import greedy_decode
from toobig.blog.model import GPT2_EOS, VocabMap, build_model, save_model

TINY = dict(n_layer=1, n_embd=16, n_head=2, n_positions=40, dropout=0.0)


def test_distilgpt2_shape_is_the_default():
    cfg = BlogRunConfig()
    assert (cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.init) == (6, 768, 12, "scratch")
    assert (cfg.learning_rate, cfg.weight_decay, cfg.grad_clip, cfg.batch_size, cfg.max_length) == (5e-5, 0.01, 1.0, 30, 32)


def test_pretrained_path_reloads_a_saved_model_through_from_pretrained(tmp_path):
    scratch = blog_run_config_from_dict(TINY)
    model = build_model(scratch, VocabMap())
    save_model(model, tmp_path / "tiny")
    cfg = blog_run_config_from_dict({**TINY, "init": "pretrained", "pretrained": str(tmp_path / "tiny")})
    again = build_model(cfg, VocabMap())
    ids = torch.tensor([[50, 5883, 352, 362]])
    model.eval(), again.eval()
    assert torch.equal(model(input_ids=ids).logits, again(input_ids=ids).logits)
    assert again.config.n_embd == 16 and again.config.vocab_size == 50257


def test_config_rejects_bad_values():
    with pytest.raises(BlogConfigError, match="unknown"):
        blog_run_config_from_dict({"n_layers": 2})
    with pytest.raises(BlogConfigError, match="pretrained"):
        blog_run_config_from_dict({"init": "pretrained"})
    with pytest.raises(BlogConfigError, match="must be int"):
        blog_run_config_from_dict({"epochs": True})
    with pytest.raises(BlogConfigError, match="unknown blog model"):
        resolve_blog_run({"models": {"cpu": {}}}, "big", False)


def test_resolve_lets_a_model_override_training():
    blog = {"training": {"epochs": 750, "batch_size": 30}, "models": {"cpu": {"epochs": 5, "n_layer": 2,
                                                                            "n_embd": 64, "n_head": 4}}}
    cfg = resolve_blog_run(blog, "cpu", True)
    assert cfg.epochs == 5 and cfg.batch_size == 30 and cfg.learn_to_stop is True


def test_compact_vocab_maps_both_ways():
    vocab = VocabMap([50, 5883, 352])
    assert vocab.kept == [50, 352, 5883, GPT2_EOS] and vocab.size == 4 and vocab.eos == 3
    ids = torch.tensor([[50, 5883, -100, GPT2_EOS]])
    assert vocab.to_model(ids).tolist() == [[0, 2, -100, 3]]
    assert vocab.to_gpt2(torch.tensor([0, 2, 3])).tolist() == [50, 5883, GPT2_EOS]
    with pytest.raises(ValueError):
        vocab.to_model(torch.tensor([999]))


def _naive_greedy(model, prompt, steps):
    ids = list(prompt)
    out = []
    for _ in range(steps):
        nxt = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
        if nxt == GPT2_EOS:
            return out, True
        out.append(nxt)
        ids.append(nxt)
    return out, False


def test_batched_left_padded_decoding_matches_one_prompt_at_a_time():
    torch.manual_seed(0)
    model = build_model(blog_run_config_from_dict(TINY), VocabMap()).eval()
    prompts = [[50, 5883, 352, 362], [33569, 14114, 807, 2231, 9225], [44, 16724]]
    batched = greedy_decode(model, prompts, VocabMap(), max_new_tokens=6)
    with torch.no_grad():
        assert batched == [_naive_greedy(model, p, 6) for p in prompts]
