"""Run the pipeline: lines -> events -> boots -> per-NIC machines -> findings -> Report.

The Analyzer is the per-line front end (front.Front: records framed and read, wrapped lines held and joined)
whose hooks place the events in boots: it splits the log into boots (boot lines, boot ids, the monotonic clock
going back) and hands each event to the current Boot (boot.py) through the boot sequence (boots.py).  The
block path by layout (fastpath.BlockPath) is a collaborator that calls back feed, record and skipped; a worker
of parallel.py runs the front end on its chunk and the Analyzer makes the hook calls it recorded (_take_steps).
The public entry points (analyze, analyze_text, analyze_files, events, events_text, EventStream) feed the inputs
of sources (input/) to an Analyzer.

The sequence of boots (when one ends and the next starts, the reports kept) is a collaborator,
boots.BootSequence; the Analyzer keeps the current Boot in an attribute, as it is read on every line.
"""

from __future__ import annotations

import collections
import os

from typing import Iterable, Iterator

import attrs

from . import messages
from .boot import EventSink
from .boots import BootSequence
from .config import Config
from .errors import InputError
from .fastpath import BlockPath
from .formats import Reader, Record
from .events import Event
from .front import RECENT, Front, Lines, Steps, moved_lines
from .front import _reading as _reading  # re-exported: its memo is read by tests
from .report import BootReport, InputSpan, Report, Stats, Unrecognised, RoutedEvent
from .rules import Listener
from .input import Input, Limits, Selection, Source, Tally, Text, open_inputs
from . import parallel
from .parallel import Plan


#: The longest unrecognised line kept whole for --show-unrecognised; longer ones keep their start and a marker.
_UNRECOGNISED_TEXT = 4096


def _kept(text: str) -> str:
    """Return *text*, or its first _UNRECOGNISED_TEXT characters and how much was left out."""
    if len(text) <= _UNRECOGNISED_TEXT:
        return text
    return f"{text[:_UNRECOGNISED_TEXT]} ... [{len(text) - _UNRECOGNISED_TEXT} more characters]"


class Analyzer(Front):
    """Feed raw lines in, get a Report out; boots are split and replayed as the lines arrive."""

    def __init__(self, config: Config | None = None, sink: EventSink | None = None,
                 listener: Listener | None = None) -> None:
        self.config = config or Config()
        super().__init__(self.config.tzinfo(), following=listener is not None)
        self._sink = sink
        self._listener = listener
        self.unrecognised: list[Unrecognised] = []
        self.unrecognised_count = 0
        self.events = 0
        self._block_path = BlockPath(self)
        self.spans: list[InputSpan] = []
        self._boots = BootSequence(self.config, sink, listener, self.spans)
        self._boot = self._boots.current  # the boot being replayed, read on every line
        #: While a worker's steps are taken: the last content records before them.
        self._before_steps: tuple[Record, ...] = ()

    @property
    def block_state(self) -> tuple[str | None, int, int]:
        """Return what the block path's layout of the next block depends on (parallel.py carries it across chunks)."""
        return self._block_path.state

    def resume_blocks(self, state: tuple[str | None, int, int]) -> None:
        """Let the block path go on from *state*, as if the blocks that led to it had been read here."""
        self._block_path.resume(state)

    @property
    def front_config(self) -> Config | None:
        """Return the configuration a worker reads lines with (parallel.py), None when lines are read only here
        (follow mode: its ticks need the boots)."""
        return None if self._following else self.config

    @property
    def boots(self) -> list[BootReport]:
        """Return the reports of the boots finished so far."""
        return self._boots.reports

    @property
    def dropped_boots(self) -> int:
        """Return how many older boots were dropped past max_boots."""
        return self._boots.dropped

    def nic_name(self, key: str | None) -> str | None:
        """Return the interface name NIC *key* has now in the boot being replayed, None when it has none (yet)."""
        nic = self._boots.current.nics.get(key) if key is not None else None
        return nic.synthetic if nic is not None else None

    def start_input(self, name: str, first_line: int) -> None:
        """Begin a new input (file, archive member, stream) at global line *first_line*."""
        for record in self._reader.flush():
            self.record(record)
        self._settle()  # a line is never continued by the next input
        self._reader = Reader()
        self._block_path.start_input()
        self.spans.append(InputSpan(name, first_line))

    def feed_block(self, first: int, block: str) -> int:
        """Take a block of text whose first line has number *first*; return the number of its last line.

        When the block has a fast layout, only its candidate lines are read (see fastpath).
        """
        return self._block_path.feed_block(first, block)

    # -- the hooks of the Front: the boots ----------------------------------------------------------------------

    def _place(self, template: Event, number: int, t: float | None, clock: str | None,
               previous: Record | None) -> None:
        """Place the event of *template* at line *number* and time *t* on *clock* in its boot."""
        if template.kind != messages.UNCATALOGUED:
            self.events += 1
        self._boot = self._boots.place_at(template, number, t, clock, previous)

    def _other(self, number: int, record: Record) -> None:
        """Take line *number* as the boot's last line that is no event; follow mode: let time-based findings fire
        as the stream's own clock moves on."""
        self._boot.last_other_line = number
        if self._listener is None:
            return
        stamp = Reader.stamp_of(record, self._tz)
        if stamp is not None and stamp.clock == self._boot.clock:
            self._boot.rules.tick(stamp.t, self._boot.last_other_line)

    def _duplicate(self) -> None:
        """Count a line repeated verbatim right after itself in the boot."""
        self._boot.duplicates += 1

    def _boot_changes(self, number: int, boot_id: str, previous: Record | None,
                      recent: Iterable[Record] | None = None) -> None:
        """Start the next boot at record *number* whose boot id is new (unless nothing happened yet); *recent* are
        the last content records (by default those kept here)."""
        if self._boot_id is not None or self._boot.events:
            self._boot = self._boots.start_next(number, previous, tuple(recent) if recent is not None else self._recent)
        self._boot_id = boot_id

    def _count_unrecognised(self, number: int, text: str) -> None:
        """Count line *number* (*text*) as unrecognised, and keep it while fewer than the limit are kept."""
        self.unrecognised_count += 1
        if len(self.unrecognised) < self.config.unrecognised_limit:
            self.unrecognised.append(Unrecognised(number, _kept(text)))

    def _take_steps(self, steps: Steps, after: Lines, base: int) -> None:
        """Make the hook calls *steps* that a worker's front end recorded (its lines numbered from *base* on) and go
        on from its per-line state *after*; the worker's front end started after this one's last line."""
        self._before_steps = tuple(self._recent)
        steps.replay(self, base)
        state = moved_lines(after, base)
        self._held, self._cut, self._previous = state.held, state.cut, state.previous
        self._recent = collections.deque((*self._before_steps, *state.recent), maxlen=RECENT)

    take_event = _place

    def take_other_line(self, number: int) -> None:
        """Take line *number* as the boot's latest line that is no event."""
        self._boot.last_other_line = number

    def take_duplicates(self, count: int) -> None:
        """Count *count* lines repeated verbatim right after themselves in the boot."""
        self._boot.duplicates += count

    def take_boot_id(self, number: int, boot_id: str, previous: Record | None, recent: tuple[Record, ...]) -> None:
        """Take record *number* of a worker whose boot id may be new; *recent* are the last content records the
        worker saw before it (after those this Analyzer kept)."""
        if boot_id != self._boot_id:
            self._boot_changes(number, boot_id, previous, (*self._before_steps, *recent)[-RECENT:])

    def take_unrecognised(self, number: int, text: str) -> None:
        """Count line *number* (*text*) as unrecognised."""
        self._count_unrecognised(number, text)

    def finish(self, source: str = "<input>", sources: tuple[str, ...] = ()) -> Report:
        """Close the last boot and return the report."""
        for record in self._reader.flush():
            self.record(record)
        self._settle()
        notes = self._boots.finish(self._previous, self._recent)
        stats = Stats(self.lines, self.events, self.unrecognised_count)
        return Report(source, tuple(self.boots), stats, tuple(self.unrecognised), sources or (source,),
                      inputs=tuple(self.spans), notes=tuple(notes))


def _run(analyzer: Analyzer, sources: Iterable[Source], selection: Selection,
         limits: Limits, jobs: int | None = 1) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Feed every input of every source to *analyzer* as one log; return names, errors and notes."""
    names: list[str] = []
    errors: list[str] = []
    notes: list[str] = []
    for _ in _feeding(analyzer, sources, selection, limits, names, errors, notes, jobs):
        pass
    return tuple(names), tuple(errors), tuple(notes)


def _inputs(source: Source, selection: Selection, limits: Limits, jobs: int | None) -> Iterator[Input | Plan]:
    """Yield the inputs of *source*, or the plan to read it on several cores (parallel.plan)."""
    chosen = parallel.plan(source, jobs, limits)
    if chosen is not None:
        yield chosen
    else:
        yield from open_inputs(source, selection=selection, limits=limits)


def _feeding(analyzer: Analyzer, sources: Iterable[Source], selection: Selection, limits: Limits,
             names: list[str], errors: list[str], notes: list[str], jobs: int | None = 1) -> Iterator[None]:
    """Feed every input of every source to *analyzer*, pausing after each block, line or chunk; collect names,
    errors, notes.  A big plain file is read on *jobs* cores (None: as many as it is worth), as in one."""
    number = 0
    for source in sources:
        for item in _inputs(source, selection, limits, jobs):
            names.append(item.name)
            if isinstance(item, Input) and item.note:
                notes.append(f"{item.name}: {item.note}")
            analyzer.start_input(item.name, number + 1)
            tally = item.tally if isinstance(item, Input) else Tally()
            try:
                if isinstance(item, Plan):
                    for number in parallel.read_chunks(analyzer, item, limits, number, tally):
                        yield
                elif item.chunks is not None:
                    for block in item.chunks:
                        number = analyzer.feed_block(number + 1, block)
                        yield
                else:
                    for raw in item.lines:
                        number += 1
                        analyzer.feed(number, raw)
                        yield
            except InputError as exc:
                errors.append(str(exc))
            if tally.cut_lines:
                notes.append(f"{item.name}: {tally.cut_lines} line(s) longer than {limits.max_line} bytes "
                             f"were cut to their first {limits.max_line} bytes")


def analyze(source: Source, *, config: Config | None = None, selection: Selection = Selection(),
            limits: Limits = Limits(), jobs: int | None = 1) -> Report:
    """Analyse a kernel log and return its Report.

    *source* is a path (str or os.PathLike, never log text; ``-`` is stdin), bytes, a binary or
    text stream, or an iterable of str lines; log text in a str goes to analyze_text.  Raise
    InputError when nothing at all could be read from *source* (a missing path: "no such file"),
    TypeError for anything else.  *jobs* > 1 reads a big plain file on that many processes (None:
    every core for a file of 8 MB or more); the report is the same as with 1.
    """
    return analyze_files([source], config=config, selection=selection, limits=limits, strict=True, jobs=jobs)


def analyze_text(text: str, *, config: Config | None = None, selection: Selection = Selection(),
                 limits: Limits = Limits()) -> Report:
    """Analyse kernel log text given as a str (read exactly like the same text in a file) and return its Report."""
    return analyze(_text(text), config=config, selection=selection, limits=limits)


def _text(text: str) -> Text:
    """Return *text* wrapped as log text, or raise TypeError when it is not a str."""
    if not isinstance(text, str):
        raise TypeError(f"log text must be str, not {type(text).__name__} (give paths, bytes and streams to analyze)")
    return Text(text)


def analyze_files(sources: Iterable[Source], *, config: Config | None = None, sink: EventSink | None = None,
                  selection: Selection = Selection(), limits: Limits = Limits(), strict: bool = False,
                  jobs: int | None = 1) -> Report:
    """Analyse several sources (``-`` for stdin) as one log, in the order given.

    Inputs that cannot be read are listed in the report's errors; with *strict*, InputError is
    raised instead when no line at all could be read.  A plain file (not stdin, compressed, an
    archive or a journal export) is read on *jobs* processes (None: every core when it holds
    8 MB or more), with the report of reading it in one; ValueError for *jobs* below 1.
    """
    _check_many(sources)
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a whole number of at least 1 or None, not {jobs!r}")
    analyzer = Analyzer(config, sink)
    names, errors, notes = _run(analyzer, sources, selection, limits, jobs)
    if strict and errors and not analyzer.lines:
        first = errors[0]
        name, _, reason = first.partition(": ")
        raise InputError(name, reason)
    report = analyzer.finish(", ".join(names) or "<input>", names)
    return attrs.evolve(report, errors=errors, notes=notes + report.notes)


def _check_many(sources: object) -> None:
    """Raise TypeError when *sources* is one source where a list of them is expected."""
    if isinstance(sources, (str, bytes, bytearray, memoryview, os.PathLike, Text)) or not isinstance(sources, Iterable):
        raise TypeError(f"expected a list of sources (paths, bytes, streams, line iterables), "
                        f"not {type(sources).__name__}")


def events_text(text: str, *, config: Config | None = None, selection: Selection = Selection(),
                limits: Limits = Limits()) -> "EventStream":
    """Return the recognised events of kernel log text given as a str, as events does for a file."""
    return events(_text(text), config=config, selection=selection, limits=limits)


class EventStream(Iterator[RoutedEvent]):
    """The recognised events of a log, each handed out as soon as the analysis attributes it.

    Nothing is collected: memory stays bounded however many events the log holds.  Events come
    boot by boot; within a boot, an event held until a later line ties it to its NIC (a PCI line
    before its VF is named) comes when it is tied, so line numbers can step back (sort on
    ``(boot, event.line)`` for line order).  While and after iterating, ``errors`` lists the inputs
    that could not be read and ``lines`` counts the lines read.
    """

    def __init__(self, sources: Iterable[Source], config: Config | None, selection: Selection,
                 limits: Limits) -> None:
        self._ready: collections.deque[RoutedEvent] = collections.deque()
        self._analyzer = Analyzer(config, lambda boot, nic, event: self._ready.append(RoutedEvent(boot, nic, event)))
        self.names: list[str] = []
        self.errors: list[str] = []
        self.notes: list[str] = []
        self._events = self._stream(sources, selection, limits)

    @property
    def lines(self) -> int:
        """Return the number of lines read so far."""
        return self._analyzer.lines

    def __next__(self) -> RoutedEvent:
        """Return the next event, reading on until one is attributed; StopIteration at the end of the log."""
        return next(self._events)

    def _stream(self, sources: Iterable[Source], selection: Selection, limits: Limits) -> Iterator[RoutedEvent]:
        """Yield the events attributed after each block or line, then those the end of the log releases."""
        for _ in _feeding(self._analyzer, sources, selection, limits, self.names, self.errors, self.notes):
            while self._ready:
                yield self._ready.popleft()
        self._analyzer.finish()
        while self._ready:
            yield self._ready.popleft()


def events(source: Source | list[Source], *, config: Config | None = None, selection: Selection = Selection(),
           limits: Limits = Limits()) -> EventStream:
    """Return the recognised events of *source* (a source or a list of them) with their boot and NIC, streamed.

    See :class:`EventStream` for the order and for the ``errors`` and ``lines`` it reports.
    """
    return EventStream(source if isinstance(source, list) else [source], config, selection, limits)
