import json

import pandas as pd
import pytest
import torch

from conftest import REPO
from toobig.blog import train as train_mod
from toobig.blog.claims import compare_learn_to_stop, judge_claims
from toobig.blog.config import blog_run_config_from_dict
from toobig.blog.data import make_dataset
from toobig.blog.report import write_comparison, write_run_claims, write_run_figure, write_run_tables, write_summary
from toobig.blog.train import BlogTrainer, NaNLossError

FAST = dict(n_layer=1, n_embd=32, n_head=2, n_positions=48, dropout=0.1, compact_vocab=True, learning_rate=3e-3,
            epochs=6, eval_every=3, train_subset=20, max_new_tokens=6, checkpoint_every=1, n_lines=150)
THRESHOLDS = {"op_recognised_when_wrong": 0.9, "division_close_rel_error": 0.05, "termination_common": 0.2,
              "min_correct_prefix": 20, "memorised_train_exact": 0.9, "grokking_jump": 0.3}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("blogdata")
    make_dataset(d / "train.txt", d / "held.txt", 150, seed=11)
    return d


@pytest.fixture(scope="module")
def finished_run(data, tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run")
    info = BlogTrainer(blog_run_config_from_dict(FAST), data / "train.txt", data / "held.txt", out,
                       log=lambda m: None).run()
    return out, info


def test_tiny_training_run_loss_falls(finished_run):
    out, info = finished_run
    assert info["finished"] and info["epochs_done"] == 6 and info["steps"] == 6 * 5   # 135 lines / 30 -> 5 steps
    epochs = pd.read_csv(out / "epochs.csv")
    evals = pd.read_csv(out / "evals.csv")
    assert list(evals.epoch) == [0, 3, 6]
    assert epochs.train_loss.iloc[-1] < epochs.train_loss.iloc[0]
    assert evals.eval_loss.iloc[-1] < evals.eval_loss.iloc[0] - 0.5
    assert (epochs.lr == 3e-3).all()
    behaviour = pd.read_csv(out / "behaviour.csv")
    assert len(behaviour) == 3 * 2 * 5          # evals x splits x (4 operations + ALL)
    preds = pd.read_csv(out / "predictions.csv")
    assert (preds.split == "heldout").sum() == 15 and (preds.split == "train_subset").sum() == 20
    assert json.loads((out / "model" / "config.json").read_text())["n_embd"] == 32  # saved for transformers


def test_behaviour_can_be_recomputed_from_the_stored_answers(finished_run):
    out, _ = finished_run
    from toobig.blog.report import behaviour_from_answers

    again = behaviour_from_answers(out / "answers.csv.gz")
    stored = pd.read_csv(out / "behaviour.csv")
    assert list(again.columns) == list(stored.columns)
    pd.testing.assert_frame_equal(again, stored, check_dtype=False, rtol=1e-5)


def test_resume_continues_where_it_stopped(data, tmp_path):
    cfg = blog_run_config_from_dict({**FAST, "epochs": 4, "eval_every": 2})
    first = BlogTrainer(cfg, data / "train.txt", data / "held.txt", tmp_path, log=lambda m: None)
    first.run(stop_after_epochs=1)
    assert first.epoch == 1 and (tmp_path / "checkpoint" / "resume.pt").exists()
    messages = []
    second = BlogTrainer(cfg, data / "train.txt", data / "held.txt", tmp_path, log=messages.append)
    info = second.run()
    assert messages[0] == "resumed at epoch 1 (step 5)"
    assert info["epochs_done"] == 4 and info["steps"] == 20
    assert list(pd.read_csv(tmp_path / "epochs.csv").epoch) == [1, 2, 3, 4]
    assert list(pd.read_csv(tmp_path / "evals.csv").epoch) == [0, 2, 4]
    # constant lr: a finished run can be extended from its checkpoint (epochs is not part of the resume hash)
    longer = blog_run_config_from_dict({**FAST, "epochs": 5, "eval_every": 2})
    info = BlogTrainer(longer, data / "train.txt", data / "held.txt", tmp_path, log=lambda m: None).run()
    assert info["epochs_done"] == 5 and list(pd.read_csv(tmp_path / "evals.csv").epoch) == [0, 2, 4, 5]
    # other settings do not resume from it
    messages = []
    other = blog_run_config_from_dict({**FAST, "epochs": 5, "eval_every": 2, "learning_rate": 1e-3})
    BlogTrainer(other, data / "train.txt", data / "held.txt", tmp_path, log=messages.append).try_resume()
    assert messages and messages[0].startswith("ignoring")


def test_nan_loss_stops_with_a_clear_error(data, tmp_path, monkeypatch):
    cfg = blog_run_config_from_dict({**FAST, "epochs": 1})
    trainer = BlogTrainer(cfg, data / "train.txt", data / "held.txt", tmp_path, log=lambda m: None)
    real = train_mod.sequence_loss
    monkeypatch.setattr(train_mod, "sequence_loss",
                        lambda *a, **k: (real(*a, **k)[0] * float("nan"), real(*a, **k)[1]))
    with pytest.raises(NaNLossError, match="training loss is nan at epoch 1, step 1"):
        trainer.train_epoch()


def test_report_chain_on_the_tiny_run(finished_run, tmp_path):
    out, _ = finished_run
    write_run_figure(out / "epochs.csv", out / "evals.csv", out / "behaviour.csv", tmp_path / "dyn.png")
    assert (tmp_path / "dyn.png").stat().st_size > 10_000
    write_run_tables(out / "predictions.csv", out / "behaviour.csv", tmp_path / "pt.csv", tmp_path / "obs.csv",
                     tmp_path / "final.csv")
    table = pd.read_csv(tmp_path / "pt.csv")
    assert list(table.columns) == ["operation", "input", "expected", "model_output", "observation"]
    assert table.operation.isin(["SUM", "SUBTRACT", "MULTIPLY", "DIVIDE"]).all()
    write_run_claims(out / "epochs.csv", out / "evals.csv", out / "behaviour.csv", tmp_path / "claims.json", THRESHOLDS)
    claims = json.loads((tmp_path / "claims.json").read_text())
    assert len(claims) == 6 and all(c["verdict"] in ("supported", "not supported", "undetermined") for c in claims)
    write_comparison(out / "behaviour.csv", out / "behaviour.csv", tmp_path / "cmp.json", tmp_path / "cmp.png")
    runs = {"tiny": {"run_json": out / "run.json", "claims_json": tmp_path / "claims.json",
                     "final_csv": tmp_path / "final.csv", "prediction_table_csv": tmp_path / "pt.csv",
                     "evals_csv": out / "evals.csv"}}
    write_summary(runs, tmp_path / "cmp.json", tmp_path / "summary.json", tmp_path / "frag.html",
                  "workflow/report/blog_fragment.html.jinja", {"dynamics": "dyn.png"})
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["runs"]["tiny"]["epochs"] == 6
    assert "<table>" in (tmp_path / "frag.html").read_text()
    assert summary["absent_runs"] == [] and "Not trained yet" not in (tmp_path / "frag.html").read_text()
    # a snapshot with the other run not trained names it instead of leaving it out silently
    write_summary(runs, None, tmp_path / "summary.json", tmp_path / "frag.html",
                  "workflow/report/blog_fragment.html.jinja", {"dynamics": "dyn.png"}, absent=["tiny_stop-on"])
    frag = (tmp_path / "frag.html").read_text()
    assert "<b>Not trained yet:</b> tiny_stop-on" in frag and "and no learn_to_stop comparison" in frag


def _tables(train_loss, eval_loss, eval_mode, train_exact, held_exact):
    epochs = pd.DataFrame({"epoch": range(1, len(train_loss) + 1), "train_loss": train_loss})
    ev = [0] + list(range(1, len(train_loss) + 1))
    evals = pd.DataFrame({"epoch": ev[:len(eval_loss)], "eval_loss": eval_loss, "train_loss_eval_mode": eval_mode})
    rows = []
    for e, (t, h) in enumerate(zip(train_exact, held_exact)):
        for op in ("SUM", "SUBTRACT", "MULTIPLY", "DIVIDE", "ALL"):
            base = {"epoch": e, "op": op, "n": 100, "n_wrong": 10, "op_recognised_when_wrong": 0.95, "termination_when_wrong": 0.5,
                    "termination_failure": 0.3, "run_on_digits": 0.3, "overlong": 0.5, "rel_error_median": 0.01, "rel_error_p90": 0.2,
                    "within_k": 0.4, "stopped": 0.0, "op_recognised": 0.97, "digit_accuracy": 0.6}
            rows.append({**base, "split": "train_subset", "exact": t})
            rows.append({**base, "split": "heldout", "exact": h})
    return epochs, evals, pd.DataFrame(rows)


def test_claim_verdicts_on_hand_made_tables():
    # train loss (logged) halves its drop at epoch 4, eval loss at epoch 1; eval-mode train loss tracks eval loss
    epochs, evals, behaviour = _tables([5, 4.8, 4.5, 3, 2.5], [5, 3, 2.6, 2.5, 2.45, 2.4], [5, 3, 2.6, 2.5, 2.4, 2.4],
                                       [0, 0.5, 0.95, 1, 1, 1], [0, 0.1, 0.1, 0.15, 0.6, 0.6])
    verdicts = {c["claim"]: c for c in judge_claims(epochs, evals, behaviour, THRESHOLDS)}
    assert verdicts["eval_loss_falls_before_train_loss"]["verdict"] == "supported"
    assert verdicts["eval_loss_falls_before_train_loss"]["evidence"]["epoch_eval_loss_half_drop"] == 1
    assert verdicts["eval_loss_falls_before_train_loss"]["evidence"]["epoch_train_loss_half_drop"] == 4
    assert verdicts["eval_below_train_explained_by_dropout"]["verdict"] == "supported"
    assert verdicts["operation_right_when_answer_wrong"]["verdict"] == "supported"
    assert verdicts["division_numerically_close"]["verdict"] == "supported"
    assert verdicts["termination_failures_common"]["verdict"] == "supported"
    # memorised at epoch 2, then held-out exact jumps 0.15 -> 0.6 at epoch 4: a grokking transition
    assert verdicts["no_memorisation_then_grokking"]["verdict"] == "not supported"
    assert verdicts["no_memorisation_then_grokking"]["evidence"]["first_epoch_train_exact_ge_threshold"] == 2


def test_a_run_that_never_learns_leaves_the_learning_claims_undetermined():
    """The committed CPU stand-in gets 1 held-out answer in 1,000 right: with no right start a run-on cannot be
    seen, and with nothing memorised no transition after memorisation can be; neither may read as a verdict."""
    epochs, evals, behaviour = _tables([5, 4.8, 4.5, 3, 2.5], [5, 3, 2.6, 2.5, 2.45, 2.4], [5, 3, 2.6, 2.5, 2.4, 2.4],
                                       [0, 0.01, 0.02, 0.02, 0.03, 0.03], [0, 0, 0, 0.01, 0.01, 0.01])
    behaviour["termination_failure"] = 0.0
    behaviour["termination_when_wrong"] = 0.0
    verdicts = {c["claim"]: c for c in judge_claims(epochs, evals, behaviour, THRESHOLDS)}
    assert verdicts["termination_failures_common"]["verdict"] == "undetermined"
    assert verdicts["termination_failures_common"]["evidence"]["heldout_correct_prefix"] == 1  # 100 x 0.01
    assert verdicts["no_memorisation_then_grokking"]["verdict"] == "undetermined"
    behaviour.loc[behaviour["split"] == "heldout", "termination_failure"] = 0.3  # 31 right starts: judged again
    verdicts = {c["claim"]: c for c in judge_claims(epochs, evals, behaviour, THRESHOLDS)}
    assert verdicts["termination_failures_common"]["verdict"] == "not supported"  # 0.0 of the wrong ones run on


def test_loss_order_closer_than_the_eval_interval_is_undetermined():
    epochs, evals, behaviour = _tables([5, 3, 2.6, 2.5, 2.5], [5, 3, 2.6, 2.5, 2.45, 2.4], [5, 3, 2.6, 2.5, 2.4, 2.4],
                                       [0] * 6, [0] * 6)
    evals = evals[evals.epoch % 2 == 0]          # evaluated every 2 epochs: 0, 2, 4
    verdict = judge_claims(epochs, evals, behaviour, THRESHOLDS)[0]
    assert verdict["evidence"]["epoch_eval_loss_half_drop"] == 2
    assert verdict["evidence"]["epoch_train_loss_half_drop"] == 2
    assert verdict["verdict"] == "undetermined"


def test_learn_to_stop_comparison_verdict():
    _, _, off = _tables([1], [1], [1], [0.2], [0.1])
    on = off.assign(termination_failure=0.01, overlong=0.2)
    assert compare_learn_to_stop(off, on)["verdict"] == "supported"
    assert compare_learn_to_stop(off, on)["verdict_overlong"] == "not supported"     # 0.5 -> 0.2
    assert compare_learn_to_stop(off, off)["verdict"] == "not supported"


@pytest.mark.parametrize("content,needle", [(b"\x00\x01not a pickle", "cannot be read"),
                                            ("toobig", "not a blog run's resume checkpoint")])
def test_a_foreign_resume_checkpoint_stops_the_run_and_is_kept(data, tmp_path, content, needle):
    """Loaded with weights_only (no code in the file runs); neither ignored and overwritten nor a traceback."""
    from toobig.checkpoint import CheckpointError

    resume = tmp_path / "checkpoint" / "resume.pt"
    resume.parent.mkdir()
    if content == "toobig":  # a checkpoint of the paper's pipeline, put where a blog run's belongs
        content = (REPO / "results/runs/main/arithmetic/n14/seed1337/best.pt").read_bytes()
    resume.write_bytes(content)
    trainer = BlogTrainer(blog_run_config_from_dict(FAST), data / "train.txt", data / "held.txt", tmp_path,
                          log=lambda m: None)
    with pytest.raises(CheckpointError, match=needle):
        trainer.run()
    assert resume.read_bytes() == content


def test_a_missing_dataset_stops_before_the_run_folder_is_made(tmp_path):
    with pytest.raises(FileNotFoundError, match="toobig blog-data"):
        BlogTrainer(blog_run_config_from_dict(FAST), tmp_path / "none" / "train.txt", tmp_path / "none" / "held.txt",
                    tmp_path / "run", log=lambda m: None)
    assert not (tmp_path / "run").exists()


def test_a_blog_run_declared_for_a_gpu_stops_on_a_machine_without_one(monkeypatch):
    """--device cuda (what the pipeline passes for a gpu=1 run) never falls back to the CPU silently; auto picks
    what there is, and cpu is kept even where CUDA exists (a gpu=0 job does not take the GPU)."""
    from toobig.blog.train import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="torch sees no CUDA GPU"):
        pick_device("cuda")
    assert pick_device("auto") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("cpu") == "cpu" and pick_device("auto") == "cuda" and pick_device("cuda") == "cuda"
