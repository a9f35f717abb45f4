"""Settings of the blog experiment, from config.yaml's `blog:` section, as one typed dataclass per run."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from ..config import typed_values

OPERATIONS = ("SUM", "SUBTRACT", "MULTIPLY", "DIVIDE")


class BlogConfigError(ValueError):
    """A `blog:` config value is missing, unknown or of the wrong type."""


@dataclass(frozen=True)
class BlogRunConfig:
    # data (posts' generate_math_data.py)
    n_lines: int = 10_000            # lines generated
    operand_min: int = 1             # operands drawn uniformly from operand_min..operand_max
    operand_max: int = 1000
    heldout_fraction: float = 0.1    # 10% held out, as the posts' train_test_split(test_size=0.1)
    division_decimals: int = -1      # -1: the float as Python prints it (posts); k >= 0: rounded to k decimals
    data_seed: int = 1234            # seeds line generation and the split
    # model
    init: str = "scratch"            # scratch: GPT2Config below, random weights; pretrained: from_pretrained(pretrained)
    pretrained: str = ""             # local directory (or hub name where one is reachable) for init=pretrained
    n_layer: int = 6                 # DistilGPT-2's shape by default
    n_embd: int = 768
    n_head: int = 12
    dropout: float = 0.1             # GPT-2's resid/embd/attn dropout
    n_positions: int = 1024          # position table size (GPT-2: 1024)
    compact_vocab: bool = False      # True: output layer restricted to the token ids the data uses (CPU shortcut)
    # training (posts' train_math_llm.py)
    max_length: int = 32             # pad to 32 tokens, pad = end-of-text
    learn_to_stop: bool = False      # False: every end-of-text masked out of the loss (posts); True: keep one after the answer
    learning_rate: float = 5e-5      # constant
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    batch_size: int = 30
    epochs: int = 750
    seed: int = 1337                 # model init, shuffling and dropout
    # evaluation
    eval_every: int = 25             # epochs between evaluations (epoch 0 included)
    train_subset: int = 1000         # fixed training lines evaluated beside the held-out set
    max_new_tokens: int = 16         # greedy decoding budget; long enough to see run-on digits
    decimals_k: int = 3              # "correct to k decimals" for DIVIDE (posts' validate.py used 3)
    checkpoint_every: int = 5        # epochs between resume checkpoints

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]

    def resume_hash(self) -> str:
        """Hash of everything that shapes the training trajectory and its tables. `epochs` is left out: the
        learning rate is constant, so a run stopped at N epochs is the first N epochs of a longer one and
        can be extended (or cut short) from its checkpoint."""
        values = {k: v for k, v in self.to_dict().items() if k != "epochs"}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def blog_run_config_from_dict(values: dict) -> BlogRunConfig:
    cfg = BlogRunConfig(**typed_values(BlogRunConfig, values, "blog run", BlogConfigError))
    if cfg.init not in ("scratch", "pretrained"):
        raise BlogConfigError(f"blog init must be 'scratch' or 'pretrained', got {cfg.init!r}")
    if cfg.init == "pretrained" and not cfg.pretrained:
        raise BlogConfigError("blog init 'pretrained' needs blog.pretrained (a local model directory)")
    if cfg.init == "pretrained" and cfg.compact_vocab:
        raise BlogConfigError("compact_vocab only applies to init 'scratch' (pretrained weights use GPT-2's full vocabulary)")
    if cfg.n_embd % cfg.n_head:
        raise BlogConfigError(f"n_embd ({cfg.n_embd}) must be divisible by n_head ({cfg.n_head})")
    if not 0 < cfg.heldout_fraction < 1:
        raise BlogConfigError("heldout_fraction must be between 0 and 1")
    return cfg


def resolve_blog_run(blog: dict, model: str, learn_to_stop: bool) -> BlogRunConfig:
    """One run's settings: data, training and evaluation sections, then the named model's settings."""
    models = blog.get("models", {})
    if model not in models:
        raise BlogConfigError(f"unknown blog model '{model}'; config.yaml blog.models defines: {', '.join(models)}")
    merged: dict = {}
    for section in ("data", "training", "evaluation"):
        merged.update(blog.get(section, {}) or {})
    merged.update(models[model] or {})
    merged["learn_to_stop"] = bool(learn_to_stop)
    return blog_run_config_from_dict(merged)
