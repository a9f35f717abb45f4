"""Tables for the report: the prediction table (posts' part 1) and final per-operation metrics."""
from __future__ import annotations

import pandas as pd

from toobig.blog.config import OPERATIONS
from toobig.blog.data import Problem
from toobig.blog.observations import observe

SYMBOL = {"SUM": "+", "SUBTRACT": "−", "MULTIPLY": "×", "DIVIDE": "÷"}


def _row_dict(r) -> dict:
    return {k: (None if pd.isna(v) else v) for k, v in r.items()}


def prediction_table(predictions: pd.DataFrame, per_operation: int = 3, k: int = 3) -> pd.DataFrame:
    """Held-out predictions, `per_operation` per operation: the first correct one (if any), then wrong ones
    in file order, each with its automatic observation."""
    held = predictions[predictions.split == "heldout"]
    out = []
    for op in OPERATIONS:
        sel = held[held.op == op]
        picks = pd.concat([sel[sel.exact].head(1), sel[~sel.exact]]).head(per_operation)
        for r in picks.itertuples(index=False):
            row = _row_dict(r._asdict())
            row["answer"] = "" if row["answer"] is None else str(row["answer"])
            p = Problem(op, int(r.a), int(r.b), str(r.expected))
            out.append({"operation": op, "input": f"{r.a} {SYMBOL[op]} {r.b}", "expected": str(r.expected),
                        "model_output": row["answer"], "observation": observe(p, row, k)})
    return pd.DataFrame(out, columns=["operation", "input", "expected", "model_output", "observation"])


def observation_counts(predictions: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """How often each observation occurs on the held-out set, per operation (columns in OPERATIONS order)."""
    held = predictions[predictions.split == "heldout"]
    obs = []
    for r in held.itertuples(index=False):
        row = _row_dict(r._asdict())
        row["answer"] = "" if row["answer"] is None else str(row["answer"])
        obs.append((r.op, observe(Problem(r.op, int(r.a), int(r.b), str(r.expected)), row, k)))
    df = pd.DataFrame(obs, columns=["op", "observation"])
    table = df.groupby(["observation", "op"]).size().unstack("op", fill_value=0)
    table = table.reindex(columns=list(OPERATIONS), fill_value=0)
    table["ALL"] = table.sum(axis=1)
    return table.sort_values("ALL", ascending=False).reset_index()


def final_metrics(behaviour: pd.DataFrame) -> pd.DataFrame:
    last = behaviour[behaviour.epoch == behaviour.epoch.max()]
    order = {op: i for i, op in enumerate((*OPERATIONS, "ALL"))}
    last = last.assign(_o=last.op.map(order)).sort_values(["split", "_o"]).drop(columns="_o")
    return last.reset_index(drop=True)
