"""Paths on disk: walking a directory tree, special files (FIFOs, devices), opening a file with its errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

from ..errors import InputError

def _walk(root: Path) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """Return the regular files under *root* (relative, sorted), their sizes, and the other entries by kind.

    As ``vflog scan`` walks: symlinks to files are followed, symlinked directories are not (no
    loops), FIFOs, devices, sockets and dangling links are skipped, never opened.
    """
    files: list[str] = []
    sizes: dict[str, int] = {}
    skipped: dict[str, int] = {}

    def skip(kind: str) -> None:
        skipped[kind] = skipped.get(kind, 0) + 1

    for directory, dirs, names in os.walk(root, onerror=lambda exc: skip("unlistable directory")):
        dirs.sort()
        for dirname in dirs:
            if os.path.islink(os.path.join(directory, dirname)):
                skip("directory symlink(s) (not followed)")
        for filename in sorted(names):
            path = os.path.join(directory, filename)
            try:
                info = os.stat(path)
            except OSError:
                skip("dangling symlink(s) or vanished file(s)")
                continue
            if not stat.S_ISREG(info.st_mode):
                skip("special file(s) (FIFO, socket, device)")
                continue
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            files.append(relative)
            sizes[relative] = info.st_size
    return sorted(files), sizes, skipped


def _regular(stream: IO[bytes]) -> bool:
    """Return whether *stream* is an open regular file (which can be read in place, at any offset)."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is an OSError
        return False


def _special(name: str) -> bool:
    """Return whether *name* (links followed) is neither a regular file nor a directory."""
    try:
        mode = os.stat(name).st_mode
    except OSError:
        return False  # reading it gives the error
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


def _open_file(path: Path, name: str) -> IO[bytes]:
    try:
        if path.is_fifo() or path.is_char_device():
            return open(path, "rb", buffering=0)  # type: ignore[return-value]
        return open(path, "rb")
    except PermissionError:
        raise InputError(name, "permission denied") from None
    except IsADirectoryError:
        raise InputError(name, "is a directory") from None
    except OSError as exc:
        raise InputError(name, exc.strerror or str(exc)) from None
