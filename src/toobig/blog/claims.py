"""Verdicts on the posts' claims, read from a run's tables (evals.csv, behaviour.csv), never from a model.

Each verdict is "supported", "not supported" or "undetermined", with the numbers it rests on. The
thresholds come from config.yaml (blog.claims) and were fixed before the runs; the measured numbers are
reported whatever the verdict.
"""
from __future__ import annotations

import math

import pandas as pd


def _verdict(ok: bool | None) -> str:
    return "undetermined" if ok is None else ("supported" if ok else "not supported")


def _fall_epoch(epochs: pd.Series, values: pd.Series, fraction: float = 0.5) -> float | None:
    """First epoch at which a loss has covered `fraction` of its drop from its first value to its minimum."""
    valid = values.notna()
    epochs, values = epochs[valid].to_numpy(), values[valid].to_numpy()
    if len(values) < 2 or values.min() >= values[0]:
        return None
    target = values[0] - fraction * (values[0] - values.min())
    return float(epochs[(values <= target).argmax()])


def final(behaviour: pd.DataFrame, split: str = "heldout", op: str = "ALL") -> pd.Series:
    last = behaviour["epoch"].max()
    return behaviour[(behaviour.epoch == last) & (behaviour.split == split) & (behaviour.op == op)].iloc[0]


def judge_claims(epochs: pd.DataFrame, evals: pd.DataFrame, behaviour: pd.DataFrame, thresholds: dict) -> list[dict]:
    out = []

    # 1) "evaluation loss falls before training loss" (logged train loss: dropout on, epoch mean)
    train_logged = epochs.set_index("epoch")["train_loss"]
    ev = evals.set_index("epoch")
    train_fall = _fall_epoch(train_logged.index.to_series(), train_logged)
    eval_fall = _fall_epoch(ev.index.to_series(), ev["eval_loss"])
    eval_mode_fall = _fall_epoch(ev.index.to_series(), ev["train_loss_eval_mode"])
    grid = float(ev.index.to_series().diff().max()) if len(ev) > 1 else math.inf   # eval resolution, epochs
    if train_fall is None or eval_fall is None or abs(train_fall - eval_fall) < grid:
        ok = None       # not separable at the resolution of the evaluations
    else:
        ok = eval_fall < train_fall
    out.append({"claim": "eval_loss_falls_before_train_loss",
                "text": "Evaluation loss falls before training loss",
                "verdict": _verdict(ok),
                "evidence": {"epoch_train_loss_half_drop": train_fall, "epoch_eval_loss_half_drop": eval_fall,
                             "epoch_train_loss_eval_mode_half_drop": eval_mode_fall, "eval_resolution_epochs": grid,
                             "note": "epoch at which each loss first covers half of its drop from its first value to "
                                     "its minimum; undetermined when the two are closer than the evaluation "
                                     "interval. The logged train loss is an epoch mean with dropout on, so it lags; "
                                     "the eval-mode train loss shows whether the model itself fits the training set "
                                     "later than the held-out set"}})

    # 2) "eval loss below train loss" explained by dropout: compare with the eval-mode train loss
    both = ev.join(train_logged.rename("logged"), how="inner").dropna(subset=["logged"])
    below = both[both["eval_loss"] < both["logged"]]
    explained = None
    if len(both):
        gap_logged = float((both["logged"] - both["eval_loss"]).mean())
        gap_eval_mode = float((both["train_loss_eval_mode"] - both["eval_loss"]).mean())
        if len(below):      # nothing to explain when eval loss never went below the logged train loss
            explained = bool((below["train_loss_eval_mode"] <= below["eval_loss"]).mean() >= 0.9)
    else:
        gap_logged = gap_eval_mode = math.nan
    out.append({"claim": "eval_below_train_explained_by_dropout",
                "text": "Evaluation loss below training loss is explained by dropout being on in training",
                "verdict": _verdict(explained),
                "evidence": {"evals_with_eval_below_logged_train": int(len(below)), "evals": int(len(both)),
                             "epochs_with_eval_below_logged_train": [int(e) for e in below.index],
                             "share_of_gap_closed_by_eval_mode": float(
                                 ((below["logged"] - below["train_loss_eval_mode"]) /
                                  (below["logged"] - below["eval_loss"])).mean()) if len(below) else math.nan,
                             "mean_logged_train_minus_eval": gap_logged,
                             "mean_eval_mode_train_minus_eval": gap_eval_mode,
                             "note": "supported when, at >= 90% of the evaluations where eval < logged train loss, "
                                     "the eval-mode train loss is not above the eval loss. The eval-mode loss removes "
                                     "both dropout and the lag of an epoch-mean training loss"}})

    # 3) "the operation is almost always right even when the answer is wrong"
    f = final(behaviour)
    value = f["op_recognised_when_wrong"]
    ok = None if f["n_wrong"] == 0 or pd.isna(value) else value >= thresholds["op_recognised_when_wrong"]
    per_op = {r.op: r.op_recognised_when_wrong for r in behaviour[(behaviour.epoch == f.epoch) &
                                                                 (behaviour.split == "heldout")].itertuples()}
    out.append({"claim": "operation_right_when_answer_wrong",
                "text": "The operation is almost always right even when the answer is wrong",
                "verdict": _verdict(ok),
                "evidence": {"heldout_wrong": int(f["n_wrong"]), "op_recognised_when_wrong": value,
                             "per_operation": per_op, "threshold": thresholds["op_recognised_when_wrong"]}})

    # 4) "division answers are numerically close"
    d = final(behaviour, op="DIVIDE")
    ok = None if pd.isna(d["rel_error_median"]) else d["rel_error_median"] <= thresholds["division_close_rel_error"]
    out.append({"claim": "division_numerically_close",
                "text": "Division answers are numerically close",
                "verdict": _verdict(ok),
                "evidence": {"divide_rel_error_median": d["rel_error_median"], "divide_rel_error_p90": d["rel_error_p90"],
                             "divide_within_k": d["within_k"], "divide_exact": d["exact"],
                             "threshold": thresholds["division_close_rel_error"]}})

    # 5) "termination failures are common"
    value = f["termination_when_wrong"]
    # a run-on can only be seen after a right start: too few right starts and the rate says nothing about stopping
    correct_prefix = int(round(f["n"] * (f["exact"] + f["termination_failure"])))
    ok = (None if f["n_wrong"] == 0 or correct_prefix < thresholds["min_correct_prefix"]
          else value >= thresholds["termination_common"])
    out.append({"claim": "termination_failures_common",
                "text": "Termination failures (correct prefix, run-on digits) are common",
                "verdict": _verdict(ok),
                "evidence": {"termination_when_wrong": value, "termination_failure_all": f["termination_failure"],
                             "run_on_digits_all": f["run_on_digits"], "overlong_all": f.get("overlong", math.nan),
                             "stopped_all": f["stopped"], "threshold": thresholds["termination_common"],
                             "heldout_correct_prefix": correct_prefix, "min_correct_prefix": thresholds["min_correct_prefix"],
                             "note": "termination failure = correct answer followed by run-on text; overlong = "
                                     "more digits than expected whatever the first digits (no correct prefix needed)"}})

    # 6) "no memorisation-then-grokking transition within the run"
    tr = behaviour[(behaviour.split == "train_subset") & (behaviour.op == "ALL")].set_index("epoch")["exact"]
    he = behaviour[(behaviour.split == "heldout") & (behaviour.op == "ALL")].set_index("epoch")["exact"].sort_index()
    memorised = tr[tr >= thresholds["memorised_train_exact"]]
    first_mem = None if memorised.empty else float(memorised.index.min())
    jumps = he.diff()
    after = jumps[jumps.index > first_mem] if first_mem is not None else jumps.iloc[0:0]
    grokked = bool((after >= thresholds["grokking_jump"]).any())
    out.append({"claim": "no_memorisation_then_grokking",
                "text": "No memorisation-then-grokking transition within the run",
                # a transition after memorisation cannot be judged in a run that never memorised
                "verdict": _verdict(None if first_mem is None else not grokked),
                "evidence": {"first_epoch_train_exact_ge_threshold": first_mem,
                             "max_train_subset_exact": float(tr.max()), "max_heldout_exact": float(he.max()),
                             "largest_heldout_exact_jump": float(jumps.max()) if len(jumps) > 1 else math.nan,
                             "final_train_minus_heldout_exact": float(tr.iloc[-1] - he.iloc[-1]),
                             "thresholds": {"memorised": thresholds["memorised_train_exact"],
                                            "jump": thresholds["grokking_jump"]}}})
    return out


def compare_learn_to_stop(off: pd.DataFrame, on: pd.DataFrame) -> dict:
    """Does teaching the end-of-text token remove the termination failures? Final held-out numbers per operation."""
    rows = {}
    for op in ("SUM", "SUBTRACT", "MULTIPLY", "DIVIDE", "ALL"):
        a, b = final(off, op=op), final(on, op=op)
        rows[op] = {m: {"off": float(a[m]), "on": float(b[m])}
                    for m in ("exact", "termination_failure", "run_on_digits", "overlong", "stopped",
                              "op_recognised", "digit_accuracy")}
    off_t, on_t = rows["ALL"]["termination_failure"]["off"], rows["ALL"]["termination_failure"]["on"]
    if off_t == 0:
        verdict = "undetermined"     # nothing to remove
    else:
        verdict = "supported" if on_t <= 0.1 * off_t else "not supported"
    off_o, on_o = rows["ALL"]["overlong"]["off"], rows["ALL"]["overlong"]["on"]
    verdict_overlong = "undetermined" if off_o == 0 else ("supported" if on_o <= 0.1 * off_o else "not supported")
    return {"claim": "learn_to_stop_removes_termination_failures",
            "text": "Teaching the end-of-text token removes the termination failures",
            "verdict": verdict,
            "verdict_overlong": verdict_overlong,
            "evidence": {"per_operation": rows,
                         "note": "verdict: the held-out termination-failure rate (correct prefix + run-on) with "
                                 "learn_to_stop falls to at most a tenth of the rate without it; verdict_overlong: "
                                 "the same test on overlong answers (more digits than expected, any prefix)"}}
