"""Run configuration: one flat, typed dataclass per training run, resolved from config.yaml.

config.yaml is organised by what a person changes (task, model, regime); a run needs all of it at once.
`resolve_run` merges the four sources in a fixed order: task settings, model settings, regime overrides,
shared training and evaluation settings. Unknown keys and wrong types stop with a message naming the key.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

TASKS = ("arithmetic", "capitals", "joint")
MODELS = ("n14", "n28", "n56", "mlt")
# A model label beyond MODELS is a width of the capacity sweep, "n<width>" (toobig.experiments.SWEEP_MODEL); an
# n-label names its n_embd, so "n14" with n_embd 56 is refused (results filed under n14 would be n56's)
WIDTH_MODEL = re.compile(r"n([1-9][0-9]*)")
# How a run is executed, not what it computes: compiled and eager steps give byte-identical runs, and where the
# resume points fall does not change a run. A finished run is not made again, nor a resume refused, for these.
EXECUTION_SETTINGS = ("compile", "checkpoint_interval")


def computed_settings(settings: dict) -> dict:
    """A run's settings without EXECUTION_SETTINGS: what decides its results."""
    return {k: v for k, v in settings.items() if k not in EXECUTION_SETTINGS}
REGIMES = ("main", "controlled")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


@dataclass(frozen=True)
class RunConfig:
    # identity
    task: str = "arithmetic"
    model: str = "n14"
    regime: str = "main"
    seed: int = 1337
    # batching (task)
    block_size: int = 9
    batch_size: int = 882
    # architecture (model)
    n_layer: int = 1
    n_head: int = 1
    n_embd: int = 14
    mlp_expansion: int = 1
    bias: bool = False
    # regularisation and learning rate (model, then regime)
    dropout: float = 0.0
    weight_decay: float = 0.0
    learning_rate: float = 1e-2
    min_lr: float = 1e-4
    # optimisation schedule
    max_iters: int = 30000
    warmup_iters: int = 2000
    lr_decay_iters: int = 25000
    decay_lr: bool = True
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    # bookkeeping
    eval_interval: int = 250
    loss_interval: int = 500
    loss_batches: int = 100
    checkpoint_interval: int = 2500
    compile: bool = False
    # evaluation
    temperature: float = 0.01
    top_k: int = 10
    samples_per_prompt: int = 10
    grid: int = 91
    arithmetic_new_tokens: int = 4
    capitals_new_tokens: int = 20

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Short hash of every value; equal hashes mean the same experiment."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


TYPES = {"int": int, "float": float, "bool": bool, "str": str}  # dataclass annotations (strings) -> types


def _check_type(name: str, value, expected_type, error=ConfigError, what: str = "config"):
    if expected_type is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected_type is float and isinstance(value, str):
        # PyYAML (YAML 1.1) reads "1e-5" (no dot) as a string; accept any string Python reads as a number
        try:
            value = float(value)
        except ValueError:
            pass
    if (expected_type is int and isinstance(value, bool)) or not isinstance(value, expected_type):
        raise error(f"{what} key '{name}' must be {expected_type.__name__}, got {type(value).__name__} ({value!r})")
    if expected_type is float and not math.isfinite(value):  # NaN passes every range check; inf temperature is uniform
        raise error(f"{what} key '{name}' must be a finite number, got {value!r}")
    return value


def typed_values(cls, values: dict, what: str = "config", error=ConfigError) -> dict:
    """values checked against dataclass cls's fields: an unknown key or a wrong type stops naming the key."""
    if not isinstance(values, dict):
        raise error(f"a {what} must be a mapping of keys to values, got {type(values).__name__} ({values!r})")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise error(f"unknown {what} key(s): {', '.join(unknown)}; known keys: {', '.join(fields)}")
    return {name: _check_type(name, value, TYPES[fields[name].type], error, what) for name, value in values.items()}


# the ranges workflow/schemas/config.schema.yaml gives these keys, checked here too for runs started outside
# Snakemake (python -m toobig train --run-json ...): (lowest, highest, whether the lowest itself is allowed);
# tests/test_config.py checks that the two agree
RANGES = {
    **dict.fromkeys(("n_layer", "n_head", "n_embd", "mlp_expansion", "block_size", "batch_size", "lr_decay_iters",
                     "eval_interval", "loss_interval", "loss_batches", "checkpoint_interval", "top_k",
                     "samples_per_prompt", "arithmetic_new_tokens", "capitals_new_tokens"), (1, None, True)),
    **dict.fromkeys(("seed", "max_iters", "warmup_iters", "weight_decay", "min_lr", "grad_clip"), (0, None, True)),
    **dict.fromkeys(("dropout", "beta1", "beta2"), (0, 1, True)),
    **dict.fromkeys(("learning_rate", "temperature"), (0, None, False)),
}


def _check_ranges(cfg: RunConfig) -> None:
    for name, (low, high, low_allowed) in RANGES.items():
        value = getattr(cfg, name)
        if value < low or (value == low and not low_allowed) or (high is not None and value > high):
            bound = f"{'at least' if low_allowed else 'above'} {low}" + (f" and at most {high}" if high is not None else "")
            raise ConfigError(f"run config key '{name}' must be {bound}, got {value!r}")


def _check_model_label(cfg: RunConfig) -> None:
    """The model label is a known model (MODELS, as config.yaml's model_settings names them) or a sweep width
    "n<width>"; an n-label must equal n_embd. The MLT's label names no width (a smaller MLT is still one)."""
    width = WIDTH_MODEL.fullmatch(cfg.model)
    if width:
        if int(width.group(1)) != cfg.n_embd:
            raise ConfigError(f"model '{cfg.model}' is a width of {width.group(1)}, but n_embd is {cfg.n_embd}: an "
                              f"'n<width>' model has n_embd = width; fix n_embd in model_settings (or call the model "
                              f"'n{cfg.n_embd}')")
    elif cfg.model not in MODELS:
        raise ConfigError(f"unknown model '{cfg.model}': a run's model is one of {', '.join(MODELS)} or a width "
                          "'n<width>' of the capacity sweep (with n_embd = width)")


def run_config_from_dict(values: dict) -> RunConfig:
    """Build a RunConfig, rejecting unknown keys, wrong types and values out of range with a message naming the key."""
    cfg = RunConfig(**typed_values(RunConfig, values, "run config"))
    _check_ranges(cfg)
    if cfg.task not in TASKS:
        raise ConfigError(f"unknown task '{cfg.task}'; choose one of {', '.join(TASKS)}")
    _check_model_label(cfg)
    if cfg.n_embd % cfg.n_head:
        raise ConfigError(f"n_embd ({cfg.n_embd}) must be divisible by n_head ({cfg.n_head})")
    if cfg.loss_interval % cfg.eval_interval:  # the loss is estimated only at evaluations (toobig.train)
        raise ConfigError(f"loss_interval ({cfg.loss_interval}) must be a multiple of eval_interval "
                          f"({cfg.eval_interval}): the training and validation losses are estimated at evaluations "
                          "only, so any other interval would silently record them less often than asked")
    if cfg.grid not in (91, 100):
        raise ConfigError(f"evaluation grid must be 91 or 100, got {cfg.grid}")
    if cfg.decay_lr and cfg.warmup_iters >= cfg.lr_decay_iters:  # the cosine would divide by zero (or run backwards)
        raise ConfigError(f"warmup_iters ({cfg.warmup_iters}) must be below lr_decay_iters ({cfg.lr_decay_iters})")
    if cfg.decay_lr and cfg.min_lr > cfg.learning_rate:
        raise ConfigError(f"min_lr ({cfg.min_lr}) must not exceed learning_rate ({cfg.learning_rate}): the schedule "
                          "decays from learning_rate to min_lr")
    return cfg


# the pipeline's schema of config.yaml; absent when the package is installed without the repository
SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def validate_config(config: dict, source: str, schema: str | Path = SCHEMA) -> dict:
    """config checked against the pipeline's JSON schema (its defaults filled in), as the Snakefile does, so that
    a misspelt section or key stops the command line too; a ConfigError names the key in one line."""
    schema = Path(schema)
    if not schema.exists():
        return config  # the package alone: resolve_run still rejects unknown and out-of-range run settings
    try:
        from snakemake.exceptions import WorkflowError
        from snakemake.utils import validate
    except ImportError:  # e.g. a GPU machine with torch but no Snakemake: run settings are still checked
        print(f"warning: snakemake is not installed, so {source} is not checked against the pipeline's schema "
              "(run settings are still checked); `pip install -e .` installs it", file=sys.stderr)
        return config

    try:
        validate(config, str(schema))
    except WorkflowError as err:
        detail = str(err).splitlines()
        reason = next((line for line in detail if "Failed validating" in line or "is not" in line or "is less" in line
                       or "Additional properties" in line or "was unexpected" in line
                       or "non-unique" in line), detail[0])
        where = next((line for line in detail if line.strip().startswith("On instance")), "")
        # Snakemake reads the items of `--config key=[1,2]` and `key={a: 1}` as text, so numbers fail as strings
        quoted_number = re.search(r"'-?[0-9.]+' is not of type '(integer|number)'", reason)
        hint = (" A number in quotes: lists and mappings given with --config arrive as text; put them in a YAML file "
                "and pass it with --configfile." if quoted_number else "")
        raise ConfigError(f"{source} is invalid: {reason.strip()} {where.strip()}\n"
                          f"Fix the key named above (the schema is {schema.relative_to(schema.parents[2])}).{hint}") from None
    return config


def validate_section(values, section: str, source: str, schema: str | Path = SCHEMA) -> None:
    """One section of config.yaml (as the pipeline passes it, e.g. --data-json) against its part of the schema."""
    schema = Path(schema)
    if not schema.exists():
        return
    import jsonschema

    part = yaml.safe_load(schema.read_text())["properties"][section]
    errors = sorted(jsonschema.Draft202012Validator(part).iter_errors(values), key=lambda e: list(map(str, e.path)))
    if errors:
        said = "; ".join(f"{e.message} (at {'/'.join(map(str, e.absolute_path)) or 'the top'})" for e in errors[:3])
        raise ConfigError(f"{source} is invalid ('{section}' section of the schema): {said}")


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        with path.open() as fh:
            config = yaml.safe_load(fh)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} does not hold a mapping of keys to values")
    return config


def load_project_config(path: str | Path) -> dict:
    """A project config (config.yaml or one shaped like it), checked against the pipeline's schema."""
    return validate_config(load_config(path), f"config file {path}")


def resolve_run(config: dict, task: str, model: str, regime: str, seed: int) -> RunConfig:
    """The complete settings of one run, from the sections of config.yaml."""
    sections = {"task": ("task_settings", task), "model": ("model_settings", model), "regime": ("regime_settings", regime)}
    merged: dict = {"task": task, "model": model, "regime": regime, "seed": int(seed)}
    for kind, (section, name) in sections.items():
        table = config.get(section) or {}
        if not isinstance(table, dict):
            raise ConfigError(f"config section '{section}' must be a mapping of names to settings")
        if name not in table:
            raise ConfigError(f"unknown {kind} '{name}'; config.yaml '{section}' defines: {', '.join(table)}")
        if not isinstance(table[name] or {}, dict):
            raise ConfigError(f"config '{section}.{name}' must be a mapping of keys to values")
        merged.update(table[name] or {})
    for section in ("training", "evaluation"):
        values = config.get(section) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"config section '{section}' must be a mapping of keys to values")
        merged.update(values)
    return run_config_from_dict(merged)


def load_run_config(path: str | Path) -> RunConfig:
    """A RunConfig from a JSON or YAML file holding its keys."""
    return run_config_from_dict(load_config(path))
