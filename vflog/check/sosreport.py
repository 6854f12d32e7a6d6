"""Whether a path is a sosreport: asked of every input of a report, so this module loads nothing else."""

from __future__ import annotations

import os
from pathlib import Path


def is_sosreport(path: str | os.PathLike[str]) -> bool:
    """Return whether *path* is a sosreport: a directory with ``sos_commands/``, or a ``sosreport*.tar*`` file."""
    candidate = Path(path)
    if candidate.is_dir():
        return (candidate / "sos_commands").is_dir()
    return candidate.is_file() and candidate.name.startswith("sosreport") and ".tar" in candidate.name
