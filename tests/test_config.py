"""Run configs: config.yaml resolves to the protocol's values; bad values stop with a message naming the key."""
from __future__ import annotations

import copy
import dataclasses
import json
import re

import pytest

from toobig.config import ConfigError, RunConfig, load_config, load_run_config, resolve_run, run_config_from_dict


@pytest.mark.parametrize("task,block,batch", [("arithmetic", 9, 882), ("capitals", 24, 576), ("joint", 24, 576)])
def test_task_settings(config, task, block, batch):
    cfg = resolve_run(config, task, "n14", "main", 1337)
    assert (cfg.task, cfg.block_size, cfg.batch_size) == (task, block, batch)


def test_model_and_regime_settings(config):
    n14 = resolve_run(config, "arithmetic", "n14", "main", 1337)
    assert (n14.n_layer, n14.n_head, n14.n_embd, n14.mlp_expansion) == (1, 1, 14, 1)
    assert (n14.dropout, n14.weight_decay, n14.learning_rate, n14.min_lr) == (0.0, 0.0, 1e-2, 1e-4)
    assert resolve_run(config, "arithmetic", "n28", "main", 1).n_embd == 28
    assert resolve_run(config, "arithmetic", "n56", "main", 1).n_embd == 56
    mlt = resolve_run(config, "arithmetic", "mlt", "main", 1337)
    assert (mlt.n_layer, mlt.n_head, mlt.n_embd, mlt.mlp_expansion) == (6, 6, 384, 4)
    assert (mlt.dropout, mlt.weight_decay, mlt.learning_rate, mlt.min_lr) == (0.2, 0.1, 1e-5, 1e-6)
    for model in ("n14", "mlt"):
        ctrl = resolve_run(config, "joint", model, "controlled", 1337)
        assert (ctrl.dropout, ctrl.weight_decay) == (0.0, 0.1)
        assert ctrl.regime == "controlled"


def test_shared_protocol_values(config):
    cfg = resolve_run(config, "capitals", "n28", "main", 7)
    assert cfg.seed == 7
    assert (cfg.max_iters, cfg.warmup_iters, cfg.lr_decay_iters, cfg.beta1, cfg.beta2, cfg.grad_clip) == (
        30000, 2000, 25000, 0.9, 0.99, 1.0)
    assert (cfg.eval_interval, cfg.loss_interval, cfg.loss_batches, cfg.bias) == (250, 500, 100, False)
    assert (cfg.temperature, cfg.top_k, cfg.samples_per_prompt, cfg.grid) == (0.01, 10, 10, 91)
    assert (cfg.arithmetic_new_tokens, cfg.capitals_new_tokens) == (4, 20)


@pytest.mark.parametrize("task,model,regime,needle", [("poetry", "n14", "main", "unknown task 'poetry'"),
                                                      ("arithmetic", "n15", "main", "unknown model 'n15'"),
                                                      ("arithmetic", "n14", "lazy", "unknown regime 'lazy'")])
def test_unknown_names(config, task, model, regime, needle):
    with pytest.raises(ConfigError, match=needle):
        resolve_run(config, task, model, regime, 1337)


@pytest.mark.parametrize("key,value", [("max_iters", "many"), ("max_iters", 1.5), ("max_iters", True),
                                       ("learning_rate", "fast"), ("decay_lr", 1), ("task", 3), ("compile", "no")])
def test_wrong_types_name_the_key(config, key, value):
    bad = copy.deepcopy(config)
    bad["training"][key] = value
    with pytest.raises(ConfigError, match=f"'{key}'"):
        resolve_run(bad, "arithmetic", "n14", "main", 1337)


def test_int_is_accepted_for_float(config):
    ok = copy.deepcopy(config)
    ok["training"]["grad_clip"] = 2
    cfg = resolve_run(ok, "arithmetic", "n14", "main", 1337)
    assert cfg.grad_clip == 2.0 and isinstance(cfg.grad_clip, float)


def test_unknown_key_is_named(config):
    bad = copy.deepcopy(config)
    bad["model_settings"]["n14"]["n_embed"] = 14
    with pytest.raises(ConfigError, match="n_embed"):
        resolve_run(bad, "arithmetic", "n14", "main", 1337)


def test_inconsistent_values(config):
    with pytest.raises(ConfigError, match="divisible"):
        run_config_from_dict({"n_embd": 14, "n_head": 3})
    with pytest.raises(ConfigError, match="91 or 100"):
        run_config_from_dict({"grid": 50})
    with pytest.raises(ConfigError, match="unknown task"):
        run_config_from_dict({"task": "poetry"})


def test_sections_must_be_mappings(config):
    bad = copy.deepcopy(config)
    bad["training"] = [1, 2]
    with pytest.raises(ConfigError, match="training"):
        resolve_run(bad, "arithmetic", "n14", "main", 1337)


def test_load_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("a: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "broken.yaml")


def test_run_config_file_roundtrip(config, tmp_path):
    cfg = resolve_run(config, "joint", "mlt", "controlled", 42)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert load_run_config(path) == cfg
    yaml_path = tmp_path / "run.yaml"
    yaml_path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in cfg.to_dict().items()) + "\n")
    assert load_run_config(yaml_path) == cfg


def test_config_hash(config):
    a = resolve_run(config, "arithmetic", "n14", "main", 1337)
    assert a.config_hash() == resolve_run(config, "arithmetic", "n14", "main", 1337).config_hash()
    assert len(a.config_hash()) == 12
    assert a.config_hash() != dataclasses.replace(a, seed=1338).config_hash()
    assert a.config_hash() != dataclasses.replace(a, learning_rate=2e-2).config_hash()
    assert a.config_hash() != resolve_run(config, "arithmetic", "n14", "controlled", 1337).config_hash()


def test_defaults_are_the_arithmetic_n14_protocol(config):
    """RunConfig's own defaults mirror config.yaml (apart from engineering switches such as compile)."""
    resolved = resolve_run(config, "arithmetic", "n14", "main", 1337)
    assert dataclasses.replace(RunConfig(), compile=resolved.compile) == resolved


# ---- a finished run against the settings it gets now (toobig.provenance) ------------------------------------
def test_config_changes_name_each_changed_setting_and_the_training_version(tmp_path):
    from toobig.provenance import config_changes

    settings = {"max_iters": 30000, "learning_rate": 0.01, "task": "arithmetic"}
    assert config_changes(tmp_path, settings, 1) == []  # not finished: no provenance.json yet
    (tmp_path / "provenance.json").write_text(json.dumps({"config": settings, "wall_seconds": 1.0}))
    assert config_changes(tmp_path, settings, 1) == []  # recorded before the version field: version 1
    assert config_changes(tmp_path, {**settings, "max_iters": 1000, "top_k": 1}, 1) == \
        ["max_iters: 30000 -> 1000", "top_k: (unset) -> 1"]
    assert config_changes(tmp_path, settings, 2) == ["TRAINING_VERSION: 1 -> 2"]
    (tmp_path / "provenance.json").write_text(json.dumps({"config": settings, "training_version": 2}))
    assert config_changes(tmp_path, settings, 2) == []


def test_execution_settings_never_make_a_finished_run_again(tmp_path):
    """compile and checkpoint_interval change how a run is executed, not its results: the pipeline passes them
    as `ignore`, so editing them in config.yaml retrains nothing."""
    from toobig.config import EXECUTION_SETTINGS
    from toobig.provenance import config_changes

    trained = {"max_iters": 30000, "compile": False, "checkpoint_interval": 2500}
    (tmp_path / "provenance.json").write_text(json.dumps({"config": trained}))
    now = {**trained, "compile": True, "checkpoint_interval": 5000}
    assert config_changes(tmp_path, now, None) == ["checkpoint_interval: 2500 -> 5000", "compile: False -> True"]
    assert config_changes(tmp_path, now, None, ignore=EXECUTION_SETTINGS) == []
    assert config_changes(tmp_path, {**now, "max_iters": 1000}, None, ignore=EXECUTION_SETTINGS) == \
        ["max_iters: 30000 -> 1000"]


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"run": "x"}'])
def test_a_foreign_provenance_file_is_a_clear_error(tmp_path, text):
    from toobig.provenance import config_changes

    (tmp_path / "provenance.json").write_text(text)
    with pytest.raises(ValueError, match="provenance.json.*delete the run folder"):
        config_changes(tmp_path, {"max_iters": 1}, 1)


def test_run_setting_ranges_are_the_schemas():
    """RANGES repeats the schema's bounds (so the package checks runs without the workflow folder): they must agree."""
    import yaml

    from toobig.config import RANGES, SCHEMA

    schema_bounds = {}

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in RANGES and isinstance(value, dict) and {"minimum", "exclusiveMinimum"} & set(value):
                    low = value.get("minimum", value.get("exclusiveMinimum"))
                    schema_bounds.setdefault(key, set()).add((low, value.get("maximum"), "minimum" in value))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(SCHEMA.read_text()))
    seeds = yaml.safe_load(SCHEMA.read_text())["properties"]["seeds"]["items"]  # the run's seed: one of seeds
    schema_bounds["seed"] = {(seeds["minimum"], seeds.get("maximum"), True)}
    assert {k: {v} for k, v in RANGES.items()} == schema_bounds


@pytest.mark.parametrize("values,needle", [
    ({"model": "n14", "n_embd": 56}, "model 'n14' is a width of 14, but n_embd is 56"),
    ({"model": "n8", "n_embd": 14}, "model 'n8' is a width of 8, but n_embd is 14"),
    ({"model": "big"}, "unknown model 'big'"),
    ({"model": "N14"}, "unknown model 'N14'"),
    ({"model": "n014"}, "unknown model 'n014'"),
])
def test_model_label_must_be_known_and_agree_with_n_embd(values, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        run_config_from_dict(values)


def test_model_labels_the_pipeline_uses_are_accepted(config):
    from toobig.experiments import DEFAULTS, resolve_experiment_run

    for model in config["model_settings"]:
        resolve_run(config, "arithmetic", model, "main", 1337)
    for width in DEFAULTS["sweep"]["widths"]:
        assert resolve_experiment_run(config, "arithmetic", f"n{width}", "main", 1).n_embd == width
    assert run_config_from_dict({"model": "n8", "n_embd": 8}).model == "n8"
    # the MLT's label names no width: a smaller MLT (tests, benchmarks) is still an MLT
    assert run_config_from_dict({"model": "mlt", "n_layer": 1, "n_head": 2, "n_embd": 12}).n_embd == 12


def test_every_committed_run_config_is_still_accepted():
    """The run settings recorded by every committed run (provenance.json) pass the run-settings checks."""
    from conftest import REPO

    records = sorted((REPO / "results" / "runs").glob("**/provenance.json"))
    for path in records:
        run_config_from_dict(json.loads(path.read_text())["config"])


@pytest.mark.parametrize("eval_interval,loss_interval,ok", [(250, 500, True), (250, 250, True), (10, 20, True),
                                                            (250, 300, False), (500, 250, False), (3, 10, False)])
def test_loss_interval_must_be_a_multiple_of_eval_interval(eval_interval, loss_interval, ok):
    values = {"eval_interval": eval_interval, "loss_interval": loss_interval}
    if ok:
        run_config_from_dict(values)
        return
    with pytest.raises(ConfigError, match=re.escape(f"loss_interval ({loss_interval}) must be a multiple of "
                                                     f"eval_interval ({eval_interval})")):
        run_config_from_dict(values)
