"""The per-line front end: find and read the driver message of each record, and keep what a line says about the
lines around it (the record before, the last records with content, a line held because it may be wrapped, a
line whose message start a wrap may have cut).

Front takes the calls of the block path (fastpath.LineTaker: feed, record, skipped) and hands what reaches the
boots to five hooks: an event to place, a line that is no event, a duplicate, a new boot id, an unrecognised
line.  The Analyzer (analyze.py) gives them the boots; a worker of parallel.py records them (Steps) for its
parent, which makes them on its boots.  Nothing here depends on the state of a NIC or a boot.
"""

from __future__ import annotations

import abc
import array
import collections
import datetime
import functools
from typing import Any, Iterable, NamedTuple, Protocol

import attrs

from . import framing, grammar, messages
from .errors import ParseError
from .events import INFO, Event
from .formats import Reader, Record
from .framing import Stamp
from .machine import INPUTS
from .wrapped import NARROWEST, Held, continued, cut_start, ends_in_name, stops_short

#: The longest message read as a driver's (printk prints at most about 1 KiB a line; traces' module lists
#: run longer): a longer one is unrecognised without being parsed or matched, so no memo keeps it.
_LONGEST_MESSAGE = 8192
#: How many of the last content records the end of a boot looks back through for a time (a line a narrow
#: terminal wrapped into rows, the rows unstamped).
RECENT = 16
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
    #: The message reads whole and ends in a name, id or number: a wrap may have cut it (see wrapped.may_be_cut).
    cut_end: bool = False


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
    return Reading(template, whole=True, cut_end=ends_in_name(message))


@functools.lru_cache(maxsize=1 << 12)
def _reading(message: str) -> Reading:
    """Return _read(message), remembered per distinct message (a message repeats: storms, flapping, look-alikes)."""
    return _read(message)


@functools.lru_cache(maxsize=1 << 12)
def _after_stamp(text: str) -> tuple[str, Reading] | None:
    """Return the driver message that the text *text* after a dmesg stamp is, and its reading, remembered per
    distinct text (framing.frame's first try on a stamped line); None when no driver message starts it."""
    message = framing.message_at_start(text)
    return (message, _read(message)) if message is not None else None


def _unrecognised(found: Event | None) -> bool:
    """Return whether a message the grammar does not read, in which the tolerant rules and the catalogue read
    *found*, counts as unrecognised: they read nothing, or only an uncatalogued failure."""
    return found is None or found.kind == messages.UNCATALOGUED


def _repeats(text: str, previous: Record) -> bool:
    """Return whether line text *text* is the stamped line *previous* again (the collector's doing, counted as a
    duplicate): the same text, starting as a stamp or record does."""
    return text == previous.text and text[:1] in "[{<0123456789"


# -- what the hooks are given, as a worker records it ------------------------------------------------------------

#: Kinds of hook calls: an event placed, the latest line that is no event, duplicates, a new boot id, an
#: unrecognised line.
_PLACED, _OTHER, _DUPLICATES, _BOOT_ID, _UNREAD = range(5)


class StepTaker(Protocol):
    """What a worker's recorded hook calls are made on (the Analyzer)."""

    def take_event(self, template: Event, number: int, t: float | None, clock: str | None,
                   previous: Record | None) -> None:
        """Place the event of *template* at line *number*, time *t* on *clock*; *previous* is the record before."""

    def take_other_line(self, number: int) -> None:
        """Take line *number* as the latest line that is no event."""

    def take_duplicates(self, count: int) -> None:
        """Count *count* lines repeated verbatim right after themselves."""

    def take_boot_id(self, number: int, boot_id: str, previous: Record | None, recent: tuple[Record, ...]) -> None:
        """Take record *number* whose boot id *boot_id* may be new; *recent*: the last content records before it
        that the worker saw (the taker knows those before)."""

    def take_unrecognised(self, number: int, text: str) -> None:
        """Count line *number* (*text*) as unrecognised."""


class Steps:
    """The hook calls of a worker's Front, in columns: per call a kind, then its line numbers, times and other
    values (a chunk's calls pickle as a few arrays and one list, many times faster than an object per call).

    Line numbers count from 1 (0: no record); a time is 0.0 where its clock is None (a clock comes with a time).
    The record before an event, and the last records before a boot id, are kept as the boots read them
    (stand_in: line and time).
    """

    def __init__(self) -> None:
        self.kinds = bytearray()
        self.numbers = array.array("q")
        self.times = array.array("d")
        self.values: list[Any] = []

    def __len__(self) -> int:
        """Return the number of calls recorded."""
        return len(self.kinds)

    def place(self, template: Event, number: int, t: float | None, clock: str | None, before: Record | None,
              tz: datetime.tzinfo) -> None:
        """Record an event to place, and the line and time of the record *before* it (decoded now)."""
        stamp = Reader.stamp_of(before, tz) if before is not None else None
        self.kinds.append(_PLACED)
        self.numbers.extend((number, before.number if before is not None else 0))
        self.times.extend((t if clock is not None and t is not None else 0.0, stamp.t if stamp is not None else 0.0))
        self.values.extend((template, clock, stamp.clock if stamp is not None else None))

    def other(self, number: int) -> None:
        """Record the latest line that is no event (one call for a run of them)."""
        if self.kinds and self.kinds[-1] == _OTHER:
            self.numbers[-1] = number
        else:
            self.kinds.append(_OTHER)
            self.numbers.append(number)

    def duplicate(self) -> None:
        """Record a duplicate (one call for a run of them)."""
        if self.kinds and self.kinds[-1] == _DUPLICATES:
            self.numbers[-1] += 1
        else:
            self.kinds.append(_DUPLICATES)
            self.numbers.append(1)

    def boot_id(self, number: int, boot_id: str, previous: Record | None, recent: Iterable[Record],
                tz: datetime.tzinfo) -> None:
        """Record a boot id that differs from the last one the worker saw."""
        self.kinds.append(_BOOT_ID)
        self.numbers.append(number)
        self.values.extend((boot_id, stand_in(previous, tz) if previous is not None else None,
                            tuple(stand_in(record, tz) for record in recent)))

    def unread(self, number: int, text: str) -> None:
        """Record an unrecognised line."""
        self.kinds.append(_UNREAD)
        self.numbers.append(number)
        self.values.append(text)

    def replay(self, taker: StepTaker, base: int) -> None:
        """Make the recorded calls on *taker*, every line number moved on by *base*."""
        numbers, times, values = iter(self.numbers), iter(self.times), iter(self.values)
        for kind in self.kinds:
            number = next(numbers) + base
            if kind == _PLACED:
                template, clock, before_clock = next(values), next(values), next(values)
                before, t, before_t = next(numbers), next(times), next(times)
                previous = Record(before + base, None, None if before_clock is None else Stamp(before_t, before_clock)) \
                    if before else None
                taker.take_event(template, number, t if clock is not None else None, clock, previous)
            elif kind == _OTHER:
                taker.take_other_line(number)
            elif kind == _DUPLICATES:
                taker.take_duplicates(number - base)
            elif kind == _BOOT_ID:
                boot_id, previous, recent = next(values), next(values), next(values)
                taker.take_boot_id(number, boot_id, moved(previous, base),
                                   tuple(record._replace(number=record.number + base) for record in recent))
            else:
                taker.take_unrecognised(number, next(values))


class Lines(NamedTuple):
    """The per-line state of a Front between two lines (see Front._lines_state)."""

    held: Held | None
    cut: tuple[Record, Record | None] | None
    previous: Record | None
    recent: tuple[Record, ...]


def stand_in(record: Record, tz: datetime.tzinfo) -> Record:
    """Return what the boots read of *record* (boots.BootSequence: the record before an event, the last records of a
    boot): its line number and its time, decoded here once (the text is left out)."""
    return Record(record.number, None, Reader.stamp_of(record, tz))


def moved(record: Record | None, base: int) -> Record | None:
    """Return *record* with its line number moved on by *base* (None stays None)."""
    return record._replace(number=record.number + base) if record is not None and base else record


def moved_lines(state: Lines, base: int) -> Lines:
    """Return the per-line state *state* with every line number in it moved on by *base*."""
    held = state.held
    if held is not None and base:
        held = held._replace(record=held.record._replace(number=held.record.number + base),
                             previous=moved(held.previous, base))
    cut = state.cut
    if cut is not None and base:
        cut = (cut[0]._replace(number=cut[0].number + base), moved(cut[1], base))
    return Lines(held, cut, moved(state.previous, base), tuple(record._replace(number=record.number + base)
                                                                  for record in state.recent) if base else state.recent)


class Front(abc.ABC):
    """Read records one by one: frame and read their driver messages, hold lines that may be wrapped, count
    duplicates; hand events and the other lines to the hooks (which subclasses give)."""

    def __init__(self, tz: datetime.tzinfo, following: bool) -> None:
        self.lines = 0
        self._tz = tz
        #: In follow mode a line that reads whole is not held for a possible wrap (a live log is not wrapped).
        self._following = following
        self._previous: Record | None = None
        #: The last content records, the latest last (the time of a boot's end is the latest one's that has a time:
        #: the rows a terminal wrapped a last line into have none).
        self._recent: collections.deque[Record] = collections.deque(maxlen=RECENT)
        self._reader = Reader()
        self._boot_id: str | None = None
        #: A driver line cut short (perhaps wrapped), waiting for the next line to tell.
        self._held: Held | None = None
        #: The last line when no message starts in it: the next line may complete a message start a wrap cut.
        self._cut: tuple[Record, Record | None] | None = None  # and the content record before it

    # -- the hooks -------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def _place(self, template: Event, number: int, t: float | None, clock: str | None,
               previous: Record | None) -> None:
        """Place the event of *template* at line *number* and time *t* on *clock*; *previous* is the record before."""

    @abc.abstractmethod
    def _other(self, number: int, record: Record) -> None:
        """Take line *number* (*record*), read and found to be no event, as the latest such line."""

    @abc.abstractmethod
    def _duplicate(self) -> None:
        """Count a line repeated verbatim right after itself."""

    @abc.abstractmethod
    def _boot_changes(self, number: int, boot_id: str, previous: Record | None) -> None:
        """Take record *number*, whose boot id *boot_id* differs from the last one seen; it becomes the last one."""

    @abc.abstractmethod
    def _count_unrecognised(self, number: int, text: str) -> None:
        """Count line *number* (*text*) as unrecognised."""

    # -- the lines -------------------------------------------------------------------------------------------

    @property
    def _lines_state(self) -> Lines:
        """Return the per-line state: the held line, the cut line, the record before, the last content records."""
        return Lines(self._held, self._cut, self._previous, tuple(self._recent))

    def skipped(self, count: int, number: int, record: Record | None) -> None:
        """Account for *count* unrelated lines the block path did not read; *record* is the last of them with
        content or a time (line *number*), None when there is none."""
        if self._held is not None:  # lines of the layout's shape carry their own stamp: none continues it
            self._settle()
        self.lines += count
        before = self._previous if count == 1 else None  # the line before the gap's last, when known
        if record is not None:
            self._previous = record
            self._recent.append(record)
            self._other(number, record)
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
        """Take one decoded record: find the driver message, read it, hand its event on."""
        if self._held is not None and self._joined(record):
            return
        # unpacked once: a NamedTuple's fields read by name cost ~0.1 µs each in CPython 3.11
        number, text, stamp, boot_id, structured, filler, _ = record
        previous, cut, self._cut = self._previous, self._cut, None
        if boot_id is not None and boot_id != self._boot_id:
            self._boot_changes(number, boot_id, previous)
        if text is None:
            if structured and not filler:
                self._previous = record
                self._other(number, record)
            return
        content = len(text.strip()) > 3  # not blank, not a bare bracket or an elision mark
        if content:
            self._previous = record
            self._recent.append(record)
            if previous is not None and _repeats(text, previous):
                self._duplicate()
                return
        start, seconds = framing.dmesg_stamp(text)  # a stamped driver line is read once per distinct message
        known = _after_stamp(text[start:]) if 0 <= start and len(text) - start <= _REMEMBERED_MESSAGE else None
        if known is not None:
            prefix, (message, reading) = text[:start], known
        else:
            framed = framing.frame(text)
            if framed is None:
                self._unframed(record, content, cut, previous)
                return
            prefix, message, seconds = framed
            reading = _reading(message) if len(message) <= _REMEMBERED_MESSAGE else _read(message)
        if reading.short:  # perhaps wrapped: the next line decides
            self._held = Held(record, prefix, message, seconds, previous, reading.event)
            return
        if reading.cut_end and len(text) >= NARROWEST and not self._following:  # a terminal may have cut its last
            self._held = Held(record, prefix, message, seconds, previous, reading.event, whole=True)  # name (see
            return  # wrapped.may_be_cut; not when following: a live log is not wrapped, and its change would wait)
        if reading.unrecognised:
            self._count_unrecognised(number, text)
        if reading.event is not None:  # at the time the record's structure gave, else its prefix's
            self._emit(reading.event, number, stamp, seconds, prefix, previous)

    def _unframed(self, record: Record, content: bool, cut: tuple[Record, Record | None] | None,
                  previous: Record | None) -> None:
        """Take *record*, in which no driver message starts (*content*: it has content; *cut*: the line before when
        no message starts in it either, *previous*: the record before): read it joined to *cut* when the two
        make a message start a wrap cut, else as a line that is no event."""
        joined = cut_start(cut[0], record) if cut is not None else None
        if joined is not None and cut is not None:  # the message start the wrap cut: read the line as it was
            self._previous = cut[1]
            self.record(joined)
            return
        if content:
            self._cut = record, previous
        if record.structured or content:
            self._other(record.number, record)

    def _emit(self, template: Event, number: int, given: Stamp | None, seconds: float | None, prefix: str,
              previous: Record | None) -> None:
        """Place the event of *template* at line *number*, at the time *given*, else at the *seconds* of a plain
        dmesg stamp, else at the time the outer prefix *prefix* carries."""
        t, clock = given if given is not None else (seconds, framing.MONOTONIC) if seconds is not None \
            else self._time(prefix)
        self._place(template, number, t, clock, previous)

    def _time(self, prefix: str) -> tuple[float | None, str | None]:
        """Return the time and clock that the outer prefix *prefix* of a line carries, (None, None) without one."""
        stamp = framing.stamp(prefix, self._tz)
        return stamp if stamp is not None else (None, None)

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
            self._duplicate()  # as record() counts it
        else:
            self._emit(event, first.number, first.stamp, held.seconds, held.prefix, previous)
        return True

    def _settle(self) -> None:
        """Read the held line alone: the line after it (or the end of the input) does not continue it."""
        held, self._held, self._cut = self._held, None, None
        if held is not None:
            self._read_held(held)

    def _read_held(self, held: Held) -> None:
        """Read the held line as the line it is (it was not wrapped)."""
        record, found = held.record, held.found
        if _unrecognised(found):  # the tolerant rules and the catalogue do not know it either
            self._count_unrecognised(record.number, record.text)  # type: ignore[arg-type]
        if found is not None:
            self._emit(found, record.number, record.stamp, held.seconds, held.prefix, held.previous)
