"""Read a ``journalctl -o export`` stream as one JSON line per entry, keeping the export's line numbers."""

from __future__ import annotations

import json
from typing import IO, Iterator

from .values import Limits, Tally

#: How a journal export starts (its first field).
_EXPORT = (b"__CURSOR=", b"__REALTIME_TIMESTAMP=", b"__MONOTONIC_TIMESTAMP=", b"_BOOT_ID=")

#: Bytes dropped at a time when the rest of a field or line is skipped.
_PIECE = 1 << 17


def _export_lines(binary: IO[bytes], name: str, limits: Limits, tally: Tally) -> Iterator[str]:
    """Turn a ``journalctl -o export`` stream into one JSON object per entry, at the line of its MESSAGE.

    Every other line of the export (other fields, LFs inside binary fields, the blank line after
    each entry) becomes an empty line, so line numbers are those of the export file.
    """
    entry: dict[str, object] = {}
    lines = at = 0  # lines of the current entry so far; which of them carries the entry
    while True:
        line = binary.readline(limits.max_line + 1)
        if not line:
            break
        if not line.endswith(b"\n") and len(line) > limits.max_line:
            _skip_line(binary)
            tally.cut_lines += 1
        if line == b"\n":
            yield from _entry_lines(entry, lines, at)
            yield ""
            entry, lines, at = {}, 0, 0
            continue
        line = line.rstrip(b"\n")
        first = lines  # the index in the entry of this field's (first) line
        if b"=" in line:
            key, _, value = line.partition(b"=")
            field = key.decode("ascii", "replace")
            entry[field] = value.decode("utf-8", "replace")
            lines += 1
        else:  # binary field: name, 64-bit little-endian length, data, newline
            field = line.decode("ascii", "replace")
            length = binary.read(8)
            size = int.from_bytes(length, "little")
            data = binary.read(min(size, limits.max_line))
            extra = _skip_bytes(binary, size - len(data)) if size > len(data) else 0
            entry[field] = list(data)
            lines += 1 + (length + data).count(b"\n") + extra + (binary.read(1) == b"\n")
        if field == "MESSAGE":
            at = first
    yield from _entry_lines(entry, lines, at)


def _entry_lines(entry: dict[str, object], lines: int, at: int) -> Iterator[str]:
    """Yield *lines* lines for one export entry: its JSON object at index *at*, empty lines around it."""
    if not entry:
        yield from ("" for _ in range(lines))
        return
    at = min(at, max(lines - 1, 0))
    yield from ("" for _ in range(at))
    yield json.dumps(entry)
    yield from ("" for _ in range(lines - at - 1))


def _skip_line(binary: IO[bytes]) -> None:
    """Read and drop the rest of a line, up to and including its LF."""
    while True:
        piece = binary.readline(_PIECE)
        if not piece or piece.endswith(b"\n"):
            return


def _skip_bytes(binary: IO[bytes], size: int) -> int:
    """Read and drop *size* bytes; return how many LFs they held."""
    newlines = 0
    while size > 0:
        piece = binary.read(min(size, _PIECE))
        if not piece:
            break
        newlines += piece.count(b"\n")
        size -= len(piece)
    return newlines
