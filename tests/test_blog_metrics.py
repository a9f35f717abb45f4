import math

import pytest

from toobig.blog.data import Problem
from toobig.blog.metrics import aggregate, answer_field, digit_accuracy, integer_digits, numeric_prefix, score
from toobig.blog.observations import observe

SUB = Problem("SUBTRACT", 190, 498, "-308")
MUL = Problem("MULTIPLY", 974, 915, "891210")
DIV = Problem("DIVIDE", 845, 79, "10.69620253164557")
DIV2 = Problem("DIVIDE", 356, 936, "0.3803418803418803")
SUM = Problem("SUM", 10, 20, "30")        # other operations: -10, 200, 0.5


def test_answer_field_is_the_first_generated_word():
    assert answer_field(" 958 SUM 1 2") == "958"
    assert answer_field(" -594ULTIPLY") == "-594ULTIPLY"
    assert answer_field("   ") == ""


def test_numeric_prefix():
    assert numeric_prefix("-594ULTIPLY") == "-594"
    assert numeric_prefix("10.69.3") == "10.69"
    assert numeric_prefix("12.") == "12"
    assert numeric_prefix("ULT") is None


def test_exact_match():
    assert score(SUB, "-308")["exact"] is True
    assert score(SUB, "-3080")["exact"] is False


@pytest.mark.parametrize("answer, recognised", [("31", True), ("190", False), ("0.6", False), ("-12", False),
                                                ("15", False), ("16", True), ("114", True), ("115", False)])
def test_operation_recognised_is_nearest_result(answer, recognised):
    # 30 vs 0.5 (DIVIDE): 15 is nearer 0.5, 16 nearer 30; 30 vs 200: the tie at 115 is not recognised
    assert score(SUM, answer)["op_recognised"] is recognised


def test_operation_recognised_skips_operations_with_the_same_result():
    assert score(Problem("SUM", 2, 2, "4"), "4")["op_recognised"] is True      # 2 + 2 == 2 * 2


def test_operation_recognised_is_exact_for_run_on_answers():
    # 2.4e21 is 228 away from... nothing a float can tell apart: exactly, it is nearest to 3 * 76 = 228
    assert score(Problem("MULTIPLY", 3, 76, "228"), "2400080808080808080801")["op_recognised"] is True
    assert score(Problem("SUM", 3, 76, "79"), "2400080808080808080801")["op_recognised"] is False


def test_sign():
    assert score(SUB, "-1")["sign_correct"] is True
    assert score(SUB, "5")["sign_correct"] is False
    zero = Problem("SUBTRACT", 5, 5, "0")
    assert score(zero, "0")["sign_correct"] is True and score(zero, "-3")["sign_correct"] is False


def test_magnitude_is_integer_digit_count():
    assert integer_digits("-308") == 3 and integer_digits("0.38") == 1 and integer_digits("10.69") == 2
    assert score(DIV2, "0.9")["magnitude_correct"] is True
    assert score(SUB, "-999")["magnitude_correct"] is True
    assert score(SUB, "-3081")["magnitude_correct"] is False


def test_digit_accuracy_aligns_on_the_decimal_point():
    assert digit_accuracy("2.35", "12.34") == 0.5          # int: 2=2, 1 missing; frac: 3=3, 4!=5
    assert digit_accuracy("891210", "891210") == 1.0
    assert digit_accuracy("8912101010", "891210") == 0.5    # right-aligned: 101010 vs 891210
    assert digit_accuracy(None, "12") == 0.0
    assert score(SUB, "-318")["digit_accuracy"] == pytest.approx(2 / 3)


def test_termination_failure_is_correct_prefix_plus_run_on():
    row = score(MUL, "8912101025")
    assert row["termination_failure"] and row["run_on_digits"] and not row["exact"]
    row = score(Problem("SUBTRACT", 218, 812, "-594"), "-594ULTIPLY")
    assert row["termination_failure"] and not row["run_on_digits"]
    assert row["op_recognised"] and row["sign_correct"] and row["magnitude_correct"]
    assert not score(MUL, "891210")["termination_failure"]
    assert not score(MUL, "89121")["termination_failure"] and score(MUL, "89121")["truncated"]


def test_overlong_counts_digits_whatever_the_prefix():
    assert score(SUB, "-308781889")["overlong"] is True          # the posts' "magnitude explosion"
    assert score(SUB, "-9999")["overlong"] is True
    assert score(SUB, "-999")["overlong"] is False
    assert score(DIV, "10.6962025316455712")["overlong"] is True
    assert score(SUB, "ULT")["overlong"] is False


def test_decimal_aware_division():
    assert score(DIV, "10.6962", k=3)["within_k"] is True
    assert score(DIV, "10.69", k=3)["within_k"] is False
    assert score(DIV, "10.69620253", k=3)["within_k"] is True        # the posts' 5-token cut-off answer
    assert score(SUB, "-308")["within_k"] is None


def test_relative_error():
    assert score(DIV2, "0.3165618")["rel_error"] == pytest.approx(abs(0.3165618 - 356 / 936) / (356 / 936))
    assert score(SUB, "-300")["rel_error"] == pytest.approx(8 / 308)
    assert score(Problem("SUBTRACT", 5, 5, "0"), "2")["rel_error"] == 2.0
    assert score(SUB, "ULT")["rel_error"] == math.inf and score(SUB, "ULT")["parsed"] is False


def test_aggregate_per_operation():
    rows = [score(SUB, "-308"), score(SUB, "-3081"), score(SUB, "x"), score(MUL, "891210", stopped=True)]
    agg = {r["op"]: r for r in aggregate(rows)}
    s = agg["SUBTRACT"]
    assert s["n"] == 3 and s["n_wrong"] == 2
    assert s["exact"] == pytest.approx(1 / 3)
    assert s["termination_failure"] == pytest.approx(1 / 3)
    assert s["termination_when_wrong"] == pytest.approx(1 / 2)
    assert s["op_recognised_when_wrong"] == pytest.approx(1 / 2)   # -3081 is nearest to -308; "x" is not
    assert s["rel_error_median"] == pytest.approx(2773 / 308)      # sorted: 0, 9.003, inf
    assert agg["MULTIPLY"]["stopped"] == 1.0 and agg["ALL"]["n"] == 4
    assert math.isnan(agg["SUM"]["exact"]) and agg["SUM"]["n"] == 0
    assert math.isnan(s["within_k"])


@pytest.mark.parametrize("problem, answer, text", [
    (MUL, "8912101025", "correct structure, failed termination"),
    (SUB, "-412345", "correct sign, magnitude explosion"),
    (DIV2, "0.3165618", "correct sign, right magnitude, wrong digits"),
    (DIV2, "0.3813", "correct sign, numerically close, wrong digits"),
    (DIV, "10.6958", "correct to 3 decimals, wrong digits after"),
    (DIV, "10.6962", "correct prefix, stopped early"),
    (Problem("SUM", 568, 390, "958"), "958", "exact match"),
    (SUM, "190", "closer to MULTIPLY than to SUM"),
    (SUB, "308", "closer to DIVIDE than to SUBTRACT"),
    (DIV, "-10.5", "wrong sign, right magnitude, wrong digits"),
    (Problem("SUM", 500, 400, "900"), "9100", "correct sign, off by one order of magnitude"),
    (SUB, "", "empty answer"),
    (SUB, "-3", "correct prefix, stopped early"),
])
def test_observation(problem, answer, text):
    assert observe(problem, score(problem, answer)) == text
