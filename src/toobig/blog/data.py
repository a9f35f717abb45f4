"""The dataset: one line per problem, `{OP} {a} {b} {result}`.

Worked example (seeded, as the posts' generate_math_data.py writes them):

    DIVIDE 845 79 10.69620253164557
    SUBTRACT 190 498 -308
    MULTIPLY 974 915 891210

The operation is drawn uniformly from the four, both operands uniformly from operand_min..operand_max.
The DIVIDE result is `str(a / b)` (Python's shortest round-trip float, the posts' format) or, with
division_decimals = k >= 0, `f"{a / b:.{k}f}"`. The held-out split is a seeded permutation of its own.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from toobig.blog.config import OPERATIONS, BlogConfigError
from toobig.config import typed_values
from toobig.fsutil import atomic_write_text
from toobig.provenance import clear_changed_mark


@dataclass(frozen=True)
class Problem:
    op: str
    a: int
    b: int
    result: str

    @property
    def prompt(self) -> str:
        return f"{self.op} {self.a} {self.b}"

    @property
    def line(self) -> str:
        return f"{self.prompt} {self.result}"


def compute(op: str, a: int, b: int) -> float | int:
    """The exact value of one operation (division as a float)."""
    if op == "SUM":
        return a + b
    if op == "SUBTRACT":
        return a - b
    if op == "MULTIPLY":
        return a * b
    if op == "DIVIDE":
        return a / b
    raise ValueError(f"unknown operation {op!r}")


def format_result(op: str, a: int, b: int, division_decimals: int = -1) -> str:
    value = compute(op, a, b)
    if op == "DIVIDE" and division_decimals >= 0:
        return f"{value:.{division_decimals}f}"
    return str(value)


def generate_problems(n_lines: int, seed: int, operand_min: int = 1, operand_max: int = 1000,
                      division_decimals: int = -1) -> list[Problem]:
    rng = random.Random(seed)
    problems = []
    for _ in range(n_lines):
        op = rng.choice(OPERATIONS)
        a = rng.randint(operand_min, operand_max)
        b = rng.randint(operand_min, operand_max)
        problems.append(Problem(op, a, b, format_result(op, a, b, division_decimals)))
    return problems


def split_heldout(n_lines: int, heldout_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, held-out indices), each sorted; the held-out size is round(n * fraction)."""
    order = list(range(n_lines))
    random.Random(f"split-{seed}").shuffle(order)
    n_held = round(n_lines * heldout_fraction)
    return sorted(order[n_held:]), sorted(order[:n_held])


def parse_line(line: str) -> Problem:
    op, a, b, result = line.split()
    return Problem(op, int(a), int(b), result)


def lines_text(problems: list[Problem]) -> str:
    return "".join(p.line + "\n" for p in problems)


def write_lines(problems: list[Problem], path: str | Path) -> None:
    atomic_write_text(path, lines_text(problems))


def read_lines(path: str | Path) -> list[Problem]:
    return [parse_line(line) for line in Path(path).read_text().splitlines() if line.strip()]


def split_dataset(n_lines: int, seed: int, operand_min: int = 1, operand_max: int = 1000,
                  division_decimals: int = -1, heldout_fraction: float = 0.1) -> tuple[list[Problem], list[Problem]]:
    """(training problems, held-out problems)."""
    problems = generate_problems(n_lines, seed, operand_min, operand_max, division_decimals)
    train_idx, held_idx = split_heldout(n_lines, heldout_fraction, seed)
    return [problems[i] for i in train_idx], [problems[i] for i in held_idx]


def operation_counts(train: list[Problem], held: list[Problem]) -> dict:
    return {
        "train": {op: sum(p.op == op for p in train) for op in OPERATIONS},
        "heldout": {op: sum(p.op == op for p in held) for op in OPERATIONS},
    }


def make_dataset(train_path: str | Path, heldout_path: str | Path, n_lines: int, seed: int,
                 operand_min: int = 1, operand_max: int = 1000, division_decimals: int = -1,
                 heldout_fraction: float = 0.1) -> dict:
    """Write train and held-out files; return their counts per operation."""
    train, held = split_dataset(n_lines, seed, operand_min, operand_max, division_decimals, heldout_fraction)
    write_lines(train, train_path)
    write_lines(held, heldout_path)
    return operation_counts(train, held)


DATASET_FILES = ("train.txt", "heldout.txt", "counts.json")  # counts.json last: it marks a complete dataset


@dataclass(frozen=True)
class BlogData:
    """The blog.data settings (defaults: the posts' dataset, as config.yaml and the schema give them)."""
    n_lines: int = 10000
    operand_min: int = 1
    operand_max: int = 1000
    heldout_fraction: float = 0.1
    division_decimals: int = -1  # -1: str(a / b), the posts' format; k >= 0: k decimals
    data_seed: int = 1234


def blog_data(data_cfg: dict) -> BlogData:
    """The settings checked: an unknown key, a wrong type or a value that leaves a split empty stops naming it."""
    d = BlogData(**typed_values(BlogData, data_cfg, "blog data setting", BlogConfigError))
    held = round(d.n_lines * d.heldout_fraction)  # as split_heldout sizes it
    problems = [(d.operand_min >= 1, f"operand_min must be at least 1 (a divisor), got {d.operand_min}"),
                (d.operand_max >= d.operand_min, f"operand_max ({d.operand_max}) is below operand_min ({d.operand_min})"),
                (d.division_decimals >= -1, f"division_decimals must be -1 or more, got {d.division_decimals}"),
                (0 < held < d.n_lines, f"n_lines {d.n_lines} with heldout_fraction {d.heldout_fraction} leaves the "
                                       "training or the held-out split empty")]
    for ok, why in problems:
        if not ok:
            raise BlogConfigError(f"blog data: {why}")
    return d


def dataset_files(data_cfg: dict) -> dict[str, str]:
    """The text of each of DATASET_FILES for the config's blog.data settings."""
    d = blog_data(data_cfg)
    train, held = split_dataset(d.n_lines, d.data_seed, d.operand_min, d.operand_max, d.division_decimals,
                                d.heldout_fraction)
    return {"train.txt": lines_text(train), "heldout.txt": lines_text(held),
            "counts.json": json.dumps(operation_counts(train, held), indent=2) + "\n"}


def write_dataset(data_cfg: dict, out_dir: str | Path) -> dict:
    """The dataset of the config's blog.data settings in out_dir (DATASET_FILES); returns the counts."""
    files = dataset_files(data_cfg)  # first: bad settings stop before a folder is made
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in DATASET_FILES:
        atomic_write_text(out_dir / name, files[name])
    clear_changed_mark(out_dir)
    return json.loads(files["counts.json"])


def dataset_changes(data_cfg: dict, out_dir: str | Path) -> list[str]:
    """The files of a written blog dataset that the blog.data settings would now write otherwise; [] for one that
    matches them or is not written yet. Building it takes milliseconds, so the files themselves are compared."""
    out_dir = Path(out_dir)
    if not (out_dir / "counts.json").exists():
        return []
    return [f"{name} differs from what the blog.data settings give now"
            for name, text in dataset_files(data_cfg).items()
            if not (out_dir / name).exists() or (out_dir / name).read_text() != text]
