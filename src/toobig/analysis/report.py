"""One self-contained HTML page: verdicts, Tables 1-7, Figures 1-7, what was not run, protocol, provenance.

The page reads only generated files (tables, claims, figures) plus config.yaml and each run's
provenance.json; images are embedded as base64, so the single file opens from disk with no network.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import jinja2
import pandas as pd

from .. import experiments as X
from ..fsutil import atomic_write_text
from ..provenance import read_provenance
from . import paper, runs
from .figures import embed_png
from .experiments import report_view as experiments_view

METRIC_HEADERS = {"addition": "Addition", "subtraction": "Subtraction", "facts": "Facts", "combined": "Combined",
                  "heldout": "(5,7)*"}
VERDICT_ORDER = ("reproduced", "not reproduced", "not run")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _percent(value) -> str:
    return "" if _missing(value) else f"{value:.1f}%"


def _signed(value, suffix: str = "") -> str:
    return "" if _missing(value) else f"{value:+.1f}{suffix}".replace("-", "−")


def trained_on_gpu(provenance: dict) -> str:
    """"" for a run trained on the CPU (float32, as every n-model here); the device and precision of one trained on a
    GPU, so that a table row or the not-run section says when it was not made the way its neighbours were."""
    device = str(provenance.get("device", "cpu"))
    if device.startswith("cpu"):
        return ""
    return f"trained on {device}" + (f", {provenance['precision']}" if provenance.get("precision") else "")


def seed_intervals(seeds_csv: str | Path | None) -> dict:
    """(regime, task, model, metric) -> "mean [95% interval], k seeds" from the seeds experiment's seeds.csv (the
    metric as the results tables name it); {} without the file."""
    if seeds_csv is None or not Path(seeds_csv).exists():
        return {}
    out = {}
    for r in pd.read_csv(seeds_csv).to_dict("records"):
        if not r["seeds_complete"] or _missing(r["mean"]):
            continue
        metric = "heldout" if r["metric"] == "heldout_correct" else r["metric"]
        fmt = (lambda v: f"{v:.1f}") if metric == "heldout" else (lambda v: f"{v:.1f}%")
        interval = "" if _missing(r["ci95_low"]) else f" [{fmt(r['ci95_low'])}, {fmt(r['ci95_high'])}]"
        out[(r["regime"], r["task"], r["model"], metric)] = (f"{fmt(r['mean'])}{interval}"
                                                             f"{'/40' if metric == 'heldout' else ''}, "
                                                             f"{int(r['seeds_complete'])} seed"
                                                             f"{'' if r['seeds_complete'] == 1 else 's'}")
    return out


def results_table_view(df: pd.DataFrame, over_seeds: dict | None = None) -> dict:
    """Tables 2-7 formatted like the paper: per metric, ours, the paper's printed value, the difference, and (with
    the seeds experiment) the mean and 95% interval over seeds."""
    task = df["task"].iloc[0]
    metrics = runs.TASK_METRICS[task]
    rows = []
    for r in df.to_dict("records"):
        cells = []
        for m in metrics:
            seeds = (over_seeds or {}).get((r["regime"], r["task"], r["model"], m), "")
            if m == "heldout":
                ours = "" if _missing(r["heldout_correct"]) else r["heldout"]
                diff = "" if _missing(r["heldout_diff"]) else f"{int(r['heldout_diff']):+d}".replace("-", "−")
                cells.append({"ours": ours, "paper": r["paper_heldout_printed"], "diff": diff, "match": None,
                              "seeds": seeds})
            else:
                cells.append({"ours": _percent(r[m]), "paper": r[f"paper_{m}_printed"],
                              "diff": _signed(r[f"{m}_diff"], " pt"), "match": r[f"{m}_matches_printed"],
                              "seeds": seeds})
        rows.append({
            "model": runs.DISPLAY[r["model"]] + (f" (seed {r['seed']})" if df["seed"].nunique() > 1 else ""),
            "parameters": f"{int(r['parameters']):,}", "paper_parameters": r["paper_parameters_printed"],
            "status": r["status"], "note": "" if _missing(r["note"]) else r["note"], "cells": cells,
            "best_iter": "" if _missing(r["best_iter"]) else int(r["best_iter"]),
            "grid": "" if _missing(r["grid"]) else f"{int(r['grid'])} per operator",
            "run_dir": r["run_dir"], "trained_on": trained_on_gpu(read_provenance(r["run_dir"]) or {}),
        })
    return {"headers": [METRIC_HEADERS[m] for m in metrics], "rows": rows, "arithmetic": task != "capitals"}


def hyperparameter_view(df: pd.DataFrame) -> dict:
    rows = []
    for r in df.to_dict("records"):
        ours = [r[m] for m in runs.MODELS]
        rows.append({"parameter": r["parameter"], "key": r["config_key"], "regime": r["regime"], "source": r["source"],
                     "ours": ["" if _missing(v) else f"{v:g}" for v in ours], "paper": r["paper_printed"],
                     "match": bool(r["matches"])})
    return {"models": [runs.DISPLAY[m] for m in runs.MODELS], "rows": rows}


def flatten(config: dict, prefix: str = "") -> list[tuple[str, str]]:
    """config.yaml as (dotted key, value) rows; lists of scalars stay on one row."""
    rows = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += flatten(value, name + ".")
        elif isinstance(value, list) and value and isinstance(value[0], list):
            rows.append((name, "; ".join(", ".join(map(str, v)) for v in value)))
        else:
            rows.append((name, json.dumps(value) if not isinstance(value, str) else value))
    return rows


def blog_section(fragment_html: str | Path | None) -> str | None:
    """The blog experiment's HTML fragment (toobig.blog.report), its images embedded so the page stays one file."""
    if not fragment_html or not Path(fragment_html).exists():
        return None
    base = Path(fragment_html).parent
    return re.sub(r'src="([^":]+\.png)"', lambda m: f'src="{embed_png(base / m.group(1))}"', Path(fragment_html).read_text())


def short_commit(commit: str) -> str:
    """A hash shortened to 12 digits; any other label (a GPU session's "<hash>+<fix>") whole."""
    return commit[:12] if re.fullmatch(r"[0-9a-f]{13,40}", commit) else commit


def partial_gpu_run(results_dir: str | Path, run: runs.RunResult) -> str:
    """Where a GPU session left this run unfinished (results/gpu/<session>/partial_runs/, not tabulated), the furthest."""
    found = []
    for metrics in Path(results_dir).glob(f"gpu/*/partial_runs/{run.regime}/{run.task}/{run.model}/seed{run.seed}/metrics.csv"):
        last = pd.read_csv(metrics, usecols=["iter"])["iter"].max()
        found.append((int(last), metrics.parent))
    if not found:
        return ""
    last, where = max(found)
    return f"; a GPU session stopped it at iteration {last:,}, kept in {where} (not tabulated)"


def provenance_rows(config: dict, results_dir: str | Path) -> tuple[list[dict], list[dict]]:
    """(one row per present run with its provenance, one row per run not run or unfinished with the reason)."""
    present, absent = [], []
    max_iters = config.get("training", {}).get("max_iters")
    for regime in config.get("regimes", ("main", "controlled")):
        for task in config.get("tasks", ("arithmetic", "capitals", "joint")):
            for run in runs.load_runs(config, results_dir, regime, task):
                if run.status == "absent":
                    absent.append({"run": run.label, "reason": run.note + partial_gpu_run(results_dir, run)})
                    continue
                p = run.provenance
                if run.status != "complete":
                    absent.append({"run": run.label, "reason": run.note})
                present.append({"run": run.label, "dir": str(run.path), "status": run.status,
                                "commit": short_commit(str(p.get("git_commit", ""))), "config_hash": p.get("config_hash", ""),
                                "device": p.get("device", "") + (f"; {p['cpu']}" if p.get("cpu") and
                                                                 p.get("device", "").startswith("cpu") else ""),
                                "gpu": bool(trained_on_gpu(p)),
                                "best_kept": (run.path / "best.pt").exists(),
                                "precision": p.get("precision", ""),
                                "torch": p.get("torch_version", ""), "threads": p.get("threads", ""),
                                "wall": "" if "wall_seconds" not in p else f"{p['wall_seconds'] / 60:.1f} min",
                                "best_iter": p.get("best_iter", ""),
                                "evaluations": len(run.metrics), "last_iter": int(run.metrics["iter"].iloc[-1]),
                                "max_iters": max_iters})
    return present, absent + unfinished_experiment_runs(config, results_dir)


def unfinished_experiment_runs(config: dict, results_dir: str | Path) -> list[dict]:
    """One row per run beyond the paper's that a switched-on experiment plans and that has not finished (no
    provenance.json), naming the experiments that read it."""
    paper_runs = {tuple(run.values()) for run in X.paper_runs(config)}
    wanted: dict[tuple, list[str]] = {}
    for name in X.experiments_section(config):
        if X.enabled(config, name):
            for run in X.experiment_runs(config, name):
                key = (run["regime"], run["task"], run["model"], int(run["seed"]))
                if key not in paper_runs:
                    wanted.setdefault(key, []).append(name)
    rows = []
    for (regime, task, model, seed), names in wanted.items():
        path = runs.run_path(results_dir, regime, task, model, seed)
        if (path / "provenance.json").exists():
            continue
        started = (path / "metrics.csv").exists()
        state = "training, or stopped before the end (resumes from resume.pt)" if started else "not trained yet"
        rows.append({"run": f"{regime}/{task}/{model}/seed{seed}",
                     "reason": f"{state}; planned by experiments.{', experiments.'.join(names)}"})
    return rows


def ood_view(ood_csvs: list, paper_seed: int) -> list[dict]:
    """Section 5.1's accuracies, one row per seed's .../seed<N>/ood.csv that exists, the paper's seed first (the
    value the paper quotes is that run's)."""
    rows = []
    for path in ood_csvs:
        if Path(path).exists():
            r = pd.read_csv(path).iloc[0]
            rows.append({"seed": int(re.search(r"seed(\d+)", str(path)).group(1)), "path": str(path),
                         "add": f"{100 * r.ood_add_correct / r.ood_add_total:.2f}%",
                         "add_counts": f"{r.ood_add_correct}/{r.ood_add_total}",
                         "sub": f"{100 * r.ood_sub_correct / r.ood_sub_total:.2f}%",
                         "sub_counts": f"{r.ood_sub_correct}/{r.ood_sub_total}"})
    return sorted(rows, key=lambda o: (o["seed"] != paper_seed, o["seed"]))


def render_report(config: dict, results_dir: str | Path, paper_dir: str | Path, tables: dict, figures: dict,
                  claims_csv: str | Path, template_dir: str | Path, out: str | Path,
                  ood_csvs: list | None = None, extended_dir: str | Path | None = None,
                  blog_fragment: str | Path | None = None) -> str:
    """tables / figures: {number: csv path / png path}. Returns the HTML it wrote to out."""
    caps = paper.captions(paper_dir)
    claims = pd.read_csv(claims_csv, keep_default_na=False)
    for column in ("seeds_reproduced", "seeds_detail"):  # absent from a claims.csv written before they existed
        if column not in claims:
            claims[column] = ""
    if "kind" not in claims:
        claims["kind"] = "paper"
    paper_claims = claims[claims["kind"] == "paper"]
    summary = {v: int((paper_claims["verdict"] == v).sum()) for v in VERDICT_ORDER}
    stand_ins = claims[claims["kind"] != "paper"]
    verdicts = dict(zip(claims["id"], claims["verdict"]))

    def readings(caption: dict) -> list[dict]:
        """The paper's reading of a table or figure: the claims its caption names, with our verdicts."""
        unknown = [c for c in caption.get("claims", []) if c not in verdicts]
        if unknown:
            raise ValueError(f"paper/captions.yaml names claims that {claims_csv} does not judge: {', '.join(unknown)}")
        return [{"id": c, "verdict": verdicts[c]} for c in caption.get("claims", [])]

    seeds_csv = Path(results_dir) / "experiments" / "seeds.csv"
    over_seeds = seed_intervals(seeds_csv if X.enabled(config, "seeds") else None)
    table_views = []
    for n in sorted(tables):
        df = pd.read_csv(tables[n], keep_default_na=True)
        view = hyperparameter_view(df) if n == 1 else results_table_view(df, over_seeds)
        table_views.append({"number": n, "caption": caps["tables"][n], "kind": "hyper" if n == 1 else "results",
                            "view": view, "csv": str(tables[n]), "claims": readings(caps["tables"][n])})
    figure_views = [{"number": n, "caption": caps["figures"][n], "src": embed_png(figures[n]), "png": str(figures[n]),
                     "claims": readings(caps["figures"][n])} for n in sorted(figures)]
    present, absent = provenance_rows(config, results_dir)
    quoted = paper.text_values(paper_dir)
    ood_rows = ood_view(ood_csvs or [], list(config.get("seeds", [1337]))[0])
    extended = None
    ext = runs.load_extended(extended_dir) if extended_dir else None
    if ext is not None and ext.status == "complete":
        m = ext.metrics
        extended = {"val_ce": f"{m['val_loss'].min():.4f}", "heldout": f"{int(m['heldout_correct'].max())}/40 at most",
                    "dir": str(ext.path)}
    extended_note = ext.note if ext is not None and ext.status != "complete" else runs.NEEDS_GPU
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    html = env.get_template("report.html.j2").render(
        claims=claims.to_dict("records"), summary=summary, stand_ins=stand_ins.to_dict("records"), tables=table_views, figures=figure_views,
        present=present, absent=absent, protocol=flatten(config), quoted=quoted, ood=ood_rows,
        extended=extended, extended_note=extended_note,
        experiments=experiments_view(config, results_dir),
        blog=blog_section(blog_fragment),
        seeds=list(config.get("seeds", [1337])),
        grid=config.get("evaluation", {}).get("grid"), samples=config.get("evaluation", {}).get("samples_per_prompt"),
    )
    atomic_write_text(out, html)
    return html
