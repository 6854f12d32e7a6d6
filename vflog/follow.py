"""Follow a live log: keep the machines running and report each change as it happens."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Union, cast

import attrs

from .analyze import Analyzer
from .config import Config
from .report import Finding, Report, StateChange, Withdrawn, locate
from .rules import Listener
from .errors import InputError
from .input import Limits, Selection, Source, open_inputs, utf8_boundary
from .input.archives import _ZIP, _is_tar
from .input.compression import _magic
from .input.export import _EXPORT

Change = Union[StateChange, Finding, Withdrawn]


class Follower:
    """An analysis fed one line at a time; ``changes()`` hands out what happened since the last call."""

    def __init__(self, config: Config | None = None, name: str = "<stream>") -> None:
        self._changes: list[Change] = []
        self._analyzer = Analyzer(config, listener=cast(Listener, self._heard))
        self._analyzer.start_input(name, 1)
        self._number = 0
        self._partial = ""
        self.name = name

    def _heard(self, change: Change) -> None:
        """Keep a change; a finding (also a withdrawn one) gets its origin and NIC name as a report's has them."""
        if isinstance(change, Finding):
            change = self._placed(change)
        elif isinstance(change, Withdrawn):
            change = Withdrawn(self._placed(change.finding))
        self._changes.append(change)

    def _placed(self, finding: Finding) -> Finding:
        """Return *finding* with its ``origin`` (input and line) and its NIC's interface name as it is now."""
        origin = finding.origin or locate(self._analyzer.spans, finding.line)
        return attrs.evolve(finding, origin=origin, nic_name=finding.nic_name or self._analyzer.nic_name(finding.nic))

    def begin(self, name: str) -> None:
        """Start a new part of the stream (a rotated file, a member): line numbers go on, origins name *name*."""
        if self._partial:
            self.feed(self._partial)
            self._partial = ""
        self._analyzer.start_input(name, self._number + 1)

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

    def finish(self, notes: Iterable[str] = ()) -> Report:
        """End the stream: apply the end-of-log rules and return the final report, with *notes* added to its own."""
        if self._partial:
            self.feed(self._partial)
            self._partial = ""
        report = self._analyzer.finish(self.name, (self.name,))
        return attrs.evolve(report, notes=(*tuple(notes), *report.notes))


def cut_note(name: str, count: int, max_line: int) -> str:
    """Return the note that says *count* lines of input *name* were cut at *max_line* bytes (report's wording)."""
    return f"{name}: {count} line(s) longer than {max_line} bytes were cut to their first {max_line} bytes"


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

    def notes(self, name: str) -> list[str]:
        """Return the note a report gives when lines of input *name* were cut (none when no line was)."""
        return [cut_note(name, self.cut, self.max_line)] if self.cut else []

    def _decode(self, line: bytes) -> str:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_line:
            line = line[: utf8_boundary(line, self.max_line)]
            self.cut += 1
        return str(line, "utf-8", "replace")


def read_lines(binary: IO[bytes], limits: Limits = Limits(), splitter: LineSplitter | None = None,
               name: str = "<stdin>") -> Iterator[str]:
    """Yield the lines of a binary stream (stdin of ``vflog follow``) as they arrive, as *splitter* cuts them.

    Compressed, archived or binary data (judged on the first bytes) raises InputError.
    """
    splitter = splitter or LineSplitter(limits.max_line)
    read = getattr(binary, "read1", binary.read)  # what is there now: a live pipe is not waited on to fill a block
    head = b""
    while data := read(_READ):
        head = _looked_at(head, data, name)
        yield from splitter.feed(data)
    yield from splitter.finish()


#: Bytes read at a time while following.
_READ = 1 << 16
#: The first bytes of a stream that are looked at (with the rest of the read that reaches them) before it is
#: accepted as plain text: a pipe may deliver its first bytes a few at a time.
_HEAD = 4096
#: Bytes before the read position that must stay the same while a file only grows (else it was truncated).
_MARK = 64


def refuse_unfollowable(block: bytes, name: str) -> None:
    """Raise InputError when *block*, the first bytes of a stream to follow, is not plain text.

    Compressed data, archives and journal exports can only be replayed from a regular file;
    binary data is refused as report refuses it ("is not a text log (binary data)"): the block
    is read through input.open_inputs, which holds report's check, so the two cannot disagree.
    """
    kind = packed(block)
    if kind is not None:
        raise InputError(name, f"is {kind}: vflog follow decodes it only when given its file name (or use vflog report)")
    try:
        for item in open_inputs(block[:_READ]):
            for _ in item.lines:
                pass
    except InputError as exc:
        raise InputError(name, exc.reason) from None


def _looked_at(head: bytes, data: bytes, name: str) -> bytes:
    """Return the first bytes of a stream (*head*) grown by the next read *data*; refuse them when not plain text."""
    if len(head) >= _HEAD:
        return head
    sample = head + data
    refuse_unfollowable(sample, name)
    return sample[:_HEAD]


def packed(head: bytes) -> str | None:
    """Return what makes a file starting with *head* something other than plain text, or None for text."""
    kind = _magic(head)
    if kind is not None:
        return f"{kind}-compressed"
    if head.startswith(_ZIP) or _is_tar(head):
        return "an archive"
    if head.startswith(_EXPORT):
        return "a journal export"
    return None


@attrs.frozen
class Segment:
    """Marks where a new part of a followed file starts: *name* (for origins) and what happened (*reason*)."""

    name: str
    reason: str


class Tail:
    """Follow a file by name like ``tail -F``: yield its lines (str) and a Segment where a new part starts.

    A plain file is read to its end and then watched: lines appended later are yielded as they
    come; when the name is given to a new file (rotated: renamed or removed, then created anew)
    the rest of the old file is read first, then the new file from its start; when the file is
    truncated (shorter than the position read, or the bytes just before it changed: copytruncate
    followed by a burst) it is read again from its start.  No line is skipped and none is read
    twice; line numbers go on across these as one stream.  A compressed file, an archive or a
    journal export is decoded as report does (input.open_inputs), replayed, and then ends.
    Binary data raises InputError.  *stop* is asked at every pause (an idle end of file); True ends.
    """

    def __init__(self, path: Path, *, poll: float = 0.5, stop: Callable[[], bool] | None = None,
                 limits: Limits = Limits()) -> None:
        self.path = path
        self.name = str(path)
        self.poll = poll
        self.stop = stop
        self.limits = limits
        self.splitter = LineSplitter(limits.max_line)
        self.rotations = 0
        self.truncations = 0
        self.replay_notes: list[str] = []
        self._replay_cut: list[tuple[str, int]] = []

    def notes(self) -> list[str]:
        """Return what following changed or could not do: rotations, truncations, replays, lines cut."""
        notes = list(self.replay_notes)
        if self.rotations or self.truncations:
            notes.append(f"{self.name}: followed across {self.rotations} rotation(s) and {self.truncations} "
                         f"truncation(s); line numbers go on as one stream (origins name each part)")
        notes.extend(cut_note(name, count, self.limits.max_line) for name, count in self._replay_cut if count)
        return notes + self.splitter.notes(self.name)

    def __iter__(self) -> Iterator[str | Segment]:
        handle: IO[bytes] = open(self.path, "rb", buffering=0)
        try:
            regular = stat.S_ISREG(os.fstat(handle.fileno()).st_mode)
            kind = packed(os.pread(handle.fileno(), 512, 0)) if regular else None
            if kind is not None:
                yield from self._replay(handle, kind)
                return
            yield from self._follow(handle, regular)
        finally:
            handle.close()

    def _replay(self, handle: IO[bytes], kind: str) -> Iterator[str | Segment]:
        """Yield the lines of a file that is not plain text, decoded as report does, then end."""
        for item in open_inputs(io.BufferedReader(handle), limits=self.limits):  # type: ignore[arg-type,type-var]
            if item.name != self.name:
                yield Segment(item.name, "member")
            if item.note:
                self.replay_notes.append(f"{item.name}: {item.note}")
            yield from item.lines
            self._replay_cut.append((item.name, item.tally.cut_lines))
        self.replay_notes.append(f"{self.name}: {kind}: replayed to its end, not followed")

    def _follow(self, handle: IO[bytes], regular: bool) -> Iterator[str | Segment]:
        """Yield the lines of a plain file, then those appended, across rotations and truncations."""
        position, recent, head = 0, b"", b""
        identity = _identity(handle)
        try:
            while True:
                if regular and position and _shrunk(handle, position, recent):
                    yield from self.splitter.finish()  # an unfinished last line is still a line
                    handle.seek(0)
                    position, recent, head = 0, b"", b""
                    self.truncations += 1
                    yield Segment(f"{self.name} (after truncation {self.truncations})", "truncated")
                data = handle.read(_READ)
                if data:
                    head = _looked_at(head, data, self.name)
                    position += len(data)
                    recent = (recent + data)[-_MARK:]
                    yield from self.splitter.feed(data)
                    continue
                renamed = _reopened(self.path, identity) if regular else None
                if renamed is not None:
                    while data := handle.read(_READ):  # what was written to the old file before it was renamed
                        yield from self.splitter.feed(data)
                    yield from self.splitter.finish()
                    handle.close()
                    handle, identity = renamed, _identity(renamed)
                    position, recent, head = 0, b"", b""
                    self.rotations += 1
                    yield Segment(f"{self.name} (after rotation {self.rotations})", "rotated")
                    continue
                if self.stop is not None and self.stop():
                    break
                time.sleep(self.poll)
        finally:
            handle.close()
        yield from self.splitter.finish()


def _identity(handle: IO[bytes]) -> tuple[int, int]:
    """Return the device and inode of an open file."""
    info = os.fstat(handle.fileno())
    return info.st_dev, info.st_ino


def _shrunk(handle: IO[bytes], position: int, recent: bytes) -> bool:
    """Return whether the open file is no longer what was read up to *position* (truncated, perhaps refilled)."""
    if os.fstat(handle.fileno()).st_size < position:
        return True
    return bool(recent) and os.pread(handle.fileno(), len(recent), position - len(recent)) != recent


def _reopened(path: Path, identity: tuple[int, int]) -> IO[bytes] | None:
    """Return the file now at *path* when it is another file than *identity* (rotated), else None."""
    try:
        info = os.stat(path)
        if (info.st_dev, info.st_ino) == identity or not stat.S_ISREG(info.st_mode):
            return None
        return open(path, "rb", buffering=0)
    except OSError:  # gone for now (between the rename and the new file) or not readable yet: keep waiting
        return None


def tail(path: Path, *, poll: float = 0.5, stop: Callable[[], bool] | None = None,
         limits: Limits = Limits()) -> Iterator[str]:
    """Yield the lines of *path* and then each line appended later, by name like ``tail -F`` (see Tail)."""
    return (item for item in Tail(path, poll=poll, stop=stop, limits=limits) if isinstance(item, str))


def follow(source: Source | Iterable[str], *, config: Config | None = None,
           selection: Selection = Selection(), limits: Limits = Limits()) -> Iterator[Union[Change, Report]]:
    """Yield each state change and finding as *source* is read, then the final Report.

    Inputs are named as report names them (findings' origins, the report's source); its notes say, as
    report's do, which inputs had lines cut at limits.max_line.
    """
    follower: Follower | None = None
    notes: list[str] = []
    for item in open_inputs(source, selection=selection, limits=limits):  # type: ignore[arg-type]
        if follower is None:
            follower = Follower(config, item.name)
        else:
            follower.begin(item.name)
        if item.note:
            notes.append(f"{item.name}: {item.note}")
        for line in item.lines:
            follower.feed(line)
            yield from follower.changes()
        if item.tally.cut_lines:
            notes.append(cut_note(item.name, item.tally.cut_lines, limits.max_line))
    follower = follower or Follower(config)
    report = follower.finish(notes)
    yield from follower.changes()
    yield report
