"""The values that pass between the input modules: Source, Limits, Text, Tally and Input.

An Input is one named log read from a source: its text in blocks that end at line ends
(chunks), or its lines, with a note on what reading it left out and a tally of lines cut.
"""

from __future__ import annotations

import os
from typing import IO, Iterable, Iterator, Union

import attrs

from ..errors import InputError

#: A path (str or os.PathLike; ``-`` is stdin), log content as bytes, log text (Text), a binary or
#: text stream, or an iterable of str lines.
Source = Union[str, os.PathLike, bytes, bytearray, memoryview, "Text", IO[str], IO[bytes], Iterable[str]]


@attrs.frozen
class Limits:
    """Bounds that keep hostile archives from exhausting the machine."""

    max_bytes: int = 4 << 30
    max_ratio: float = 200.0
    max_depth: int = 3
    max_line: int = 1 << 20


@attrs.frozen
class Text:
    """Log text given as a str (``vflog.analyze_text``): read exactly like the UTF-8 bytes of a file."""

    text: str
    name: str = "<text>"


@attrs.define
class Tally:
    """What reading one input had to change: the lines cut at the length limit."""

    cut_lines: int = 0


@attrs.frozen
class Input:
    """A named input: its text in blocks that end at line ends (or None) and/or its lines."""

    name: str
    chunks: Iterable[str] | None = None
    source_lines: Iterable[str] | None = None
    note: str | None = None
    tally: Tally = attrs.field(factory=Tally)

    @property
    def lines(self) -> Iterator[str]:
        """Return the lines of the input, without line ends."""
        if self.chunks is not None:
            return chunk_lines(self.chunks)
        return iter(self.source_lines or ())


def chunk_lines(chunks: Iterable[str]) -> Iterator[str]:
    """Yield the lines of text blocks (as produced for an Input), without their line ends."""
    for chunk in chunks:
        lines = chunk.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        yield from lines


def failing(name: str, reason: str) -> Iterator[str]:
    """Return lines whose reading raises InputError(*name*, *reason*): an input that cannot be read."""
    raise InputError(name, reason)
    yield ""  # pragma: no cover - makes this a generator


def _joined(*notes: str | None) -> str | None:
    """Return the given notes joined by '; ', or None when there is none."""
    return "; ".join(note for note in notes if note) or None
