"""Exact match and the partial-correctness metrics of one prediction, and their means per operation.

The answer is read as the posts' validate.py reads it: the first whitespace-separated field of the text
generated after the prompt. Its numeric value is its leading number (`-594ULTIPLY` reads as -594).

  exact                 answer == expected string
  parsed                the answer starts with a number
  op_recognised         the value is strictly closer to the asked operation's result than to the result
                        of every other operation on the same operands (others with the same result skipped),
                        in exact rational arithmetic. Caveat: a run-on answer far larger than every result is
                        nearest to the largest one (usually MULTIPLY's)
  sign_correct          sign(value) == sign(expected), 0 counted as its own sign
  magnitude_correct     same number of integer digits as the expected answer
  digit_accuracy        expected digits matched position by position, aligned on the decimal point
                        (integer part from the right, fraction from the left), over the expected digits
  termination_failure   answer = expected + a non-empty run-on tail (correct prefix, failed to stop)
  run_on_digits         termination_failure whose tail starts with a digit
  truncated             answer is a strict prefix of expected (stopped early, or cut by the token budget)
  overlong              the answer's number has more digits than the expected answer (it ran on, whether or
                        not its first digits were right: the wider "failed to stop" of the posts' examples)
  within_k              DIVIDE only: round(value, k) == round(expected, k) (validate.py used k = 3)
  rel_error             |value - expected| / |expected| (/ 1 when expected is 0); inf when not parsed
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

from toobig.blog.config import OPERATIONS
from toobig.blog.data import Problem, compute

NUMBER = re.compile(r"^-?\d+(?:\.\d*)?")

BOOL_METRICS = ("exact", "parsed", "op_recognised", "sign_correct", "magnitude_correct", "termination_failure",
                "run_on_digits", "truncated", "overlong", "stopped")


def answer_field(generated_text: str) -> str:
    fields = generated_text.split()
    return fields[0] if fields else ""


def numeric_prefix(answer: str) -> str | None:
    m = NUMBER.match(answer)
    return m.group(0).rstrip(".") if m else None


def _n_digits(number: str) -> int:
    return sum(c.isdigit() for c in number)


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def integer_digits(number: str) -> int:
    integer = number.lstrip("-").split(".")[0].lstrip("0")
    return max(len(integer), 1)


def digit_accuracy(predicted: str | None, expected: str) -> float:
    exp_int, _, exp_frac = expected.lstrip("-").partition(".")
    pred_int, _, pred_frac = (predicted or "").lstrip("-").partition(".")
    hits = 0
    for i in range(1, len(exp_int) + 1):                       # integer part, aligned from the right
        hits += len(pred_int) >= i and pred_int[-i] == exp_int[-i]
    for i, d in enumerate(exp_frac):                            # fraction, aligned from the left
        hits += i < len(pred_frac) and pred_frac[i] == d
    return hits / (len(exp_int) + len(exp_frac))


def exact_result(op: str, a: int, b: int) -> Fraction:
    """The operation's result as an exact rational (division included)."""
    return Fraction(a, b) if op == "DIVIDE" else Fraction(compute(op, a, b))


def op_recognised(number: str, problem: Problem) -> bool:
    """Exact rational distances: floats tie at run-on answers of 20+ digits, where every result is 'equally far'."""
    value = Fraction(number)
    asked = exact_result(problem.op, problem.a, problem.b)
    d_asked = abs(value - asked)
    for op in OPERATIONS:
        other = exact_result(op, problem.a, problem.b)
        if op != problem.op and other != asked and not d_asked < abs(value - other):
            return False
    return True


def nearest_operation(number: str, problem: Problem) -> str:
    value = Fraction(number)
    return min(OPERATIONS, key=lambda op: (abs(value - exact_result(op, problem.a, problem.b)), op != problem.op))


def score(problem: Problem, answer: str, stopped: bool = False, k: int = 3) -> dict:
    """All metrics of one prediction (answer = the answer field)."""
    expected = problem.result
    prefix = numeric_prefix(answer)
    exp_value = float(expected)
    row = {
        "op": problem.op, "a": problem.a, "b": problem.b, "expected": expected, "answer": answer,
        "exact": answer == expected, "parsed": prefix is not None, "stopped": stopped,
        "termination_failure": len(answer) > len(expected) and answer.startswith(expected),
        "truncated": 0 < len(answer) < len(expected) and expected.startswith(answer),
    }
    row["run_on_digits"] = row["termination_failure"] and answer[len(expected)].isdigit()
    row["overlong"] = prefix is not None and _n_digits(prefix) > _n_digits(expected)
    if prefix is None:
        row.update(op_recognised=False, sign_correct=False, magnitude_correct=False, digit_accuracy=0.0,
                   rel_error=math.inf, value=math.nan)
    else:
        value = float(prefix)
        row.update(
            value=value,
            op_recognised=op_recognised(prefix, problem),
            sign_correct=_sign(value) == _sign(exp_value),
            magnitude_correct=integer_digits(prefix) == integer_digits(expected),
            digit_accuracy=digit_accuracy(prefix, expected),
            rel_error=abs(value - exp_value) / (abs(exp_value) if exp_value != 0 else 1.0),
        )
    if problem.op == "DIVIDE":
        row["within_k"] = prefix is not None and math.isfinite(row["value"]) and \
            round(row["value"], k) == round(exp_value, k)
    else:
        row["within_k"] = None
    return row


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    if s[lo] == s[hi] or math.isinf(s[lo]) or math.isinf(s[hi]):
        return s[hi] if pos - lo >= 0.5 else s[lo]
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else math.nan


def aggregate(rows: list[dict]) -> list[dict]:
    """One summary row per operation (in OPERATIONS order) and one for ALL."""
    out = []
    for op in (*OPERATIONS, "ALL"):
        sel = [r for r in rows if op == "ALL" or r["op"] == op]
        wrong = [r for r in sel if not r["exact"]]
        rel = [r["rel_error"] for r in sel]
        agg = {"op": op, "n": len(sel), "n_wrong": len(wrong)}
        for m in BOOL_METRICS:
            agg[m] = _mean(float(r[m]) for r in sel)
        agg["digit_accuracy"] = _mean(r["digit_accuracy"] for r in sel)
        div = [r for r in sel if r["within_k"] is not None]
        agg["within_k"] = _mean(float(r["within_k"]) for r in div)
        agg["rel_error_median"] = _quantile(rel, 0.5)
        agg["rel_error_p90"] = _quantile(rel, 0.9)
        agg["rel_error_lt_1pct"] = _mean(float(x < 0.01) for x in rel)
        agg["rel_error_lt_10pct"] = _mean(float(x < 0.10) for x in rel)
        agg["op_recognised_when_wrong"] = _mean(float(r["op_recognised"]) for r in wrong)
        agg["termination_when_wrong"] = _mean(float(r["termination_failure"]) for r in wrong)
        out.append(agg)
    return out
