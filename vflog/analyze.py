"""Run the pipeline: lines -> events -> boots -> per-NIC machines -> findings -> Report.

The Analyzer reads records (formats.Reader), frames and parses their driver messages, splits the
log into boots (boot lines, boot ids, the monotonic clock going back) and hands each event to the
current Boot (boot.py) through the boot sequence (boots.py).  Its helpers have their own modules: the block path by layout
(fastpath.BlockPath, a collaborator that calls back feed, record and skipped) and the holding and
joining of wrapped lines (wrapped.py).  The public entry points (analyze, analyze_text,
analyze_files, events, events_text, EventStream) feed the inputs of sources (input/) to an Analyzer.

The sequence of boots (when one ends and the next starts, the reports kept) is a collaborator,
boots.BootSequence; the Analyzer keeps the current Boot in an attribute, as it is read on every line.

Longer than 400 lines because the Analyzer's record path and the public entry points share its state;
the block path, the boots, wrapped lines and parallel reading are already modules of their own.
"""

from __future__ import annotations

import collections
import functools
import os

from typing import Iterable, Iterator

import attrs

from . import framing, grammar, messages
from .boot import EventSink
from .boots import BootSequence
from .config import Config
from .errors import InputError, ParseError
from .fastpath import BlockPath
from .formats import Reader, Record
from .framing import Stamp
from .events import INFO, Event
from .machine import INPUTS
from .report import BootReport, InputSpan, Report, Stats, Unrecognised, RoutedEvent
from .rules import Listener
from .input import Input, Limits, Selection, Source, Tally, Text, open_inputs
from . import parallel
from .parallel import Plan
from .wrapped import Held, continued, cut_start, may_be_cut, stops_short


#: The longest message read as a driver's (printk prints at most about 1 KiB a line; traces' module lists
#: run longer): a longer one is unrecognised without being parsed or matched, so no memo keeps it.
_LONGEST_MESSAGE = 8192
#: How many of the last content records the end of a boot looks back through for a time (a line a narrow
#: terminal wrapped into rows, the rows unstamped).
_RECENT = 16
#: The longest unrecognised line kept whole for --show-unrecognised; longer ones keep their start and a marker.
_UNRECOGNISED_TEXT = 4096


#: The longest message whose reading is remembered (real driver messages are far shorter).
_REMEMBERED_MESSAGE = 1024


@attrs.frozen
class Reading:
    """What a driver message reads as: its event (None: nothing), whether it stops short (perhaps wrapped: the
    event is then what it reads as alone), and whether it counts as unrecognised."""

    event: Event | None
    short: bool = False
    unrecognised: bool = False
    #: The grammar reads the message whole (a wrap may still have cut its last name, id or number).
    whole: bool = False


def _read(message: str) -> Reading:
    """Return the reading of driver message *message*: the grammar's event (at the level the kernel prints a fault
    or lifecycle line at), else what the tolerant rules and the catalogue read in it."""
    if len(message) > _LONGEST_MESSAGE:  # no driver prints this much: unrecognised, and kept out of every memo
        return Reading(None, unrecognised=True)
    try:
        template = grammar.parse_message(message)
    except ParseError as error:  # the catalogue, extra text after a known message, unknown failures
        found = messages.driver_event(message, error.column)
        if stops_short(message, found):
            return Reading(found, short=True)
        return Reading(found, unrecognised=_unrecognised(found))
    if template.level is not INFO or template.kind in INPUTS:  # faults and lifecycle lines the grammar names:
        template = messages.judged(template)  # the kernel's level says how bad
    return Reading(template, whole=True)


@functools.lru_cache(maxsize=1 << 12)
def _reading(message: str) -> Reading:
    """Return _read(message), remembered per distinct message (a message repeats: storms, flapping, look-alikes)."""
    return _read(message)


def _unrecognised(found: Event | None) -> bool:
    """Return whether a message the grammar does not read, in which the tolerant rules and the catalogue read
    *found*, counts as unrecognised: they read nothing, or only an uncatalogued failure."""
    return found is None or found.kind == messages.UNCATALOGUED


def _repeats(text: str, previous: Record) -> bool:
    """Return whether line text *text* is the stamped line *previous* again (the collector's doing, counted as a
    duplicate): the same text, starting as a stamp or record does."""
    return text == previous.text and text[:1] in "[{<0123456789"


def _kept(text: str) -> str:
    """Return *text*, or its first _UNRECOGNISED_TEXT characters and how much was left out."""
    if len(text) <= _UNRECOGNISED_TEXT:
        return text
    return f"{text[:_UNRECOGNISED_TEXT]} ... [{len(text) - _UNRECOGNISED_TEXT} more characters]"


class Analyzer:
    """Feed raw lines in, get a Report out; boots are split and replayed as the lines arrive."""

    def __init__(self, config: Config | None = None, sink: EventSink | None = None,
                 listener: Listener | None = None) -> None:
        self.config = config or Config()
        self._sink = sink
        self._listener = listener
        self.unrecognised: list[Unrecognised] = []
        self.unrecognised_count = 0
        self.lines = 0
        self.events = 0
        self._previous: Record | None = None
        #: The last content records, the latest last (the time of a boot's end is the latest one's that has a time:
        #: the rows a terminal wrapped a last line into have none).
        self._recent: collections.deque[Record] = collections.deque(maxlen=_RECENT)
        self._reader = Reader()
        self._block_path = BlockPath(self)
        self.spans: list[InputSpan] = []
        self._boots = BootSequence(self.config, sink, listener, self.spans)
        self._boot = self._boots.current  # the boot being replayed, read on every line
        self._boot_id: str | None = None
        self._tz = self.config.tzinfo()
        #: A driver line cut short (perhaps wrapped), waiting for the next line to tell.
        self._held: Held | None = None
        #: The last line when no message starts in it: the next line may complete a message start a wrap cut.
        self._cut: tuple[Record, Record | None] | None = None  # and the content record before it

    @property
    def block_state(self) -> tuple[str | None, int, int]:
        """Return what the block path's layout of the next block depends on (parallel.py carries it across chunks)."""
        return self._block_path.state

    def resume_blocks(self, state: tuple[str | None, int, int]) -> None:
        """Let the block path go on from *state*, as if the blocks that led to it had been read here."""
        self._block_path.resume(state)

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

    def skipped(self, count: int, number: int, record: Record | None) -> None:
        """Account for *count* unrelated lines the block path did not read; *record* is the last of them with
        content or a time (line *number*), None when there is none."""
        if self._held is not None:  # lines of the layout's shape carry their own stamp: none continues it
            self._settle()
        self.lines += count
        before = self._previous if count == 1 else None  # the line before the gap's last, when known
        if record is not None:
            self._boot.last_other_line = number
            self._previous = record
            self._recent.append(record)
            self._tick(record)
        self._cut = (record, before) if record is not None and number == self.lines else None

    def feed(self, number: int, raw: str, candidate: bool = False) -> None:
        """Take raw line *number* of the current input (a *candidate* has the shape of the block path's JSON layout)."""
        self.lines += 1
        for record in self._reader.feed(number, raw, candidate):
            self.record(record)

    @property
    def pending(self) -> bool:
        """Return whether the last line opened a multi-line object (JSON) whose lines follow."""
        return self._reader.pending

    def record(self, record: Record) -> None:
        """Take one decoded record: find the driver message, parse it, place it in its boot."""
        if self._held is not None and self._joined(record):
            return
        # unpacked once: a NamedTuple's fields read by name cost ~0.1 µs each in CPython 3.11
        number, text, stamp, boot_id, structured, filler, _ = record
        previous, cut, self._cut = self._previous, self._cut, None
        if boot_id is not None and boot_id != self._boot_id:
            if self._boot_id is not None or self._boot.events:
                self._boot = self._boots.start_next(number, previous, self._recent)
            self._boot_id = boot_id
        if text is None:
            if structured and not filler:
                self._boot.last_other_line = number
                self._previous = record
                self._tick(record)
            return
        content = len(text.strip()) > 3  # not blank, not a bare bracket or an elision mark
        if content:
            self._previous = record
            self._recent.append(record)
            if previous is not None and _repeats(text, previous):
                self._boot.duplicates += 1
                return
        framed = framing.frame(text)
        if framed is None:
            joined = cut_start(cut[0], record) if cut is not None else None
            if joined is not None and cut is not None:  # the message start the wrap cut: read the line as it was
                self._previous = cut[1]
                self.record(joined)
                return
            if content:
                self._cut = record, previous
            if structured or content:
                self._boot.last_other_line = number
                self._tick(record)
            return
        prefix, message, seconds = framed
        reading = _reading(message) if len(message) <= _REMEMBERED_MESSAGE else _read(message)
        if reading.short:  # perhaps wrapped: the next line decides
            self._held = Held(record, prefix, message, framed.stamp, previous, reading.event)
            return
        if reading.whole and self._listener is None and may_be_cut(text, message):  # a terminal may have cut its
            self._held = Held(record, prefix, message, framed.stamp, previous, reading.event, whole=True)  # last
            return  # name (not when following: a live log is not wrapped, and its change would wait)
        if reading.unrecognised:
            self._count_unrecognised(number, text)
        if reading.event is None:
            return
        t: float | None
        clock: str | None
        if stamp is not None:  # the time the record's structure gave
            t, clock = stamp
        elif seconds is not None:  # a plain dmesg stamp
            t, clock = seconds, framing.MONOTONIC
        else:
            t, clock = self._time(prefix)
        self._place(reading.event, number, t, clock, previous)

    def _count_unrecognised(self, number: int, text: str) -> None:
        """Count line *number* (*text*) as unrecognised, and keep it while fewer than the limit are kept."""
        self.unrecognised_count += 1
        if len(self.unrecognised) < self.config.unrecognised_limit:
            self.unrecognised.append(Unrecognised(number, _kept(text)))

    def _unknown(self, number: int, raw: str, found: Event | None) -> Event | None:
        """Return *found*, the event the tolerant rules and the catalogue read in line *number* (*raw*), which the
        grammar does not read; count the line as unrecognised when they do not know it either."""
        if _unrecognised(found):
            self._count_unrecognised(number, raw)
        return found

    def _emit(self, template: Event, number: int, given: Stamp | None, prefix: str, previous: Record | None) -> None:
        """Place the event of *template* at line *number*, at the time *given* or else the one *prefix* carries."""
        t, clock = given if given is not None else self._time(prefix)
        self._place(template, number, t, clock, previous)

    def _time(self, prefix: str) -> tuple[float | None, str | None]:
        """Return the time and clock that the outer prefix *prefix* of a line carries, (None, None) without one."""
        stamp = framing.stamp(prefix, self._tz)
        return stamp if stamp is not None else (None, None)

    def _place(self, template: Event, number: int, t: float | None, clock: str | None, previous: Record | None) -> None:
        """Place the event of *template* at line *number* and time *t* on *clock* in its boot."""
        if template.kind != messages.UNCATALOGUED:
            self.events += 1
        self._boot = self._boots.place_at(template, number, t, clock, previous)

    def _joined(self, record: Record) -> bool:
        """Join the held line with *record* when *record* continues it (a wrapped line) into a message that is
        read, and place that event at the held line; hold the joined line instead when it still stops short (a
        line wrapped more than once); otherwise read the held line alone.  Return whether *record* was taken."""
        held, self._held = self._held, None
        assert held is not None
        event = continued(held, record)
        if isinstance(event, Held):  # still short: the next line may continue it further
            self._held = event
            return True
        if event is None:
            self._read_held(held)
            return False
        first = held.record
        joined = first._replace(text=held.prefix + event.message)  # the line as it was before the wrap
        previous, self._previous = held.previous, joined
        if previous is not None and _repeats(joined.text, previous):  # type: ignore[arg-type]
            self._boot.duplicates += 1  # as record() counts it
        else:
            self._emit(event, first.number, first.stamp or held.seconds, held.prefix, previous)
        return True

    def _settle(self) -> None:
        """Read the held line alone: the line after it (or the end of the input) does not continue it."""
        held, self._held, self._cut = self._held, None, None
        if held is not None:
            self._read_held(held)

    def _read_held(self, held: Held) -> None:
        """Read the held line as the line it is (it was not wrapped)."""
        record = held.record
        found = self._unknown(record.number, record.text, held.found)  # type: ignore[arg-type]
        if found is not None:
            self._emit(found, record.number, record.stamp or held.seconds, held.prefix, held.previous)

    def _tick(self, record: Record) -> None:
        """Follow mode: let time-based findings fire as the stream's own clock moves on."""
        if self._listener is None:
            return
        stamp = Reader.stamp_of(record, self._tz)
        if stamp is not None and stamp.clock == self._boot.clock:
            self._boot.rules.tick(stamp.t, self._boot.last_other_line)

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
