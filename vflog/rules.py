"""Judge a boot's events and NIC machines and turn anomalies into findings.

The rules only read facts: the events as they are routed, the state before
and after each machine step (machine.py) and what each Nic collected
(nic.py).  Time-based rules compare against the boot's own clock: a state
left unfinished when the log ends is ``incomplete`` (info) unless the log
goes on past the threshold, in which case it becomes the state's finding.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from typing import Callable, Iterable

import attrs

from .catalogue import CODES, Severity
from .config import Config
from .events import INFO, Event
from .drivers import error_code
from .machine import State
from .messages import CATALOGUED, UNCATALOGUED
from .nic import Nic, VfGeneration
from .report import Finding, Quote, Withdrawn

_TEMP_PREFIXES = ("rename", "cirename")
_TEMP_NAME = re.compile(r"^(?:" + "|".join(_TEMP_PREFIXES) + r")\d+$")
_OUR_DRIVERS = re.compile(r"netvsc|hv_pci|pci_hyperv|hv_vmbus|vmbus|mlx5|mlx4|mana|gdma")
_TRACE_KINDS = frozenset({"trace_start", "trace_calls", "trace_modules", "trace_rip", "trace_frame", "trace_end"})
_TRACE_GAP = 80
_EVIDENCE_LIMIT = 50
_TEXT_LIMIT = 4096
_BURST = 60.0

#: Kinds that reveal the VF's driver or device ID.
_IDENTITY_KINDS = frozenset({"pci_device", "driver_init", "probe_failed", "vf_joined", "link_up", "mlx4_vf_detected"})
#: Error kinds that netvsc logs on the VF device; everything else follows the driver.
_NETVSC_ON_VF = frozenset({"err_pairing", "err_namespace_move", "err_enslave", "err_vf_open"})
#: Kinds that _nic_event judges.
_NIC_KINDS = frozenset({"userspace_configures", "datapath_to_vf", "association_wait", "slot_removed", "device_gone",
                        "err_pci_slot_unavailable", "vf_unregistering"})
#: Kinds with a finding code of their own.
_KIND_CODES = {
    "err_switch_failed": "switch-failed",
    "err_isolation_refused": "isolated-vm",
    "probe_failed": "driver-probe-failed",
    "domain_collision": "pci-domain-collision",
    "udev_rename_failed": "udev-rename-failed",
    "warn_mana_reset": "vf-driver-error",
}
#: State left unfinished -> (finding code, threshold name, what was awaited).
_TIMEOUTS = {
    State.SLOT_OFFERED: ("slot-without-device", "slot_to_device", "no VF PCI device followed the slot offer",
                         "a VF PCI device follows the slot offer"),
    State.PCI_PRESENT: ("device-without-driver", "device_to_driver", "no VF driver took the PCI device",
                        "a VF driver takes the PCI device"),
    State.DRIVER_BOUND: ("vf-not-registered", "driver_to_register", "the VF never registered with netvsc",
                         "the VF registers with netvsc"),
    State.VF_REGISTERED: ("datapath-not-switched", "register_to_datapath", "the data path never switched to the VF",
                          "the data path switches to the VF"),
    State.LINK_UP: ("datapath-not-switched", "register_to_datapath", "the data path never switched to the VF",
                    "the data path switches to the VF"),
    State.DATAPATH_SYNTHETIC: ("ends-on-synthetic", "synthetic_max",
                               "traffic stayed on the synthetic path with the VF present", "traffic returns to the VF"),
    State.VF_GOING_AWAY: ("vf-not-readded", "readd_max", "the VF was not added back", "the VF is added back"),
    State.VF_REMOVED: ("vf-not-readded", "readd_max", "the VF was not added back", "the VF is added back"),
}
_NO_DEVICE = ("slot-without-device", "slot_to_device", "no VF PCI device appeared on the vPCI bus",
              "a VF PCI device appears on the vPCI bus")
_ASSOCIATION = ("association-wait", "association_max", "the host's VF association never came",
                "the host's VF association arrives")
#: Severity of surprise removals by the state the NIC was in.
_REGISTERED = frozenset({State.VF_REGISTERED, State.LINK_UP, State.DATAPATH_VF, State.DATAPATH_SYNTHETIC})


Listener = Callable[[object], None]


@attrs.frozen
class _Plan:
    """A NIC's wait in follow mode: its finding code, since which line and time, and the threshold."""

    key: str
    since_line: int
    code: str
    since_t: float
    threshold: float


#: A heap entry of follow mode: (deadline or line, order of arrival, plan, NIC).
_Entry = tuple[float, int, _Plan, Nic]
#: Stale heap entries (plans that no longer hold) tolerated before the heaps are rebuilt.
_STALE = 1024


@attrs.define(eq=False)
class _Draft:
    code: str
    severity: Severity
    nic: str | None
    line: int | None
    t: float | None
    message: str
    evidence: list[int]
    texts: dict[int, str]
    group: object = None

    def freeze(self) -> Finding:
        evidence = tuple(sorted(set(self.evidence)))[:_EVIDENCE_LIMIT]
        quotes = tuple(Quote(line, self.texts[line]) for line in evidence if line in self.texts)
        return Finding(self.code, self.severity, self.nic, self.line, self.t, self.message, evidence, quotes)


def _vf_names(nic: Nic) -> set[str]:
    """Return every name any VF of *nic* had in this boot (never the synthetic names)."""
    names = {name for generation in nic.generations for name in generation.names}
    return names - set(nic.synthetic_names)


def _ago(seconds: float) -> str:
    return f"{seconds:.1f} s"


def _name(nic: Nic | None) -> str:
    if nic is None:
        return "the VM"
    return nic.synthetic or nic.key


class Rules:
    """Collect the findings of one boot from routed events and machine steps."""

    def __init__(self, config: Config, listener: Listener | None = None) -> None:
        self.config = config
        self._listener = listener
        self._provisional: dict[tuple[str, int, str], _Draft] = {}
        self._counts: dict[str, int] = {}
        self._flap_burst: dict[str, tuple[int | None, float | None]] = {}
        self._suppressed: dict[str, int] = {}
        self._drafts: list[_Draft] = []
        self._groups: dict[object, _Draft] = {}
        self._waits: dict[str, Event] = {}
        self._trace: list[Event] = []
        self._last_lifecycle_t: float | None = None
        self._temp_named: set[str] = set()
        self._changed: set[tuple[str, int]] = set()
        self._identities: dict[str, tuple[VfGeneration, str | None, str | None]] = {}
        self._texts: dict[int, str] = {}
        self._older_texts: dict[int, str] = {}
        self._bursts: dict[tuple[str, str | None], tuple[int, float | None]] = {}
        self._state_text: dict[str, tuple[int, str]] = {}
        self._absent: dict[str, tuple[int, str]] = {}
        self._plans: dict[str, _Plan] = {}
        self._due: list[_Entry] = []  # by deadline: waits whose time has not come
        self._quiet: list[_Entry] = []  # by line: past their time, no other line after them yet
        self._order = itertools.count()

    # -- recording ---------------------------------------------------------
    def add(self, code: str, nic: Nic | str | None, event: Event | None, message: str,
            evidence: Iterable[int] = (), *, severity: Severity | None = None, group: object = None,
            quotes: dict[int, str] | None = None, t: float | None = None) -> _Draft | None:
        """Add a finding, or extend the finding of the same *group* with more evidence; return the new one."""
        key = nic.key if isinstance(nic, Nic) else nic
        lines = [event.line] if event is not None else []
        lines.extend(evidence)
        texts = {line: text for line in lines if (text := self._text(line)) is not None}
        if event is not None:
            texts[event.line] = event.message  # a finding always quotes the line that raised it
        texts.update(quotes or {})
        if group is not None:
            existing = self._groups.get((code, key, group))
            if existing is not None:
                if severity is not None and severity.rank > existing.severity.rank:
                    existing.severity = severity  # a burst is as bad as its worst line
                if len(existing.evidence) < _EVIDENCE_LIMIT:
                    existing.evidence.extend(lines)
                    existing.texts.update(texts)
                return None
        if self._counts.get(code, 0) >= self.config.max_findings_per_code:
            self._suppressed[code] = self._suppressed.get(code, 0) + 1
            return None
        self._counts[code] = self._counts.get(code, 0) + 1
        draft = _Draft(code, severity or CODES[code].severity, key,
                       event.line if event is not None else (lines[0] if lines else None),
                       event.t if event is not None else t, message, lines, texts)
        if group is not None:
            self._groups[(code, key, group)] = draft
        self._drafts.append(draft)
        if self._listener is not None:
            self._listener(draft.freeze())
        return draft

    def notes(self) -> tuple[str, ...]:
        """Return what the rules left out (findings beyond the per-code limit)."""
        return tuple(f"{count} more {code} finding(s) beyond the limit of {self.config.max_findings_per_code} "
                     f"are not listed" for code, count in sorted(self._suppressed.items()))

    def findings(self) -> tuple[Finding, ...]:
        """Return the findings so far, ordered by line."""
        return tuple(sorted((d.freeze() for d in self._drafts), key=lambda f: (f.line or 0, f.code)))

    # -- per event ---------------------------------------------------------
    def refused(self, nic: Nic, event: Event) -> None:
        """Report an input the transition table does not allow in the NIC's state."""
        self.add("unexpected-event", nic, event,
                 f"{_name(nic)}: {event.kind} is not expected in state {nic.state.value}; state left unchanged")

    def observe(self, nic: Nic | None, event: Event, before: State | None) -> None:
        """Judge one routed event; *before* is the NIC's state before it (None if not a machine input)."""
        kind = event.kind
        texts = self._texts  # remember the text of recent lines, so findings can quote their evidence
        if len(texts) >= _TEXT_LIMIT // 2:  # two generations: the newest lines and the ones before them
            self._older_texts, self._texts = texts, {}
            texts = self._texts
        texts[event.line] = event.message
        if kind in _TRACE_KINDS:
            self._trace_event(event)
            return
        if self._trace:
            self._close_trace()
        if before is not None and event.t is not None:
            self._last_lifecycle_t = event.t
        if nic is not None:
            if before is not None and nic.state_line == event.line:
                self._state_text[nic.key] = (event.line, event.message)
            vf, ifname = event.fields.get("vf"), event.ifname
            if (vf and vf.startswith(_TEMP_PREFIXES)) or (ifname and ifname.startswith(_TEMP_PREFIXES)):
                self._names(nic, event)
            if kind in _IDENTITY_KINDS and len(nic.generations) > 1:
                self._driver_change(nic, event)
            if kind in _NIC_KINDS:
                self._nic_event(nic, event, before)
        if kind in _KIND_CODES or event.level is not INFO:
            code = _KIND_CODES.get(kind)
            severity = None
            if code is None:  # a fault: named by the grammar, or at the kernel's err/warn level
                if kind in _NETVSC_ON_VF or (kind == "err_vmbus_probe" and nic is not None and nic.key == event.get("guid")):
                    code = "netvsc-error"
                elif kind in ("err_pci_create_slot", "err_vmbus_probe"):
                    code = "hv-pci-error"
                else:
                    code = error_code(event.get("printed_by") or event.driver) or "netvsc-error"
                severity = Severity(event.level.value)  # the level the kernel printed it at
            if code is not None:
                self.add(code, nic, event, self._message(code, nic, event), group=self._group(code, nic, event),
                         severity=severity)

    def _nic_event(self, nic: Nic, event: Event, before: State | None) -> None:
        """Judge the kinds with a rule of their own (_NIC_KINDS) on the NIC they were routed to."""
        kind = event.kind
        if kind == "userspace_configures" and event.ifname in _vf_names(nic):
            self.add("vf-managed-by-userspace", nic, event,
                     f"{_name(nic)}: {event.driver} configures the VF interface {event.ifname}; only the synthetic "
                     f"interface {nic.synthetic or ''} should be configured", group="userspace")
        if kind == "datapath_to_vf" and before is not None:
            self._switched_back(nic, event)
        if kind == "association_wait":
            self._waits.setdefault(nic.key, event)
        elif kind == "datapath_to_vf" and nic.key in self._waits:
            wait = self._waits.pop(nic.key)
            self.add("association-wait", nic, wait,
                     f"{_name(nic)}: netvsc waited for the host's VF association before switching; it came",
                     [event.line], severity=Severity.INFO)
        if kind in ("slot_removed", "device_gone", "err_pci_slot_unavailable"):
            state = before if before is not None else nic.state
            if state in _REGISTERED:
                self.add("surprise-removal", nic, event,
                         f"{_name(nic)}: {kind.replace('_', ' ')} while the VF was {state.value}")
        elif kind == "vf_unregistering" and before is State.DATAPATH_VF:
            self.add("surprise-removal", nic, event,
                     f"{_name(nic)}: VF unregistered while still carrying traffic (no switch from VF first)",
                     severity=Severity.WARNING)

    def _group(self, code: str, nic: Nic | None, event: Event) -> object:
        """Return what makes repeated lines one finding: one probe failure per VF generation,
        one finding per burst of driver errors (lines less than a minute apart)."""
        if code == "driver-probe-failed":
            return len(nic.generations) if nic is not None else 0
        key = (code, nic.key if nic is not None else None)
        last = self._bursts.get(key)
        if last is not None and (event.t is None or last[1] is None or event.t - last[1] <= _BURST):
            self._bursts[key] = (last[0], event.t)
            return last[0]
        self._bursts[key] = (event.line, event.t)
        return event.line

    def _text(self, line: int) -> str | None:
        """Return the remembered text of *line*, if it is recent enough to be kept."""
        text = self._texts.get(line)
        return self._older_texts.get(line) if text is None else text

    def _message(self, code: str, nic: Nic | None, event: Event) -> str:
        text = event.message.split(": ", 1)[-1] if event.message else event.kind
        if code == "driver-probe-failed":
            return f"{_name(nic)}: the VF driver failed to initialise {event.device or event.get('pci') or 'the VF'} ({text})"
        if code == "pci-domain-collision":
            return f"PCI domain {event.get('requested')} was taken; hv_pci used {event.get('domain')} instead"
        if event.kind == UNCATALOGUED:
            return f"{_name(nic)}: {event.driver} says: {event.get('text')} (not in the catalogue of kernel messages)"
        if event.kind == CATALOGUED:
            return (f"{_name(nic)}: {event.get('text')} ({event.driver} {event.get('function')}(), kernel level "
                    f"{event.get('catalogue_level')}, in Linux {event.get('versions')})")
        if code == "udev-rename-failed":
            return f"systemd-udevd could not rename {event.get('quoted')} to {event.get('quoted_2')}: {event.get('text')}"
        return f"{_name(nic)}: {text}"

    def _names(self, nic: Nic, event: Event) -> None:
        for name in (event.get("vf"), event.ifname if event.driver != "hv_netvsc" else None):
            if name and name.startswith(_TEMP_PREFIXES) and _TEMP_NAME.match(name) \
                    and (nic.key, name) not in self._temp_named:
                self._temp_named.add((nic.key, name))
                self.add("vf-temp-name", nic, event,
                         f"{_name(nic)}: the VF carried the kernel temporary name {name}; a udev rename failed", group="temp")

    def _driver_change(self, nic: Nic, event: Event) -> None:
        if len(nic.generations) < 2:
            return
        now, before = nic.generations[-1], nic.generations[-2]
        index = len(nic.generations)
        if (nic.key, index) in self._changed:
            return
        seen = self._identities.get(nic.key)
        if seen is not None and seen[0] is now and seen[1] == now.driver and seen[2] == now.device_id:
            return  # nothing new about this VF since the last look (its many Link up lines)
        self._identities[nic.key] = (now, now.driver, now.device_id)
        for field, new, old in (("driver", now.driver, before.driver), ("device id", now.device_id, before.device_id)):
            if new and old and new != old:
                self._changed.add((nic.key, index))
                self.add("driver-changed", nic, event,
                         f"{_name(nic)}: after the re-add the VF {field} is {new} (was {old}): the VM moved to other hardware")
                return

    def _trace_event(self, event: Event) -> None:
        if self._trace and event.line - self._trace[-1].line > _TRACE_GAP:
            self._close_trace()
        self._trace.append(event)

    def _close_trace(self) -> None:
        trace, self._trace = self._trace, []
        if not trace:
            return
        text = " ".join(e.message for e in trace)
        named = _OUR_DRIVERS.search(text)
        first = trace[0]
        near = (first.t is not None and self._last_lifecycle_t is not None
                and 0 <= first.t - self._last_lifecycle_t <= self.config.trace_window)
        if named or near:
            why = f"names {named.group(0)}" if named else "follows a VF lifecycle event"
            self.add("kernel-trace", None, first, f"a kernel trace {why}: {first.message[:120]}",
                     [e.line for e in trace])

    # -- whole boot ----------------------------------------------------------
    def time_regression(self, event: Event, previous: float) -> None:
        """Report a timestamp that went back by less than a reboot would."""
        self.add("time-regression", None, event,
                 f"time went back from {previous:.6f} to {event.t:.6f} within one boot", group="boot")

    def finish(self, nics: Iterable[Nic], end_t: float | None, last_other_line: int) -> None:
        """Apply the end-of-boot rules: timeouts, incomplete states, outages and flapping.

        *last_other_line* is the last line of the boot that came from no driver of ours: an
        absence is only evidence when the log demonstrably went on after the awaited step.
        """
        self._close_trace()
        for nic in nics:
            self._timeout(nic, end_t, last_other_line, final=True)

    def _awaited(self, nic: Nic) -> tuple[str, str, str, str, int, float | None] | None:
        """Return what the NIC is waiting for: (code, threshold name, failure, pending, since line, since time)."""
        wait = self._waits.get(nic.key)
        if wait is not None and nic.state is not State.DATAPATH_VF:
            return (*_ASSOCIATION, wait.line, wait.t)
        timeout = _TIMEOUTS.get(nic.state)
        if timeout is None:
            return None
        if nic.state is State.PCI_PRESENT and (nic.vf is None or nic.vf.device_id is None):
            timeout = _NO_DEVICE
        return (*timeout, nic.state_line, nic.state_t)

    def _timeout(self, nic: Nic, now: float | None, last_other_line: int, *, final: bool) -> None:
        """Report what the NIC still waits for at time *now*: its finding once past the threshold,
        ``incomplete`` at the end of the log when the wait cannot be judged."""
        awaited = self._awaited(nic)
        if awaited is None:
            return
        code, limit, what, pending, since_line, since_t = awaited
        if (nic.key, since_line, code) in self._provisional:
            return
        threshold = getattr(self.config, limit)
        elapsed = None if (now is None or since_t is None) else now - since_t
        quotes = dict([self._state_text[nic.key]]) if nic.key in self._state_text else {}
        wait = self._waits.get(nic.key)
        if wait is not None:
            quotes[wait.line] = wait.message
        evidence = [since_line]
        if code == "vf-not-readded" and nic.outages and nic.outages[-1].end_line is None:
            evidence.append(nic.outages[-1].start_line)
        if elapsed is not None and elapsed >= threshold and last_other_line > since_line:
            self._absent[nic.key] = (since_line, code)
            ending = "until the log ends" if final else "so far"
            draft = self.add(code, nic, None, f"{_name(nic)}: {what} ({_ago(elapsed)} in state {nic.state.value} {ending})",
                             evidence, quotes=quotes, t=since_t)
            if draft is not None:
                self._provisional[(nic.key, since_line, code)] = draft
        elif final:
            if elapsed is None:
                how_long = "no timestamps"
            elif elapsed < threshold:
                how_long = f"only {_ago(elapsed)} later"
            else:
                how_long = "no other log lines after it: the log looks filtered or cut"
            self.add("incomplete", nic, None,
                     f"{_name(nic)}: the log ends in state {nic.state.value} ({how_long}), so vflog cannot tell whether {pending}",
                     [since_line], quotes=quotes, t=since_t)

    def absence_shown(self, nic: Nic) -> bool:
        """Return whether the log went on past the step *nic* awaits in its current state."""
        awaited = self._awaited(nic)
        return awaited is not None and self._absent.get(nic.key) == (awaited[4], awaited[0])

    def schedule(self, nic: Nic) -> None:
        """Follow mode: note when what *nic* now awaits falls due, so that tick looks at it only then."""
        awaited = self._awaited(nic)
        plan = None if awaited is None or awaited[5] is None else \
            _Plan(nic.key, awaited[4], awaited[0], awaited[5], getattr(self.config, awaited[1]))
        if self._plans.get(nic.key) == plan:
            return
        if plan is None:
            del self._plans[nic.key]
            return
        self._plans[nic.key] = plan
        heapq.heappush(self._due, (plan.since_t + plan.threshold, next(self._order), plan, nic))
        if len(self._due) + len(self._quiet) > 2 * len(self._plans) + _STALE:
            self._due, self._quiet = self._current(self._due), self._current(self._quiet)

    def _current(self, heap: list[_Entry]) -> list[_Entry]:
        """Return *heap* without the entries of plans that no longer hold (one entry per plan), as a heap."""
        kept = {entry[2]: entry for entry in sorted(heap, reverse=True) if self._plans.get(entry[2].key) == entry[2]}
        entries = list(kept.values())
        heapq.heapify(entries)
        return entries

    def tick(self, now: float, last_other_line: int) -> None:
        """Follow mode: fire the time-based findings whose threshold the stream's clock has passed.

        Only the waits that fell due are looked at (two heaps: by deadline, then by the line an
        unrelated line must follow), so a line costs O(log n) for n NICs, not O(n).
        """
        while self._due and self._due[0][0] <= now:
            deadline, _, plan, nic = heapq.heappop(self._due)
            if self._plans.get(plan.key) == plan:
                self._check(plan, nic, deadline, now, last_other_line)
        while self._quiet and self._quiet[0][0] < last_other_line:
            _, _, plan, nic = heapq.heappop(self._quiet)
            if self._plans.get(plan.key) == plan:
                self._check(plan, nic, plan.since_t + plan.threshold, now, last_other_line)

    def _check(self, plan: _Plan, nic: Nic, deadline: float, now: float, last_other_line: int) -> None:
        """Fire *plan*'s finding when both its time and an unrelated line after it have come, else wait again."""
        if now - plan.since_t < plan.threshold:  # the exact test of _timeout (a deadline sum may round the other way)
            later = deadline if deadline > now else math.nextafter(deadline, math.inf)
            heapq.heappush(self._due, (later, next(self._order), plan, nic))
        elif last_other_line <= plan.since_line:
            heapq.heappush(self._quiet, (plan.since_line, next(self._order), plan, nic))
        else:
            suppressed = self._suppressed.get(plan.code, 0)
            self._timeout(nic, now, last_other_line, final=False)
            if self._suppressed.get(plan.code, 0) > suppressed:  # over the per-code limit: counted once, at the end,
                self._suppressed[plan.code] = suppressed  # as report does
                if not suppressed:
                    del self._suppressed[plan.code]

    def moved(self, nic: Nic) -> None:
        """Withdraw a time-based finding fired while following once the NIC leaves that state."""
        if not self._provisional:
            return
        for key in [k for k in self._provisional if k[0] == nic.key]:
            awaited = self._awaited(nic)
            if awaited is not None and (nic.key, awaited[4], awaited[0]) == key:
                continue
            draft = self._provisional.pop(key)
            if draft in self._drafts:
                self._drafts.remove(draft)
                self._counts[draft.code] -= 1  # a withdrawn finding no longer counts against the per-code limit
                if self._listener is not None:
                    self._listener(Withdrawn(draft.freeze()))

    def _switched_back(self, nic: Nic, event: Event) -> None:
        """Judge the outage that a switch back to the VF just closed: too long, or one flap too many."""
        outage = nic.outages[-1] if nic.outages else None
        if outage is None or outage.end_line != event.line:
            return
        seconds = outage.seconds
        if seconds is not None and seconds > self.config.outage_max:
            self.add("long-outage", nic, None, f"{_name(nic)}: traffic ran on the synthetic path for {_ago(seconds)}",
                     [outage.start_line, event.line], t=outage.start_t)
        if outage.vf_removed or event.t is None:
            return
        window, allowed = self.config.flap_window, self.config.flap_allowed
        recent = [(line, t) for line, t in nic.flaps if t is not None and event.t - t <= window]
        if len(recent) <= allowed:
            return
        group, last = self._flap_burst.get(nic.key, (None, None))
        if group is None or last is None or event.t - last > window:
            group = recent[0][0]
        self._flap_burst[nic.key] = (group, event.t)
        self.add("datapath-flapping", nic, None,
                 f"{_name(nic)}: the data path left the VF and came back more than {allowed} times within {_ago(window)}",
                 [line for line, _ in recent], group=("flap", group), t=recent[0][1])
