"""The automatic one-line observation of the prediction table (the posts' "Observation" column)."""
from __future__ import annotations

from toobig.blog.data import Problem
from toobig.blog.metrics import integer_digits, nearest_operation, numeric_prefix


def observe(problem: Problem, row: dict, k: int = 3) -> str:
    """First matching rule wins; `row` is metrics.score's output for this prediction."""
    if row["exact"]:
        return "exact match"
    if not row["parsed"]:
        return "no number" if row["answer"] else "empty answer"
    if row["termination_failure"]:
        return "correct structure, failed termination" if row["run_on_digits"] else "correct answer, run-on text"
    if row["truncated"]:
        return "correct prefix, stopped early"
    if not row["op_recognised"]:
        return f"closer to {nearest_operation(numeric_prefix(row['answer']), problem)} than to {problem.op}"
    parts = ["correct sign" if row["sign_correct"] else "wrong sign"]
    pred_digits = integer_digits(numeric_prefix(row["answer"]))
    exp_digits = integer_digits(problem.result)
    if problem.op == "DIVIDE" and row["within_k"]:
        return f"correct to {k} decimals, wrong digits after"
    if pred_digits >= exp_digits + 2:
        parts.append("magnitude explosion")
    elif pred_digits != exp_digits:
        parts.append("off by one order of magnitude" if abs(pred_digits - exp_digits) == 1 else "wrong magnitude")
    elif row["rel_error"] < 0.1:
        parts.append("numerically close, wrong digits")
    else:
        parts.append("right magnitude, wrong digits")
    return ", ".join(parts)
