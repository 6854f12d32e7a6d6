"""The replay of one boot (Boot) and the reports of its NICs.

A Boot takes the events of one boot in order, routes them to its NICs through the correlator,
drives each NIC's machine, lets the rules judge, and at the end reports the boot (BootReport).
"""

from __future__ import annotations

from typing import Callable


from . import machine
from .config import Config
from .correlate import Correlator
from .drivers import VF_DRIVERS
from .events import INFO, Event
from .machine import INPUTS
from .nic import Budget, Nic, VfGeneration, bounds_notes
from .report import BootReport, NicReport, OutageReport, StateChange, TimelineEntry, VfReport
from .rules import Listener, Rules

#: Kinds worth a timeline entry even though they do not drive the machine.
_TIMELINE_EXTRA = frozenset({"renamed", "association_wait", "udev_rename_failed"})

EventSink = Callable[[int, "str | None", Event], None]


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
        self.take(event, event.line, event.t)

    def take(self, template: Event, line: int, t: float | None) -> None:
        """Take the event of *template* (a message's cached parse) placed at *line* and time *t*."""
        self.events += 1
        self.end_line = line
        if t is not None and (self.t_end is None or t > self.t_end):
            self.t_end = t
            if self.t_start is None:
                self.t_start = t
        if template.kind == "boot":
            self.kernel = str(template.get("text", "")).split(" ", 1)[0] or None
        self.correlator.route_at(template, line, t)

    def _deliver(self, key: str | None, event: Event, line: int, t: float | None) -> None:
        """Drive NIC *key*'s machine with the event of *event* (a message's parse) at *line* and time *t*, note its
        facts and let the rules judge it; the placed event is only made for those that keep or hand it on."""
        nic = self.nics.get(key) if key is not None else None
        if key is not None and nic is None:
            nic = self.nics[key] = self._new_nic(key)
        if self._sink is not None:
            self._sink(self.index, key, event.at(line, t))
        before = after = None
        if nic is not None:
            kind = event.kind
            if kind in INPUTS:
                if line >= nic.last_input_line:
                    before, after = nic.step(kind, line, t)
                    if after is None:
                        self.rules.refused(nic, event.at(line, t))
                        before = None
                else:
                    nic.record_at(line, t, kind, nic.state, "attributed late")
            else:
                if event.driver in VF_DRIVERS and _proves_driver_bound(nic, event, line):
                    before, after = nic.step(machine.BOUND, line, t, "implied by the driver's own netdev")
                if kind in _TIMELINE_EXTRA or event.level is not INFO:
                    nic.record_at(line, t, kind, nic.state)
            nic.note(event, line, t)
            if before is not None and after is not None and after is not before:  # the machine moved (facts noted)
                self.rules.moved(nic)
                if self._listener is not None:
                    self._listener(StateChange(self.index, nic.key, nic.synthetic, event.at(line, t), before.value,
                                               after.value))
        self.rules.observe_at(nic, event, line, t, before, self.last_other_line)
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


def _proves_driver_bound(nic: Nic, event: Event, line: int) -> bool:
    """Return whether *event* at *line*, a VF driver's non-input line on its own registered netdev, proves the driver
    bound while *nic*'s machine has not seen it bind (the line stands for the driver-bound input the log lacks)."""
    return (event.kind not in INPUTS and event.driver in VF_DRIVERS and bool(event.ifname) and event.regstate is None
            and nic.state in machine.BEFORE_DRIVER and line >= nic.last_input_line)


def repeated_boots(boots: list[BootReport]) -> list[str]:
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
