"""Run the pipeline: lines -> events -> boots -> per-NIC machines -> findings -> Report."""

from __future__ import annotations

import bisect
import collections
import functools
import os
import re

from typing import Callable, Iterable, Iterator

import attrs

from . import framing, grammar, machine, messages
from .config import Config
from .correlate import Correlator
from .drivers import read_prefix
from .errors import InputError, ParseError
from .formats import Reader, Record, plain_record, unrelated_record
from .framing import Stamp
from .events import INFO, Event
from .machine import INPUTS
from .nic import Budget, Nic, VfGeneration, bounds_notes
from .report import (BootReport, InputSpan, NicReport, OutageReport, Report, Stats, TimelineEntry,
                     Unrecognised, VfReport, RoutedEvent, StateChange)
from .rules import Listener, Rules
from .input import Limits, Selection, Source, Text, open_inputs

_JUDGED = messages.JUDGED
#: Kinds worth a timeline entry even though they do not drive the machine.
_TIMELINE_EXTRA = frozenset({"renamed", "association_wait", "udev_rename_failed"})

EventSink = Callable[[int, "str | None", Event], None]
#: Blocks in a row without a fast layout after which only every _LAYOUT_RETRY-th block is looked at again.
_LAYOUT_MISSES = 3
_LAYOUT_RETRY = 16
#: A layout is kept while at most half the lines of a block do not fit it; up to one misfit per
#: 2**_FEW_MISFITS characters the lines are not even counted.
_FEW_MISFITS = 10


@attrs.frozen
class _Held:
    """A driver line whose message stops short, held until the next line says whether it continues it: the
    line's record, outer prefix, message, dmesg stamp, the record before it, and what is read in it alone."""

    record: Record
    prefix: str
    message: str
    seconds: Stamp | None
    previous: Record | None
    found: Event | None


def _stops_short(message: str, found: Event | None) -> bool:
    """Return whether driver message *message*, which the grammar does not read (*found* is what the tolerant
    rules and the catalogue read in it), stops short, perhaps wrapped: it ends inside the driver's prefix or
    is the start of a message the grammar knows, or nothing reads it and it is the start of a catalogued one."""
    return grammar.incomplete(message) or (found is None or found.kind == messages.UNCATALOGUED) and \
        _catalogue_start(message)


@functools.lru_cache(maxsize=4096)
def _catalogue_start(message: str) -> bool:
    """Return whether driver message *message* is the start of a message the catalogue lists (the rows of the
    first word of the message; the rest may be cut anywhere): a line that stops short, perhaps wrapped."""
    prefix = read_prefix(message)
    if prefix is None or " " not in prefix.message:  # a first word cut short is not looked up
        return False
    texts = {text for text in (prefix.message, prefix.plain) if text}
    return any(grammar.starts_match(messages.pattern(matcher.format), False, text)
               for text in texts for matcher in messages.catalogue().candidates(prefix.driver, text))


def _rejoined(message: str, text: str, glued: bool) -> Event | None:
    """Return the event of *message* continued by *text* (a wrapped line joined back), or None.

    When *glued* (no white space at the break) the break may have been inside a word or id (a terminal
    wraps anywhere) or at a space the wrapper took (mail wraps between words): of the joins without
    and with a space, the one the grammar reads with its tokens agreeing with the break wins (see
    grammar.break_agrees), then any the grammar reads, then one the tolerant rules and the catalogue read.
    """
    joins = ((message + text, False), (message + " " + text, True)) if glued else ((message + " " + text, True),)
    read: list[Event] = []
    columns: list[int | None] = []
    for joined, spaced in joins:
        try:
            event = grammar.parse_message(joined)
        except ParseError as error:
            columns.append(error.column)
            continue
        columns.append(None)
        if grammar.break_agrees(joined, len(message), spaced):
            return _judged(event)
        read.append(event)
    if read:
        return _judged(read[-1])
    for (joined, _), column in zip(reversed(joins), reversed(columns)):
        found = messages.driver_event(joined, column)
        if found is not None and found.kind != messages.UNCATALOGUED:
            return found
    return None


#: The quote marks of a line quoted in mail (``> `` or ``>> ``).
_QUOTE = re.compile(r"(?:>[ \t]?)+")


def _unquoted(first: str, line: str) -> str:
    """Return *line* without its quote marks when *first* (the line it may continue) has the same marks."""
    marks, before = _QUOTE.match(line), _QUOTE.match(first)
    if marks is None or before is None or marks[0].replace(" ", "") != before[0].replace(" ", ""):
        return line
    return line[marks.end():]


def _still_short(held: _Held, text: str, glued: bool) -> _Held | None:
    """Return *held* continued by *text* when the joined message still stops short of a message the grammar
    knows (the join without a space first when *glued*), else None."""
    for joined in (held.message + text, held.message + " " + text) if glued else (held.message + " " + text,):
        try:
            grammar.parse_message(joined)
        except ParseError as error:
            found = messages.driver_event(joined, error.column)
            if _stops_short(joined, found):
                return attrs.evolve(held, record=held.record._replace(text=held.prefix + joined), message=joined,
                                    found=found)
    return None


def _judged(event: Event) -> Event:
    """Return grammar event *event* at the level the kernel prints it at, when it is a fault or lifecycle input."""
    return messages.judged(event) if event.level is not INFO or event.kind in INPUTS else event


class Boot:
    """The replay of one boot: its NICs, the correlator that feeds them and the rules that judge them."""

    def __init__(self, index: int, start_line: int, config: Config, sink: EventSink | None,
                 listener: Listener | None = None) -> None:
        self.index = index
        self._listener = listener
        self.start_line = start_line
        self.end_line = start_line
        self.config = config
        self.nics: dict[str, Nic] = {}
        self.budget = Budget(config.detail_limit)
        self.rules = Rules(config, listener)
        self.correlator = Correlator(self._deliver, self.nics, self._new_nic, config.max_nics)
        self.kernel: str | None = None
        self.clock: str | None = None
        self.t_start: float | None = None
        self.t_end: float | None = None
        self.events = 0
        self.last_other_line = 0
        self.duplicates = 0
        self._sink = sink

    def _new_nic(self, key: str) -> Nic:
        return Nic(key, timeline_limit=self.config.timeline_limit,
                   vmbus_id=None if key.startswith("pci:") else key, budget=self.budget)

    def add(self, event: Event) -> None:
        """Take one event of this boot."""
        self.events += 1
        self.end_line = event.line
        t = event.t
        if t is not None and (self.t_end is None or t > self.t_end):
            self.t_end = t
            if self.t_start is None:
                self.t_start = t
        if event.kind == "boot":
            self.kernel = str(event.get("text", "")).split(" ", 1)[0] or None
        self.correlator.route(event)

    def _deliver(self, key: str | None, event: Event) -> None:
        nic = self.nics.get(key) if key is not None else None
        if key is not None and nic is None:
            nic = self.nics[key] = self._new_nic(key)
        if self._sink is not None:
            self._sink(self.index, key, event)
        before = after = None
        if nic is not None:
            kind = event.kind
            if kind in INPUTS and event.line >= nic.last_input_line:
                before, after = nic.apply(event)
                if after is None:
                    self.rules.refused(nic, event)
                    before = None
            elif kind in INPUTS or kind in _TIMELINE_EXTRA or event.level is not INFO:
                nic.record(event, nic.state, "attributed late" if kind in INPUTS else "")
            nic.note(event)
            if after is not before:  # the machine moved (the facts of the event are noted by now)
                self.rules.moved(nic)
                if self._listener is not None:
                    self._listener(StateChange(self.index, nic.key, nic.synthetic, event, before.value, after.value))
        self.rules.observe(nic, event, before, self.last_other_line)
        if self._listener is not None and nic is not None:
            self.rules.schedule(nic)  # what it awaits may have changed: follow mode ticks by deadline

    def finish(self, end_t: float | None) -> BootReport:
        """Close the boot at time *end_t* (the last time seen in it) and report it."""
        self.correlator.finish()
        if end_t is not None and (self.t_end is None or end_t > self.t_end):
            self.t_end = end_t
        self.rules.finish(self.nics.values(), self.t_end, self.last_other_line)
        nics = tuple(_nic_report(nic, self.rules.absence_shown(nic)) for nic in sorted(self.nics.values(), key=_nic_order))
        notes = list(self.rules.notes())
        if self.correlator.untracked:
            notes.append(f"{self.correlator.untracked} event(s) of NICs beyond the limit of "
                         f"{self.config.max_nics} were not tracked")
        if self.duplicates:
            notes.append(f"{self.duplicates} line(s) repeated verbatim right after themselves were read once")
        if self.correlator.dropped:
            notes.append(f"{self.correlator.dropped} event(s) could not be tied to a NIC in time and were dropped")
        notes.extend(bounds_notes(self.nics.values(), self.budget, self.config.detail_limit))
        report = BootReport(self.index, self.start_line, self.end_line, self.t_start, self.t_end,
                            self.clock, self.kernel, nics, self.rules.findings(), tuple(notes))
        del self.correlator  # it calls back into the boot: without this cycle the boot is freed as soon as it is dropped
        return report


def _repeated_boots(boots: list[BootReport]) -> list[str]:
    """Return a note for each boot that repeats an earlier one exactly (a log concatenated twice)."""
    seen: dict[tuple[object, ...], int] = {}
    notes = []
    for boot in boots:
        signature = (boot.end_line - boot.start_line, boot.t_start, boot.t_end,
                     tuple((n.key, n.state, len(n.timeline)) for n in boot.nics))
        if boot.nics and signature in seen:
            notes.append(f"boot {boot.index} repeats boot {seen[signature]} exactly (the log holds the same lines twice?)")
        seen.setdefault(signature, boot.index)
    return notes


def _nic_order(nic: Nic) -> tuple[int, str]:
    return (nic.key.startswith("pci:"), nic.synthetic or "~", nic.key)  # type: ignore[return-value]


def _vf_report(generation: VfGeneration) -> VfReport | None:
    if not (generation.names or generation.pci or generation.driver or generation.device_id):
        return None
    return VfReport(generation.names[-1] if generation.names else None, tuple(generation.names),
                    generation.pci, generation.driver, generation.device_id)


def _nic_report(nic: Nic, absence_shown: bool) -> NicReport:
    """Return the report of *nic*; *absence_shown* says the log went on past the step it awaits."""
    first = next((g for g in nic.generations if g.switched_to_vf_t is not None), None)
    time_to_vf = None
    if first is not None and first.slot_added_t is not None and first.switched_to_vf_t is not None:
        time_to_vf = round(first.switched_to_vf_t - first.slot_added_t, 6)
    timeline = tuple(sorted((TimelineEntry(s.line, s.t, s.event, s.state, s.detail) for s in nic.timeline),
                            key=lambda s: s.line))
    outages = tuple(OutageReport(o.start_line, o.start_t, o.end_line, o.end_t, o.seconds, o.vf_removed)
                    for o in nic.outages)
    return NicReport(
        key=nic.key, synthetic=nic.synthetic, synthetic_names=tuple(nic.synthetic_names),
        vmbus_id=nic.vmbus_id, slot=nic.slot,
        vf=_vf_report(nic.vf) if nic.vf is not None else None,
        state=nic.state.value, datapath=machine.datapath(nic.state, nic.path_proof, absence_shown),
        switches_to_vf=nic.switches_to_vf, switches_from_vf=nic.switches_from_vf,
        time_to_vf=time_to_vf, outages=outages, timeline=timeline,
        timeline_dropped=nic.timeline.dropped,
        previous_vfs=tuple(v for v in map(_vf_report, nic.generations[:-1]) if v is not None),
        outages_total=nic.outages_total,
        servicing_cycles=nic.servicing_cycles,
        vf_generations=nic.generations_total,
    )


class Analyzer:
    """Feed raw lines in, get a Report out; boots are split and replayed as the lines arrive."""

    def __init__(self, config: Config | None = None, sink: EventSink | None = None,
                 listener: Listener | None = None) -> None:
        self.config = config or Config()
        self._sink = sink
        self._listener = listener
        self.boots: list[BootReport] = []
        self.unrecognised: list[Unrecognised] = []
        self.unrecognised_count = 0
        self.lines = 0
        self.events = 0
        self.dropped_boots = 0
        self._detail = 0
        self._boot = Boot(0, 1, self.config, sink, listener)
        self._last_mono: float | None = None
        self._previous: Record | None = None
        #: The content record before _previous (its time counts when _previous, a wrapped line's rest, has none).
        self._earlier: Record | None = None
        self._reader = Reader()
        self._layout: str | None = None
        self._layout_misses = 0
        self._blocks = 0
        self._last_event_number = 0
        self.spans: list[InputSpan] = []
        self._boot_id: str | None = None
        self._tz = self.config.tzinfo()
        #: A driver line cut short (perhaps wrapped), waiting for the next line to tell.
        self._held: _Held | None = None

    def start_input(self, name: str, first_line: int) -> None:
        """Begin a new input (file, archive member, stream) at global line *first_line*."""
        for record in self._reader.flush():
            self.record(record)
        self._settle()  # a line is never continued by the next input
        self._reader = Reader()
        self._layout = None
        self._layout_misses = 0
        self.spans.append(InputSpan(name, first_line))

    def feed_block(self, first: int, block: str) -> int:
        """Take a block of text whose first line has number *first*; return the number of its last line.

        When the block has a fast layout, only its candidate lines (framing.candidates) and the lines
        that do not fit the layout (framing.misfits) are read; for the lines in between only what the
        rules need is kept (that other lines exist, and the last one for its time).  A multi-line
        object, and a block without a layout, are read line by line.
        """
        self._blocks += 1
        block = framing.without_escapes(block)  # as the Reader cleans each line: the lines stay the same
        number, position = self._feed_open_object(first, block, 0)
        kind, odd = self._block_layout(block)
        if kind is None:
            return self._feed_lines(number, block, position) - 1
        starts = framing.candidates(block, kind)
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
                self._gap(block, position, start, number - 1, count)
            end = block.find("\n", start)
            end = len(block) if end < 0 else end
            line = block[start:end]
            if start in misfit:
                self.feed(number, line)
            else:
                self._feed_candidate(number, line, kind)
            number, position = number + 1, end + 1
            if self._reader.pending:  # the line opened a multi-line object: its lines follow
                number, position = self._feed_open_object(number, block, position)
        if position >= len(block):
            return number - 1
        count = block.count("\n", position)
        if not block.endswith("\n"):
            count += 1  # the last line has no line end
        self._gap(block, position, len(block), number + count - 1, count)
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
        """Read a candidate line of a block in layout *kind* (one that fits the layout's shape)."""
        self.lines += 1
        if kind == "json":
            for record in self._reader.feed(number, line, candidate=True):
                self.record(record)
        elif kind == "kmsg" or "\r" in line:  # structured, or to be cleaned first
            for record in self._reader.feed(number, line):
                self.record(record)
        else:  # a plain text line of the layout's shape: nothing to decode
            self.record(plain_record(number, line))

    def _feed_open_object(self, number: int, block: str, position: int) -> tuple[int, int]:
        """Feed the lines of *block* from *position* on (line *number*) one by one while the Reader holds
        an unfinished multi-line object; return the number and position of the next line."""
        while self._reader.pending and position < len(block):
            end = block.find("\n", position)
            end = len(block) if end < 0 else end
            self.feed(number, block[position:end])
            number, position = number + 1, end + 1
        return number, position

    def _feed_lines(self, number: int, block: str, position: int) -> int:
        """Feed every line of *block* from *position* on, the first being line *number*; return the
        number the line after them would have."""
        lines = block[position:].split("\n")
        if lines[-1] == "":
            lines.pop()
        for offset, line in enumerate(lines):
            self.feed(number + offset, line)
        return number + len(lines)

    def _gap(self, block: str, start: int, end: int, last_number: int, count: int) -> None:
        """Account for the *count* unrelated lines block[start:end]; *last_number* is the number of the last."""
        if self._held is not None:  # lines of the layout's shape carry their own stamp: none continues it
            self._settle()
        self.lines += count
        line_end = end - 1 if block.endswith("\n", start, end) else end
        number = last_number
        while line_end >= start:
            line_start = max(block.rfind("\n", start, line_end), start - 1) + 1
            line = block[line_start:line_end]
            record = unrelated_record(number, line)
            if record is not None:
                self._boot.last_other_line = number
                self._earlier, self._previous = self._previous, record
                self._tick(record)
                return
            line_end, number = line_start - 1, number - 1

    def feed(self, number: int, raw: str) -> None:
        """Take raw line *number* of the current input."""
        self.lines += 1
        for record in self._reader.feed(number, raw):
            self.record(record)

    def record(self, record: Record) -> None:
        """Take one decoded record: find the driver message, parse it, place it in its boot."""
        # Records, frames and stamps are NamedTuples: unpacked once, because CPython 3.11 reads
        # their fields by name through the slow generic attribute path (~0.1 µs a read).
        if self._held is not None and self._joined(record):
            return
        number, raw, given, boot_id, structured, filler, _ = record
        previous = self._previous
        if boot_id is not None and boot_id != self._boot_id:
            if self._boot_id is not None or self._boot.events:
                self._new_boot(number, previous, self._earlier)
            self._boot_id = boot_id
        if raw is None:
            if structured and not filler:
                self._boot.last_other_line = number
                self._previous = record
                self._tick(record)
            return
        content = len(raw.strip()) > 3  # not blank, not a bare bracket or an elision mark
        if content:
            self._earlier, self._previous = previous, record
        if previous is not None and raw == previous[1] and content and raw[:1] in "[{<0123456789":  # [1]: its text
            self._boot.duplicates += 1  # the same stamped line twice in a row: the collector's doing
            return
        framed = framing.frame(raw)
        if framed is None:
            if structured or content:
                self._boot.last_other_line = number
                self._tick(record)
            return
        prefix, message, seconds = framed
        try:
            template = grammar.parse_message(message)
        except ParseError as error:  # the catalogue, extra text after a known message, unknown failures
            found = messages.driver_event(message, error.column)
            if _stops_short(message, found):
                self._held = _Held(record, prefix, message, seconds, previous, found)  # perhaps wrapped:
                return  # the next line decides
            if self._unknown(number, raw, found) is None:
                return
            template = found  # type: ignore[assignment]
        else:
            if template.level is not INFO or template.kind in INPUTS:  # faults and lifecycle lines the
                template = _JUDGED.get(message) or messages.judged(template)  # grammar names: the kernel's
                # level says how bad
        self._emit(template, number, given or seconds, prefix, previous)

    def _unknown(self, number: int, raw: str, found: Event | None) -> Event | None:
        """Return *found*, the event the tolerant rules and the catalogue read in line *number* (*raw*), which the
        grammar does not read; count the line as unrecognised when they do not know it either."""
        if found is None or found.kind == messages.UNCATALOGUED:
            self.unrecognised_count += 1
            if len(self.unrecognised) < self.config.unrecognised_limit:
                self.unrecognised.append(Unrecognised(number, raw))
        return found

    def _emit(self, template: Event, number: int, given: Stamp | None, prefix: str, previous: Record | None) -> None:
        """Place the event of *template* at line *number*, at the time *given* or else the one *prefix* carries."""
        stamp = given or framing.stamp(prefix, self._tz)
        t, clock = stamp if stamp is not None else (None, None)
        if template.kind != messages.UNCATALOGUED:
            self.events += 1
        self._place(template.at(number, t), clock, previous)

    def _joined(self, record: Record) -> bool:
        """Join the held line with *record* when *record* continues it (a wrapped line) into a message that is
        read, and place that event at the held line; hold the joined line instead when it still stops short (a
        line wrapped more than once); otherwise read the held line alone.  Return whether *record* was taken."""
        held, self._held = self._held, None
        assert held is not None
        raw = record[1]
        if raw is not None and raw[:1] == ">":  # a quoted line (mail) continues after the same quote marks
            raw = _unquoted(held.record[1], raw)  # type: ignore[arg-type]
        text = framing.continuation(raw) if raw is not None and not (record[2] or record[4]) else None
        event = None
        if text is not None:
            glued = not held.record[1][-1:].isspace() and not raw[:1].isspace()  # type: ignore[index]
            event = _rejoined(held.message, text, glued)
            if event is None:
                self._held = _still_short(held, text, glued)
                if self._held is not None:
                    return True
        if event is None:
            self._read_held(held)
            return False
        first = held.record
        joined = first._replace(text=held.prefix + event.message)  # the line as it was before the wrap
        previous, self._previous = held.previous, joined
        if previous is not None and joined[1] == previous[1] and joined[1][:1] in "[{<0123456789":  # type: ignore[index]
            self._boot.duplicates += 1  # the same stamped line twice in a row, as record() counts it
        else:
            self._emit(event, first[0], first[2] or held.seconds, held.prefix, previous)
        return True

    def _settle(self) -> None:
        """Read the held line alone: the line after it (or the end of the input) does not continue it."""
        held, self._held = self._held, None
        if held is not None:
            self._read_held(held)

    def _read_held(self, held: "_Held") -> None:
        """Read the held line as the line it is (it was not wrapped)."""
        number, raw = held.record[0], held.record[1]
        found = self._unknown(number, raw, held.found)  # type: ignore[arg-type]
        if found is not None:
            self._emit(found, number, held.record[2] or held.seconds, held.prefix, held.previous)

    def _tick(self, record: Record) -> None:
        """Follow mode: let time-based findings fire as the stream's own clock moves on."""
        if self._listener is None:
            return
        stamp = Reader.stamp_of(record, self._tz)
        if stamp is not None and stamp.clock == self._boot.clock:
            self._boot.rules.tick(stamp.t, self._boot.last_other_line)

    def _place(self, event: Event, clock: str | None, previous: Record | None) -> None:
        """Start a new boot when the event says so, then hand the event to the current boot.

        *clock* is the clock of the event's time (event.t), None when the line gave no time.
        """
        boot = self._boot
        last = self._last_mono
        t = event.t
        monotonic = clock == framing.MONOTONIC
        if monotonic and previous is not None and previous[0] != self._last_event_number:  # [0]: its number
            prior = Reader.stamp_of(previous, self._tz)  # an unrelated line's time; an event's is in last already
            if prior is not None:
                prior_t, prior_clock = prior
                if prior_clock == framing.MONOTONIC and (last is None or prior_t > last):
                    last = prior_t
        if event.kind == "boot" and boot.events:
            self._new_boot(event.line, previous)
        elif monotonic and last is not None:
            if t < last - self.config.boot_regression:
                self._new_boot(event.line, previous)
            elif t < last:
                boot.rules.time_regression(event, last)
        boot = self._boot
        if clock is not None:
            if boot.clock is None:
                boot.clock = clock
            if clock != boot.clock:
                event = attrs.evolve(event, t=None)
            elif monotonic and (self._last_mono is None or t > self._last_mono):
                self._last_mono = t
        boot.add(event)
        self._last_event_number = event.line
        if self._listener is not None and event.t is not None:
            boot.rules.tick(event.t, boot.last_other_line)

    def _locate(self, line: int) -> str | None:
        """Return ``input:line`` for global line number *line*."""
        index = bisect.bisect_right([span.first_line for span in self.spans], line) - 1
        if index < 0:
            return None
        span = self.spans[index]
        return f"{span.name}:{line - span.first_line + 1}"

    def _close_boot(self, end_t: float | None) -> BootReport:
        boot = self._boot.finish(end_t)
        findings = tuple(attrs.evolve(f, origin=self._locate(f.line)) if f.line else f for f in boot.findings)
        return attrs.evolve(boot, findings=findings)

    def _keep(self, boot: BootReport) -> None:
        """Keep the report of a finished boot; past max_boots only the newest are kept, and past
        detail_limit the older boots are summarised (the newest boot keeps its detail)."""
        self.boots.append(boot)
        self._detail += boot.detail()
        if len(self.boots) > self.config.max_boots:
            self._detail -= self.boots.pop(0).detail()
            self.dropped_boots += 1
        index = 0
        while self._detail > self.config.detail_limit and index < len(self.boots) - 1:
            old = self.boots[index]
            new = old.summarised(self.config.detail_limit)
            if new is old:
                index += 1
            else:
                self.boots[index] = new
                self._detail += new.detail() - old.detail()

    def _new_boot(self, line: int, previous: Record | None, earlier: Record | None = None) -> None:
        self._keep(self._close_boot(self._end_time(previous, earlier)))
        self._boot = Boot(self._boot.index + 1, line, self.config, self._sink, self._listener)
        self._last_mono = None

    def _end_time(self, last: Record | None, earlier: Record | None = None) -> float | None:
        """Return the time of the last record of a boot with a time (*last*, else *earlier*: the rest of a
        wrapped line has none), if that time is on the boot's clock."""
        stamp = Reader.stamp_of(last, self._tz) if last is not None else None
        if stamp is None and earlier is not None:
            stamp = Reader.stamp_of(earlier, self._tz)
        if stamp is None or stamp.clock != self._boot.clock:
            return None
        return stamp.t

    def finish(self, source: str = "<input>", sources: tuple[str, ...] = ()) -> Report:
        """Close the last boot and return the report."""
        for record in self._reader.flush():
            self.record(record)
        self._settle()
        if self._boot.events or not self.boots:
            self._keep(self._close_boot(self._end_time(self._previous, self._earlier)))
        stats = Stats(self.lines, self.events, self.unrecognised_count)
        notes = [f"{self.dropped_boots} older boot(s) beyond the limit of {self.config.max_boots} are not reported"] \
            if self.dropped_boots else []
        notes.extend(_repeated_boots(self.boots))
        return Report(source, tuple(self.boots), stats, tuple(self.unrecognised), sources or (source,),
                      inputs=tuple(self.spans), notes=tuple(notes))


def _run(analyzer: Analyzer, sources: Iterable[Source], selection: Selection,
         limits: Limits) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Feed every input of every source to *analyzer* as one log; return names, errors and notes."""
    names: list[str] = []
    errors: list[str] = []
    notes: list[str] = []
    for _ in _feeding(analyzer, sources, selection, limits, names, errors, notes):
        pass
    return tuple(names), tuple(errors), tuple(notes)


def _feeding(analyzer: Analyzer, sources: Iterable[Source], selection: Selection, limits: Limits,
             names: list[str], errors: list[str], notes: list[str]) -> Iterator[None]:
    """Feed every input of every source to *analyzer*, pausing after each block or line; collect names, errors, notes."""
    number = 0
    for source in sources:
        for item in open_inputs(source, selection=selection, limits=limits):
            names.append(item.name)
            if item.note:
                notes.append(f"{item.name}: {item.note}")
            analyzer.start_input(item.name, number + 1)
            try:
                if item.chunks is not None:
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
            if item.tally.cut_lines:
                notes.append(f"{item.name}: {item.tally.cut_lines} line(s) longer than {limits.max_line} bytes "
                             f"were cut to their first {limits.max_line} bytes")


def analyze(source: Source, *, config: Config | None = None, selection: Selection = Selection(),
            limits: Limits = Limits()) -> Report:
    """Analyse a kernel log and return its Report.

    *source* is a path (str or os.PathLike, never log text; ``-`` is stdin), bytes, a binary or
    text stream, or an iterable of str lines; log text in a str goes to analyze_text.  Raise
    InputError when nothing at all could be read from *source* (a missing path: "no such file"),
    TypeError for anything else.
    """
    return analyze_files([source], config=config, selection=selection, limits=limits, strict=True)


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
                  selection: Selection = Selection(), limits: Limits = Limits(), strict: bool = False) -> Report:
    """Analyse several sources (``-`` for stdin) as one log, in the order given.

    Inputs that cannot be read are listed in the report's errors; with *strict*, InputError is
    raised instead when no line at all could be read.
    """
    _check_many(sources)
    analyzer = Analyzer(config, sink)
    names, errors, notes = _run(analyzer, sources, selection, limits)
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
