"""The result of an analysis as plain frozen values, and its JSON-ready form.

Longer than 400 lines because it is the one frozen report model every renderer reads, each value with
its JSON round trip and its deprecated aliases beside its fields.
"""

from __future__ import annotations

import bisect
from typing import Any, Iterable, Mapping, Sequence, TypeVar

import attrs

from .catalogue import Severity
from .events import Event
from .machine import TRAITS


#: What an input held (Report.content): nothing at all, text without any Accelerated Networking line, or some.
EMPTY, NO_AN_LINES, AN_LINES = "empty", "no-an-lines", "an-lines"
#: The version of the JSON shape (``schema`` in report, scan and follow JSON): 2 = one vocabulary across outputs
#: (findings name ``nic`` and ``nic_name``, timeline entries and follow records say ``kind``, a scan record is a
#: report).
SCHEMA = 2


@attrs.frozen
class Quote:
    """The text of one evidence line."""

    line: int
    text: str


@attrs.frozen
class Finding:
    """One anomaly: code, severity, NIC (its key and interface name), where and when, a one-sentence message and
    evidence lines."""

    code: str
    severity: Severity
    #: The NIC's key (see NicReport.key), None for a finding about the VM.
    nic: str | None
    line: int | None
    t: float | None
    message: str
    evidence: tuple[int, ...] = ()
    evidence_text: tuple[Quote, ...] = ()
    #: ``input:line`` (``archive!member:line``): the line inside the input it was read from.
    origin: str | None = None
    #: The NIC's synthetic interface name (``eth0``) when the finding was reported: at the end of the boot in a
    #: report, at the moment it fired while following; None when the NIC has none or the finding names no NIC.
    nic_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the finding's JSON form, the same in every output (report, scan, follow)."""
        return attrs.asdict(self, value_serializer=_serialize)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Finding":
        """Rebuild a finding from :meth:`to_dict` (keys it does not know are ignored)."""
        fields = _known(cls, data)
        fields["severity"] = Severity(fields["severity"])
        fields["evidence"] = tuple(fields.get("evidence", ()))
        fields["evidence_text"] = tuple(Quote(**q) for q in fields.get("evidence_text", ()))
        return cls(**fields)


@attrs.frozen
class TimelineEntry:
    """A line in a NIC's life: line number, time, event kind and the state after it."""

    line: int
    t: float | None
    #: The event's kind (as Event.kind); read it as ``kind``, the name every output uses.
    event: str
    state: str
    detail: str = ""

    @property
    def kind(self) -> str:
        """Return the kind of the event (the field ``event`` under the name events and follow records use)."""
        return self.event

    def to_dict(self) -> dict[str, Any]:
        """Return the entry's JSON form: ``kind`` and, as a deprecated alias kept for one release, ``event``."""
        return {"line": self.line, "t": self.t, "kind": self.event, "event": self.event, "state": self.state,
                "detail": self.detail}


@attrs.frozen
class OutageReport:
    """A period on the synthetic path between a switch from the VF and the switch back."""

    start_line: int
    start_t: float | None
    end_line: int | None
    end_t: float | None
    seconds: float | None
    vf_removed: bool


@attrs.frozen
class VfReport:
    """The VF as last seen: current name, every name it had, PCI address, driver and device ID."""

    name: str | None
    names: tuple[str, ...]
    pci: str | None
    driver: str | None
    device_id: str | None


@attrs.frozen
class NicReport:
    """One virtual NIC at the end of a boot."""

    key: str
    synthetic: str | None
    synthetic_names: tuple[str, ...]
    vmbus_id: str | None
    slot: int | None
    vf: VfReport | None
    state: str
    datapath: str
    switches_to_vf: int
    switches_from_vf: int
    time_to_vf: float | None
    outages: tuple[OutageReport, ...]
    timeline: tuple[TimelineEntry, ...]
    timeline_dropped: int = 0
    previous_vfs: tuple[VfReport, ...] = ()
    outages_total: int = 0
    vf_generations: int = 0
    servicing_cycles: int = 0


@attrs.frozen
class BootReport:
    """One boot of the log: its NICs and findings."""

    index: int
    start_line: int
    end_line: int
    t_start: float | None
    t_end: float | None
    clock: str | None
    kernel: str | None
    nics: tuple[NicReport, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    def detail(self) -> int:
        """Return the size of the boot's detail: NICs, their timeline entries, outages and earlier VFs, findings."""
        return len(self.findings) + sum(1 + len(n.timeline) + len(n.outages) + len(n.previous_vfs) for n in self.nics)

    def summarised(self, limit: int) -> "BootReport":
        """Return the boot with less detail, for a report past *limit* (detail_limit); notes say what was left out.

        First its NICs' history (timelines, outages, earlier VFs) and the evidence texts go; when that
        is done already, its NICs go and only the first finding of each code and severity stays (so the
        worst severity stays).  Return the boot itself when there is nothing more to leave out.
        """
        why = f"the report keeps about {limit} entries of detail over all boots (detail_limit), the newest boots' first"
        if any(n.timeline or n.outages or n.previous_vfs for n in self.nics) or any(f.evidence_text for f in self.findings):
            return self._without_history(why)
        return self._without_nics(why)

    def _without_history(self, why: str) -> "BootReport":
        """Return the boot without timelines, outages, earlier VFs and evidence texts."""
        nics = tuple(attrs.evolve(n, timeline=(), timeline_dropped=n.timeline_dropped + len(n.timeline), outages=(),
                                  previous_vfs=()) for n in self.nics)
        findings = tuple(attrs.evolve(f, evidence_text=()) for f in self.findings)
        note = f"the timelines, outages, earlier VFs and evidence texts of this boot are left out: {why}"
        return attrs.evolve(self, nics=nics, findings=findings, notes=(*self.notes, note))

    def _without_nics(self, why: str) -> "BootReport":
        """Return the boot without NICs and with the first finding of each code and severity; itself if that is all."""
        firsts: dict[tuple[str, Severity], Finding] = {}
        for finding in self.findings:
            firsts.setdefault((finding.code, finding.severity), finding)
        notes = [f"the {len(self.nics)} NIC(s) of this boot are left out: {why}"] if self.nics else []
        if len(firsts) < len(self.findings):
            notes.append(f"{len(self.findings) - len(firsts)} more finding(s) of this boot are left out (the first of "
                         f"each code and severity is kept): {why}")
        if not notes:
            return self
        return attrs.evolve(self, nics=(), findings=tuple(firsts.values()), notes=(*self.notes, *notes))


#: The data path each state proves, by state name; None: the path of the NIC's last proof (see machine.TRAITS).
STATE_PATHS: dict[str, str | None] = {state.value: traits.datapath for state, traits in TRAITS.items()}
#: States in which the NIC's VF is gone (withdrawn, removed or failed): drawn as "no VF".
NO_VF_STATES: frozenset[str] = frozenset(state.value for state, traits in TRAITS.items() if traits.gone)
#: The data paths a picture shows, in legend order: on the VF, synthetic, no VF, unknown.
PICTURE_PATHS = ("vf", "synthetic", "no-vf", "unknown")


@attrs.frozen
class PathSpan:
    """A stretch of a NIC's life on one data path (``vf``, ``synthetic``, ``no-vf`` or ``unknown``), from *start* to *end*
    on the boot's axis (seconds when the boot has timestamps, else line numbers)."""

    start: float
    end: float
    path: str


def has_times(boot: BootReport) -> bool:
    """Return whether the boot's pictures use times (it has a start and an end time), else line numbers."""
    return boot.t_start is not None and boot.t_end is not None


def boot_span(boot: BootReport) -> tuple[float, float]:
    """Return where the boot's axis starts and ends (times or line numbers); never empty."""
    start, end = (boot.t_start, boot.t_end) if has_times(boot) else (boot.start_line, boot.end_line)
    assert start is not None and end is not None
    return float(start), float(max(end, start + 1e-6))


def position(boot: BootReport, t: float | None, line: int | None) -> float | None:
    """Return where a moment (time *t*, line *line*) stands on the boot's axis, None when it has no place there."""
    value = t if has_times(boot) else line
    return None if value is None else float(value)


def path_spans(nic: NicReport, boot: BootReport) -> tuple[PathSpan, ...]:
    """Return the NIC's data path over the boot as consecutive spans (from the boot's start to its end).

    Before its first entry the path is ``unknown``; a state that proves a path gives it (a state whose
    VF is gone gives ``no-vf``); a state on the way to the VF keeps the last proven path (``unknown``
    before any proof); after the last entry the NIC's final verdict holds.
    """
    start, end = boot_span(boot)
    spans: list[PathSpan] = []
    here, path, proof = start, "unknown", None
    for entry in nic.timeline:
        at = position(boot, entry.t, entry.line)
        if at is None:
            continue
        at = min(max(at, here), end)
        if at > here:
            spans.append(PathSpan(here, at, path))
        here = at
        proven = STATE_PATHS.get(entry.state)
        proof = proven if proven is not None else proof
        path = "no-vf" if entry.state in NO_VF_STATES else (proof or "unknown")
    if path != "no-vf":
        path = nic.datapath
    spans.append(PathSpan(here, end, path))
    return tuple(_merged(spans))


def _merged(spans: list[PathSpan]) -> list[PathSpan]:
    """Return *spans* with neighbours on the same path joined and empty ones dropped (the last one kept)."""
    out: list[PathSpan] = []
    for span in spans:
        if out and out[-1].path == span.path:
            out[-1] = PathSpan(out[-1].start, span.end, span.path)
        elif span.end > span.start or not out:
            out.append(span)
    return out


@attrs.frozen
class RoutedEvent:
    """An event with the boot and NIC it was assigned to (what ``vflog events`` reports)."""

    boot: int
    nic: str | None
    event: Event


@attrs.frozen
class StateChange:
    """A NIC's machine moved: the boot, NIC, the event that moved it and the states before and after."""

    boot: int
    nic: str
    synthetic: str | None
    event: Event
    before: str
    after: str

    @property
    def nic_name(self) -> str | None:
        """Return the NIC's interface name (the field ``synthetic`` under the name findings use)."""
        return self.synthetic


@attrs.frozen
class Withdrawn:
    """A time-based finding fired while following that no longer holds (the NIC moved on)."""

    finding: Finding


@attrs.frozen
class Unrecognised:
    """A line from one of the drivers that the grammar does not know."""

    line: int
    text: str


@attrs.frozen
class InputSpan:
    """One input (file, archive member, stream) and the global line number its first line got."""

    name: str
    first_line: int


@attrs.frozen
class Stats:
    """Counts over the whole input."""

    lines: int
    events: int
    unrecognised: int


@attrs.frozen
class Report:
    """Everything vflog concluded from one input."""

    source: str
    boots: tuple[BootReport, ...]
    stats: Stats
    unrecognised: tuple[Unrecognised, ...] = ()
    sources: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    inputs: tuple[InputSpan, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Return the findings of every boot, in order."""
        return tuple(f for boot in self.boots for f in boot.findings)

    @property
    def worst_severity(self) -> Severity | None:
        """Return the highest severity among the findings, or None when there are none."""
        return worst_of(f.severity for f in self.findings)

    def worst(self) -> Severity | None:
        """Return :attr:`worst_severity` (the older name, a method; kept as an alias)."""
        return self.worst_severity

    @property
    def content(self) -> str:
        """Return what the input held: ``empty`` (no line), ``no-an-lines`` (no NIC, finding or driver line
        of Accelerated Networking) or ``an-lines``; only ``an-lines`` gives a verdict."""
        if not self.stats.lines:
            return EMPTY
        if self.stats.unrecognised or any(boot.nics or boot.findings for boot in self.boots):
            return AN_LINES
        return NO_AN_LINES

    def to_dict(self, *, unrecognised: bool = False) -> dict[str, Any]:
        """Return the documented JSON form of the report."""
        data = attrs.asdict(self, value_serializer=_serialize, filter=_public)
        data["content"] = self.content
        data["schema"] = SCHEMA
        if unrecognised:
            data["unrecognised"] = [attrs.asdict(u) for u in self.unrecognised]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Report":
        """Rebuild a report from :meth:`to_dict` (derived fields such as ``content`` and aliases are ignored)."""
        return cls(
            source=data["source"], boots=tuple(_boot_from_dict(b) for b in data.get("boots", ())),
            stats=Stats(**data["stats"]), sources=tuple(data.get("sources", ())), errors=tuple(data.get("errors", ())),
            notes=tuple(data.get("notes", ())), inputs=tuple(InputSpan(**i) for i in data.get("inputs", ())),
            unrecognised=tuple(Unrecognised(**u) for u in data.get("unrecognised", ())),
        )


def worst_of(severities: Iterable[Severity]) -> Severity | None:
    """Return the highest of *severities*, or None when there is none."""
    return max(severities, key=lambda s: s.rank, default=None)


def locate(spans: Sequence[InputSpan], line: int | None) -> str | None:
    """Return ``input:line`` (the line inside its input) for global line number *line*, None when it has no input."""
    if line is None:
        return None
    index = bisect.bisect_right([span.first_line for span in spans], line) - 1
    if index < 0:
        return None
    span = spans[index]
    return f"{span.name}:{line - span.first_line + 1}"


def with_nic_names(boot: BootReport) -> BootReport:
    """Return the boot with each finding naming its NIC's interface (``nic_name``) as the boot ends."""
    names = {nic.key: nic.synthetic for nic in boot.nics}
    findings = tuple(attrs.evolve(f, nic_name=names.get(f.nic)) if f.nic in names else f for f in boot.findings)
    return attrs.evolve(boot, findings=findings)


def _public(attribute: attrs.Attribute, value: Any) -> bool:
    return attribute.name != "unrecognised" or attribute.type in ("int", int)


def _serialize(instance: Any, attribute: Any, value: Any) -> Any:
    if isinstance(value, Severity):
        return value.value
    if isinstance(value, tuple) and attribute is not None and attribute.name == "evidence":
        return list(value)
    if isinstance(value, tuple) and attribute is not None and attribute.name == "timeline":
        return [entry.to_dict() for entry in value]
    return value


_T = TypeVar("_T")


def _known(cls: type[_T], data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the items of *data* that are fields of the attrs class *cls*."""
    names = {f.name for f in attrs.fields(cls)}  # type: ignore[arg-type]
    return {k: v for k, v in data.items() if k in names}


def _vf_from_dict(data: Mapping[str, Any] | None) -> VfReport | None:
    """Rebuild a VfReport (None stays None)."""
    return None if data is None else VfReport(**{**_known(VfReport, data), "names": tuple(data.get("names", ()))})


def nic_from_dict(data: Mapping[str, Any]) -> NicReport:
    """Rebuild a NicReport from its JSON form (NicReport fields as in the report)."""
    fields = _known(NicReport, data)
    fields["synthetic_names"] = tuple(fields.get("synthetic_names", ()))
    fields["vf"] = _vf_from_dict(fields.get("vf"))
    fields["previous_vfs"] = tuple(_vf_from_dict(v) for v in fields.get("previous_vfs", ()))
    fields["outages"] = tuple(OutageReport(**o) for o in fields.get("outages", ()))
    fields["timeline"] = tuple(TimelineEntry(e["line"], e["t"], e.get("kind", e.get("event")), e["state"],
                                             e.get("detail", "")) for e in fields.get("timeline", ()))
    return NicReport(**fields)


def _boot_from_dict(data: Mapping[str, Any]) -> BootReport:
    """Rebuild a BootReport from its JSON form."""
    fields = _known(BootReport, data)
    fields["nics"] = tuple(nic_from_dict(n) for n in fields.get("nics", ()))
    fields["findings"] = tuple(Finding.from_dict(f) for f in fields.get("findings", ()))
    fields["notes"] = tuple(fields.get("notes", ()))
    return BootReport(**fields)
