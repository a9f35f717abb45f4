"""Tables 1-7 as tidy CSV: one row per run, our value, the paper's value as printed, and the difference.

Table 1 (hyperparameters) is generated from config.yaml through the same resolve_run the trainer uses, so it
shows the values actually trained with. Tables 2-7 take each run's best evaluation (protocol: the first
evaluation with the highest score). Percentages are in percent, rounded to 3 decimals so the CSV is stable.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..config import ConfigError, resolve_run
from ..fsutil import atomic_write_csv
from . import paper, runs

# Rows of Table 1 that the paper states in its text rather than in the table: (label, config key, regime, text id).
TEXT_HYPERPARAMETERS = (
    ("Dropout (controlled regularization)", "dropout", "controlled", "controlled_dropout"),
    ("Weight decay (controlled regularization)", "weight_decay", "controlled", "controlled_weight_decay"),
    ("Max. iterations", "max_iters", "main", "max_iters"),
    ("LR decay iterations", "lr_decay_iters", "main", "lr_decay_iters"),
    ("AdamW beta2", "beta2", "main", "beta2"),
)
DECIMALS = 3


def _format_count(n: float, printed: str) -> str:
    """Our parameter count in the paper's printed unit: 1456 with "1.46k" -> "1.46k"."""
    unit = str(printed)[-1]
    scale = {"k": 1e3, "M": 1e6}.get(unit)
    if scale is None:
        return str(int(n))
    return f"{n / scale:.{paper.printed_decimals(printed)}f}{unit}"


def _same_as_printed(ours: float, paper_value: float, printed: str) -> bool | None:
    """Does our value, rounded as the paper rounds it, equal the printed value?"""
    if ours is None or (isinstance(ours, float) and math.isnan(ours)):
        return None
    decimals = paper.printed_decimals(printed)
    return f"{ours:.{decimals}f}" == f"{paper_value:.{decimals}f}"


def _metric_cells(metric: str, best: pd.Series | None, paper_row: dict) -> dict:
    """The columns of one metric: ours, its counts, the paper's, the difference."""
    if metric == "heldout":
        correct, total = runs.counts(best, metric) if best is not None else (None, None)
        paper_correct = paper_row.get("heldout_correct")
        return {
            "heldout_correct": correct, "heldout_total": total,
            "heldout": f"{int(correct)}/{int(total)}" if best is not None else None,
            "paper_heldout_correct": paper_correct, "paper_heldout_printed": paper_row.get("heldout_printed"),
            "heldout_diff": None if best is None else int(correct) - int(paper_correct),
        }
    ours = round(runs.percent(best, metric), DECIMALS) if best is not None else None
    correct, total = runs.counts(best, metric) if best is not None else (None, None)
    printed = paper_row.get(f"{metric}_printed")
    paper_value = paper_row.get(metric)
    return {
        metric: ours, f"{metric}_correct": correct, f"{metric}_total": total,
        f"paper_{metric}": paper_value, f"paper_{metric}_printed": printed,
        f"{metric}_diff": None if ours is None else round(ours - paper_value, DECIMALS),
        f"{metric}_matches_printed": _same_as_printed(ours, paper_value, printed),
    }


def results_table(number: int, config: dict, results_dir: str | Path, paper_dir: str | Path) -> pd.DataFrame:
    """Table 2-7: one row per configured (model, seed), present or not."""
    if number not in runs.TABLE_RUNS:
        raise ValueError(f"Table {number} is not a results table; choose one of {sorted(runs.TABLE_RUNS)}")
    regime, task = runs.TABLE_RUNS[number]
    printed = {row["model"]: row for row in paper.paper_table(paper_dir, number).to_dict("records")}
    samples = config.get("evaluation", {}).get("samples_per_prompt", 10)
    rows = []
    for run in runs.load_runs(config, results_dir, regime, task):
        paper_row = printed.get(run.model, {})
        params, params_source = runs.parameter_count(run, config)
        best = run.best() if run.present else None
        row = {
            "table": number, "regime": regime, "task": task, "model": run.model, "seed": run.seed,
            "status": run.status, "note": run.note,
            "parameters": params, "parameters_source": params_source,
            "paper_parameters_printed": paper_row.get("parameters_printed"),
            "paper_parameters": paper_row.get("parameters"),
            "parameters_matches_printed": _format_count(params, paper_row["parameters_printed"]) == paper_row["parameters_printed"]
            if paper_row else None,
            "best_iter": int(best["iter"]) if best is not None else None,
            "last_iter": int(run.metrics["iter"].iloc[-1]) if run.present else None,
            "evaluations": len(run.metrics) if run.present else None,
            # which arithmetic grid produced the numbers: 91 or 100 expressions per operator
            "grid": int(best["add_total"]) // samples if best is not None and best["add_total"] else None,
            "run_dir": str(run.path),
        }
        for metric in runs.TASK_METRICS[task]:
            row.update(_metric_cells(metric, best, paper_row))
        rows.append(row)
    df = pd.DataFrame(rows)
    int_cols = [c for c in df.columns if c.endswith(("_correct", "_total"))
                or c in ("best_iter", "last_iter", "evaluations", "grid", "heldout_diff", "paper_parameters")]
    for col in int_cols:
        df[col] = df[col].astype("Int64")  # integers that may be missing, written without ".0"
    return df


def hyperparameter_table(config: dict, paper_dir: str | Path) -> pd.DataFrame:
    """Table 1 from config.yaml (the values trained with), plus the settings the paper states in its text."""
    printed = paper.paper_table(paper_dir, 1)
    quoted = paper.text_values(paper_dir)
    specs = [(r["parameter"], r["config_key"], "main", "Table 1", {m: r[m] for m in runs.MODELS},
              f"{r['n_models_printed']} | {r['mlt_printed']}") for r in printed.to_dict("records")]
    for label, key, regime, text_id in TEXT_HYPERPARAMETERS:
        q = quoted[text_id]
        specs.append((label, key, regime, f"section {q['section']}", {m: q["value"] for m in runs.MODELS}, q["printed"]))
    rows = []
    for label, key, regime, source, paper_values, paper_printed in specs:
        row = {"parameter": label, "config_key": key, "regime": regime, "source": source}
        for model in runs.MODELS:
            try:
                row[model] = resolve_run(config, "arithmetic", model, regime, 0).to_dict()[key]
            except ConfigError:
                row[model] = None  # model not configured
        for model in runs.MODELS:
            row[f"paper_{model}"] = paper_values[model]
        row["paper_printed"] = paper_printed
        row["matches"] = all(row[m] is not None and float(row[m]) == float(paper_values[m]) for m in runs.MODELS)
        rows.append(row)
    # object columns keep each value's own type: 14 stays "14" and 1e-05 stays "1e-05" in the CSV
    return pd.DataFrame(rows, dtype=object)


def make_table(number: int, config: dict, results_dir: str | Path, paper_dir: str | Path) -> pd.DataFrame:
    if number == 1:
        return hyperparameter_table(config, paper_dir)
    return results_table(number, config, results_dir, paper_dir)


def write_table(number: int, config: dict, results_dir: str | Path, paper_dir: str | Path, out: str | Path) -> pd.DataFrame:
    df = make_table(number, config, results_dir, paper_dir)
    atomic_write_csv(out, df)
    return df
