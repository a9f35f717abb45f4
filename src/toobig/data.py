"""The paper's character-level datasets and evaluation prompt sets.

Arithmetic lines look like this (8 characters, space-padded, then a newline; 9 characters a line):

    <7-7=0> \\n      <1-4=-3>\\n      <9+9=18>\\n

Capitals lines are "Capital of France is Paris \\n" (a space before the newline, no padding).
The joint text is the arithmetic text followed by the capitals text. Training text = validation text.
Each dataset's vocabulary is the sorted set of its characters: 17, 51 and 66 characters.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from .fsutil import atomic_write_text
from .provenance import clear_changed_mark

DEFAULT_HELDOUT = ("5+7", "7+5", "5-7", "7-5")


@dataclass(frozen=True)
class Prompt:
    """One evaluation prompt and the answer that counts as correct."""

    text: str
    answer: str
    kind: str  # "add", "sub", "heldout", "facts", "ood_add", "ood_sub"


def arithmetic_line(a: int, op: str, b: int, width: int = 8) -> str:
    result = a + b if op == "+" else a - b
    return f"<{a}{op}{b}={result}>".ljust(width) + "\n"


def arithmetic_text(operand_max: int = 9, heldout=DEFAULT_HELDOUT, width: int = 8, shuffle_seed: int = 1337) -> str:
    """Every a+b and a-b with a, b in 0..operand_max except the held-out expressions, shuffled once."""
    lines = [
        arithmetic_line(a, op, b, width)
        for op in "+-"
        for a in range(operand_max + 1)
        for b in range(operand_max + 1)
        if f"{a}{op}{b}" not in set(heldout)
    ]
    random.Random(shuffle_seed).shuffle(lines)
    return "".join(lines)


def capitals_text(pairs) -> str:
    return "".join(f"Capital of {country} is {capital} \n" for country, capital in pairs)


def build_text(task: str, data_cfg: dict) -> str:
    arithmetic = arithmetic_text(
        data_cfg.get("operand_max", 9),
        tuple(data_cfg.get("heldout", DEFAULT_HELDOUT)),
        data_cfg.get("line_width", 8),
        data_cfg.get("shuffle_seed", 1337),
    )
    capitals = capitals_text(data_cfg["capitals"])
    texts = {"arithmetic": arithmetic, "capitals": capitals, "joint": arithmetic + capitals}
    if task not in texts:
        raise ValueError(f"unknown task '{task}'; choose one of {', '.join(texts)}")
    return texts[task]


def vocabulary(text: str) -> list[str]:
    return sorted(set(text))


# ---------------------------------------------------------------------------------------------
# Evaluation prompt sets
# ---------------------------------------------------------------------------------------------
def arithmetic_grid(grid: int = 91) -> list[tuple[int, int]]:
    """Operand pairs of the published evaluation: 91 = a=0 with b=0..9 plus a,b in 1..9; 100 = all pairs."""
    if grid == 100:
        return [(a, b) for a in range(10) for b in range(10)]
    if grid == 91:
        return [(0, b) for b in range(10)] + [(a, b) for a in range(1, 10) for b in range(1, 10)]
    raise ValueError(f"evaluation grid must be 91 or 100, got {grid}")


def _arith_prompt(a: int, op: str, b: int, kind: str) -> Prompt:
    return Prompt(f"<{a}{op}{b}=", str(a + b if op == "+" else a - b), kind)


def arithmetic_prompts(grid: int = 91) -> list[Prompt]:
    pairs = arithmetic_grid(grid)
    return [_arith_prompt(a, "+", b, "add") for a, b in pairs] + [_arith_prompt(a, "-", b, "sub") for a, b in pairs]


def heldout_prompts(heldout=DEFAULT_HELDOUT) -> list[Prompt]:
    prompts = []
    for expr in heldout:
        op = "+" if "+" in expr else "-"
        a, b = (int(x) for x in expr.split(op))
        prompts.append(_arith_prompt(a, op, b, "heldout"))
    return prompts


def ood_prompts(operand_max: int = 19, inner_max: int = 9) -> list[Prompt]:
    """Section 5.1: a, b in 0..operand_max, leaving out the pairs where both are at most inner_max."""
    pairs = [(a, b) for a in range(operand_max + 1) for b in range(operand_max + 1) if not (a <= inner_max and b <= inner_max)]
    return [_arith_prompt(a, "+", b, "ood_add") for a, b in pairs] + [_arith_prompt(a, "-", b, "ood_sub") for a, b in pairs]


AUTHORS_PROMPT_COUNTRIES = {"the USA": "USA", "the UK": "UK"}  # the authors' prompts drop these two articles


def capitals_prompts(pairs, style: str = "authors") -> list[Prompt]:
    if style not in ("authors", "training"):
        raise ValueError(f"capitals_prompt_style must be 'authors' or 'training', got {style!r}")
    prompts = []
    for country, capital in pairs:
        name = AUTHORS_PROMPT_COUNTRIES.get(country, country) if style == "authors" else country
        prompts.append(Prompt(f"Capital of {name} is ", capital, "facts"))
    return prompts


def prompt_sets(task: str, data_cfg: dict) -> dict[str, list[Prompt]]:
    """Every prompt set that applies to a task, by name; stored beside the dataset as prompts.json."""
    heldout = tuple(data_cfg.get("heldout", DEFAULT_HELDOUT))
    sets: dict[str, list[Prompt]] = {}
    if task in ("arithmetic", "joint"):
        sets["grid91"] = arithmetic_prompts(91)
        sets["grid100"] = arithmetic_prompts(100)
        sets["heldout"] = heldout_prompts(heldout)
        sets["ood"] = ood_prompts(data_cfg.get("ood_operand_max", 19), data_cfg.get("operand_max", 9))
    if task in ("capitals", "joint"):
        sets["capitals"] = capitals_prompts(data_cfg["capitals"], data_cfg.get("capitals_prompt_style", "authors"))
    return sets


def training_prompts(sets: dict[str, list[Prompt]], grid: int = 91) -> list[Prompt]:
    """The prompts evaluated every eval_interval: the chosen grid, the held-out four, the capitals."""
    names = [f"grid{grid}", "heldout", "capitals"] if "grid91" in sets else ["capitals"]
    return [p for name in names if name in sets for p in sets[name]]


# ---------------------------------------------------------------------------------------------
# Files on disk: the text a person can open, and a small JSON beside it
# ---------------------------------------------------------------------------------------------
def dataset_files(task: str, data_cfg: dict) -> dict[str, str]:
    """The text of train.txt, prompts.json and meta.json for a task."""
    text = build_text(task, data_cfg)
    sets = prompt_sets(task, data_cfg)
    vocab = vocabulary(text)
    meta = {
        "task": task,
        "vocab": vocab,
        "vocab_size": len(vocab),
        "characters": len(text),
        "lines": text.count("\n"),
        "shuffle_seed": data_cfg.get("shuffle_seed", 1337),
        "heldout": list(data_cfg.get("heldout", DEFAULT_HELDOUT)) if task != "capitals" else [],
        "prompt_sets": {name: len(prompts) for name, prompts in sets.items()},
        "train_equals_val": True,
    }
    serialised = {name: [[p.text, p.answer, p.kind] for p in prompts] for name, prompts in sets.items()}
    return {"train.txt": text, "prompts.json": json.dumps(serialised, indent=0) + "\n",
            "meta.json": json.dumps(meta, indent=1) + "\n"}


def write_dataset(task: str, data_cfg: dict, out_dir: str | Path) -> dict:
    """Write train.txt, prompts.json and meta.json for a task (meta.json last: it marks a complete dataset);
    returns the meta record."""
    out_dir = Path(out_dir)
    files = dataset_files(task, data_cfg)
    for name in ("train.txt", "prompts.json", "meta.json"):
        atomic_write_text(out_dir / name, files[name])
    clear_changed_mark(out_dir)
    return json.loads(files["meta.json"])


def dataset_changes(task: str, data_cfg: dict, out_dir: str | Path) -> list[str]:
    """The files of a written dataset that the data settings would now write otherwise; [] for a dataset that
    matches them or is not written yet. Building one takes milliseconds, so the files themselves are compared."""
    out_dir = Path(out_dir)
    if not (out_dir / "meta.json").exists():
        return []
    return [f"{name} differs from what the data settings give now"
            for name, text in dataset_files(task, data_cfg).items()
            if not (out_dir / name).exists() or (out_dir / name).read_text() != text]


def read_dataset(data_dir: str | Path) -> tuple[str, dict, dict[str, list[Prompt]]]:
    """The training text, its meta record and its prompt sets, checked against each other."""
    data_dir = Path(data_dir)
    for name in ("train.txt", "meta.json", "prompts.json"):
        if not (data_dir / name).exists():
            raise FileNotFoundError(
                f"dataset file {data_dir / name} is missing; create it with "
                f"`python -m toobig data --task TASK --out {data_dir}`"
            )
    text = (data_dir / "train.txt").read_text()
    meta, prompt_sets = _read_json(data_dir / "meta.json"), _read_json(data_dir / "prompts.json")
    if not isinstance(meta, dict) or not {"task", "vocab"} <= set(meta):
        raise _broken(data_dir / "meta.json", "it has no 'task' and 'vocab' entries")
    if vocabulary(text) != meta["vocab"]:
        raise ValueError(f"{data_dir}/train.txt does not match the vocabulary in its meta.json; regenerate the dataset")
    try:
        sets = {name: [Prompt(*p) for p in prompts] for name, prompts in prompt_sets.items()}
    except (AttributeError, TypeError):
        raise _broken(data_dir / "prompts.json", "it is not a mapping of set names to [text, answer, kind] lists") from None
    return text, meta, sets


def _broken(path: Path, why: str) -> ValueError:
    return ValueError(f"dataset file {path} is damaged: {why}; write the dataset again with "
                      f"`python -m toobig data --task TASK --out {path.parent}`")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise _broken(path, f"not valid JSON ({err})") from None
