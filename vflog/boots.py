"""The boots of one log in order: the current boot, when the next one starts, and the reports of those finished.

A new boot starts at a boot line (when the current boot has events), when the boot id changes
(the Analyzer says so: start_next), or when the monotonic clock goes back by more than
boot_regression; a smaller step back is a time-regression finding.  Finished boots are kept
within max_boots (the newest) and detail_limit (older boots summarised); each finding learns its
input and line (origin).
"""

from __future__ import annotations

from typing import Sequence

import attrs

from . import framing
from .boot import Boot, EventSink, repeated_boots
from .config import Config
from .events import Event
from .formats import Reader, Record
from .report import BootReport, InputSpan, locate, with_nic_names
from .rules import Listener


class BootSequence:
    """The boots of one log: the current one (current), the reports of those finished (reports)."""

    def __init__(self, config: Config, sink: EventSink | None, listener: Listener | None,
                 spans: list[InputSpan]) -> None:
        self.config = config
        self._sink = sink
        self._listener = listener
        self._spans = spans  # the Analyzer's list of inputs, which grows as inputs start
        self._tz = config.tzinfo()
        self.current = Boot(0, 1, config, sink, listener)
        self.reports: list[BootReport] = []
        self.dropped = 0
        self._detail = 0
        self._last_mono: float | None = None
        self._last_event_number = 0

    def place(self, event: Event, clock: str | None, previous: Record | None) -> Boot:
        """Start a new boot when the event says so, then hand the event to the current boot.

        *clock* is the clock of the event's time (event.t), None when the line gave no time; *previous* is the
        record before the event's.  Return the current boot.
        """
        return self.place_at(event, event.line, event.t, clock, previous)

    def place_at(self, template: Event, line: int, t: float | None, clock: str | None,
                 previous: Record | None) -> Boot:
        """Place the event of *template* (a message's cached parse) at *line* and time *t* as place does; the placed
        event is only made when the boot needs it (Boot.take).  Return the current boot."""
        boot = self.current
        last = self._last_mono
        monotonic = clock == framing.MONOTONIC and t is not None  # a clock comes with a time
        if monotonic and previous is not None and previous[0] != self._last_event_number:  # [0]: its number
            prior = Reader.stamp_of(previous, self._tz)  # an unrelated line's time; an event's is in last already
            if prior is not None:
                prior_t, prior_clock = prior
                if prior_clock == framing.MONOTONIC and (last is None or prior_t > last):
                    last = prior_t
        if template.kind == "boot" and boot.events:
            boot = self.start_next(line, previous)
        elif monotonic and last is not None and t is not None:
            if t < last - self.config.boot_regression:
                boot = self.start_next(line, previous)
            elif t < last:
                boot.rules.time_regression(template.at(line, t), last)
        if clock is not None:
            if boot.clock is None:
                boot.clock = clock
            if clock != boot.clock:
                t = None
            elif monotonic and t is not None and (self._last_mono is None or t > self._last_mono):
                self._last_mono = t
        boot.take(template, line, t)
        self._last_event_number = line
        if self._listener is not None and t is not None:
            boot.rules.tick(t, boot.last_other_line)
        return boot

    def _close(self, end_t: float | None) -> BootReport:
        """Finish the current boot at time *end_t* and return its report, each finding with its input and line and
        its NIC's interface name."""
        boot = self.current.finish(end_t)
        findings = tuple(attrs.evolve(f, origin=locate(self._spans, f.line)) if f.line else f for f in boot.findings)
        return with_nic_names(attrs.evolve(boot, findings=findings))

    def _keep(self, boot: BootReport) -> None:
        """Keep the report of a finished boot; past max_boots only the newest are kept, and past
        detail_limit the older boots are summarised (the newest boot keeps its detail)."""
        self.reports.append(boot)
        self._detail += boot.detail()
        if len(self.reports) > self.config.max_boots:
            self._detail -= self.reports.pop(0).detail()
            self.dropped += 1
        index = 0
        while self._detail > self.config.detail_limit and index < len(self.reports) - 1:
            old = self.reports[index]
            new = old.summarised(self.config.detail_limit)
            if new is old:
                index += 1
            else:
                self.reports[index] = new
                self._detail += new.detail() - old.detail()

    def start_next(self, line: int, previous: Record | None, earlier: Sequence[Record] = ()) -> Boot:
        """Close the current boot (its last records: *previous*, else the latest of *earlier*) and start the next
        at *line*; return it."""
        self._keep(self._close(self._end_time(previous, earlier)))
        self.current = Boot(self.current.index + 1, line, self.config, self._sink, self._listener)
        self._last_mono = None
        return self.current

    def _end_time(self, last: Record | None, earlier: Sequence[Record] = ()) -> float | None:
        """Return the time of the last record of a boot with a time (*last*, else the latest of *earlier* with
        one: the rows of a wrapped line have none), if that time is on the boot's clock."""
        stamp = Reader.stamp_of(last, self._tz) if last is not None else None
        for record in reversed(earlier):
            if stamp is not None:
                break
            stamp = Reader.stamp_of(record, self._tz)
        if stamp is None or stamp.clock != self.current.clock:
            return None
        return stamp.t

    def finish(self, last: Record | None, earlier: Sequence[Record]) -> list[str]:
        """Close the last boot (its last records: *last*, else the latest of *earlier*); return the notes on the
        boots."""
        if self.current.events or not self.reports:
            self._keep(self._close(self._end_time(last, earlier)))
        notes = [f"{self.dropped} older boot(s) beyond the limit of {self.config.max_boots} are not reported"] \
            if self.dropped else []
        notes.extend(repeated_boots(self.reports))
        return notes
