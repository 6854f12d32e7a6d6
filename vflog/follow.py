"""Follow a live log: keep the machines running and report each change as it happens."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO, Iterable, Iterator, Union

from .analyze import Analyzer, StateChange
from .config import Config
from .report import Finding, Report
from .rules import Withdrawn
from .sources import Selection, Source, open_inputs

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
        """Take the next line of the stream."""
        self._number += 1
        self._analyzer.feed(self._number, line.rstrip("\r\n"))

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


def tail(path: Path, *, poll: float = 0.5, stop: "callable[[], bool] | None" = None) -> Iterator[str]:
    """Yield the lines of *path* and then, like ``tail -f``, each line appended later."""
    handle: IO[str] = open(path, encoding="utf-8", errors="replace", newline=None)
    partial = ""
    try:
        while True:
            chunk = handle.readline()
            if chunk:
                partial += chunk
                if partial.endswith("\n"):
                    yield partial
                    partial = ""
                continue
            if stop is not None and stop():
                break
            try:
                if os.stat(path).st_size < handle.tell():  # truncated or rotated: start over
                    handle.close()
                    handle = open(path, encoding="utf-8", errors="replace", newline=None)
            except OSError:
                pass
            time.sleep(poll)
    finally:
        handle.close()
    if partial:
        yield partial


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
