"""The experiments beyond the paper (issue 6): which runs each needs, and the settings of every such run.

config.yaml's `experiments:` section switches each experiment on or off and says what it covers. The runs they
need are of three kinds, all in the same results/runs/{regime}/{task}/{model}/seed{seed}/ layout as the paper's:

* runs of the paper's own regimes and models with more seeds (seeds experiment): resolved by `resolve_run`
  exactly as the paper's 24 runs, so seed 1337 *is* the paper-fidelity run and is trained once;
* runs of the paper's regimes with other widths n (capacity sweep, model names "n8", "n10", ...): the sweep's
  base model (n14's settings) with n_embd = n; a width that has its own model_settings entry (n14, n28,
  n56) is that model, so the sweep reuses the paper's runs;
* runs of *experiment regimes* (extended, long training, warm-up and clipping variants): a base regime of the
  paper plus overrides of any run setting, under a regime name of its own ("extended", "long_wd", ...).

`resolve_experiment_run` builds the RunConfig of any of them. It never changes how the paper's runs resolve:
for regime main/controlled and a model of model_settings it returns `resolve_run(...)` unchanged.
"""
from __future__ import annotations

import copy
import math
import re

from .config import ConfigError, RunConfig, resolve_run, run_config_from_dict

PAPER_REGIMES = ("main", "controlled")
IDENTITY_KEYS = ("task", "model", "regime", "seed")  # set by the resolver, never by overrides
SWEEP_MODEL = re.compile(r"^n(\d+)$")

# What every experiment does when config.yaml has no `experiments:` section (the schema has the same defaults;
# tests/test_experiments.py checks they agree). Cheap evaluation-only experiments are on, training ones off.
DEFAULTS: dict = {
    "ood": {"enabled": True, "regimes": ["main", "controlled"]},
    "extended": {
        "enabled": False, "seed": 1337, "device": "cuda",
        "settings": {"learning_rate": 1.0e-6, "min_lr": 1.0e-7, "lr_decay_iters": 10_000_000, "max_iters": 1_500_000,
                     "eval_interval": 250},
    },
    "long_training": {
        "enabled": False, "task": "arithmetic", "models": ["n28", "n56"], "seeds": [1337],
        "settings": {"max_iters": 300_000, "lr_decay_iters": 300_000},
        "variants": {"long": {"weight_decay": 0.0}, "long_wd": {"weight_decay": 0.1}},
        "stretch_ends": [30_000, 100_000, 200_000],
    },
    "seeds": {
        "enabled": False, "seeds": [1337, 1338, 1339, 1340, 1341], "tasks": ["arithmetic", "capitals", "joint"],
        "models": ["n14", "n28", "n56"], "regimes": ["main", "controlled"],
    },
    "sweep": {
        "enabled": False, "widths": [8, 10, 12, 14, 16, 20, 24, 28, 36, 44, 56, 64], "tasks": ["arithmetic", "capitals"],
        "seeds": [1337, 1338, 1339], "regime": "main", "base_model": "n14",
    },
    "sensitivity_eval": {
        "enabled": True, "regime": "main", "tasks": ["arithmetic", "capitals", "joint"], "models": ["n14", "n28"],
        "variants": {"reference": {}, "temperature_0.8": {"temperature": 0.8}, "greedy": {"top_k": 1},
                     "grid_100": {"grid": 100}, "prompts_training": {"capitals_prompt_style": "training"}},
    },
    "sensitivity_training": {
        "enabled": False, "task": "arithmetic", "models": ["n14", "n28"], "seeds": [1337],
        "variants": {"warmup_100": {"warmup_iters": 100}, "no_clip": {"grad_clip": 0.0}},
    },
}
EXPERIMENTS = tuple(DEFAULTS)
# Evaluation settings a sensitivity_eval variant may change (anything else is a training setting).
EVAL_VARIANT_KEYS = ("temperature", "top_k", "samples_per_prompt", "grid", "capitals_prompt_style")


def experiments_section(config: dict) -> dict:
    """config["experiments"] with every missing key taken from DEFAULTS (one level of nesting per experiment).
    Dict-valued settings (settings, variants) given in the config replace the default ones whole."""
    given = config.get("experiments") or {}
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown experiment(s) {', '.join(unknown)}; known: {', '.join(EXPERIMENTS)}")
    merged = copy.deepcopy(DEFAULTS)
    for name, values in given.items():
        merged[name].update(copy.deepcopy(values or {}))
    return merged


def enabled(config: dict, name: str) -> bool:
    return bool(experiments_section(config)[name]["enabled"])


# ---------------------------------------------------------------------------------------------------------
# Experiment regimes: a paper regime plus overrides, under a name of its own
# ---------------------------------------------------------------------------------------------------------
def experiment_regimes(config: dict) -> dict[str, dict]:
    """Every experiment regime, switched on or not: name -> {"experiment", "base", "overrides"}."""
    exp = experiments_section(config)
    table: dict[str, dict] = {"extended": {"experiment": "extended", "base": "main",
                                           "overrides": dict(exp["extended"]["settings"])}}
    for experiment, common in (("long_training", exp["long_training"]["settings"]), ("sensitivity_training", {})):
        for name, overrides in exp[experiment]["variants"].items():
            if name in table:
                raise ConfigError(f"experiment regime '{name}' is defined twice (in {table[name]['experiment']} "
                                  f"and {experiment}); give each variant its own name")
            table[name] = {"experiment": experiment, "base": "main", "overrides": {**common, **(overrides or {})}}
    clash = sorted(set(table) & (set(config.get("regime_settings") or {}) | set(PAPER_REGIMES)))
    if clash:
        raise ConfigError(f"experiment regime name(s) {', '.join(clash)} clash with regime_settings; rename them")
    for name, spec in table.items():
        bad = sorted(set(spec["overrides"]) & set(IDENTITY_KEYS))
        if bad:
            raise ConfigError(f"experiment regime '{name}' may not override {', '.join(bad)}")
    return table


def sweep_settings(config: dict, width: int) -> dict:
    """Model settings of the capacity sweep's width n: the base model's, with n_embd = n."""
    base = experiments_section(config)["sweep"]["base_model"]
    models = config.get("model_settings") or {}
    if base not in models:
        raise ConfigError(f"experiments.sweep.base_model '{base}' is not a key of model_settings")
    settings = dict(models[base])
    if width % settings.get("n_head", 1):
        raise ConfigError(f"sweep width {width} is not divisible by n_head {settings['n_head']} of '{base}'")
    settings["n_embd"] = int(width)
    return settings


def resolve_experiment_run(config: dict, task: str, model: str, regime: str, seed: int) -> RunConfig:
    """The complete settings of any run an experiment needs (see the module docstring)."""
    models = config.get("model_settings") or {}
    if regime in PAPER_REGIMES or regime in (config.get("regime_settings") or {}):
        if model in models:
            return resolve_run(config, task, model, regime, seed)  # the paper's runs, unchanged
        match = SWEEP_MODEL.match(model)
        if not match:
            raise ConfigError(f"unknown model '{model}': not in model_settings and not a sweep width 'n<width>'")
        patched = dict(config, model_settings={**models, model: sweep_settings(config, int(match.group(1)))})
        return resolve_run(patched, task, model, regime, seed)
    regimes = experiment_regimes(config)
    if regime not in regimes:
        raise ConfigError(f"unknown regime '{regime}'; paper regimes: {', '.join(config.get('regime_settings') or {})}; "
                          f"experiment regimes: {', '.join(regimes)}")
    spec = regimes[regime]
    values = resolve_run(config, task, model, spec["base"], seed).to_dict()
    values.update(spec["overrides"])
    values["regime"] = regime
    return run_config_from_dict(values)


# ---------------------------------------------------------------------------------------------------------
# Which runs each experiment needs (dicts with regime, task, model, seed), switched on or not
# ---------------------------------------------------------------------------------------------------------
def _run(regime, task, model, seed) -> dict:
    return {"regime": regime, "task": task, "model": model, "seed": int(seed)}


def paper_runs(config: dict) -> list[dict]:
    """The paper's runs the config plans: every regime x task x model x seed."""
    return [_run(regime, task, model, seed) for regime in config["regimes"] for task in config["tasks"]
            for model in config["models"] for seed in config["seeds"]]


def experiment_runs(config: dict, name: str) -> list[dict]:
    """The training runs experiment `name` reads (some are the paper's own runs); [] for evaluation-only ones."""
    exp = experiments_section(config)[name]
    if name == "extended":
        return [_run("extended", "arithmetic", "mlt", exp["seed"])]
    if name in ("long_training", "sensitivity_training"):
        return [_run(regime, exp["task"], model, seed) for regime in exp["variants"] for model in exp["models"]
                for seed in exp["seeds"]]
    if name == "seeds":
        return [_run(regime, task, model, seed) for regime in exp["regimes"] for task in exp["tasks"]
                for model in exp["models"] for seed in exp["seeds"]]
    if name == "sweep":
        return [_run(exp["regime"], task, f"n{w}", seed) for task in exp["tasks"] for w in exp["widths"]
                for seed in exp["seeds"]]
    return []


# ---------------------------------------------------------------------------------------------------------
# Statistics: 95% t-interval of a mean, seeds in which an outcome holds
# ---------------------------------------------------------------------------------------------------------
# Two-sided 95% Student-t quantiles t(0.975, df) for df = 1..30 (standard tables); beyond, a Cornish-Fisher
# expansion around the normal quantile (error < 1e-4 for df > 30).
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
        2.042)


def t_quantile_975(df: int) -> float:
    if df < 1:
        raise ValueError("a t-interval needs at least two values (df >= 1)")
    if df <= len(T975):
        return T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_interval(values, bounds: tuple[float, float] | None = None) -> tuple[float, float, float, int]:
    """(mean, low, high, n): the 95% Student-t interval mean +- t(0.975, n-1) * s / sqrt(n), s the sample
    standard deviation (n - 1 in the denominator), clipped to bounds (the range the metric can take: with 3 seeds
    t = 4.30 and an accuracy interval would otherwise reach below 0%). One value: (v, nan, nan, 1). None/NaN
    values are dropped."""
    xs = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    n = len(xs)
    if n == 0:
        return (math.nan, math.nan, math.nan, 0)
    mean = sum(xs) / n
    if n == 1:
        return (mean, math.nan, math.nan, 1)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return (mean, low, high, n)


# ---------------------------------------------------------------------------------------------------------
# Parameter counts of the sweep (as the paper counts them: all parameters minus the position embeddings)
# ---------------------------------------------------------------------------------------------------------
def nmodel_parameters(vocab_size: int, n_embd: int, n_layer: int = 1, mlp_expansion: int = 1) -> int:
    """Token embedding (tied with the head) V*n; per block two LayerNorms 2n, attention 4n^2, MLP 2mn^2; final
    LayerNorm n. No biases. n14 on arithmetic (V = 17): 238 + 1176 + 42 = 1,456."""
    return vocab_size * n_embd + n_layer * (2 * n_embd + 4 * n_embd**2 + 2 * mlp_expansion * n_embd**2) + n_embd
