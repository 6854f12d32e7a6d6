"""The block path of the Analyzer: read only a block's candidate lines, and only count the lines between.

When a block has a fast layout (framing.layout: dmesg, syslog, JSON, kmsg), only its candidate
lines (framing.candidates) and the lines that do not fit the layout (framing.misfits) are read;
for the lines in between only what the rules need is kept (that other lines exist, and the last
one for its time).  A multi-line object, and a block without a layout, are read line by line.

BlockPath is a collaborator of one Analyzer rather than a mixin: it owns the layout state of the
current input (the layout kept, the misses in a row, the blocks seen) and hands every line it
reads to its Analyzer (feed, record, skipped), which owns records, boots and held lines.
"""

from __future__ import annotations

from typing import Protocol

from . import framing
from .formats import Record, unrelated_record

#: Blocks in a row without a fast layout after which only every _LAYOUT_RETRY-th block is looked at again.
_LAYOUT_MISSES = 3
_LAYOUT_RETRY = 16
#: A layout is kept while at most half the lines of a block do not fit it; up to one misfit per
#: 2**_FEW_MISFITS characters the lines are not even counted.
_FEW_MISFITS = 10
#: The layouts whose candidate lines are plain text (a record of the line as it is, unless the Reader cleans it).
_PLAIN_LAYOUTS = frozenset(("dmesg", "syslog"))


class LineTaker(Protocol):
    """What the block path needs of its Analyzer: the lines it reads, and an account of those it does not."""

    lines: int

    @property
    def pending(self) -> bool:
        """Return whether the last line opened a multi-line object whose lines follow."""

    def feed(self, number: int, raw: str, candidate: bool = False) -> None:
        """Take raw line *number*; a *candidate* has the fast layout's shape."""

    def record(self, record: Record) -> None:
        """Take one decoded record."""

    def skipped(self, count: int, number: int, record: Record | None) -> None:
        """Account for *count* unrelated lines not read; *record* (line *number*) is the last with content or a time."""


class BlockPath:
    """The fast path of one Analyzer: its blocks read by layout."""

    def __init__(self, analyzer: LineTaker) -> None:
        self._analyzer = analyzer
        self._layout: str | None = None
        self._layout_misses = 0
        self._blocks = 0

    @property
    def layout(self) -> str | None:
        """Return the fast layout of the current input, None while there is none."""
        return self._layout

    @property
    def state(self) -> tuple[str | None, int, int]:
        """Return what the layout of the next block depends on: the layout kept, the misses in a row, the blocks seen."""
        return self._layout, self._layout_misses, self._blocks

    def resume(self, state: tuple[str | None, int, int]) -> None:
        """Go on from *state* (see state), as if the blocks that led to it had been read here."""
        self._layout, self._layout_misses, self._blocks = state

    def start_input(self) -> None:
        """Forget the layout: a new input may have another one."""
        self._layout = None
        self._layout_misses = 0

    def feed_block(self, first: int, block: str) -> int:
        """Take a block of text whose first line has number *first*; return the number of its last line.

        When the block has a fast layout, only its candidate lines (framing.candidates) and the lines
        that do not fit the layout (framing.misfits) are read; for the lines in between only what the
        rules need is kept (that other lines exist, and the last one for its time).  A multi-line
        object, and a block without a layout, are read line by line.
        """
        analyzer = self._analyzer
        self._blocks += 1
        block = framing.without_escapes(block)  # as the Reader cleans each line: the lines stay the same
        number, position = self._feed_open_object(first, block, 0)
        kind, odd = self._block_layout(block)
        if kind is None:
            return self._feed_lines(number, block, position) - 1
        starts = framing.candidates(block, kind)
        plain = kind in _PLAIN_LAYOUTS
        if odd:
            misfit = set(odd)
            starts = sorted(misfit.union(starts))
        else:
            misfit = set()
        for start in starts:
            if start < position:  # read already, with the lines of a multi-line object
                continue
            if start > position:  # unrelated lines between the last line read and this one
                count = block.count("\n", position, start)
                number += count
                analyzer.skipped(count, *_last_unrelated(block, position, start, number - 1))
            end = block.find("\n", start)
            end = len(block) if end < 0 else end
            line = block[start:end]
            if start in misfit:
                analyzer.feed(number, line)
            elif plain and "\r" not in line:  # a plain text line of the layout's shape: nothing to decode, and
                analyzer.lines += 1  # no multi-line object opens (the Reader does not see it)
                analyzer.record(Record(number, line))  # formats.plain_record, made here
                number, position = number + 1, end + 1
                continue
            else:
                self._feed_candidate(number, line, kind)
            number, position = number + 1, end + 1
            if analyzer.pending:  # the line opened a multi-line object: its lines follow
                number, position = self._feed_open_object(number, block, position)
        if position >= len(block):
            return number - 1
        count = block.count("\n", position)
        if not block.endswith("\n"):
            count += 1  # the last line has no line end
        analyzer.skipped(count, *_last_unrelated(block, position, len(block), number + count - 1))
        return number + count - 1

    def _block_layout(self, block: str) -> tuple[str | None, list[int]]:
        """Return the fast layout for *block* and the starts of its lines that do not fit it.

        The input's layout is kept while at least half the lines fit it; otherwise one is looked for in the block.
        After a few blocks in a row without any, only every _LAYOUT_RETRY-th block is looked at again.
        """
        kind = self._layout
        if kind is not None:
            odd = framing.misfits(block, kind)
            if len(odd) <= len(block) >> _FEW_MISFITS or len(odd) * 2 <= block.count("\n"):
                return kind, odd
        if self._layout_misses >= _LAYOUT_MISSES and self._blocks % _LAYOUT_RETRY:
            return None, []
        kind = self._layout = framing.layout(block)
        self._layout_misses = 0 if kind is not None else self._layout_misses + 1
        return kind, framing.misfits(block, kind) if kind is not None else []

    def _feed_candidate(self, number: int, line: str, kind: str) -> None:
        """Read a candidate line of a block in layout *kind* (one that fits the layout's shape) that the Reader
        decodes or cleans: a JSON or kmsg line, or a plain one with a carriage return."""
        analyzer = self._analyzer
        if kind == "json":
            analyzer.feed(number, line, candidate=True)
        else:  # structured (kmsg), or to be cleaned first
            analyzer.feed(number, line)

    def _feed_open_object(self, number: int, block: str, position: int) -> tuple[int, int]:
        """Feed the lines of *block* from *position* on (line *number*) one by one while the Reader holds
        an unfinished multi-line object; return the number and position of the next line."""
        analyzer = self._analyzer
        while analyzer.pending and position < len(block):
            end = block.find("\n", position)
            end = len(block) if end < 0 else end
            analyzer.feed(number, block[position:end])
            number, position = number + 1, end + 1
        return number, position

    def _feed_lines(self, number: int, block: str, position: int) -> int:
        """Feed every line of *block* from *position* on, the first being line *number*; return the
        number the line after them would have."""
        lines = block[position:].split("\n")
        if lines[-1] == "":
            lines.pop()
        feed = self._analyzer.feed
        for offset, line in enumerate(lines):
            feed(number + offset, line)
        return number + len(lines)

def _last_unrelated(block: str, start: int, end: int, last_number: int) -> tuple[int, Record | None]:
    """Return the number and record of the last line of block[start:end] with content or a time (None: no such
    line); *last_number* is the number of the last line."""
    line_end = end - 1 if block.endswith("\n", start, end) else end
    number = last_number
    while line_end >= start:
        line_start = max(block.rfind("\n", start, line_end), start - 1) + 1
        record = unrelated_record(number, block[line_start:line_end])
        if record is not None:
            return number, record
        line_end, number = line_start - 1, number - 1
    return number, None
