"""Atomic writes: the whole new file or the old one, never a truncated mix, and no temp file left behind."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toobig.analysis.tables import write_table
from toobig.fsutil import atomic_write_csv, atomic_write_text


def test_csv_bytes_and_options(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, 1 / 3]})
    atomic_write_csv(tmp_path / "sub" / "t.csv", df)
    assert (tmp_path / "sub" / "t.csv").read_bytes() == b"a,b\n1,0.5\n2,0.3333333333333333\n"
    atomic_write_csv(tmp_path / "t.csv", df, float_format="%.3g")
    assert (tmp_path / "t.csv").read_text() == "a,b\n1,0.5\n2,0.333\n"


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "table2.csv"
    atomic_write_text(out, "the table of the last good run\n")

    real_write_text = Path.write_text

    def disk_full(self, text, *args, **kwargs):  # half the text reaches the disk, then the write fails
        real_write_text(self, text[: len(text) // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr("pathlib.Path.write_text", disk_full)
    with pytest.raises(OSError):
        atomic_write_csv(out, pd.DataFrame({"a": [1]}))
    monkeypatch.undo()
    assert out.read_text() == "the table of the last good run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table2.csv"]


def test_tables_are_written_through_the_atomic_writer(tmp_path, monkeypatch):
    # make_table's output goes to disk only through atomic_write_csv (a direct df.to_csv could truncate a table)
    written = []
    monkeypatch.setattr("toobig.analysis.tables.make_table", lambda *a: pd.DataFrame({"x": [1]}))
    monkeypatch.setattr("toobig.analysis.tables.atomic_write_csv", lambda out, df: written.append(out))
    write_table(2, {}, tmp_path, tmp_path, tmp_path / "table2.csv")
    assert written == [tmp_path / "table2.csv"] and not (tmp_path / "table2.csv").exists()


def test_figures_are_saved_whole_in_the_format_their_name_says(tmp_path):
    from toobig.analysis import figures
    from toobig.fsutil import atomic_savefig

    fig, ax = figures.plt.subplots()
    ax.plot([0, 1], [1, 0])
    atomic_savefig(fig, tmp_path / "f.png")
    atomic_savefig(fig, tmp_path / "f.pdf")
    figures.plt.close(fig)
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "f.pdf").read_bytes()[:4] == b"%PDF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pdf", "f.png"]
