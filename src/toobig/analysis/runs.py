"""Our training runs as the aggregation sees them: one RunResult per configured run, present or not.

A run directory (written by toobig.train) holds metrics.csv (one row per evaluation) and, once training
finished, provenance.json. Nothing here trains or evaluates; a missing run is a normal state, never an error.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..config import MODELS, resolve_run
from ..train import METRIC_COLUMNS  # the columns the trainer writes


DISPLAY = {"n14": "n14", "n28": "n28", "n56": "n56", "mlt": "MLT"}  # names as the paper prints them
# Paper table number -> (regime, task); Figures 1-6 follow the same order.
TABLE_RUNS = {2: ("main", "arithmetic"), 3: ("main", "capitals"), 4: ("main", "joint"),
              5: ("controlled", "arithmetic"), 6: ("controlled", "capitals"), 7: ("controlled", "joint")}
FIGURE_RUNS = {n - 1: spec for n, spec in TABLE_RUNS.items()}
# Vocabulary sizes of the three datasets (protocol: Datasets); only needed to count parameters of absent runs.
VOCAB_SIZES = {"arithmetic": 17, "capitals": 51, "joint": 66}
# The columns of each task's table, in the paper's order.
TASK_METRICS = {"arithmetic": ("addition", "subtraction", "heldout"), "capitals": ("facts",),
                "joint": ("addition", "subtraction", "facts", "combined", "heldout")}
# metric -> the metrics.csv count columns it is made of (combined = the run's score over its trained tasks)
METRIC_COUNTS = {"addition": (("add_correct",), ("add_total",)), "subtraction": (("sub_correct",), ("sub_total",)),
                 "facts": (("facts_correct",), ("facts_total",)), "heldout": (("heldout_correct",), ("heldout_total",)),
                 "combined": (("add_correct", "sub_correct", "facts_correct"), ("add_total", "sub_total", "facts_total"))}
NEEDS_GPU = "not run here (needs a GPU)"


def run_path(results_dir: str | Path, regime: str, task: str, model: str, seed: int) -> Path:
    """Same layout as common.smk's run_dir()."""
    return Path(results_dir) / "runs" / regime / task / model / f"seed{seed}"


def read_metrics(path: str | Path) -> pd.DataFrame:
    """metrics.csv sorted by iteration, with a clear error when a column is missing."""
    df = pd.read_csv(path)
    missing = [c for c in METRIC_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {', '.join(missing)}; is it a toobig metrics.csv?")
    if df.empty:
        raise ValueError(f"{path} has no evaluation rows")
    return df.sort_values("iter", kind="stable").reset_index(drop=True)


def best_row(df: pd.DataFrame) -> pd.Series:
    """The protocol's table row: the first evaluation with the highest score (ties keep the earliest)."""
    return df.loc[df["score"].idxmax()]  # idxmax returns the first maximum; df is sorted by iter


def counts(row_or_df, metric: str):
    """(correct, total) of a metric, for one row (scalars) or a whole frame (Series)."""
    correct_cols, total_cols = METRIC_COUNTS[metric]
    return sum(row_or_df[c] for c in correct_cols), sum(row_or_df[c] for c in total_cols)


def percent(row_or_df, metric: str):
    """Accuracy in percent; NaN where the run was not evaluated on that metric (total 0)."""
    correct, total = counts(row_or_df, metric)
    if isinstance(total, pd.Series):
        return 100.0 * correct / total.where(total > 0)
    return 100.0 * correct / total if total else float("nan")


@dataclass
class RunResult:
    regime: str
    task: str
    model: str
    seed: int
    path: Path
    status: str  # "complete", "incomplete" (training still writing or stopped), "absent"
    note: str = ""
    metrics: pd.DataFrame | None = None
    provenance: dict = field(default_factory=dict)

    @property
    def present(self) -> bool:
        return self.metrics is not None

    @property
    def label(self) -> str:
        return f"{self.regime}/{self.task}/{self.model}/seed{self.seed}"

    def best(self) -> pd.Series:
        return best_row(self.metrics)


def absent_note(model: str) -> str:
    return NEEDS_GPU if model == "mlt" else "not run yet (no metrics.csv)"


def load_run(results_dir: str | Path, regime: str, task: str, model: str, seed: int,
             max_iters: int | None = None, finished_only: bool = False) -> RunResult:
    return load_run_dir(run_path(results_dir, regime, task, model, seed), regime, task, model, seed, max_iters,
                        finished_only)


def load_run_dir(path: str | Path, regime: str, task: str, model: str, seed: int,
                 max_iters: int | None = None, finished_only: bool = False) -> RunResult:
    """A run directory in any place (the extended run may live outside results/runs). With finished_only
    (config finished_runs_only), a run still training counts as absent, so a snapshot does not depend on
    how far an unfinished run happened to be."""
    path = Path(path)
    metrics_file = path / "metrics.csv"
    if not metrics_file.exists() or (finished_only and not (path / "provenance.json").exists()):
        return RunResult(regime, task, model, int(seed), path, "absent", absent_note(model))
    metrics = read_metrics(metrics_file)
    prov_file = path / "provenance.json"
    provenance = json.loads(prov_file.read_text()) if prov_file.exists() else {}
    last = int(metrics["iter"].iloc[-1])
    if provenance and (max_iters is None or last >= max_iters):
        return RunResult(regime, task, model, int(seed), path, "complete", "", metrics, provenance)
    target = f" of {max_iters}" if max_iters is not None else ""
    return RunResult(regime, task, model, int(seed), path, "incomplete",
                     f"incomplete: trained to iteration {last}{target}", metrics, provenance)


def load_extended(path: str | Path) -> RunResult:
    """The appendix-B extended MLT run (1.5M iterations, a GPU experiment), wherever it was written."""
    return load_run_dir(path, "extended", "arithmetic", "mlt", 0)


def load_runs(config: dict, results_dir: str | Path, regime: str, task: str) -> list[RunResult]:
    """Every configured (model, seed) of one regime and task, in the paper's model order."""
    max_iters = config.get("training", {}).get("max_iters")
    models = [m for m in MODELS if m in config.get("models", MODELS)]
    return [load_run(results_dir, regime, task, model, seed, max_iters, config.get("finished_runs_only", False))
            for model in models for seed in config.get("seeds", [1337])]


@lru_cache(maxsize=None)
def _computed_parameters(config_key: str, task: str, model: str, regime: str) -> int:
    from ..train import build_model  # torch import only when a count must be computed

    config = json.loads(config_key)
    cfg = resolve_run(config, task, model, regime, config.get("seeds", [1337])[0])
    return build_model(cfg, VOCAB_SIZES[task]).num_params()


def parameter_count(run: RunResult, config: dict) -> tuple[int, str]:
    """The run's parameter count as the paper reports it, and where it came from."""
    if "parameters" in run.provenance:
        return int(run.provenance["parameters"]), "provenance.json"
    return _computed_parameters(json.dumps(config, sort_keys=True), run.task, run.model, run.regime), "computed from config"
