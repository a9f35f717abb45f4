"""The paper's claims (paper/claims.yaml) checked against our measured runs.

Each claim is a list of checks; each check names a predicate below and its arguments. A check over several
models passes only if it holds for every model that was run; models not run are listed, never guessed.
Verdicts: "reproduced" (every check that could run holds), "not reproduced" (some check fails),
"not run" (no check could run). The evidence column holds the numbers behind each verdict.
"""
from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import experiments as X
from ..fsutil import atomic_write_csv
from . import paper, runs

OPS = {"==": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
PASS, FAIL, NOT_RUN = "pass", "fail", "not run"
REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"
OOD_METRICS = {"ood_addition": "ood_add", "ood_subtraction": "ood_sub"}


def ood_path(results_dir: str | Path, regime: str, model: str, seed: int) -> Path:
    """Where the out-of-domain evaluation of a run's best checkpoint is written (see ood.py)."""
    return Path(results_dir) / "ood" / regime / "arithmetic" / model / f"seed{seed}" / "ood.csv"


class Measured:
    """Our results, loaded on first use: runs by (regime, task, model, seed), OOD results, the extended run."""

    def __init__(self, config: dict, results_dir: str | Path, extended_dir: str | Path | None = None,
                 leave_out: tuple[str, ...] = ()):
        self.config, self.results_dir, self.leave_out = config, Path(results_dir), leave_out
        self.seeds = list(config.get("seeds", [1337]))
        self.extended_dir = Path(extended_dir) if extended_dir else runs.run_path(
            results_dir, "extended", "arithmetic", "mlt", self.seeds[0])
        self._runs: dict = {}

    def run(self, regime: str, task: str, model: str, seed: int) -> runs.RunResult:
        key = (regime, task, model, seed)
        if model in self.leave_out:  # judged as not run (over_seeds: the MLT, trained at one seed only)
            return runs.RunResult(regime, task, model, seed, runs.run_path(self.results_dir, *key), "absent",
                                  runs.absent_note(model))
        if key not in self._runs:
            # the run's own length: an experiment's runs may train longer than the paper's (300k iterations)
            max_iters = X.resolve_experiment_run(self.config, task, model, regime, seed).max_iters
            run = runs.load_run(self.results_dir, regime, task, model, seed, max_iters,
                                self.config.get("finished_runs_only", False))
            unplanned = self._unplanned(regime, task, model, seed)
            self._runs[key] = dataclasses.replace(run, note=unplanned) if unplanned and not run.present else run
        return self._runs[key]

    def _unplanned(self, regime: str, task: str, model: str, seed: int) -> str | None:
        """Why an experiment's run is absent when the config never asks for it (not "not run yet")."""
        spec = X.experiment_regimes(self.config).get(regime)
        if spec is None:
            return None
        name = spec["experiment"]
        if not X.enabled(self.config, name):
            return f"not planned: experiments.{name} is off"
        planned = {"regime": regime, "task": task, "model": model, "seed": int(seed)} in X.experiment_runs(self.config, name)
        return None if planned else f"not planned: experiments.{name} does not ask for it"

    def ood(self, regime: str, model: str, seed: int) -> dict | None:
        path = ood_path(self.results_dir, regime, model, seed)
        return pd.read_csv(path).iloc[0].to_dict() if path.exists() else None

    def extended(self) -> runs.RunResult:
        return runs.load_extended(self.extended_dir)


@dataclass
class CheckResult:
    status: str
    evidence: list[str] = field(default_factory=list)  # "n14: 40/40", one per model measured
    not_run: list[str] = field(default_factory=list)  # "MLT (not run here (needs a GPU))"


def _fmt(metric: str, value: float) -> str:
    if metric.startswith("heldout"):
        return f"{value:g}/40"
    if "loss" in metric:
        return f"{value:.4f}"
    return f"{value:.2f}%"


def _named(metric: str, value: float) -> str:
    """"held-out 40/40", "ood subtraction 4.75%": evidence lines name what they measured."""
    return f"{metric.replace('heldout', 'held-out').replace('_', ' ')} {_fmt(metric, value)}"


def _combine(parts: list[tuple[str, bool | None, str]]) -> CheckResult:
    """parts: (model label, holds? or None when not run, evidence or reason)."""
    result = CheckResult(NOT_RUN)
    for label, holds, text in parts:
        if holds is None:
            result.not_run.append(f"{label} ({text})")
        else:
            result.evidence.append(f"{label}: {text}{'' if holds else ' ✗'}")
    ran = [holds for _, holds, _ in parts if holds is not None]
    if ran:
        result.status = PASS if all(ran) else FAIL
    return result


def _run_value(run: runs.RunResult, metric: str, stat: str = "best", iters=None) -> float:
    """A metric of a run: at its best evaluation, or the max/min/mean over evaluations in [lo, hi)."""
    if stat == "best":
        row = run.best()
        return runs.counts(row, metric)[0] if metric == "heldout" else runs.percent(row, metric)
    df = run.metrics
    if iters is not None:
        lo, hi = iters
        df = df[(df["iter"] >= lo) & ((df["iter"] < hi) if hi is not None else True)]
    if df.empty:
        return float("nan")  # no evaluation in the window: the caller reports it as not run
    series = runs.counts(df, metric)[0] if metric == "heldout" else runs.percent(df, metric)
    return float(getattr(series, stat)())


def _per_model(measured: Measured, regime: str, task: str, models: list[str], evaluate) -> CheckResult:
    """evaluate(run) -> (holds, text) for every configured seed of each model; absent runs are not run."""
    parts = []
    for model in models:
        for seed in measured.seeds:
            run = measured.run(regime, task, model, seed)
            label = runs.DISPLAY.get(model, model) + (f"/seed{seed}" if len(measured.seeds) > 1 else "")
            if regime not in ("main", "controlled"):  # an experiment's regime: claims may ask several of them
                label += f" {regime}"
            if run.status != "complete":  # named with its regime: a claim may check main and controlled
                parts.append((f"{regime} {label}" if regime == "controlled" else label, None, run.note))
            else:
                parts.append((label, *evaluate(run)))
    return _combine(parts)


# ---- predicates: each returns a CheckResult ----------------------------------------------------------
def best(measured, regime, task, models, metric, op, value):
    def evaluate(run):
        v = _run_value(run, metric)
        return (OPS[op](v, value),
                f"{_named(metric, v)} (best evaluation, iter {int(run.best()['iter'])}; needs {op} {_fmt(metric, value)})")
    return _per_model(measured, regime, task, models, evaluate)


def over_training(measured, regime, task, models, metric, stat, op, value, iters=None):
    window = "" if iters is None else f" over iterations [{iters[0]}, {iters[1] if iters[1] is not None else 'end'})"
    def evaluate(run):
        v = _run_value(run, metric, stat, iters)
        if v != v:  # NaN: the run has no evaluation in the window (a shortened run, or iters beyond max_iters)
            return None, f"no evaluation{window}"
        return OPS[op](v, value), f"{stat} {_named(metric, v)}{window} (needs {op} {_fmt(metric, value)})"
    return _per_model(measured, regime, task, models, evaluate)


CONDITIONS = {"add_and_sub_perfect": lambda m: (m["add_total"] > 0) & (m["add_correct"] == m["add_total"])
              & (m["sub_correct"] == m["sub_total"])}


def count_evaluations(measured, regime, task, models, condition, op, value):
    def evaluate(run):
        hits = run.metrics[CONDITIONS[condition](run.metrics)]
        first = f", first at iter {int(hits['iter'].iloc[0])}" if len(hits) else ""
        return OPS[op](len(hits), value), f"{len(hits)} of {len(run.metrics)} evaluations {condition}{first} (needs {op} {value})"
    return _per_model(measured, regime, task, models, evaluate)


def compare_best(measured, left, op, right):
    parts = []
    for seed in measured.seeds:
        sides = [measured.run(s["regime"], s["task"], s["model"], seed) for s in (left, right)]
        label = " vs ".join(f"{runs.DISPLAY[s['model']]} {s['task']} {s['metric']}" for s in (left, right))
        missing = [r for r in sides if r.status != "complete"]
        if missing:
            parts.append((label, None, "; ".join(f"{r.label}: {r.note}" for r in missing)))
            continue
        lv, rv = (_run_value(r, s["metric"]) for r, s in zip(sides, (left, right)))
        parts.append((label, OPS[op](lv, rv), f"{_fmt(left['metric'], lv)} {op} {_fmt(right['metric'], rv)}?"))
    return _combine(parts)


def compare_over_training(measured, regime, task, models, stat, left, op, right):
    def evaluate(run):
        lv, rv = _run_value(run, left, stat), _run_value(run, right, stat)
        return OPS[op](lv, rv), f"{stat} {_named(left, lv)} {op} {stat} {_named(right, rv)}?"
    return _per_model(measured, regime, task, models, evaluate)


def ood(measured, regime, model, metric, op, value=None, than=None):
    parts = []
    for seed in measured.seeds:
        label = f"{runs.DISPLAY[model]} out of domain"
        result = measured.ood(regime, model, seed)
        if result is None:
            run = measured.run(regime, "arithmetic", model, seed)
            parts.append((label, None, "no out-of-domain evaluation yet" if run.present else run.note))
            continue

        def pct(name):
            kind = OOD_METRICS[name]
            return 100.0 * result[f"{kind}_correct"] / result[f"{kind}_total"]

        v = pct(metric)
        target = pct(than) if than else value
        target_text = _named(than, target) if than else _fmt(metric, target)
        parts.append((label, OPS[op](v, target), f"{_named(metric, v)} (needs {op} {target_text})"))
    return _combine(parts)


def extended(measured, metric, op, value):
    run = measured.extended()
    if run.status != "complete":
        return _combine([("MLT extended", None, run.note)])
    m = run.metrics
    values = {"heldout_max": m["heldout_correct"].max(), "addition_final": runs.percent(m.iloc[-1], "addition"),
              "subtraction_final": runs.percent(m.iloc[-1], "subtraction"), "val_loss_min": m["val_loss"].min()}
    v = float(values[metric])
    return _combine([("MLT extended", OPS[op](v, value), f"{_named(metric, v)} (needs {op} {_fmt(metric, value)})")])


def smallest_viable(measured, task, model, min_accuracy):
    """`model` learns the task (addition and subtraction both >= min_accuracy % at its best evaluation) and no
    width of the capacity sweep (experiments.sweep) below it does, for the paper's seed(s)."""
    sweep = (measured.config.get("experiments") or {}).get("sweep") or {}
    width = int(model[1:])
    smaller = [f"n{w}" for w in sweep.get("widths", []) if w < width] if sweep.get("enabled") else []
    if not smaller:
        return _combine([("capacity sweep", None, f"no sweep width below {model} (experiments.sweep is off)")])

    def evaluate(run):
        add, sub = (runs.percent(run.best(), metric) for metric in ("addition", "subtraction"))
        learned = add >= min_accuracy and sub >= min_accuracy
        expected = run.model == model
        return learned == expected, (f"addition {add:.2f}%, subtraction {sub:.2f}% "
                                     f"({'learned' if learned else 'not learned'}; should {'' if expected else 'not '}"
                                     f"reach {min_accuracy:g}% on both)")
    return _per_model(measured, sweep.get("regime", "main"), task, smaller + [model], evaluate)


def untested(measured, reason):
    return _combine([("claim", None, reason)])


PREDICATES = {f.__name__: f for f in (best, over_training, count_evaluations, compare_best, compare_over_training,
                                      ood, extended, smallest_viable, untested)}


def check(measured: Measured, spec: dict) -> CheckResult:
    args = dict(spec)
    name = args.pop("predicate", None)
    if name not in PREDICATES:
        raise ValueError(f"claims.yaml: unknown predicate {name!r} in {spec}; known: {', '.join(PREDICATES)}")
    if "op" in args and args["op"] not in OPS:
        raise ValueError(f"claims.yaml: unknown op {args['op']!r} in {spec}; use one of {', '.join(OPS)}")
    try:
        return PREDICATES[name](measured, **args)
    except TypeError as err:
        raise ValueError(f"claims.yaml: wrong arguments for predicate {name!r} in {spec}: {err}") from None


def verdict(results: list[CheckResult]) -> str:
    if any(r.status == FAIL for r in results):
        return NOT_REPRODUCED
    if all(r.status == NOT_RUN for r in results):
        return NOT_RUN
    return REPRODUCED


def evaluate_claims(claims: list[dict], measured: Measured) -> pd.DataFrame:
    rows = []
    for claim in claims:
        results = [check(measured, spec) for spec in claim["checks"]]
        not_run = sorted({item for r in results for item in r.not_run})
        rows.append({
            "id": claim["id"], "section": claim["section"], "source": claim.get("source", ""),
            "kind": claim.get("kind", "paper"),  # "stand-in": our own question in the paper's place, not counted
            "verdict": verdict(results),
            "checks_passed": sum(r.status == PASS for r in results),
            "checks_failed": sum(r.status == FAIL for r in results),
            "checks_not_run": sum(r.status == NOT_RUN for r in results),
            "evidence": " | ".join("; ".join(r.evidence) for r in results if r.evidence),
            "not_run": "; ".join(not_run),
            "quote": claim["quote"], "note": claim.get("note", ""),
        })
    return pd.DataFrame(rows)


def over_seeds(claims: list[dict], config: dict, results_dir: str | Path, seeds: list[int],
               extended_dir: str | Path | None = None) -> pd.DataFrame:
    """Every claim judged on each seed alone, on the n-models (the MLT is trained at one seed only, so with it no
    other seed could count). A seed counts when its runs cover what the first configured seed's cover (the same
    "not run" list) and some check ran: then "k/n" = reproduced in k of those n seeds."""
    first = list(config.get("seeds", [1337]))[0]
    verdicts = {}
    for seed in [first] + [s for s in seeds if s != first]:
        # the extended MLT run is one seed's; the other seeds look for their own (and find none)
        measured = Measured({**config, "seeds": [seed]}, results_dir, extended_dir if seed == first else None,
                            leave_out=("mlt",))
        verdicts[seed] = evaluate_claims(claims, measured).set_index("id")[["verdict", "not_run"]]
    rows = []
    for claim_id, base in verdicts[first].iterrows():
        counted = {s: v.loc[claim_id, "verdict"] for s, v in verdicts.items()
                   if v.loc[claim_id, "not_run"] == base["not_run"] and v.loc[claim_id, "verdict"] != NOT_RUN}
        held = [s for s, verdict in counted.items() if verdict == REPRODUCED]
        failed = [s for s in counted if s not in held]
        detail = "; ".join(f"{label} in {' '.join(map(str, group))}" for label, group
                           in ((REPRODUCED, held), (NOT_REPRODUCED, failed)) if group)
        rows.append({"id": claim_id, "seeds_reproduced": f"{len(held)}/{len(counted)}" if len(counted) > 1 else "",
                     "seeds_detail": detail if len(counted) > 1 else ""})
    return pd.DataFrame(rows)


def claim_seeds(config: dict) -> list[int]:
    """The configured seeds and, when the seeds experiment is on, its seeds: the seeds a claim is judged on."""
    seeds = list(config.get("seeds", [1337]))
    if X.enabled(config, "seeds"):
        seeds += [s for s in X.experiments_section(config)["seeds"]["seeds"] if s not in seeds]
    return seeds


def write_claims(config: dict, results_dir: str | Path, paper_dir: str | Path, out: str | Path,
                 extended_dir: str | Path | None = None) -> pd.DataFrame:
    claims = paper.claims(paper_dir)
    df = evaluate_claims(claims, Measured(config, results_dir, extended_dir))
    df = df.merge(over_seeds(claims, config, results_dir, claim_seeds(config), extended_dir), on="id", how="left")
    atomic_write_csv(out, df)
    return df
