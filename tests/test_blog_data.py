import re

import pytest

from toobig.blog.config import OPERATIONS
from toobig.blog.data import format_result, generate_problems, make_dataset, read_lines, split_heldout

LINE = re.compile(r"^(SUM|SUBTRACT|MULTIPLY|DIVIDE) (\d+) (\d+) (-?\d+(?:\.\d+(?:e-?\d+)?)?)$")


def test_lines_have_the_posts_format_and_count(tmp_path):
    counts = make_dataset(tmp_path / "train.txt", tmp_path / "held.txt", 10_000, seed=7)
    lines = (tmp_path / "train.txt").read_text().splitlines() + (tmp_path / "held.txt").read_text().splitlines()
    assert len(lines) == 10_000
    for line in lines:
        m = LINE.match(line)
        assert m, line
        a, b = int(m.group(2)), int(m.group(3))
        assert 1 <= a <= 1000 and 1 <= b <= 1000
    assert sum(counts["train"].values()) == 9000 and sum(counts["heldout"].values()) == 1000
    assert set(counts["train"]) == set(OPERATIONS)
    assert all(c > 2000 for c in counts["train"].values())        # uniform over 4 operations: ~2250 each


def test_results_are_the_operations_values(tmp_path):
    make_dataset(tmp_path / "t.txt", tmp_path / "h.txt", 400, seed=3)
    for p in read_lines(tmp_path / "t.txt"):
        expected = {"SUM": p.a + p.b, "SUBTRACT": p.a - p.b, "MULTIPLY": p.a * p.b, "DIVIDE": p.a / p.b}[p.op]
        assert p.result == str(expected)


def test_heldout_split_is_disjoint_complete_and_seeded():
    train, held = split_heldout(10_000, 0.1, seed=5)
    assert len(held) == 1000 and len(train) == 9000
    assert set(train).isdisjoint(held) and set(train) | set(held) == set(range(10_000))
    assert split_heldout(10_000, 0.1, seed=5) == (train, held)
    assert split_heldout(10_000, 0.1, seed=6)[1] != held


def test_generation_is_seeded():
    assert generate_problems(50, seed=1) == generate_problems(50, seed=1)
    assert generate_problems(50, seed=1) != generate_problems(50, seed=2)


@pytest.mark.parametrize("decimals, expected", [(-1, "10.69620253164557"), (3, "10.696"), (0, "11"), (8, "10.69620253")])
def test_division_format(decimals, expected):
    assert format_result("DIVIDE", 845, 79, decimals) == expected


def test_division_format_leaves_other_operations_alone():
    assert format_result("DIVIDE", 15, 994) == "0.015090543259557344"      # Python's repr of the float
    assert format_result("SUBTRACT", 190, 498, 3) == "-308"
    assert format_result("MULTIPLY", 974, 915, 3) == "891210"
