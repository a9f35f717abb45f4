"""What the paper reports, read from paper/ (see paper/README.md for where each value comes from)."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

# The authors' results.csv columns -> ours; they have no held-out column, so it stays NaN.
AUTHORS_COLUMNS = {"iter": "iter", "add_correct": "add_correct", "add_total": "add_total",
                   "sub_correct": "sub_correct", "sub_total": "sub_total", "facts_correct": "facts_correct",
                   "facts_total": "facts_total", "train_loss": "train_loss", "val_loss": "val_loss"}


def paper_table(paper_dir: str | Path, number: int) -> pd.DataFrame:
    path = Path(paper_dir) / f"table{number}.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the paper's Table {number} belongs in paper/ (see paper/README.md)")
    return pd.read_csv(path, dtype={c: str for c in ("parameters_printed", "n_models_printed", "mlt_printed")})


def text_values(paper_dir: str | Path) -> dict[str, dict]:
    """Values quoted in the paper's text (out-of-domain, extended training, ...), by id."""
    df = pd.read_csv(Path(paper_dir) / "text_values.csv", dtype={"printed": str})
    return {row["id"]: row for row in df.to_dict("records")}


def captions(paper_dir: str | Path) -> dict:
    return yaml.safe_load((Path(paper_dir) / "captions.yaml").read_text())


def claims(paper_dir: str | Path) -> list[dict]:
    return yaml.safe_load((Path(paper_dir) / "claims.yaml").read_text())


def printed_decimals(printed: str) -> int:
    """Decimals shown in a printed value: "98%" -> 0, "100.0%" -> 1, "4.75%" -> 2."""
    match = re.search(r"\.(\d+)", str(printed))
    return len(match.group(1)) if match else 0


def authors_curve_path(paper_dir: str | Path, regime: str, task: str, model: str) -> Path:
    return Path(paper_dir) / "authors-results" / regime / task / f"{model}.csv"


def authors_curve(paper_dir: str | Path, regime: str, task: str, model: str) -> pd.DataFrame | None:
    """The authors' per-evaluation results of one run in our column names, or None when we have none."""
    path = authors_curve_path(paper_dir, regime, task, model)
    if not path.exists():
        return None
    df = pd.read_csv(path)[list(AUTHORS_COLUMNS)].rename(columns=AUTHORS_COLUMNS)
    df["heldout_correct"] = float("nan")
    df["heldout_total"] = 0
    return df.sort_values("iter", kind="stable").reset_index(drop=True)
