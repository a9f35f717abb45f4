"""Per-run derived outputs and the experiment summary, read from the run tables only.

  write_run_tables   prediction table, observation counts, final per-operation metrics (CSV)
  write_run_claims   claim verdicts of one run (JSON)
  write_comparison   learn_to_stop off vs on (JSON + PNG)
  write_summary      results/blog/summary.json and the HTML fragment the main report includes
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import jinja2
import pandas as pd

from toobig.blog.claims import compare_learn_to_stop, judge_claims
from toobig.blog.data import Problem
from toobig.blog.metrics import aggregate, score
from toobig.blog.plots import plot_dynamics, plot_learn_to_stop
from toobig.blog.tables import final_metrics, observation_counts, prediction_table
from toobig.fsutil import atomic_write_csv, atomic_write_text


def _clean(obj):
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dump_json(obj, path) -> None:
    atomic_write_text(path, json.dumps(_clean(obj), indent=2, sort_keys=False) + "\n")


def read_run(run_dir) -> dict[str, pd.DataFrame]:
    run_dir = Path(run_dir)
    return {name: pd.read_csv(run_dir / f"{name}.csv") for name in ("epochs", "evals", "behaviour")}


def behaviour_from_answers(answers_csv, k: int = 3) -> pd.DataFrame:
    """behaviour.csv recomputed from the stored answers (after a metric changes, without retraining)."""
    answers = pd.read_csv(answers_csv, dtype={"answer": str, "expected": str}, keep_default_na=False)
    rows = []
    for (epoch, split), group in answers.groupby(["epoch", "split"], sort=True):
        scored = [score(Problem(r.op, int(r.a), int(r.b), r.expected), r.answer, str(r.stopped) == "True", k)
                  for r in group.itertuples(index=False)]
        rows += [{"epoch": epoch, "split": split, **agg} for agg in aggregate(scored)]
    order = {"heldout": 0, "train_subset": 1}
    df = pd.DataFrame(rows)
    return df.sort_values(["epoch", "split"], key=lambda c: c.map(order) if c.name == "split" else c,
                          kind="stable").reset_index(drop=True)


def write_scores(answers_csv, scores_csv, k: int = 3) -> None:
    atomic_write_csv(scores_csv, behaviour_from_answers(answers_csv, k), float_format="%.6g")


def write_run_figure(epochs_csv, evals_csv, behaviour_csv, png, title: str = "") -> None:
    plot_dynamics(pd.read_csv(epochs_csv), pd.read_csv(evals_csv), pd.read_csv(behaviour_csv), png, title)


def write_run_tables(predictions_csv, behaviour_csv, prediction_table_csv, observations_csv, final_csv,
                     k: int = 3, per_operation: int = 3) -> None:
    preds = pd.read_csv(predictions_csv, keep_default_na=False, na_values=[""],
                        dtype={"answer": str, "expected": str, "generated": str})
    atomic_write_csv(prediction_table_csv, prediction_table(preds, per_operation, k))
    atomic_write_csv(observations_csv, observation_counts(preds, k))
    atomic_write_csv(final_csv, final_metrics(pd.read_csv(behaviour_csv)), float_format="%.6g")


def write_run_claims(epochs_csv, evals_csv, behaviour_csv, claims_json, thresholds: dict) -> None:
    verdicts = judge_claims(pd.read_csv(epochs_csv), pd.read_csv(evals_csv), pd.read_csv(behaviour_csv), thresholds)
    dump_json(verdicts, claims_json)


def write_comparison(off_behaviour_csv, on_behaviour_csv, json_path, png_path) -> None:
    off, on = pd.read_csv(off_behaviour_csv), pd.read_csv(on_behaviour_csv)
    dump_json(compare_learn_to_stop(off, on), json_path)
    plot_learn_to_stop(off, on, png_path)


def write_summary(runs: dict[str, dict], comparison_json, summary_json, fragment_html, template_path,
                  figures: dict[str, str], absent: list[str] = ()) -> None:
    """runs: name -> {"run_json", "claims_json", "final_csv", "prediction_table_csv", "evals_csv"}; absent: the
    configured runs not trained yet (a snapshot shows what exists and names the rest)."""
    summary = {"experiment": "blog: four-operation arithmetic on a GPT-2-family model", "runs": {}, "figures": figures,
               "absent_runs": sorted(absent)}
    for name, paths in sorted(runs.items()):
        info = json.loads(Path(paths["run_json"]).read_text())
        final = pd.read_csv(paths["final_csv"])
        held = final[final.split == "heldout"].set_index("op")
        evals = pd.read_csv(paths["evals_csv"]).iloc[-1]
        summary["runs"][name] = {
            "learn_to_stop": info["config"]["learn_to_stop"],
            "model": {k: info["config"][k] for k in ("init", "n_layer", "n_embd", "n_head", "compact_vocab")},
            "n_parameters": info["n_parameters"], "epochs": info["epochs_done"], "steps": info["steps"],
            "wall_s": info["wall_s"], "finished": info["finished"],
            "final_losses": {k: float(evals[k]) for k in ("train_loss_logged", "train_loss_eval_mode", "eval_loss",
                                                          "train_answer_loss", "eval_answer_loss")},
            "final_heldout": {op: {m: held.loc[op, m] for m in ("exact", "op_recognised", "sign_correct",
                                                               "magnitude_correct", "digit_accuracy",
                                                               "termination_failure", "overlong", "stopped", "within_k",
                                                               "rel_error_median")}
                              for op in held.index},
            "claims": json.loads(Path(paths["claims_json"]).read_text()),
            "prediction_table": pd.read_csv(paths["prediction_table_csv"], dtype=str,
                                            keep_default_na=False).to_dict("records"),
        }
    summary["learn_to_stop_comparison"] = json.loads(Path(comparison_json).read_text()) if comparison_json else None
    summary = _clean(summary)
    dump_json(summary, summary_json)
    template = jinja2.Template(Path(template_path).read_text(), autoescape=True, undefined=jinja2.StrictUndefined)
    atomic_write_text(fragment_html, template.render(summary=summary))
