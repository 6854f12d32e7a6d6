"""Follow a live log: keep the machines running and report each change as it happens."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Union

from .analyze import Analyzer, StateChange
from .config import Config
from .report import Finding, Report
from .rules import Withdrawn
from .sources import Limits, Selection, Source, utf8_boundary, open_inputs

Change = Union[StateChange, Finding, Withdrawn]


class Follower:
    """An analysis fed one line at a time; ``changes()`` hands out what happened since the last call."""

    def __init__(self, config: Config | None = None, name: str = "<stream>") -> None:
        self._changes: list[Change] = []
        self._analyzer = Analyzer(config, listener=self._changes.append)
        self._analyzer.start_input(name, 1)
        self._number = 0
        self._partial = ""
        self.name = name

    def feed(self, line: str) -> None:
        """Take the next line of the stream (its LF or CRLF, if any, is dropped; a lone CR is part of it)."""
        self._number += 1
        self._analyzer.feed(self._number, line.removesuffix("\n").removesuffix("\r"))

    def feed_text(self, chunk: str) -> None:
        """Take a chunk of the stream cut anywhere, even in the middle of a line."""
        text = self._partial + chunk
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            self.feed(line)

    def changes(self) -> list[Change]:
        """Return (and forget) the state changes and findings since the last call."""
        changes, self._changes[:] = list(self._changes), []
        return changes

    def finish(self) -> Report:
        """End the stream: apply the end-of-log rules and return the final report."""
        if self._partial:
            self.feed(self._partial)
            self._partial = ""
        return self._analyzer.finish(self.name, (self.name,))


class LineSplitter:
    """Cut bytes that arrive in pieces into lines as ``grep -n`` counts them, each at most max_line bytes.

    A line ends at LF only (a CRLF's CR is dropped, a lone CR stays in the line); a longer line
    keeps its first max_line bytes, the rest up to its LF is dropped, and ``cut`` counts it.
    """

    def __init__(self, max_line: int = Limits().max_line) -> None:
        self.max_line = max_line
        self.cut = 0
        self._pending = b""
        self._dropping = False

    def feed(self, data: bytes) -> list[str]:
        """Return the lines that *data* completes, without their line ends."""
        if self._dropping:
            end = data.find(b"\n")
            if end < 0:
                return []
            data, self._dropping = data[end + 1:], False
        parts = (self._pending + data).split(b"\n")
        self._pending = parts.pop()
        lines = [self._decode(part) for part in parts]
        if len(self._pending) > self.max_line:
            lines.append(self._decode(self._pending))
            self._pending, self._dropping = b"", True
        return lines

    def finish(self) -> list[str]:
        """Return the last line when the bytes ended without a line end."""
        rest, self._pending, self._dropping = self._pending, b"", False
        return [self._decode(rest)] if rest else []

    def _decode(self, line: bytes) -> str:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_line:
            line = line[: utf8_boundary(line, self.max_line)]
            self.cut += 1
        return str(line, "utf-8", "replace")


def read_lines(binary: IO[bytes], limits: Limits = Limits()) -> Iterator[str]:
    """Yield the lines of a binary stream (stdin of ``vflog follow``) as they arrive, as LineSplitter cuts them."""
    splitter = LineSplitter(limits.max_line)
    read = getattr(binary, "read1", binary.read)  # what is there now: a live pipe is not waited on to fill a block
    while data := read(_READ):
        yield from splitter.feed(data)
    yield from splitter.finish()


#: Bytes read at a time while following.
_READ = 1 << 16


def tail(path: Path, *, poll: float = 0.5, stop: "Callable[[], bool] | None" = None,
         limits: Limits = Limits()) -> Iterator[str]:
    """Yield the lines of *path* (as LineSplitter cuts them) and then, like ``tail -f``, each line appended later."""
    handle: IO[bytes] = open(path, "rb")
    splitter = LineSplitter(limits.max_line)
    try:
        while True:
            data = handle.read(_READ)
            if data:
                yield from splitter.feed(data)
                continue
            if stop is not None and stop():
                break
            try:
                if os.stat(path).st_size < handle.tell():  # truncated or rotated: start over
                    handle.close()
                    handle = open(path, "rb")
            except OSError:
                pass
            time.sleep(poll)
    finally:
        handle.close()
    yield from splitter.finish()


def follow(source: Source | Iterable[str], *, config: Config | None = None,
           selection: Selection = Selection()) -> Iterator[Union[Change, Report]]:
    """Yield each state change and finding as *source* is read, then the final Report."""
    follower = Follower(config)
    for item in open_inputs(source, selection=selection):  # type: ignore[arg-type]
        for line in item.lines:
            follower.feed(line)
            yield from follower.changes()
    report = follower.finish()
    yield from follower.changes()
    yield report
