"""The experiments beyond the paper (issue 6): evaluations of saved checkpoints, tidy tables, one figure, and
the report's view of them. Which runs each experiment needs is decided in toobig.experiments.

Every table has a `wall_seconds` column: the training wall-clock time of the runs behind the row (provenance.json's
wall_seconds: each job ran one torch thread on cores shared with other jobs, so it is a job's elapsed time, not its
CPU time; a stacked run counts its share of the stack's time), or the evaluation's own wall-clock time for the
evaluation-only experiments. `extra_wall_seconds` leaves out the paper's own runs that an experiment reuses. The
report counts each run once over all experiments (report_view).
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data import DEFAULT_HELDOUT, arithmetic_prompts, capitals_prompts, heldout_prompts, ood_prompts
from ..evaluate import sample_prompts, tally
from .. import experiments as X
from ..experiments import EVAL_VARIANT_KEYS, experiments_section, mean_interval, nmodel_parameters
from ..fsutil import atomic_write_csv
from ..provenance import read_provenance
from . import figures, runs
from .ood import load_best, sample_as_trained

EXPERIMENTS_DIR = "experiments"  # under results_dir
PAPER_SEED = 1337  # the paper-fidelity run: the seeds table's `seed1337` column, the seeds figure's star, OOD's paper value
TITLES = {
    "ood": "Out of domain (section 5.1): the arithmetic runs with a best checkpoint here",
    "extended": "Extended training of the arithmetic MLT (appendix B), a GPU job",
    "long_training": "Longer training of the n-models (CPU-sized appendix B)",
    "seeds": "Seeds: every n-model configuration over several seeds",
    "sweep": "Capacity sweep: width n from 8 to 64",
    "sensitivity_eval": "Protocol sensitivity: evaluation choices (best checkpoints re-evaluated)",
    "sensitivity_training": "Protocol sensitivity: training choices (warm-up, gradient clipping)",
}

# How to read each experiment's tables, printed under its title in the report.
NOTES = {
    "ood": "The best checkpoint of each arithmetic run here (the paper's, and the seeds experiment's when on) answers a+b and "
           "a-b for a, b in 0..19 without the pairs where both are below 10 (300 prompts per operator, 10 samples "
           "each: 3,000 answers). The paper reports main n14 at seed 1337 (paper %). Its 4.75% cannot come from "
           "3,000 answers (4.75% of 3,000 is 142.5), so its set must have differed: e.g. a, b in 1..19 without both "
           "below 10 gives 2,800 answers, and 133/2,800 = 4.75% (or 19 of 400 prompts). \"ended with '>'\" counts "
           "answers that terminated; \"no number\" answers without an integer after '='; the error columns are over "
           "the wrong numbers.",
    "extended": "The arithmetic MLT trained 1.5M iterations at lr 1e-6 (appendix B), evaluated every 250 iterations.",
    "long_training": "n-models trained 10x the paper's iterations with the cosine stretched over all of them, without "
                     "(long) and with (long_wd) weight decay: does held-out (5,7) extrapolation ever appear after the "
                     "paper's 30,000 iterations? The second table summarises held-out (5,7) over stretches of "
                     "training (the paper's 30,000 iterations, then each later stretch); the third re-samples each "
                     "best checkpoint on the four held-out expressions one by one.",
    "seeds": "Each cell: the metric at each run's best evaluation (the first with the highest score), as the mean and "
             "95% interval over the seeds finished; 'values' lists them in seed order, seed 1337 (the paper's run) "
             "first. The outcomes table counts the seeds in which a claim-like statement holds; the held-out table "
             "re-samples each arithmetic best checkpoint on the four held-out expressions one by one.",
    "sweep": "n14's settings with the width n from 8 to 64, three seeds each, main regime; each run's best evaluation. "
             "Held-out here is a percentage of the 40 answers. The held-out table re-samples each arithmetic best "
             "checkpoint on the four held-out expressions one by one.",
    "sensitivity_eval": "The seed-1337 best checkpoints of n14 and n28 re-sampled under one evaluation change at a time. "
                        "The 'paper protocol (training-time best row)' rows are the runs' own evaluations; the "
                        "'reference' variant re-samples with the same protocol, so its difference from them is "
                        "sampling noise alone.",
    "sensitivity_training": "n14 and n28 on arithmetic (seed 1337) retrained with one training choice changed; the "
                            "'paper protocol' rows above them are the runs trained as the protocol says.",
}


def experiment_outputs(config: dict, results_dir: str | Path = "results") -> dict[str, list[str]]:
    """The files each experiment writes (tables first, then figures), switched on or not."""
    d = f"{results_dir}/{EXPERIMENTS_DIR}"
    return {
        "ood": [f"{d}/ood.csv"],
        "extended": [f"{d}/extended.csv"],
        "long_training": [f"{d}/long_training.csv", f"{d}/long_training_stretches.csv", f"{d}/long_training_heldout.csv",
                          f"{d}/long_training.png"],
        "seeds": [f"{d}/seeds.csv", f"{d}/seeds_outcomes.csv", f"{d}/seeds_heldout.csv", f"{d}/seeds.png"],
        "sweep": [f"{d}/sweep.csv", f"{d}/sweep_heldout.csv", f"{d}/sweep.png"],
        "sensitivity_eval": [f"{d}/sensitivity.csv"],
        "sensitivity_training": [f"{d}/sensitivity.csv"],
    }


# ---------------------------------------------------------------------------------------------------------
# 1. Out of domain: every sample, so that the size of the errors can be measured
# ---------------------------------------------------------------------------------------------------------
def ood_samples(best_pt, data_cfg: dict) -> pd.DataFrame:
    """One row per out-of-domain sample. Sampled by the same call as toobig.analysis.ood.evaluate_ood (same
    prompts, same generator seed), so its counts equal that rule's ood.csv (the table checks it)."""
    ckpt, samples = sample_as_trained(best_pt, ood_prompts(data_cfg.get("ood_operand_max", 19),
                                                            data_cfg.get("operand_max", 9)))
    rows = [{"prompt": s.prompt.text, "operator": "addition" if s.prompt.kind == "ood_add" else "subtraction",
             "expected": int(s.prompt.answer), "answer": s.judgement.answer, "correct": int(s.judgement.correct),
             "terminated": int(s.judgement.terminated)} for s in samples]
    df = pd.DataFrame(rows, columns=["prompt", "operator", "expected", "answer", "correct", "terminated"])
    df["best_iter"] = ckpt.get("iter")
    return df


def write_ood_samples(best_pt, data_cfg: dict, out, timing=None) -> pd.DataFrame:
    """samples.csv, and the seconds the sampling took in a one-line timing.csv beside it (`timing`), so that
    re-sampling a checkpoint rewrites one number, not a column of 6,000 equal ones."""
    t0 = time.perf_counter()
    df = ood_samples(best_pt, data_cfg)
    atomic_write_csv(out, df)
    if timing is not None:
        atomic_write_csv(timing, pd.DataFrame({"eval_seconds": [round(time.perf_counter() - t0, 2)]}))
    return df


def error_stats(expected, answers) -> dict:
    """How wrong the wrong answers are: over samples with a parsed, wrong integer answer, the absolute error's
    median and 90th percentile (linear interpolation), the share within 1 and the share off by exactly 10 (a
    tens-digit error, the commonest out of domain); unparsed answers are counted apart."""
    exp = pd.Series(expected, dtype="float64").reset_index(drop=True)
    ans = pd.to_numeric(pd.Series(answers, dtype="object"), errors="coerce").reset_index(drop=True)
    parsed = ans.notna()
    wrong = parsed & (ans != exp)
    err = (ans[wrong] - exp[wrong]).abs()
    return {"wrong": int(wrong.sum()), "unparsed": int((~parsed).sum()),
            "abs_err_median": float(err.median()) if len(err) else math.nan,
            "abs_err_p90": float(np.percentile(err, 90)) if len(err) else math.nan,
            "share_within_1": float((err <= 1).mean()) if len(err) else math.nan,
            "share_off_by_10": float((err == 10).mean()) if len(err) else math.nan}


def ood_table(entries: list[dict], paper_values: dict | None = None, paper_seed: int = PAPER_SEED) -> pd.DataFrame:
    """entries: {regime, model, seed, samples (csv), counts (the evaluate_ood rule's ood.csv), timing (the samples'
    timing.csv; optional)}. One row per run and operator; the paper's value (0% addition, 4.75% subtraction) beside
    the run it measured: main n14 at the paper's seed."""
    rows = []
    for e in entries:
        s = pd.read_csv(e["samples"], dtype={"answer": "object"}, keep_default_na=True)
        counts = pd.read_csv(e["counts"]).iloc[0] if e.get("counts") and Path(e["counts"]).exists() else None
        seconds = float(pd.read_csv(e["timing"])["eval_seconds"].iloc[0]) if e.get("timing") else math.nan
        for op, key in (("addition", "ood_add"), ("subtraction", "ood_sub")):
            part = s[s["operator"] == op]
            correct, total = int(part["correct"].sum()), len(part)
            if counts is not None and (int(counts[f"{key}_correct"]), int(counts[f"{key}_total"])) != (correct, total):
                raise ValueError(f"{e['samples']}: {op} {correct}/{total} differs from {e['counts']} "
                                 f"({counts[f'{key}_correct']}/{counts[f'{key}_total']}); the two evaluations must sample alike")
            paper = ((paper_values or {}).get(op)
                     if (e["regime"], e["model"], int(e["seed"])) == ("main", "n14", paper_seed) else None)
            rows.append({"regime": e["regime"], "model": e["model"], "seed": int(e["seed"]), "operator": op,
                         "correct": correct, "total": total, "accuracy_pct": 100.0 * correct / total if total else math.nan,
                         "paper_pct": math.nan if paper is None else paper,
                         "terminated": int(part["terminated"].sum()), **error_stats(part["expected"], part["answer"]),
                         "best_iter": int(part["best_iter"].iloc[0]) if total else None,
                         "wall_seconds": seconds / 2})  # one sampling call for both operators: split over its 2 rows
    df = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(runs.MODELS)}
    if not df.empty:
        df = df.sort_values(["regime", "model", "seed", "operator"], key=lambda c: c.map(order) if c.name == "model" else c,
                            kind="stable").reset_index(drop=True)
    return df


def paper_ood_values(paper_dir) -> dict:
    """The section 5.1 percentages quoted in the text (paper/), as {operator: value}."""
    from . import paper

    quoted = paper.text_values(paper_dir)
    return {"addition": float(quoted["ood_addition"]["value"]), "subtraction": float(quoted["ood_subtraction"]["value"])}


# ---------------------------------------------------------------------------------------------------------
# Run summaries (long training, extended, seeds, sweep, training variants)
# ---------------------------------------------------------------------------------------------------------
def run_wall_seconds(provenance: dict) -> float:
    """A run's single-thread wall-clock time: its wall_seconds, divided among the runs of its stack when it was
    trained stacked (toobig.multirun records the stack's wall time in every member, with `stacked_with`). Each job
    ran one torch thread on cores shared with other jobs: this is elapsed time, not CPU time."""
    if "wall_seconds" not in provenance:
        return math.nan
    return float(provenance["wall_seconds"]) / (1 + len(provenance.get("stacked_with") or []))


def run_summary(run: dict, results_dir, paper_runs: set | None = None, run_dir=None, finished_only: bool = False) -> dict:
    """The best row and training history of one run directory; status "absent" when it has no metrics.csv (or,
    with finished_only, no provenance.json yet: a snapshot does not show a run still training)."""
    path = Path(run_dir) if run_dir else runs.run_path(results_dir, run["regime"], run["task"], run["model"], run["seed"])
    r = runs.load_run_dir(path, run["regime"], run["task"], run["model"], run["seed"], finished_only=finished_only)
    key = (run["regime"], run["task"], run["model"], int(run["seed"]))
    out = {**{k: run[k] for k in ("regime", "task", "model")}, "seed": int(run["seed"]), "status": r.status,
           "run_dir": str(path), "paper_run": bool(paper_runs and key in paper_runs)}
    if not r.present:
        return out
    m, best = r.metrics, r.best()
    out.update(best_iter=int(best["iter"]), last_iter=int(m["iter"].iloc[-1]), evaluations=len(m),
               wall_seconds=run_wall_seconds(r.provenance), stack_size=1 + len(r.provenance.get("stacked_with") or []),
               parameters=r.provenance.get("parameters"))
    for metric in ("addition", "subtraction", "facts", "combined"):
        out[metric] = runs.percent(best, metric)
    out["heldout_correct"], out["heldout_total"] = int(best["heldout_correct"]), int(best["heldout_total"])
    if best["heldout_total"]:
        full = m[m["heldout_correct"] == m["heldout_total"]]
        out["heldout_max_over_training"] = int(m["heldout_correct"].max())
        out["first_iter_heldout_full"] = int(full["iter"].iloc[0]) if len(full) else None
        out["heldout_at_last_eval"] = int(m["heldout_correct"].iloc[-1])
    out["min_val_loss"] = float(m["val_loss"].min()) if m["val_loss"].notna().any() else math.nan
    return out


def runs_table(run_list: list[dict], results_dir, paper_runs: set | None = None, run_dirs: dict | None = None,
               finished_only: bool = False) -> pd.DataFrame:
    rows = [run_summary(r, results_dir, paper_runs, (run_dirs or {}).get(i), finished_only)
            for i, r in enumerate(run_list)]
    return pd.DataFrame(rows)


def write_runs_table(run_list, results_dir, out, paper_runs=None, run_dirs=None, finished_only=False) -> pd.DataFrame:
    df = runs_table(run_list, results_dir, paper_runs, run_dirs, finished_only)
    atomic_write_csv(out, df)
    return df


def long_training_figure(df: pd.DataFrame, results_dir, out_png, paper_iters: int) -> None:
    """Held-out (5,7) correct against iterations (log axis), one panel per model, one line per variant, and a
    dashed line where the paper's training stops (paper_iters: training.max_iters)."""
    plt = figures.plt  # matplotlib with the headless backend, as every figure

    models = list(dict.fromkeys(df["model"])) or ["none"]
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4.4), squeeze=False)
    for ax, model in zip(axes[0], models):
        for r in df[df["model"] == model].to_dict("records"):
            path = Path(r["run_dir"]) / "metrics.csv"
            if r["status"] != "absent" and path.exists():  # absent: not started, or still training in a snapshot
                m = runs.read_metrics(path)
                ax.plot(m["iter"].clip(lower=1), m["heldout_correct"], label=f"{r['regime']} seed {r['seed']}", lw=1)
        drawn = bool(ax.get_legend_handles_labels()[0])
        line = figures.paper_iterations_line(ax, paper_iters)
        ax.set_xscale("log")
        ax.set_title(model)
        ax.set_xlabel("iteration (log)")
        ax.set_ylabel("held-out (5,7) correct of 40")
        ax.set_ylim(-1, 41)
        if drawn:
            handles, labels = ax.get_legend_handles_labels()
            ax.legend(handles + [line], labels + [line.get_label()], fontsize=8, loc="upper center",
                      bbox_to_anchor=(0.5, -0.18), frameon=False)  # below: the curves fill the panel's top left too
        else:
            figures.legend_or_note(ax, "no run yet")
    fig.tight_layout()
    figures.save(fig, out_png)


def heldout_stretches(df: pd.DataFrame, ends: list[int]) -> pd.DataFrame:
    """Held-out (5,7) over stretches of each run: iterations 0 to ends[0] (the paper's whole run), then each
    (previous end, next end], the last up to the run's last evaluation. One row per run and stretch: the
    evaluations in it, the mean held-out correct of 40, the share of evaluations at 0/40, and the highest."""
    rows = []
    for r in df.to_dict("records"):
        path = Path(r["run_dir"]) / "metrics.csv"
        if r["status"] == "absent" or not path.exists():
            continue
        m = runs.read_metrics(path)
        bounds = [-1, *(e for e in sorted(ends) if e < m["iter"].max()), int(m["iter"].max())]
        for lo, hi in zip(bounds, bounds[1:]):
            part = m.loc[(m["iter"] > lo) & (m["iter"] <= hi), "heldout_correct"]
            rows.append({"regime": r["regime"], "model": r["model"], "seed": r["seed"], "from_iter": max(lo, 0),
                         "to_iter": hi, "evaluations": len(part), "heldout_mean": round(float(part.mean()), 4),
                         "evaluations_at_zero_pct": round(100.0 * float((part == 0).mean()), 2),
                         "heldout_max": int(part.max())})
    return pd.DataFrame(rows, columns=["regime", "model", "seed", "from_iter", "to_iter", "evaluations",
                                       "heldout_mean", "evaluations_at_zero_pct", "heldout_max"])


def write_heldout_stretches(df: pd.DataFrame, ends: list[int], out) -> pd.DataFrame:
    stretches = heldout_stretches(df, ends)
    atomic_write_csv(out, stretches)
    return stretches


# ---------------------------------------------------------------------------------------------------------
# 3. Seeds: mean and 95% t-interval per cell; in how many seeds each claim-like outcome holds
# ---------------------------------------------------------------------------------------------------------
# outcome -> (tasks it applies to, models it is asked of, predicate on a run summary)
OUTCOMES = {
    "extrapolates (held-out 40/40 at the best row)": (("arithmetic", "joint"), None,
                                                      lambda r: r["heldout_correct"] == r["heldout_total"] > 0),
    "no extrapolation (held-out 0/40 at the best row)": (("arithmetic", "joint"), None,
                                                         lambda r: r["heldout_correct"] == 0),
    "every seen expression right (addition and subtraction >= 97.8%)": (("arithmetic", "joint"), None,
                                                            lambda r: r["addition"] >= 97.8 - 1e-9 and r["subtraction"] >= 97.8 - 1e-9),
    "facts 100%": (("capitals", "joint"), None, lambda r: r["facts"] >= 100.0 - 1e-9),
    "facts below 50%": (("capitals", "joint"), None, lambda r: r["facts"] < 50.0),
}
CELL_METRICS = ("addition", "subtraction", "facts", "combined", "heldout_correct")
METRIC_LABELS = {"addition": "addition %", "subtraction": "subtraction %", "facts": "facts %",
                 "combined": "combined %", "heldout_correct": "held-out (5,7) correct of 40"}


def wall_totals(complete: pd.DataFrame) -> tuple[float, float]:
    """(all, beyond the paper's own runs) single-thread wall-clock seconds of some runs' summaries, to 0.1 s (a sum
    of floats would otherwise print as 3279.9999999999995)."""
    if not len(complete):
        return 0.0, 0.0
    extra = complete.loc[~complete["paper_run"].astype(bool), "wall_seconds"].sum()
    return round(float(complete["wall_seconds"].sum()), 1), round(float(extra), 1)


def seeds_tables(summaries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells, outcomes) from run summaries (one per regime, task, model, seed)."""
    cells, outcomes = [], []
    done = summaries[summaries["status"] == "complete"] if "status" in summaries else summaries
    for (regime, task, model), group in summaries.groupby(["regime", "task", "model"], sort=False):
        complete = done[(done["regime"] == regime) & (done["task"] == task) & (done["model"] == model)]
        wall, extra = wall_totals(complete)
        for metric in CELL_METRICS:
            if metric not in runs.TASK_METRICS[task] and metric != "heldout_correct":
                continue
            if metric == "heldout_correct" and "heldout" not in runs.TASK_METRICS[task]:
                continue
            values = complete[metric].tolist() if metric in complete else []
            top = float(complete["heldout_total"].max()) if metric == "heldout_correct" and len(complete) else 100.0
            mean, low, high, n = mean_interval(values, (0.0, top))  # a count of 40, or a percentage
            ref = complete[complete["seed"] == 1337][metric] if metric in complete else []
            cells.append({"regime": regime, "task": task, "model": model, "metric": metric, "seeds_complete": n,
                          "seeds_planned": len(group), "mean": mean, "ci95_low": low, "ci95_high": high,
                          "min": min(values) if values else math.nan, "max": max(values) if values else math.nan,
                          "seed1337": float(ref.iloc[0]) if len(ref) else math.nan,
                          "values": " ".join(f"{v:g}" for v in values), "wall_seconds": wall, "extra_wall_seconds": extra})
        for outcome, (tasks, models, predicate) in OUTCOMES.items():
            if task not in tasks or (models and model not in models):
                continue
            holds = [int(r["seed"]) for r in complete.to_dict("records") if predicate(r)]
            outcomes.append({"regime": regime, "task": task, "model": model, "outcome": outcome,
                             "seeds_holding": len(holds), "seeds_complete": len(complete), "seeds_planned": len(group),
                             "k_of_n": f"{len(holds)}/{len(complete)}", "seeds": " ".join(map(str, holds))})
    return pd.DataFrame(cells), pd.DataFrame(outcomes)


def write_seeds_tables(run_list, results_dir, out_cells, out_outcomes, paper_runs=None, out_png=None):
    summaries = runs_table(run_list, results_dir, paper_runs)
    cells, outcomes = seeds_tables(summaries)
    atomic_write_csv(out_cells, cells)
    atomic_write_csv(out_outcomes, outcomes)
    if out_png is not None:
        figures.save(draw_seeds(summaries, cells), out_png)
    return cells, outcomes


# task -> the metrics the seeds figure draws: each task's headline (Table 2's held-out count, Table 3's recall)
SEEDS_FIGURE_METRICS = {"arithmetic": ("heldout_correct",), "capitals": ("facts",), "joint": ("heldout_correct", "facts")}
REGIME_COLOURS = {"main": "tab:blue", "controlled": "tab:orange"}


def draw_seeds(summaries: pd.DataFrame, cells: pd.DataFrame):
    """Every seed's value at its best row as a dot (seed 1337, the paper's run, as a star) beside the mean and
    95% t-interval, one panel per task and headline metric, one column per model and regime."""
    plt = figures.plt  # matplotlib with the headless backend, as every figure

    done = summaries[summaries["status"] == "complete"] if len(summaries) else summaries
    panels = [(t, m) for t, metrics in SEEDS_FIGURE_METRICS.items() for m in metrics
              if len(done) and (done["task"] == t).any()]
    columns = len(cells[["model", "regime"]].drop_duplicates()) if len(cells) else 1  # labels need ~0.75 in each
    fig, axes = plt.subplots(1, max(len(panels), 1), squeeze=False,
                             figsize=(0.6 + max(3.4, 0.75 * columns) * max(len(panels), 1), 4.0))
    for ax, (task, metric) in zip(axes[0], panels):
        shown = cells[(cells["task"] == task) & (cells["metric"] == metric) & (cells["seeds_complete"] > 0)]
        for x, cell in enumerate(shown.to_dict("records")):
            mine = done[(done["regime"] == cell["regime"]) & (done["task"] == task) & (done["model"] == cell["model"])]
            mine = mine.sort_values("seed")
            colour = REGIME_COLOURS.get(cell["regime"], "tab:gray")
            for dx, r in zip(np.linspace(-0.2, 0.2, len(mine)) if len(mine) > 1 else [0.0], mine.to_dict("records")):
                star = int(r["seed"]) == PAPER_SEED
                ax.scatter(x - 0.1 + dx, r[metric], marker="*" if star else "o", s=90 if star else 20, color=colour,
                           edgecolors="black" if star else "none", linewidths=0.5, zorder=3)
            low, high = cell["ci95_low"], cell["ci95_high"]  # NaN with one seed: the mean alone
            yerr = [[0.0 if math.isnan(low) else cell["mean"] - low], [0.0 if math.isnan(high) else high - cell["mean"]]]
            ax.errorbar(x + 0.3, cell["mean"], yerr=yerr, fmt="_", ms=12, mew=2, capsize=4, color=colour)
        ax.set_xticks(range(len(shown)), [f"{r['model']}\n{r['regime']}" for r in shown.to_dict("records")], fontsize=8)
        ax.set_xlim(-0.7, max(len(shown), 1) - 0.3)
        ax.set_ylim(*((-1.5, 41.5) if metric == "heldout_correct" else (-3, 103)))
        ax.set_ylabel(METRIC_LABELS[metric] + " at the best row", fontsize=8)
        ax.set_title(f"{task}: {'held-out (5,7)' if metric == 'heldout_correct' else metric}", fontsize=10)
    if not panels:
        axes[0][0].text(0.5, 0.5, "no seeds run yet", ha="center", transform=axes[0][0].transAxes)
    handles = [figures.Line2D([], [], marker="*", ms=10, ls="", color="gray", mec="black", mew=0.5,
                              label=f"seed {PAPER_SEED} (the paper's run)"),
               figures.Line2D([], [], marker="o", ms=5, ls="", color="gray", label="other seeds"),
               figures.Line2D([], [], marker="_", ms=12, mew=2, ls="", color="gray", label="mean, 95% t-interval")]
    handles += [figures.Line2D([], [], marker="s", ls="", color=c, label=f"{regime} regime")
                for regime, c in REGIME_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle("Seeds: each run's value at its best evaluation", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


# ---------------------------------------------------------------------------------------------------------
# 4. Capacity sweep: held-out and facts accuracy against parameter count
# ---------------------------------------------------------------------------------------------------------
# task -> (column, label) of the metrics the sweep reports at each run's best row; the arithmetic accuracy tells a
# width that never learned the task at all from one that learned it but does not extrapolate.
SWEEP_METRICS = {
    "arithmetic": (("heldout_pct", "heldout (5,7) %"), ("seen_pct", "arithmetic % (mean of addition and subtraction, held-out four included)")),
    "capitals": (("facts", "facts %"),),
    "joint": (("heldout_pct", "heldout (5,7) %"), ("facts", "facts %")),
}


def sweep_table(summaries: pd.DataFrame, config: dict) -> pd.DataFrame:
    rows = []
    done = summaries[summaries["status"] == "complete"] if "status" in summaries else summaries
    for (task, model), group in summaries.groupby(["task", "model"], sort=False):
        width = int(model[1:])
        settings = (config.get("model_settings") or {}).get(model) or {}
        params = nmodel_parameters(runs.VOCAB_SIZES[task], width, settings.get("n_layer", 1), settings.get("mlp_expansion", 1))
        complete = done[(done["task"] == task) & (done["model"] == model)]
        if task != "capitals" and len(complete):
            complete = complete.assign(heldout_pct=100.0 * complete["heldout_correct"] / complete["heldout_total"],
                                       seen_pct=(complete["addition"] + complete["subtraction"]) / 2)
        wall, extra = wall_totals(complete)
        for column, label in SWEEP_METRICS[task]:
            values = complete[column].tolist() if len(complete) else []
            mean, low, high, n = mean_interval(values, (0.0, 100.0))  # every sweep metric is a percentage
            rows.append({"task": task, "model": model, "n_embd": width, "parameters": params, "metric": label,
                         "seeds_complete": n, "seeds_planned": len(group), "mean": mean, "ci95_low": low,
                         "ci95_high": high, "values": " ".join(f"{v:g}" for v in values),
                         "wall_seconds": wall, "extra_wall_seconds": extra})
    df = pd.DataFrame(rows)
    return df.sort_values(["task", "metric", "n_embd"], kind="stable").reset_index(drop=True) if len(df) else df


def sweep_figure(df: pd.DataFrame, out_png) -> None:
    figures.save(draw_sweep(df), out_png)


def draw_sweep(df: pd.DataFrame):
    plt = figures.plt  # matplotlib with the headless backend, as every figure

    fig, ax = plt.subplots(figsize=(7, 5.0))
    colours = {"arithmetic": "tab:purple", "capitals": "tab:green", "joint": "tab:orange"}
    groups = df[df["seeds_complete"] > 0].groupby(["task", "metric"], sort=False) if len(df) else []
    for (task, metric), part in groups:
        err_low = (part["mean"] - part["ci95_low"]).fillna(0)
        err_high = (part["ci95_high"] - part["mean"]).fillna(0)
        ax.errorbar(part["parameters"], part["mean"], yerr=[err_low, err_high], marker="o", capsize=3,
                    color=colours[task], ls="-" if metric == SWEEP_METRICS[task][0][1] else "--", label=f"{metric}, {task}")
        for r in part.to_dict("records"):
            ax.annotate(r["model"], (r["parameters"], r["mean"]), fontsize=7, xytext=(2, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("parameters (without position embeddings, log)")
    ax.set_ylabel("accuracy at the best row (%)")
    ax.set_ylim(-3, 103)
    ax.set_title("Capacity sweep: mean over seeds, 95% t-interval (clipped to 0-100%)")
    # below the axes: the series cross the whole plot, so any legend inside it hides a point or an interval
    figures.legend_or_note(ax, "no sweep run yet", below=True)
    fig.tight_layout()
    return fig


def heldout_by_expression(run_list: list[dict], results_dir) -> pd.DataFrame:
    """Each finished arithmetic run's best checkpoint re-sampled on the held-out (5,7) expressions, one row per
    expression: the held-out count of metrics.csv mixes two questions (does the model carry 5+7 past 10, and
    does it produce the negative 5-7), and this table tells them apart. Sampled with the run's own settings and
    a generator seeded with its seed; the training-time count of the same checkpoint is printed beside it (the
    two draws can differ where two answers are almost equally likely). No timing column, so that the table
    regenerates byte for byte; write_heldout_by_expression logs the seconds."""
    rows = []
    for run in run_list:
        if run["task"] != "arithmetic":
            continue
        path = runs.run_path(results_dir, run["regime"], run["task"], run["model"], run["seed"])
        done = runs.load_run_dir(path, run["regime"], run["task"], run["model"], run["seed"], finished_only=True)
        if done.status != "complete":
            continue
        ckpt, samples = sample_as_trained(path / "best.pt", heldout_prompts())
        in_training = int(done.best()["heldout_correct"])
        for prompt in dict.fromkeys(s.prompt.text for s in samples):
            mine = [s for s in samples if s.prompt.text == prompt]
            answers = pd.Series([s.judgement.answer for s in mine], dtype=object).fillna("none").value_counts()
            rows.append({"regime": run["regime"], "model": run["model"], "seed": int(run["seed"]),
                         "expression": prompt.strip("<=") + "=" + mine[0].prompt.answer,
                         "correct": sum(s.judgement.correct for s in mine), "samples": len(mine),
                         "answers": ", ".join(f"{a} ({n})" for a, n in answers.items()),
                         "best_iter": ckpt.get("iter"), "heldout_correct_in_training": in_training})
    return pd.DataFrame(rows, columns=["regime", "model", "seed", "expression", "correct", "samples", "answers",
                                       "best_iter", "heldout_correct_in_training"])


def write_heldout_by_expression(run_list, results_dir, out, log=None) -> pd.DataFrame:
    """The table to `out`; the seconds the re-sampling took to `log` (default: stderr, a rule's log file)."""
    log = log or (lambda line: print(line, file=sys.stderr))
    t0 = time.perf_counter()
    df = heldout_by_expression(run_list, results_dir)
    atomic_write_csv(out, df)
    log(f"{out}: {df[['regime', 'model', 'seed']].drop_duplicates().shape[0]} best checkpoints re-sampled on the "
        f"held-out expressions in {time.perf_counter() - t0:.1f} s")
    return df


def write_sweep(run_list, results_dir, config, out_csv, out_png, paper_runs=None) -> pd.DataFrame:
    df = sweep_table(runs_table(run_list, results_dir, paper_runs), config)
    atomic_write_csv(out_csv, df)
    sweep_figure(df, out_png)
    return df


# ---------------------------------------------------------------------------------------------------------
# 5. Protocol sensitivity
# ---------------------------------------------------------------------------------------------------------
def variant_applies(task: str, overrides: dict) -> bool:
    """A grid variant means nothing for capitals, a prompt-style variant nothing for arithmetic."""
    keys = set(overrides)
    if task == "capitals" and keys and keys <= {"grid"}:
        return False
    if task == "arithmetic" and keys and keys <= {"capitals_prompt_style"}:
        return False
    return True


def evaluate_variants(best_pt, data_cfg: dict, variants: dict[str, dict]) -> pd.DataFrame:
    """Re-sample a best checkpoint under each evaluation variant (the training-time prompts: grid, held-out
    four, capitals), as `python -m toobig evaluate` does; the sampling generator is seeded with the run's seed."""
    ckpt, cfg, vocab, model = load_best(best_pt)
    rows = []
    for name, overrides in variants.items():
        unknown = sorted(set(overrides) - set(EVAL_VARIANT_KEYS))
        if unknown:
            raise ValueError(f"evaluation variant '{name}' sets {', '.join(unknown)}; it may set only {', '.join(EVAL_VARIANT_KEYS)}")
        if not variant_applies(cfg.task, overrides):
            continue
        t0 = time.perf_counter()
        s = {"temperature": cfg.temperature, "top_k": cfg.top_k, "samples_per_prompt": cfg.samples_per_prompt,
             "grid": cfg.grid, "capitals_prompt_style": data_cfg.get("capitals_prompt_style", "authors"), **overrides}
        prompts = []
        if cfg.task in ("arithmetic", "joint"):
            prompts += arithmetic_prompts(int(s["grid"])) + heldout_prompts(tuple(data_cfg.get("heldout", DEFAULT_HELDOUT)))
        if cfg.task in ("capitals", "joint"):
            prompts += capitals_prompts(data_cfg["capitals"], s["capitals_prompt_style"])
        generator = torch.Generator().manual_seed(cfg.seed)
        counts = tally(sample_prompts(model, vocab, prompts, int(s["samples_per_prompt"]), float(s["temperature"]),
                                      int(s["top_k"]), cfg.arithmetic_new_tokens, cfg.capitals_new_tokens, generator))
        rows.append({"variant": name, "kind": "evaluation", "setting": json.dumps(overrides, sort_keys=True),
                     **{k: counts.get(k, 0) for k in ("add_correct", "add_total", "sub_correct", "sub_total",
                                                      "heldout_correct", "heldout_total", "facts_correct", "facts_total")},
                     "best_iter": ckpt.get("iter"), "wall_seconds": round(time.perf_counter() - t0, 2)})
    return pd.DataFrame(rows)


def write_variants(best_pt, data_cfg, variants, out) -> pd.DataFrame:
    df = evaluate_variants(best_pt, data_cfg, variants)
    atomic_write_csv(out, df)
    return df


def _pct(c, t):
    return 100.0 * c / t if t else math.nan


def sensitivity_table(reference: list[dict], eval_files: list[dict], train_variants: list[dict], results_dir,
                      train_settings: dict | None = None) -> pd.DataFrame:
    """One row per (variant, task, model, seed): the held-out (5,7) outcome and the accuracies.
    reference: the paper-protocol runs (their training-time best row); eval_files: {run..., path} of
    evaluate_variants outputs; train_variants: runs of the warm-up / clipping regimes."""
    rows = []

    def add(variant, kind, setting, run, counts, best_iter, wall, status):
        held = bool(counts.get("heldout_total"))  # capitals has no held-out test: empty, not "0 of 0"
        rows.append({"variant": variant, "kind": kind, "setting": setting, "task": run["task"], "model": run["model"],
                     "seed": int(run["seed"]), "status": status,
                     "heldout": f"{counts['heldout_correct']}/{counts['heldout_total']}" if held else "",
                     "heldout_correct": counts.get("heldout_correct") if held else None,
                     "heldout_total": counts.get("heldout_total") if held else None,
                     "addition": _pct(counts.get("add_correct", 0), counts.get("add_total", 0)),
                     "subtraction": _pct(counts.get("sub_correct", 0), counts.get("sub_total", 0)),
                     "facts": _pct(counts.get("facts_correct", 0), counts.get("facts_total", 0)),
                     "best_iter": best_iter, "wall_seconds": wall,
                     "seconds_of": "re-sampling" if kind == "evaluation" else "training"})

    keys = ("add_correct", "add_total", "sub_correct", "sub_total", "heldout_correct", "heldout_total",
            "facts_correct", "facts_total")
    for run in reference:
        r = runs.load_run(results_dir, run["regime"], run["task"], run["model"], run["seed"])
        if r.present:
            b = r.best()
            add("paper protocol (training-time best row)", "reference", "{}", run, {k: int(b[k]) for k in keys},
                int(b["iter"]), run_wall_seconds(r.provenance), r.status)
    for e in eval_files:
        if not Path(e["path"]).exists():
            continue
        for v in pd.read_csv(e["path"]).to_dict("records"):
            add(v["variant"], "evaluation", v["setting"], e, {k: int(v[k]) for k in keys}, v["best_iter"],
                v["wall_seconds"], "complete")
    for run in train_variants:
        r = runs.load_run(results_dir, run["regime"], run["task"], run["model"], run["seed"])
        setting = json.dumps((train_settings or {}).get(run["regime"], {}), sort_keys=True)
        if r.present:
            b = r.best()
            add(run["regime"], "training", setting, run, {k: int(b[k]) for k in keys}, int(b["iter"]),
                run_wall_seconds(r.provenance), r.status)
        else:
            add(run["regime"], "training", setting, run, {}, None, math.nan, "absent")
    return pd.DataFrame(rows)


def write_sensitivity(reference, eval_files, train_variants, results_dir, out, train_settings=None) -> pd.DataFrame:
    df = sensitivity_table(reference, eval_files, train_variants, results_dir, train_settings)
    atomic_write_csv(out, df)
    return df


# ---------------------------------------------------------------------------------------------------------
# 6. The report's section
# ---------------------------------------------------------------------------------------------------------
def _table_html(df: pd.DataFrame, path: Path, max_rows: int = 80) -> str:
    shown = df.head(max_rows)
    html = shown.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0, classes="experiment")
    if len(df) > max_rows:
        html += f'<p class="small">First {max_rows} of {len(df)} rows; the whole table is <code>{path}</code>.</p>'
    return html


def seeds_display(cells: pd.DataFrame) -> pd.DataFrame:
    """seeds.csv as a reader wants it: one cell a line, mean [95% interval] over the seeds that finished."""
    def cell(r):
        if math.isnan(r["mean"]):
            return "no seed finished"
        if math.isnan(r["ci95_low"]):
            return f"{r['mean']:.4g} (one seed: no interval)"
        return f"{r['mean']:.4g} [{r['ci95_low']:.4g}, {r['ci95_high']:.4g}]"

    return pd.DataFrame({
        "regime": cells["regime"], "task": cells["task"], "model": cells["model"],
        "metric": cells["metric"].map(lambda m: METRIC_LABELS.get(m, m)),
        "seeds finished": [f"{c}/{p}" for c, p in zip(cells["seeds_complete"], cells["seeds_planned"])],
        "mean [95% t-interval]": [cell(r) for r in cells.to_dict("records")],
        "seed 1337 (paper-fidelity)": cells["seed1337"], "every seed": cells["values"]})


def heldout_display(df: pd.DataFrame) -> pd.DataFrame:
    """A *_heldout.csv one run a line: each expression's correct samples, and the commonest answer when wrong."""
    if not len(df):
        return df
    def cell(r):
        shown = f"{r['correct']}/{r['samples']}"
        return shown if r["correct"] == r["samples"] else f"{shown} (says {r['answers'].split(' (')[0]})"

    wide = df.assign(cell=[cell(r) for r in df.to_dict("records")]).pivot_table(
        index=["regime", "model", "seed", "best_iter", "heldout_correct_in_training"], columns="expression",
        values="cell", aggfunc="first", sort=False)
    wide = wide[list(dict.fromkeys(df["expression"]))].rename_axis(columns=None).reset_index()
    wide["n"] = wide["model"].str[1:].astype(int)
    wide = wide.sort_values(["regime", "n", "seed"], kind="stable").drop(columns="n")
    return wide.rename(columns={"heldout_correct_in_training": "held-out of 40 in training", "best_iter": "best iter"})


# ood.csv's columns as the report names them (the CSV keeps short names for scripts)
OOD_LABELS = {"accuracy_pct": "correct %", "paper_pct": "paper %", "terminated": "ended with '>'",
              "wrong": "wrong number", "unparsed": "no number", "abs_err_median": "|error| median",
              "abs_err_p90": "|error| 90th percentile", "share_within_1": "% of wrong answers off by 1",
              "share_off_by_10": "% of wrong answers off by exactly 10",
              "best_iter": "best checkpoint (iter)", "wall_seconds": "evaluation s (wall-clock)"}


def ood_display(df: pd.DataFrame) -> pd.DataFrame:
    """ood.csv for reading: percentages as percentages (the share_* columns are fractions of the wrong answers)."""
    shares = {c: 100.0 * df[c] for c in ("share_within_1", "share_off_by_10") if c in df}
    return df.assign(**shares).rename(columns=OOD_LABELS)


# columns a runs table keeps for scripts (where the run lives, how it was trained) that a reader does not need
BOOKKEEPING = ("run_dir", "paper_run", "stack_size")


def display(path: Path, df: pd.DataFrame) -> pd.DataFrame:
    """A table as the report shows it."""
    if path.name == "seeds.csv":
        return seeds_display(df)
    if path.name == "ood.csv":
        return ood_display(df)
    if path.name.endswith("_heldout.csv"):
        return heldout_display(df)
    return df.drop(columns=[c for c in BOOKKEEPING if c in df])


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds:.0f} s"


EVALUATION_ONLY = ("ood", "sensitivity_eval")  # they re-sample checkpoints and train nothing


class ExperimentsView(list):
    """report_view's entries, one per experiment, and `total`: the sentence over every run beyond the paper's
    (each counted once) that the report prints above them."""
    total: str = ""


def _run_key(run: dict) -> tuple:
    return run["regime"], run["task"], run["model"], int(run["seed"])


def _plural(n: int, word: str = "run") -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def experiment_run_dirs(config: dict, results_dir, name: str) -> dict[str, dict]:
    """run_dir -> {seconds, paper} of the finished training runs (those with provenance.json) experiment `name`
    reads: their single-thread wall-clock seconds (run_wall_seconds) and whether the paper's own run is one."""
    paper = {_run_key(r) for r in X.paper_runs(config)}
    out = {}
    for run in X.experiment_runs(config, name):
        path = runs.run_path(results_dir, run["regime"], run["task"], run["model"], run["seed"])
        prov = read_provenance(path)
        if prov is not None:
            out[str(path)] = {"seconds": run_wall_seconds(prov), "paper": _run_key(run) in paper}
    return out


def training_time(name: str, run_dirs: dict[str, dict], counted: dict[str, tuple[str, float]]) -> str:
    """Experiment `name`'s training time: in all, the paper's own runs, the runs an earlier experiment already
    counted, and the rest (beyond the paper), which it adds to `counted` (run_dir -> (experiment, seconds))."""
    if not run_dirs:
        return "Training: no run finished yet."

    def hours(dirs) -> str:
        return _hours(float(np.nansum([run_dirs[d]["seconds"] for d in dirs])) if dirs else 0.0)

    paper = [d for d, r in run_dirs.items() if r["paper"]]
    earlier: dict[str, list[str]] = {}
    for d in run_dirs:
        if not run_dirs[d]["paper"] and d in counted:
            earlier.setdefault(counted[d][0], []).append(d)
    new = [d for d in run_dirs if not run_dirs[d]["paper"] and d not in counted]
    parts = [f"Training: {hours(list(run_dirs))} of single-thread wall-clock time over "
             f"{_plural(len(run_dirs), 'finished run')}"]
    if paper:
        parts.append(f"{hours(paper)} of it the paper's own runs ({len(paper)})")
    for other, dirs in earlier.items():
        parts.append(f"{hours(dirs)} shared with the {NAMES.get(other, other)} experiment, counted there ({len(dirs)})")
    parts.append(f"{hours(new)} beyond the paper{' and the experiments above' if earlier else ''} ({len(new)})")
    counted.update({d: (name, run_dirs[d]["seconds"]) for d in new})
    return "; ".join(parts) + "."


# how one experiment names another in "shared with the ... experiment"
NAMES = {"long_training": "longer-training", "sweep": "capacity-sweep", "sensitivity_training": "training-sensitivity"}


def ood_missing_runs(config: dict, results_dir, ood: pd.DataFrame) -> list[str]:
    """The paper's arithmetic runs (of the regimes experiments.ood.regimes names) without a row in ood.csv, and
    why: not run, trained elsewhere without its best.pt brought here, or not evaluated yet."""
    regimes = experiments_section(config)["ood"]["regimes"]
    have = {(r, m, int(s)) for r, m, s in ood[["regime", "model", "seed"]].itertuples(index=False)} if len(ood) else set()
    several = len(config.get("seeds", [])) > 1
    out = []
    for run in X.paper_runs(config):
        if run["task"] != "arithmetic" or run["regime"] not in regimes or \
                (run["regime"], run["model"], run["seed"]) in have:
            continue
        path = runs.run_path(results_dir, run["regime"], run["task"], run["model"], run["seed"])
        prov = read_provenance(path) or {}
        device = str(prov.get("device", "cpu"))
        if not (path / "metrics.csv").exists():
            why = "not run"
        elif not (path / "best.pt").exists():
            why = ("best.pt not here" if device.startswith("cpu")
                   else f"trained on a GPU ({device}), best.pt not here")
        elif not prov:
            why = "still training"
        else:
            why = "not evaluated yet"
        seed = f" seed {run['seed']}" if several else ""
        out.append(f"{runs.DISPLAY.get(run['model'], run['model'])} {run['regime']}{seed}: {why}")
    return out


TIME_NOTE = ("the sum of provenance.json's wall_seconds: each job ran one torch thread on cores shared with other "
             "jobs, so this is elapsed time, not CPU time; a stacked run counts its share of its stack's time")


def report_view(config: dict, results_dir) -> ExperimentsView:
    """One entry per experiment: its title, whether it is on, its tables (as HTML) and figures (embedded), its
    time (training: in all, the paper's own runs, runs an earlier experiment counted, the rest; evaluation-only:
    the re-sampling time its table records), or the sentence saying it was switched off. `total` sums the
    runs beyond the paper's over all experiments, each run (run directory) once."""
    exp = experiments_section(config)
    outputs = experiment_outputs(config, results_dir)
    view = ExperimentsView()
    counted: dict[str, tuple[str, float]] = {}  # run_dir -> (the first experiment in TITLES order to count it, seconds)
    evaluation = 0.0
    for name, title in TITLES.items():
        entry = {"name": name, "title": title, "note": NOTES[name], "enabled": bool(exp[name]["enabled"]),
                 "tables": [], "figures": [],
                 "time": "", "off": f"not run (switched off in config.yaml: experiments.{name}.enabled)"}
        if entry["enabled"]:
            seconds = 0.0
            for path in map(Path, outputs[name]):
                if not path.exists():
                    entry["tables" if path.suffix == ".csv" else "figures"].append({"path": str(path), "missing": True})
                    continue
                if path.suffix == ".png":
                    src = figures.embed_png(path)
                    entry["figures"].append({"path": str(path), "src": src, "missing": False})
                    continue
                df = pd.read_csv(path)
                if name.startswith("sensitivity"):  # one table, shown under both switches with its own rows
                    kind = "training" if name == "sensitivity_training" else "evaluation"
                    mine = df["kind"] == kind  # and the reference rows of the tasks it varies (training: arithmetic)
                    df = df[mine | ((df["kind"] == "reference") & df["task"].isin(set(df.loc[mine, "task"])))]
                    if kind == "evaluation":
                        seconds += float(pd.to_numeric(df.loc[df["kind"] == kind, "wall_seconds"], errors="coerce").sum())
                if name == "ood":
                    seconds += float(pd.to_numeric(df["wall_seconds"], errors="coerce").sum()) if "wall_seconds" in df else 0.0
                    if {"regime", "model", "seed"} <= set(df.columns):
                        missing = ood_missing_runs(config, results_dir, df)
                        if missing:
                            entry["note"] += " The paper's arithmetic runs without a row here: " + "; ".join(missing) + "."
                shown = display(path, df)
                entry["tables"].append({"path": str(path), "html": _table_html(shown, path), "missing": False})
            if name in EVALUATION_ONLY:
                evaluation += seconds
                if entry["tables"]:
                    entry["time"] = f"Evaluation time: {_hours(seconds)} of single-thread wall-clock time (no training)."
            else:
                entry["time"] = training_time(name, experiment_run_dirs(config, results_dir, name), counted)
        view.append(entry)
    if any(e["enabled"] for e in view):
        trained = float(np.nansum([seconds for _, seconds in counted.values()])) if counted else 0.0
        view.total = (f"Beyond the paper's own runs, the experiments switched on trained "
                      f"{_plural(len(counted), 'distinct run')} (each counted once, by run directory): {_hours(trained)} "
                      f"of single-thread wall-clock time ({TIME_NOTE}).")
        if any(exp[name]["enabled"] for name in EVALUATION_ONLY):
            view.total += f" Re-sampling checkpoints (the evaluation-only experiments) took {_hours(evaluation)} more."
    return view
