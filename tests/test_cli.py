"""The command line: --help on each subcommand, and bad input gets exit code 2 and one clear line on stderr."""
from __future__ import annotations

import argparse
import copy
import csv
import subprocess
import sys

import pytest
import torch
import yaml

from conftest import CONFIG_PATH, REPO
from toobig.cli import main


def run_cli(argv, capsys):
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse: --help and usage errors
        rc = exit_.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_clear_error(rc, err, *needles):
    assert rc == 2, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.fixture
def tiny_config(config, tmp_path):
    """A copy of config.yaml with test-sized training settings, as a file, and a function to derive variants."""
    def write(edit=None, name="config.yaml"):
        cfg = copy.deepcopy(config)
        cfg["training"].update(max_iters=10, eval_interval=10, loss_interval=10, loss_batches=1,
                               checkpoint_interval=10, compile=False)
        cfg["evaluation"]["samples_per_prompt"] = 1
        cfg["task_settings"]["arithmetic"]["batch_size"] = 16
        if edit:
            edit(cfg)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(cfg))
        return path
    return write


# ---- help -------------------------------------------------------------------------------------------
def test_module_entry_point_help():
    done = subprocess.run([sys.executable, "-m", "toobig", "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0
    assert "usage: toobig" in done.stdout
    for command in ("data", "train", "evaluate"):
        assert command in done.stdout


@pytest.mark.parametrize("command,flags", [("data", ["--task", "--out"]),
                                           ("train", ["--task", "--model", "--regime", "--seed", "--data", "--out"]),
                                           ("evaluate", ["--checkpoint", "--data", "--prompts", "--samples"]),
                                           ("blog-data", ["--data-json", "--out"]),
                                           ("blog-train", ["--model", "--run-json", "--data", "--out"])])
def test_subcommand_help(capsys, command, flags):
    rc, out, err = run_cli([command, "--help"], capsys)
    assert rc == 0
    assert f"usage: toobig {command}" in out
    for flag in flags:
        assert flag in out


def test_no_command_is_a_usage_error(capsys):
    rc, out, err = run_cli([], capsys)
    assert rc == 2 and "usage" in err


# ---- data and train ---------------------------------------------------------------------------------
def test_data_command(capsys, tmp_path, dataset_dirs):
    rc, out, err = run_cli(["data", "--task", "arithmetic", "--config", CONFIG_PATH, "--out", tmp_path], capsys)
    assert rc == 0, err
    assert "196 lines, 1764 characters, vocabulary 17" in out
    for name in ("train.txt", "meta.json", "prompts.json"):
        assert (tmp_path / name).read_bytes() == (dataset_dirs["arithmetic"] / name).read_bytes()


def test_train_command_shows_progress(capsys, tmp_path, tiny_config, dataset_dirs):
    rc, out, err = run_cli(["train", "--config", tiny_config(), "--task", "arithmetic", "--model", "n14",
                            "--data", dataset_dirs["arithmetic"], "--out", tmp_path / "run", "--device", "cpu"], capsys)
    assert rc == 0, err
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert [r["iter"] for r in rows] == ["0", "10"]
    assert (tmp_path / "run" / "best.pt").exists() and (tmp_path / "run" / "provenance.json").exists()
    progress = [line for line in err.splitlines() if "score" in line]
    assert len(progress) == 2 and "iter" in progress[0] and "loss" in progress[0]


@pytest.mark.parametrize("flag,value", [("--task", "poetry"), ("--model", "n15"), ("--regime", "lazy")])
def test_train_unknown_names(capsys, tmp_path, dataset_dirs, flag, value):
    rc, out, err = run_cli(["train", flag, value, "--data", dataset_dirs["arithmetic"], "--out", tmp_path], capsys)
    assert_clear_error(rc, err, "invalid choice", value)


def _set(section, key, value):
    def edit(cfg):
        cfg[section][key] = value
    return edit


@pytest.mark.parametrize("edit,needles", [
    (_set("training", "max_iters", "many"), ["max_iters", "int"]),
    (_set("training", "learning_rate_typo", 0.1), ["learning_rate_typo"]),
    (_set("evaluation", "top_k", 2.5), ["top_k"]),
    (_set("training", "decay_lr", "yes"), ["decay_lr"]),
    (lambda cfg: cfg["model_settings"]["n14"].update(n_embd=True), ["n_embd"]),
    (lambda cfg: cfg["model_settings"].pop("n14"), ["unknown model 'n14'"]),
])
def test_train_bad_config(capsys, tmp_path, tiny_config, dataset_dirs, edit, needles):
    path = tiny_config(edit)
    rc, out, err = run_cli(["train", "--config", path, "--data", dataset_dirs["arithmetic"], "--out", tmp_path / "run"],
                           capsys)
    assert_clear_error(rc, err, *needles)
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_train_malformed_or_missing_config(capsys, tmp_path, dataset_dirs):
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: {max_iters: [1\n")
    rc, out, err = run_cli(["train", "--config", bad, "--data", dataset_dirs["arithmetic"], "--out", tmp_path], capsys)
    assert_clear_error(rc, err, "not valid YAML")
    rc, out, err = run_cli(["train", "--config", tmp_path / "none.yaml", "--data", dataset_dirs["arithmetic"],
                            "--out", tmp_path], capsys)
    assert_clear_error(rc, err, "does not exist")


def test_train_bad_run_config(capsys, tmp_path, make_cfg, dataset_dirs):
    import json

    values = make_cfg().to_dict()
    values["warmup"] = 10
    path = tmp_path / "run.json"
    path.write_text(json.dumps(values))
    rc, out, err = run_cli(["train", "--run-config", path, "--data", dataset_dirs["arithmetic"], "--out", tmp_path],
                           capsys)
    assert_clear_error(rc, err, "warmup")


def test_train_run_json_is_the_run_config_file_inline(capsys, tmp_path, make_cfg, dataset_dirs):
    """The pipeline passes each run's settings as --run-json: the same run as --run-config with a file."""
    import json

    text = json.dumps(make_cfg(max_iters=10, eval_interval=10).to_dict())
    (tmp_path / "run.json").write_text(text)
    for flag, value, out in (("--run-config", tmp_path / "run.json", "a"), ("--run-json", text, "b")):
        rc, _, err = run_cli(["train", flag, value, "--data", dataset_dirs["arithmetic"], "--out", tmp_path / out,
                              "--device", "cpu"], capsys)
        assert rc == 0, err
    rows = (tmp_path / "a" / "metrics.csv").read_text()
    assert rows.count("\n") == 3  # header, iteration 0 and 10: the tiny run, not config.yaml's protocol
    assert (tmp_path / "b" / "metrics.csv").read_text() == rows


@pytest.mark.parametrize("text,needle", [("{'task': 'arithmetic'", "--run-json is not valid JSON"),
                                         ('{"warmup": 10}', "warmup"),
                                         ("[1, 2]", "must be a mapping of keys to values, got list"),
                                         ('{"n_head": 0}', "'n_head' must be at least 1, got 0"),
                                         ('{"eval_interval": 0}', "'eval_interval' must be at least 1"),
                                         ('{"max_iters": -1}', "'max_iters' must be at least 0, got -1"),
                                         ('{"temperature": 0}', "'temperature' must be above 0"),
                                         ('{"dropout": 1.5}', "'dropout' must be at least 0 and at most 1"),
                                         # NaN passes every range comparison; inf temperature samples uniformly
                                         ('{"learning_rate": NaN}', "'learning_rate' must be a finite number, got nan"),
                                         ('{"temperature": "inf"}', "'temperature' must be a finite number, got inf"),
                                         ('{"warmup_iters": 25000}', "warmup_iters (25000) must be below lr_decay_iters (25000)"),
                                         ('{"min_lr": 1.0}', "min_lr (1.0) must not exceed learning_rate"),
                                         ('{"model": "n14", "n_embd": 56}', "model 'n14' is a width of 14, but n_embd is 56"),
                                         ('{"model": "big"}', "unknown model 'big'"),
                                         ('{"loss_interval": 300}', "loss_interval (300) must be a multiple of eval_interval (250)")])
def test_train_bad_run_json(capsys, tmp_path, dataset_dirs, text, needle):
    rc, out, err = run_cli(["train", "--run-json", text, "--data", dataset_dirs["arithmetic"], "--out", tmp_path],
                           capsys)
    assert_clear_error(rc, err, needle)


def test_out_that_is_a_file_or_a_folder_is_named(capsys, tmp_path, tiny_run, dataset_dirs):
    cfg, run = tiny_run
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me\n")
    rc, out, err = run_cli(["data", "--task", "arithmetic", "--out", a_file], capsys)
    assert_clear_error(rc, err, f"File exists: {a_file}", "--out")
    rc, out, err = run_cli(["evaluate", "--checkpoint", run / "best.pt", "--data", dataset_dirs["arithmetic"],
                            "--out", tmp_path], capsys)
    assert_clear_error(rc, err, f"Is a directory: {tmp_path}")
    assert a_file.read_text() == "keep me\n" and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("edit,needles", [
    (lambda c: c.update(trainng=c.pop("training")), ["is invalid", "'trainng' was unexpected"]),
    (lambda c: c["data"].update(operand_maxx=9), ["'operand_maxx' was unexpected", "['data']"]),
    (lambda c: c["training"].update(eval_interval=0), ["0 is less than the minimum of 1", "eval_interval"]),
])
def test_config_file_is_checked_against_the_pipelines_schema(capsys, tmp_path, tiny_config, dataset_dirs, edit,
                                                             needles):
    """A misspelt section would otherwise be ignored (the run silently takes the defaults)."""
    rc, out, err = run_cli(["train", "--config", tiny_config(edit), "--task", "arithmetic", "--model", "n14",
                            "--data", dataset_dirs["arithmetic"], "--out", tmp_path / "run"], capsys)
    assert_clear_error(rc, err, *needles)
    assert not (tmp_path / "run").exists()


def test_config_file_without_snakemake_warns_and_still_checks_run_settings(capsys, tmp_path, tiny_config,
                                                                          dataset_dirs, monkeypatch):
    """The GPU machines have torch but no Snakemake (nothing can be installed there): training must still start,
    say that the schema was skipped, and still refuse a bad run setting."""
    for name in ("snakemake", "snakemake.exceptions", "snakemake.utils"):  # None: importing it raises ImportError
        monkeypatch.setitem(sys.modules, name, None)
    args = ["--task", "arithmetic", "--model", "n14", "--data", dataset_dirs["arithmetic"]]
    rc, out, err = run_cli(["train", "--config", tiny_config(lambda c: c["training"].update(eval_interval=0)),
                            *args, "--out", tmp_path / "bad"], capsys)
    assert_clear_error(rc, err, "snakemake is not installed", "'eval_interval' must be")
    assert not (tmp_path / "bad").exists()
    rc, out, err = run_cli(["train", "--config", tiny_config(lambda c: None), *args, "--out", tmp_path / "run"],
                           capsys)
    assert rc == 0, err
    assert "not checked against the pipeline's schema" in err and (tmp_path / "run" / "provenance.json").exists()


@pytest.mark.parametrize("text,needle", [('{"operand_maxx": 3}', "'operand_maxx' was unexpected"),
                                         ('{"capitals": [["a", "b"]], "operand_max": 12}', "12 is greater than"),
                                         ("[1]", "is not of type 'object'")])
def test_data_json_is_checked_against_the_schema(capsys, tmp_path, text, needle):
    rc, out, err = run_cli(["data", "--task", "arithmetic", "--data-json", text, "--out", tmp_path / "d"], capsys)
    assert_clear_error(rc, err, "--data-json is invalid", needle)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("text,needle", [('{"n_lnes": 5}', "unknown blog data setting key(s): n_lnes"),
                                         ('{"n_lines": "10"}', "'n_lines' must be int"),
                                         ('{"operand_min": 0}', "operand_min must be at least 1"),
                                         ('{"heldout_fraction": 2.0}', "leaves the training or the held-out split empty"),
                                         ('{"n_lines": -5}', "leaves the training or the held-out split empty")])
def test_blog_data_json_is_checked(capsys, tmp_path, text, needle):
    rc, out, err = run_cli(["blog-data", "--data-json", text, "--out", tmp_path / "d"], capsys)
    assert_clear_error(rc, err, needle)
    assert not (tmp_path / "d").exists()


def test_train_many_runs_json_writes_one_folder_per_run(capsys, tmp_path, make_cfg, dataset_dirs):
    """The stacked rules pass --runs-json and --out-dirs; the two must pair up."""
    import json

    runs = [make_cfg(regime=r, max_iters=10, eval_interval=10).to_dict() for r in ("main", "controlled")]
    outs = [tmp_path / "main", tmp_path / "controlled"]
    base = ["train-many", "--runs-json", json.dumps(runs), "--data", dataset_dirs["arithmetic"], "--device", "cpu"]
    rc, out, err = run_cli(base + ["--out-dirs", outs[0]], capsys)
    assert_clear_error(rc, err, "--runs-json holds 2 runs")
    rc, out, err = run_cli(base + ["--out-dirs", *outs], capsys)
    assert rc == 0, err
    for out_dir, regime in zip(outs, ("main", "controlled")):
        assert (out_dir / "metrics.csv").read_text().count("\n") == 3  # header, iterations 0 and 10
        assert json.loads((out_dir / "provenance.json").read_text())["config"]["regime"] == regime


def test_data_json_overrides_the_config_file(capsys, tmp_path, config):
    import json

    data = {**config["data"], "heldout": ["5+7", "7+5"]}  # keep the two subtractions in the training text
    rc, out, err = run_cli(["data", "--task", "arithmetic", "--data-json", json.dumps(data), "--out", tmp_path], capsys)
    assert rc == 0, err
    lines = [line.strip() for line in (tmp_path / "train.txt").read_text().splitlines()]
    assert "<5-7=-2>" in lines and "<7-5=2>" in lines and not any(line.startswith("<5+7") for line in lines)


def test_blog_data_command_writes_what_the_library_writes(capsys, tmp_path, config):
    import json

    from toobig.blog.data import make_dataset

    d = {**config["blog"]["data"], "n_lines": 300}
    rc, out, err = run_cli(["blog-data", "--data-json", json.dumps(d), "--out", tmp_path / "cli"], capsys)
    assert rc == 0, err
    counts = make_dataset(tmp_path / "train.txt", tmp_path / "heldout.txt", 300, d["data_seed"], d["operand_min"],
                          d["operand_max"], d["division_decimals"], d["heldout_fraction"])
    for name in ("train.txt", "heldout.txt"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / name).read_bytes()
    assert json.loads((tmp_path / "cli" / "counts.json").read_text()) == counts


def test_train_missing_dataset(capsys, tmp_path, tiny_config):
    rc, out, err = run_cli(["train", "--config", tiny_config(), "--data", tmp_path / "nowhere", "--out", tmp_path / "run"],
                           capsys)
    assert_clear_error(rc, err, "train.txt is missing", "toobig data")


# ---- evaluate ---------------------------------------------------------------------------------------
def test_evaluate_command(capsys, tmp_path, tiny_run, dataset_dirs):
    cfg, run = tiny_run
    out_csv = tmp_path / "samples.csv"
    rc, out, err = run_cli(["evaluate", "--checkpoint", run / "best.pt", "--data", dataset_dirs["arithmetic"],
                            "--samples", 2, "--out", out_csv, "--device", "cpu"], capsys)
    assert rc == 0, err
    assert "add: " in out and "/182 correct" in out and "sub: " in out and "score " in out
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 2 * 182
    assert {r["kind"] for r in rows} == {"add", "sub"}
    assert all(r["correct"] in ("0", "1") and len(r["generated"]) == 4 for r in rows)


def test_evaluate_samples_with_the_runs_seed_unless_told(capsys, tmp_path, tiny_run, dataset_dirs):
    cfg, run = tiny_run
    ckpt = torch.load(run / "best.pt", weights_only=True)
    ckpt["run_config"] = {**ckpt["run_config"], "seed": 1400}  # the same weights, as a run of seed 1400
    torch.save(ckpt, tmp_path / "seed1400.pt")
    drawn = {}
    for seed in (None, 1400, 1337):
        out_csv = tmp_path / f"{seed}.csv"
        args = ["evaluate", "--checkpoint", tmp_path / "seed1400.pt", "--data", dataset_dirs["arithmetic"],
                "--temperature", 1.0, "--samples", 2, "--out", out_csv, "--device", "cpu"]  # temperature 1: seed matters
        rc, out, err = run_cli(args + (["--seed", seed] if seed else []), capsys)
        assert rc == 0, err
        drawn[seed] = out_csv.read_text()
    assert drawn[None] == drawn[1400] != drawn[1337]


def test_blog_train_takes_learn_to_stop_from_the_config_unless_told():
    from toobig.cli import blog_run_from_args, build_parser

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    base = ["blog-train", "--model", "cpu", "--data", "d", "--out", "o"]
    assert blog_run_from_args(build_parser().parse_args(base)).learn_to_stop is config["blog"]["learn_to_stop"]
    for flag, value in (("--learn-to-stop", True), ("--no-learn-to-stop", False)):
        assert blog_run_from_args(build_parser().parse_args(base + [flag])).learn_to_stop is value


def test_evaluate_never_leaves_a_half_written_csv(capsys, tmp_path, tiny_run, dataset_dirs, monkeypatch):
    cfg, run = tiny_run
    out_csv = tmp_path / "samples.csv"
    out_csv.write_text("an earlier evaluation\n")
    real_writer = csv.writer

    class FailingWriter:  # writes the header and 10 rows, then the "disk" fails
        def __init__(self, fh):
            self.inner, self.rows = real_writer(fh), 0

        def writerow(self, row):
            if self.rows == 11:
                raise OSError("No space left on device")
            self.rows += 1
            self.inner.writerow(row)

    monkeypatch.setattr(csv, "writer", FailingWriter)
    rc, out, err = run_cli(["evaluate", "--checkpoint", run / "best.pt", "--data", dataset_dirs["arithmetic"],
                            "--samples", 1, "--out", out_csv, "--device", "cpu"], capsys)
    assert_clear_error(rc, err, "No space left on device")
    assert out_csv.read_text() == "an earlier evaluation\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_evaluate_other_prompt_sets(capsys, tiny_run, dataset_dirs):
    cfg, run = tiny_run
    rc, out, err = run_cli(["evaluate", "--checkpoint", run / "resume.pt", "--data", dataset_dirs["arithmetic"],
                            "--prompts", "ood", "--samples", 1, "--device", "cpu"], capsys)
    assert rc == 0, err
    assert "ood_add: " in out and "/300 correct" in out
    rc, out, err = run_cli(["evaluate", "--checkpoint", run / "best.pt", "--data", dataset_dirs["arithmetic"],
                            "--prompts", "capitals"], capsys)
    assert_clear_error(rc, err, "no prompt set 'capitals'")


def _foreign_files(tmp_path, tiny_run):
    cfg, run = tiny_run
    files = {}
    files["plain dict"] = tmp_path / "dict.pt"
    torch.save({"a": 1}, files["plain dict"])
    files["state_dict"] = tmp_path / "state_dict.pt"
    torch.save(torch.load(run / "best.pt", weights_only=True)["model"], files["state_dict"])
    files["code object"] = tmp_path / "namespace.pt"
    torch.save(argparse.Namespace(a=1), files["code object"])
    data = (run / "best.pt").read_bytes()
    files["truncated"] = tmp_path / "truncated.pt"
    files["truncated"].write_bytes(data[: len(data) // 3])
    files["empty"] = tmp_path / "empty.pt"
    files["empty"].write_bytes(b"")
    files["text"] = tmp_path / "text.pt"
    files["text"].write_text("not a checkpoint\n")
    return _damaged_checkpoints(tmp_path, tiny_run, files)


@pytest.mark.parametrize("flags,needle", [(["--samples", 0], "--samples must be at least 1, got 0"),
                                          (["--threads", 0], "--threads must be at least 1"),
                                          (["--temperature", 0], "--temperature must be above 0"),
                                          (["--temperature", -1], "--temperature must be above 0")])
def test_evaluate_bad_sampling_flags(capsys, tiny_run, dataset_dirs, flags, needle):
    cfg, run = tiny_run
    rc, out, err = run_cli(["evaluate", "--checkpoint", run / "best.pt", "--data", dataset_dirs["arithmetic"], *flags],
                           capsys)
    assert_clear_error(rc, err, needle)


def test_evaluate_held_out_set_prints_no_training_score(capsys, tiny_run, dataset_dirs):
    """The training score counts seen addition, subtraction and facts: a held-out-only set has none of them."""
    cfg, run = tiny_run
    rc, out, err = run_cli(["evaluate", "--checkpoint", run / "best.pt", "--data", dataset_dirs["arithmetic"],
                            "--prompts", "heldout", "--samples", 1], capsys)
    assert rc == 0, err
    assert "heldout: " in out and "score " not in out and "no training score" in out


def _damaged_checkpoints(tmp_path, tiny_run, files):
    """Our own checkpoint format, damaged: an entry missing, NaN weights, weights of another shape."""
    cfg, run = tiny_run
    best = torch.load(run / "best.pt", weights_only=True)
    for key in ("model", "vocab", "run_config"):
        files[f"no {key}"] = tmp_path / f"no_{key}.pt"
        torch.save({k: v for k, v in best.items() if k != key}, files[f"no {key}"])
    files["nan weights"] = tmp_path / "nan.pt"
    torch.save({**best, "model": {k: v * float("nan") for k, v in best["model"].items()}}, files["nan weights"])
    files["other shape"] = tmp_path / "shape.pt"
    torch.save({**best, "run_config": {**best["run_config"], "model": "n28", "n_embd": 28}}, files["other shape"])
    files["vocab not a list"] = tmp_path / "vocab5.pt"
    torch.save({**best, "vocab": 5}, files["vocab not a list"])
    files["model contradicts n_embd"] = tmp_path / "n14_wide.pt"
    torch.save({**best, "run_config": {**best["run_config"], "n_embd": 28}}, files["model contradicts n_embd"])
    return files


def test_evaluate_damaged_dataset_files(capsys, tmp_path, tiny_run, dataset_dirs):
    import shutil

    cfg, run = tiny_run
    for name, text, needle in (("meta.json", "{", "not valid JSON"),
                               ("meta.json", '{"vocab": []}', "no 'task' and 'vocab'"),
                               ("prompts.json", '{"heldout": [1, 2]}', "not a mapping of set names")):
        data = tmp_path / "data"
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(dataset_dirs["arithmetic"], data)
        (data / name).write_text(text)
        rc, out, err = run_cli(["evaluate", "--checkpoint", run / "best.pt", "--data", data], capsys)
        assert_clear_error(rc, err, f"dataset file {data / name} is damaged", needle, "python -m toobig data")


@pytest.mark.parametrize("kind,needle", [("plain dict", "not a toobig checkpoint"),
                                         ("state_dict", "not a toobig checkpoint"),
                                         ("code object", "cannot be read"),
                                         ("truncated", "cannot be read"),
                                         ("empty", "cannot be read"),
                                         ("text", "cannot be read"),
                                         ("no model", "is damaged: it has no model"),
                                         ("no vocab", "is damaged: it has no vocab"),
                                         ("no run_config", "is damaged: it has no run_config"),
                                         ("nan weights", "NaN or infinite weights"),
                                         ("other shape", "weights do not fit the model"),
                                         ("vocab not a list", "its 'vocab' entry is not a list of characters"),
                                         ("model contradicts n_embd", "invalid run config: model 'n14'")])
def test_evaluate_bad_checkpoints(capsys, tmp_path, tiny_run, dataset_dirs, kind, needle):
    path = _foreign_files(tmp_path, tiny_run)[kind]
    rc, out, err = run_cli(["evaluate", "--checkpoint", path, "--data", dataset_dirs["arithmetic"]], capsys)
    assert_clear_error(rc, err, needle, str(path))
    assert err.count("\n") == 1  # one line (not, e.g., torch's list of every mismatching tensor)


def test_evaluate_missing_checkpoint(capsys, tmp_path, dataset_dirs):
    rc, out, err = run_cli(["evaluate", "--checkpoint", tmp_path / "none.pt", "--data", dataset_dirs["arithmetic"]],
                           capsys)
    assert_clear_error(rc, err, "does not exist")


def test_evaluate_vocabulary_mismatch(capsys, tiny_run, dataset_dirs):
    cfg, run = tiny_run
    rc, out, err = run_cli(["evaluate", "--checkpoint", run / "best.pt", "--data", dataset_dirs["capitals"]], capsys)
    assert_clear_error(rc, err, "vocabulary of 17 characters", "51", "do not match")


def test_evaluate_missing_dataset(capsys, tmp_path, tiny_run):
    cfg, run = tiny_run
    rc, out, err = run_cli(["evaluate", "--checkpoint", run / "best.pt", "--data", tmp_path], capsys)
    assert_clear_error(rc, err, "missing")


def test_real_process_exit_code_and_stderr(tmp_path, dataset_dirs):
    """The installed entry point, not just main(): exit status 2 and one line on stderr, no traceback."""
    foreign = tmp_path / "foreign.pt"
    torch.save({"a": 1}, foreign)
    done = subprocess.run([sys.executable, "-m", "toobig", "evaluate", "--checkpoint", str(foreign), "--data",
                           str(dataset_dirs["arithmetic"])], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("toobig evaluate: error:") and "not a toobig checkpoint" in done.stderr


# ---- review items: damaged resume files, help texts, prompt-set names --------------------------------------
@pytest.mark.parametrize("damage,needle", [(lambda c: c.pop("optimizer"), "is damaged: it has no optimizer"),
                                           (lambda c: c.update(vocab=5), "'vocab' entry is not a list of characters")],
                         ids=["no-optimizer", "vocab-not-a-list"])
def test_train_with_a_damaged_resume_file_prints_one_line(capsys, tmp_path, tiny_run, dataset_dirs, damage, needle):
    import json

    cfg, run = tiny_run
    ckpt = torch.load(run / "resume.pt", weights_only=True)
    damage(ckpt)
    out = tmp_path / "run"
    out.mkdir()
    torch.save(ckpt, out / "resume.pt")
    rc, _, err = run_cli(["train", "--run-json", json.dumps(cfg.to_dict()), "--data", dataset_dirs["arithmetic"],
                          "--out", out, "--device", "cpu"], capsys)
    assert_clear_error(rc, err, "cannot resume", str(out / "resume.pt"), needle, "delete it")
    assert err.count("\n") == 1


@pytest.mark.parametrize("command", ["data", "train", "train-many", "evaluate", "blog-data", "blog-train"])
def test_every_subcommand_has_a_description(command):
    from toobig.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    assert sub.description and len(sub.description) > 40, command


def test_every_evaluate_option_has_help():
    from toobig.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["evaluate"]
    missing = [a.option_strings[0] for a in sub._actions if a.option_strings and not a.help]
    assert not missing


def test_evaluate_unknown_prompt_set_name_is_a_usage_error(capsys, tiny_run, dataset_dirs):
    cfg, run = tiny_run
    rc, out, err = run_cli(["evaluate", "--checkpoint", run / "best.pt", "--data", dataset_dirs["arithmetic"],
                            "--prompts", "grid90"], capsys)
    assert rc == 2 and "invalid choice: 'grid90'" in err and "grid91" in err


def test_prompt_set_choices_are_the_sets_a_dataset_holds(data_cfg):
    from toobig.cli import PROMPT_SETS
    from toobig.data import prompt_sets

    assert set(PROMPT_SETS) == set(prompt_sets("joint", data_cfg))
