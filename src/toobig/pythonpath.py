"""The workflow's jobs run the library beside its Snakefile: that src/ goes first on the PYTHONPATH they inherit."""
from __future__ import annotations

import os


def prepend_to_pythonpath(path: str) -> None:
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != path]
    os.environ["PYTHONPATH"] = os.pathsep.join([path, *rest])
