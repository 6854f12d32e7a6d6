"""What vflog knows about one virtual NIC while a boot is replayed: machine state plus facts."""

from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator, NamedTuple

import attrs

from . import machine
from .drivers import SYNTHETIC_DRIVERS, VF_DRIVERS, reported_name
from .events import Event
from .machine import READDS, REMOVALS, State

#: How much per-NIC history is kept, whatever the length of the log.
_KEEP_OUTAGES = 100
_KEEP_GENERATIONS = 16
_KEEP_FLAPS = 64
_KEEP_NAMES = 16
#: The name a VF report gives each VF driver (drivers.reported_name), looked up once.
_REPORTED_AS = {driver: reported_name(driver) for driver in VF_DRIVERS}
#: The inputs that change a NIC's counts, outages or durations (Nic._facts).
_FACT_KINDS = frozenset({"slot_added", "datapath_to_vf", "datapath_from_vf", *REMOVALS})


class Step(NamedTuple):
    """One entry of a NIC's timeline: a line, its time, its event kind and the state after it."""

    line: int
    t: float | None
    event: str
    state: str
    detail: str = ""


@attrs.define
class Outage:
    """Traffic back on the synthetic path, from a switch away from the VF to the next switch to it."""

    start_line: int
    start_t: float | None
    end_line: int | None = None
    end_t: float | None = None
    vf_removed: bool = False

    @property
    def seconds(self) -> float | None:
        """Return the length of the outage when both ends have times."""
        if self.start_t is None or self.end_t is None:
            return None
        return round(self.end_t - self.start_t, 6)


@attrs.define
class Names:
    """Interface names in the order they were taken (the current one last); only the newest *limit* are kept.

    Every operation is O(1): the names are the keys of an insertion-ordered dict.
    """

    limit: int = _KEEP_NAMES
    order: dict[str, None] = attrs.field(factory=dict)
    dropped: int = 0

    def add(self, name: str | None) -> None:
        """Remember *name* where it first appeared (a name already known keeps its place)."""
        if name and name not in self.order:
            self.order[name] = None
            self._trim()

    def make_current(self, name: str | None) -> None:
        """Remember *name* as the newest name, moving it to the end when it is already known."""
        if name:
            self.order.pop(name, None)
            self.order[name] = None
            self._trim()

    def _trim(self) -> None:
        """Drop the oldest name when more than *limit* are kept, counting it."""
        if len(self.order) > self.limit:
            del self.order[next(iter(self.order))]
            self.dropped += 1

    @property
    def current(self) -> str | None:
        """Return the newest name, or None when there is none."""
        return next(reversed(self.order), None)

    def __contains__(self, name: object) -> bool:
        return name in self.order

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self) -> Iterator[str]:
        return iter(self.order)


@attrs.define
class VfGeneration:
    """One appearance of the VF, from its offer to its removal."""

    start_line: int
    start_t: float | None
    pci: str | None = None
    driver: str | None = None
    device_id: str | None = None
    name_set: Names = attrs.field(factory=Names)
    switched_to_vf_t: float | None = None
    switched_to_vf_line: int | None = None
    slot_added_t: float | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Return the VF's interface names kept, oldest first, the current one last."""
        return tuple(self.name_set)


@attrs.define
class Budget:
    """Timeline entries and outages the NICs of one boot may still add together; spent means every NIC stops growing."""

    left: int

    @property
    def spent(self) -> bool:
        """Return whether the entries are used up."""
        return self.left <= 0


#: Entries a NIC's timeline, and outages it, may always keep, even when its boot's budget is spent.
TIMELINE_FLOOR = 8
OUTAGE_FLOOR = 4


@attrs.define
class Bounded:
    """A timeline that keeps its first and last entries and counts what it dropped between.

    With a *budget* shared by the NICs of a boot, the timeline stops growing when the budget is
    spent (past TIMELINE_FLOOR entries): new entries then replace its oldest middle entries.
    """

    limit: int
    head: list[Step] = attrs.field(factory=list)
    tail: deque[Step] = attrs.field(init=False)
    tail_total: int = 0
    budget: Budget = attrs.field(factory=lambda: Budget(1 << 62))
    half: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        kept = max(self.limit, 0)  # a limit below zero keeps nothing, like zero
        self.half = self.limit // 2
        self.tail = deque(maxlen=kept - kept // 2)  # the deque drops its oldest entry itself

    @property
    def dropped(self) -> int:
        """Return how many middle entries were dropped."""
        return self.tail_total - len(self.tail)

    def append(self, step: Step) -> None:
        """Add *step*, dropping the oldest middle entry when over the limit or when the budget is spent."""
        budget = self.budget
        left = budget.left
        head = self.head
        if len(head) < self.half and (left > 0 or len(head) < TIMELINE_FLOOR // 2):
            head.append(step)
            budget.left = left - 1
            return
        tail = self.tail
        if len(tail) != tail.maxlen:  # the tail would grow
            if left > 0 or len(tail) < TIMELINE_FLOOR // 2:
                budget.left = left - 1
            else:
                tail.popleft()  # the boot's budget is spent: the newest entries replace the oldest
        tail.append(step)
        self.tail_total += 1

    def __iter__(self) -> Iterator[Step]:
        yield from self.head
        yield from self.tail

    def __len__(self) -> int:
        return len(self.head) + len(self.tail)


@attrs.define
class Nic:
    """Machine state and collected facts of one virtual NIC during one boot."""

    key: str
    timeline_limit: int = 1000
    vmbus_id: str | None = None
    synthetic: str | None = None
    synthetic_name_set: Names = attrs.field(factory=Names)
    slot: int | None = None
    state: State = State.UNKNOWN
    state_line: int = 0
    state_t: float | None = None
    #: Where the state before the current one began (line, time).
    left_line: int = 0
    left_t: float | None = None
    last_input_line: int = 0
    last_t: float | None = None
    generations: list[VfGeneration] = attrs.field(factory=list)
    outages: list[Outage] = attrs.field(factory=list)
    outages_total: int = 0
    servicing_cycles: int = 0
    generations_total: int = 0
    switches_to_vf: int = 0
    switches_from_vf: int = 0
    #: The synthetic NIC's driver (hv_netvsc, FreeBSD's hn), once a line of it was seen.
    driver: str | None = None
    #: The line and time of the NIC's first event.
    first_line: int | None = None
    first_t: float | None = None
    #: The data path the NIC's last proving state showed (machine.DATAPATH), None before any.
    path_proof: str | None = None
    flaps: deque[tuple[int, float | None]] = attrs.field(factory=lambda: deque(maxlen=_KEEP_FLAPS))
    budget: Budget = attrs.field(factory=lambda: Budget(1 << 62))
    timeline: Bounded = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.timeline = Bounded(self.timeline_limit, budget=self.budget)

    @property
    def vf(self) -> VfGeneration | None:
        """Return the current (last) VF generation, if the VF was ever seen."""
        return self.generations[-1] if self.generations else None

    @property
    def synthetic_names(self) -> tuple[str, ...]:
        """Return the synthetic interface's names kept, in the order it took them."""
        return tuple(self.synthetic_name_set)

    @property
    def datapath(self) -> str:
        """Return where the NIC's traffic runs now as far as its own lines prove it (no absence judged)."""
        return machine.datapath(self.state, self.path_proof)

    def rename_synthetic(self, name: str | None) -> None:
        """Record *name* as the synthetic interface's current name."""
        if name and name != self.synthetic:
            self.synthetic = name
            self.synthetic_name_set.add(name)

    def _generation_for(self, kind: str, line: int, t: float | None) -> VfGeneration:
        """Return the VF generation an event of *kind* at *line* and time *t* belongs to, opening a new one on a
        re-add."""
        current = self.vf
        if current is None or (machine.TRAITS[self.state].gone and kind in READDS):
            current = VfGeneration(line, t)
            self.generations.append(current)
            self.generations_total += 1
            if len(self.generations) > _KEEP_GENERATIONS:  # a servicing storm: keep the newest
                del self.generations[0]
        return current

    def note(self, event: Event, line: int, t: float | None) -> None:
        """Take the VF identity facts (PCI address, driver, device ID, names) from *event* (a message's parse) at
        *line* and time *t*."""
        driver, kind = event.driver, event.kind
        if self.first_line is None or line < self.first_line:
            self.first_line, self.first_t = line, t
        if driver in SYNTHETIC_DRIVERS:
            self.driver = driver
            if event.ifname != self.synthetic:
                self.rename_synthetic(event.ifname)
            if kind == "slot_added" or kind == "slot_removed":
                self.slot = event.fields.get("slot")
            vf_name = event.fields.get("vf")
            if vf_name and self.generations:
                self.generations[-1].name_set.add(vf_name)
            return
        own_entry = self.key.startswith("pci:") and driver not in VF_DRIVERS and bool(event.ifname)
        if not self.generations:
            if not own_entry and (driver not in VF_DRIVERS or ":" not in (event.device or "")):
                return
            self._generation_for(kind, line, t)  # a VF driver's line on its PCI device names the VF before any
            # lifecycle line
        generation = self.generations[-1]
        if kind == "pci_device":
            generation.device_id = event.fields.get("vendev", "").strip("[]") or None
            generation.pci = event.device
        if driver in VF_DRIVERS:
            generation.driver = _REPORTED_AS[driver]
            if generation.pci is None:
                device = event.device
                generation.pci = device if device and ":" in device else event.fields.get("pci")
        if kind == "renamed":  # by the VF driver or by user space (networkd), routed here by the old name
            generation.name_set.add(event.fields.get("old"))
            generation.name_set.make_current(event.ifname)
        elif driver in VF_DRIVERS or own_entry:  # a line about an interface reaches a VF's own entry by its name
            generation.name_set.add(event.ifname)

    def apply(self, event: Event, detail: str = "") -> tuple[State, State | None]:
        """Feed lifecycle *event* to the machine (its timeline step noted with *detail*); return (state before,
        state after or None if refused)."""
        return self.step(event.kind, event.line, event.t, detail)

    def step(self, kind: str, line: int, t: float | None, detail: str = "") -> tuple[State, State | None]:
        """Feed lifecycle input *kind* at *line* and time *t* to the machine (its timeline step noted with
        *detail*); return (state before, state after or None if refused)."""
        before = self.state
        after = machine.TRANSITIONS[before].get(kind)  # machine.next_state, read inline: once per input
        if after is None:
            self.record_at(line, t, kind, before, "refused")
            return before, None
        if kind in READDS or not self.generations:
            self._generation_for(kind, line, t)
        if kind in _FACT_KINDS:
            self._facts(kind, line, t, before)
        if after is not before:
            self.left_line, self.left_t = self.state_line, self.state_t
            self.state_line, self.state_t = line, t
            self.state = after
            proof = machine.DATAPATH[after]
            if proof is not None:
                self.path_proof = proof
        self.last_input_line = line
        self.record_at(line, t, kind, after, detail)
        return before, after

    def record(self, event: Event, state: State, detail: str = "") -> None:
        """Append *event* to the timeline with the state after it."""
        self.record_at(event.line, event.t, event.kind, state, detail)

    def record_at(self, line: int, t: float | None, kind: str, state: State, detail: str = "") -> None:
        """Append an event of *kind* at *line* and time *t* to the timeline with the state after it."""
        # (tuple.__new__ builds the NamedTuple without its Python-level __new__: once per input)
        self.timeline.append(tuple.__new__(Step, (line, t, kind, state._value_, detail)))
        if t is not None:
            self.last_t = t

    def _add_outage(self, outage: Outage) -> None:
        """Open an outage; only the newest ones are kept (their number is counted): at most _KEEP_OUTAGES,
        and past OUTAGE_FLOOR only while the boot's budget (shared with the timelines) lasts."""
        self.outages.append(outage)
        self.outages_total += 1
        if len(self.outages) > _KEEP_OUTAGES or (len(self.outages) > OUTAGE_FLOOR and self.budget.spent):
            del self.outages[0]
        else:
            self.budget.left -= 1

    def _facts(self, kind: str, line: int, t: float | None, before: State) -> None:
        """Update switch counts, outages, flaps and durations for an allowed input of *kind* at *line* and time *t*
        (the state *before* it)."""
        generation = self.vf
        if kind == "slot_added" and generation is not None and generation.slot_added_t is None:
            generation.slot_added_t = t
        if kind == "datapath_to_vf":
            self.switches_to_vf += 1
            if generation is not None and generation.switched_to_vf_t is None:
                generation.switched_to_vf_t, generation.switched_to_vf_line = t, line
            outage = self.outages[-1] if self.outages else None
            if outage is not None and outage.end_line is None:
                outage.end_line, outage.end_t = line, t
                if outage.vf_removed:
                    self.servicing_cycles += 1
                else:
                    self.flaps.append((line, t))
        elif kind == "datapath_from_vf":
            self.switches_from_vf += 1
            if not self.outages or self.outages[-1].end_line is not None:
                self._add_outage(Outage(line, t))
        elif kind in REMOVALS:
            outage = self.outages[-1] if self.outages else None
            if outage is not None and outage.end_line is None:
                outage.vf_removed = True
            elif before in machine.ON_VF or (before is State.UNKNOWN and kind != "slot_removed"):
                self._add_outage(Outage(line, t, vf_removed=True))


def bounds_notes(nics: Iterable[Nic], budget: Budget, budget_size: int) -> list[str]:
    """Return one note per per-NIC bound that the NICs of a boot hit: what was left out, and how much."""
    timelines = outages = generations = names = 0
    cut_nics: dict[str, int] = {"timeline": 0, "outages": 0, "generations": 0, "names": 0}
    for nic in nics:
        dropped_names = nic.synthetic_name_set.dropped + sum(g.name_set.dropped for g in nic.generations)
        for key, count in (("timeline", nic.timeline.dropped), ("outages", nic.outages_total - len(nic.outages)),
                           ("generations", nic.generations_total - len(nic.generations)), ("names", dropped_names)):
            cut_nics[key] += count > 0
        timelines += nic.timeline.dropped
        outages += nic.outages_total - len(nic.outages)
        generations += nic.generations_total - len(nic.generations)
        names += dropped_names
    notes = []
    if budget.spent:
        notes.append(f"the NICs of this boot reached the limit of {budget_size} timeline entries and outages "
                     f"(detail_limit): each then kept only its newest ones")
    for key, count, what in (("timeline", timelines, "timeline entries were cut from the middle (timeline_dropped)"),
                             ("outages", outages, "older outages are counted in outages_total only"),
                             ("generations", generations, f"older VF generations beyond the newest {_KEEP_GENERATIONS} "
                                                          f"per NIC are counted in vf_generations only"),
                             ("names", names, f"older interface names beyond the newest {_KEEP_NAMES} per VF or NIC "
                                              f"are not listed")):
        if count:
            notes.append(f"{count} {what} ({cut_nics[key]} NIC(s))")
    return notes
