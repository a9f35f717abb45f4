"""Hand-made run directories for the analysis tests, with answers known by construction.

Each builder writes the files toobig.train writes (metrics.csv, provenance.json) under a temporary
results directory, so tables, figures, claims and the report read them exactly as they read real runs.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from toobig.analysis import paper, runs

REPO = Path(__file__).resolve().parents[1]
PAPER_DIR = REPO / "paper"
TOTALS = {"arithmetic": (910, 910, 40, 0), "capitals": (0, 0, 0, 500), "joint": (910, 910, 40, 500)}


def metrics_frame(task: str, evals: list[dict]) -> pd.DataFrame:
    """Rows of metrics.csv: each dict gives iter and the *_correct counts; totals follow the task; score and
    losses are filled in the way the trainer fills them."""
    add_t, sub_t, held_t, facts_t = TOTALS[task]
    rows = []
    for e in evals:
        row = {c: 0 for c in runs.METRIC_COLUMNS}
        row.update(add_total=add_t, sub_total=sub_t, heldout_total=held_t, facts_total=facts_t, lr=1e-2,
                   batch_loss=1.0, train_loss=None, val_loss=None)
        row.update(e)
        correct = row["add_correct"] + row["sub_correct"] + row["facts_correct"]
        row["score"] = correct / (add_t + sub_t + facts_t)
        if row["iter"] % 500 == 0 and "val_loss" not in e:
            row["train_loss"] = row["val_loss"] = round(2.0 / (1 + row["iter"] / 1000), 4)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(runs.METRIC_COLUMNS))


def write_run(results_dir: Path, regime: str, task: str, model: str, evals: list[dict], seed: int = 1337,
              finished: bool = True, parameters: int | None = None) -> Path:
    path = runs.run_path(results_dir, regime, task, model, seed)
    path.mkdir(parents=True, exist_ok=True)
    df = metrics_frame(task, evals)
    df.to_csv(path / "metrics.csv", index=False)
    pd.DataFrame({"iter": df["iter"], "wall_s": df["iter"] / 100}).to_csv(path / "timing.csv", index=False)
    if finished:
        best = runs.best_row(df)
        prov = {"run": f"{task}/{model}/{regime}/seed{seed}", "config": {}, "config_hash": "abc123def456",
                "git_commit": "0" * 40, "torch_version": "2.13.0", "device": "cpu (x86_64)", "threads": 1,
                "precision": "float32", "wall_seconds": 12.5, "best_iter": int(best["iter"]),
                "best_score": float(best["score"])}
        if parameters is not None:
            prov["parameters"] = parameters
        (path / "provenance.json").write_text(json.dumps(prov))
    return path


def small_config(max_iters: int = 1000) -> dict:
    """config.yaml with max_iters shortened to the fixtures' length; everything else as committed."""
    import yaml

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["training"]["max_iters"] = max_iters
    return config


def authors_as_runs(results_dir: Path, paper_dir: Path = PAPER_DIR) -> None:
    """Development data only: the authors' curves written as our metrics.csv. They record no held-out
    column, so heldout_correct is invented (40 when addition and subtraction are both perfect, else 0)."""
    for regime in ("main", "controlled"):
        for task in ("arithmetic", "capitals", "joint"):
            for model in ("n14", "n28", "n56"):
                df = paper.authors_curve(paper_dir, regime, task, model)
                evals = []
                for r in df.to_dict("records"):
                    perfect = r["add_total"] and r["add_correct"] == r["add_total"] and r["sub_correct"] == r["sub_total"]
                    e = {k: int(r[k]) for k in ("iter", "add_correct", "sub_correct", "facts_correct")}
                    e["heldout_correct"] = 40 if perfect else 0
                    if r["iter"] % 500 == 0:
                        e["train_loss"], e["val_loss"] = r["train_loss"], r["val_loss"]
                    evals.append(e)
                write_run(results_dir, regime, task, model, evals)


def E(it, add=0, sub=0, held=0, facts=0, **extra) -> dict:
    """One evaluation: iteration and correct counts."""
    return {"iter": it, "add_correct": add, "sub_correct": sub, "heldout_correct": held, "facts_correct": facts, **extra}


def paper_world(results_dir: Path) -> Path:
    """A small results tree (max_iters 1000) with known answers:
    main/arithmetic: n14 perfect at 500 and 1000 (best = 500, 40/40), n28 plateaus at 890/910 and 0/40 after one
    early 5/40, n56 not run yet, MLT absent (needs a GPU); main/capitals: n14 41/500 = 8.2%, n28 500/500;
    main/joint: n14 284/910, 359/910, 10/500, 0/40; n28 unfinished (trained to iteration 500)."""
    write_run(results_dir, "main", "arithmetic", "n14", [
        E(0), E(250, 500, 400), E(500, 910, 910, 40), E(750, 900, 910, 20), E(1000, 910, 910, 40)], parameters=1456)
    write_run(results_dir, "main", "arithmetic", "n28", [
        E(0), E(250, 800, 700, 5), E(500, 890, 890), E(750, 890, 890), E(1000, 890, 890)])
    write_run(results_dir, "main", "capitals", "n14", [E(0), E(500, facts=41), E(1000, facts=30)])
    write_run(results_dir, "main", "capitals", "n28", [E(0), E(500, facts=480), E(1000, facts=500)])
    write_run(results_dir, "main", "joint", "n14", [E(0), E(500, 284, 359, 0, 10), E(1000, 200, 300, 0, 10)])
    write_run(results_dir, "main", "joint", "n28", [E(0), E(250, 600, 600, 0, 300), E(500, 800, 800, 0, 400)],
              finished=False)
    return results_dir
