"""Whether a finished run still matches the settings the config gives it now.

Snakemake re-runs a job whose params changed only when it has its own record of the old params (.snakemake/);
a fresh clone has none, so after editing config.yaml there it would keep every committed run. The run's own
provenance.json (settings and TRAINING_VERSION) is the record that travels with the results: the pipeline
compares it with the current settings and re-trains the runs that differ.
"""
from __future__ import annotations

import json
from pathlib import Path

# Runs written before provenance.json recorded the training version were all trained by version 1.
FIRST_TRAINING_VERSION = 1
# A finished run's (or a written dataset's) mark that its settings changed since: the pipeline writes it (an
# input of the job that makes it, newer than the old outputs); the trainer then starts afresh instead of
# resuming the old run's end state; the trainer and the dataset writer remove the mark when done.
CHANGED_MARK = "config_changed.txt"


def read_provenance(run_dir: str | Path, name: str = "provenance.json") -> dict | None:
    """A run's provenance.json (written last, so it marks a finished run), or None while it does not exist.
    `name`: the blog runs' record is run.json."""
    path = Path(run_dir) / name
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable ({err}); delete the run folder to retrain it") from err
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise ValueError(f"{path}: no 'config' record, not a {name} of toobig; delete the run folder to retrain it")
    return record


def config_changes(run_dir: str | Path, expected: dict, training_version: int | None,
                   name: str = "provenance.json", ignore: tuple[str, ...] = ()) -> list[str]:
    """How the settings a finished run was trained with differ from `expected` (one line per setting, e.g.
    "max_iters: 30000 -> 1000"), and the training version if one is given and differs; [] when they match or
    the run has not finished. Settings in `ignore` (how the run was executed) never count."""
    record = read_provenance(run_dir, name)
    if record is None:
        return []
    trained = record["config"]
    changes = [f"{key}: {trained.get(key, '(unset)')} -> {expected.get(key, '(unset)')}"
               for key in sorted(set(trained) | set(expected)) if key not in ignore and trained.get(key) != expected.get(key)]
    version = record.get("training_version", FIRST_TRAINING_VERSION)
    if training_version is not None and version != training_version:
        changes.append(f"TRAINING_VERSION: {version} -> {training_version}")
    return changes


def mark_changed(run_dir: str | Path, changes: list[str]) -> Path:
    path = Path(run_dir) / CHANGED_MARK
    path.write_text("made with other settings than the config gives now; making it again:\n" + "\n".join(changes) + "\n")
    return path


def is_marked_changed(run_dir: str | Path) -> bool:
    return (Path(run_dir) / CHANGED_MARK).exists()


def clear_changed_mark(run_dir: str | Path) -> None:
    (Path(run_dir) / CHANGED_MARK).unlink(missing_ok=True)


def changed_mark_inputs(folder: str | Path, changes: list[str]) -> list[str]:
    """What the pipeline gives the job that makes `folder` as an extra input: [its mark, written now] when the
    settings changed, else [] (and a mark left by an earlier dry run whose change was undone goes)."""
    if not changes:
        clear_changed_mark(folder)
        return []
    return [str(mark_changed(folder, changes))]
