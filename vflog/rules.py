"""Judge a boot's events and NIC machines and turn anomalies into findings.

The rules only read facts: the events as they are routed, the state before
and after each machine step (machine.py) and what each Nic collected
(nic.py).  Time-based rules compare against the boot's own clock: a state
left unfinished when the log ends is ``incomplete`` (info) unless the log
goes on past the threshold, in which case it becomes the state's finding.

Rules decide what is a finding; findings.py keeps them (drafting, grouping, per-code limits,
quotes, withdrawal) and deadlines.py schedules the time-based checks of follow mode.  The
per-event rules and the time-based rules share what they learn of each NIC, so they stay in
one class (about 420 lines).

Longer than 400 lines because its rules read and write one boot's judging state (awaited steps, recent
faults, the per-message Judging); split by kind, every rule module would need all of it.
"""

from __future__ import annotations

import re
from typing import Iterable

import attrs

from . import machine
from .catalogue import Severity
from .config import Config
from .correlate import TRACE
from .drivers import KNOWN, SYNTHETIC_DRIVERS, error_code, printer_of, verbose_only
from .events import INFO, Event
from .machine import TRAITS, State, Wait
from .messages import CATALOGUED, UNCATALOGUED
from .deadlines import Deadlines, Plan
from .findings import Draft, Findings, Listener
from .nic import Nic, VfGeneration
from .report import Finding

_TEMP_PREFIXES = ("rename", "cirename")
_TEMP_NAME = re.compile(r"^(?:" + "|".join(_TEMP_PREFIXES) + r")\d+$")
_BURST = 60.0

#: Kinds that reveal the VF's driver or device ID.
_IDENTITY_KINDS = frozenset({"pci_device", "driver_init", "probe_failed", "vf_joined", "link_up", "mlx4_vf_detected"})
#: Fault kinds (not machine inputs) that say the VF's device vanished under its driver.
_VANISHED = frozenset({"err_pci_slot_unavailable"})
#: Kinds that show the host offered a VF that netvsc refused: such a NIC is not one without any VF.
_REFUSED_OFFERS = frozenset({"err_isolation_refused"})
#: Kinds that _nic_event judges.
_NIC_KINDS = frozenset({"userspace_configures", "datapath_to_vf", "association_wait", "vf_unregistering",
                        *machine.WITHDRAWALS, *_VANISHED})
#: Kinds with a finding code of their own.
_KIND_CODES = {
    "err_switch_failed": "switch-failed",
    "err_isolation_refused": "isolated-vm",
    "probe_failed": "driver-probe-failed",
    "domain_collision": "pci-domain-collision",
    "udev_rename_failed": "udev-rename-failed",
    "warn_mana_reset": "vf-driver-error",
}


#: Kinds that some driver prints only when booted verbose (Rules.observe notes a NIC that shows one).
_VERBOSE_KINDS = frozenset(kind for driver in KNOWN.values() for kind in driver.verbose_only)
#: Messages whose Judging is remembered (a longer message is judged each time: the memo stays small).
_JUDGING_LIMIT = 1 << 12
_JUDGING_TEXT_LIMIT = 1024


@attrs.frozen(slots=True)
class Judging:
    """Which per-event rules of Rules.observe a message can trigger, whatever the NIC's state: decided once per
    message text.  (What the machine's step brings, the state text and _left, is judged apart.)"""

    #: It names a VF by a kernel temporary name (vf-temp-name).
    temp_name: bool
    #: It reveals the VF's driver or device ID (driver-changed).
    identity: bool
    #: It has a rule of its own on its NIC (_nic_event).
    nic_rule: bool
    #: Some driver prints it only when booted verbose.
    verbose: bool
    #: It shows an offer netvsc refused.
    refused_offer: bool
    #: It is a finding of its own: a kind with a code, or a fault (err/warn level).
    finding: bool
    #: No per-event rule can fire on it (none of the above).
    inert: bool


def judging(event: Event) -> Judging:
    """Return which per-event rules *event* can trigger (see Judging)."""
    kind, vf, ifname = event.kind, event.fields.get("vf"), event.ifname
    temp_name = bool((vf and vf.startswith(_TEMP_PREFIXES)) or (ifname and ifname.startswith(_TEMP_PREFIXES)))
    flags = {"temp_name": temp_name, "identity": kind in _IDENTITY_KINDS, "nic_rule": kind in _NIC_KINDS,
             "verbose": kind in _VERBOSE_KINDS, "refused_offer": kind in _REFUSED_OFFERS,
             "finding": kind in _KIND_CODES or event.level is not INFO}
    return Judging(**flags, inert=not any(flags.values()))


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
        self._findings = Findings(config, listener)
        self.add = self._findings.add
        self._provisional: dict[tuple[str, int, str], Draft] = {}
        self._flap_burst: dict[str, tuple[int | None, float | None]] = {}
        self._waits: dict[str, Event] = {}
        self._from_banner: bool | None = None
        self._untied = False
        self._verbose: set[str] = set()
        self._refused: set[str] = set()
        self._kept: set[tuple[str, int, str]] = set()
        self._temp_named: set[tuple[str, str]] = set()
        self._changed: set[tuple[str, int]] = set()
        self._identities: dict[str, tuple[VfGeneration, str | None, str | None]] = {}
        self._bursts: dict[tuple[str, str | None], tuple[int, float | None]] = {}
        self._state_text: dict[str, tuple[int, str]] = {}
        self._absent: dict[str, tuple[int, str]] = {}
        self._deadlines = Deadlines()
        #: The Judging of each message, decided once per message text.
        self._judging: dict[str, Judging] = {}

    # -- recording ---------------------------------------------------------
    # -- findings ------------------------------------------------------------
    def notes(self) -> tuple[str, ...]:
        """Return what the rules left out (findings beyond the per-code limit)."""
        return self._findings.notes()

    def findings(self) -> tuple[Finding, ...]:
        """Return the findings so far, ordered by line."""
        return self._findings.findings()

    # -- per event ---------------------------------------------------------
    def refused(self, nic: Nic, event: Event) -> None:
        """Report an input the transition table does not allow in the NIC's state."""
        self.add("unexpected-event", nic, event,
                 f"{_name(nic)}: {event.kind} is not expected in state {nic.state.value}; state left unchanged")

    def observe(self, nic: Nic | None, event: Event, before: State | None, last_other_line: int = 0) -> None:
        """Judge one routed event; *before* is the NIC's state before it (None if not a machine input),
        *last_other_line* the last line so far that came from no driver of ours."""
        self.observe_at(nic, event, event.line, event.t, before, last_other_line)

    def observe_at(self, nic: Nic | None, event: Event, line: int, t: float | None, before: State | None,
                   last_other_line: int = 0) -> None:
        """Judge the routed event of *event* (a message's parse) at *line* and time *t* as observe does; the placed
        event is only made when a rule keeps it (a finding, an awaited association)."""
        kind = event.kind
        self._findings.remember(line, event.message)
        if self._from_banner is None:  # the boot's first event: the log shows the whole boot when it is the banner
            self._from_banner = kind == "boot"
        if kind == TRACE:
            self._trace(event.at(line, t))
            return
        if nic is not None and before is not None and nic.state_line == line:
            self._state_text[nic.key] = (line, event.message)
            self._left(nic, kind, line, t, before, last_other_line)
        judged = self._judging.get(event.message) or self._judge(event)
        if judged.inert:
            return
        if nic is not None:
            if judged.temp_name:
                self._names(nic, event.at(line, t))
            if judged.identity and len(nic.generations) > 1:
                self._driver_change(nic, event, line, t)
            if judged.nic_rule:
                self._nic_event(nic, event, line, t, before)
            if judged.verbose and verbose_only(nic.driver, kind):
                self._verbose.add(nic.key)
            if judged.refused_offer:
                self._refused.add(nic.key)
        if judged.finding:
            event = event.at(line, t)
            code = _KIND_CODES.get(kind)
            severity = None
            if code is None:  # a fault: named by the grammar, or at the kernel's err/warn level
                if kind == "err_vmbus_probe":  # the VMBus core failed to probe a child: a NIC's, else a vPCI bus's
                    code = "netvsc-error" if nic is not None and nic.key == event.get("guid") else "hv-pci-error"
                else:
                    code = error_code(event.get("printed_by") or printer_of(kind) or event.driver) or "netvsc-error"
                severity = Severity(event.level.value)  # the level the kernel printed it at
            message = self._message(code, nic, event)
            state = before if before is not None else nic.state if nic is not None else None
            if kind in machine.WITHDRAWALS and state is not None and TRAITS[state].registered:
                severity = Severity.ERROR  # the device withdrawn under a VF in use (kernel-messages.md, 5.2)
                message += f" (the VF's device was withdrawn while the VF was in use: {state.value})"
            self.add(code, nic, event, message, group=self._group(code, nic, event), severity=severity)

    def _judge(self, event: Event) -> Judging:
        """Return judging(*event*), remembered for its message text (see observe)."""
        judged = judging(event)
        if event.message and len(event.message) <= _JUDGING_TEXT_LIMIT:
            if len(self._judging) >= _JUDGING_LIMIT:
                self._judging.clear()
            self._judging[event.message] = judged
        return judged

    def _nic_event(self, nic: Nic, event: Event, line: int, t: float | None, before: State | None) -> None:
        """Judge the kinds with a rule of their own (_NIC_KINDS) on the NIC they were routed to (*event*: a message's
        parse, at *line* and time *t*)."""
        kind = event.kind
        if kind == "userspace_configures" and event.ifname in _vf_names(nic):
            self.add("vf-managed-by-userspace", nic, event.at(line, t),
                     f"{_name(nic)}: {event.driver} configures the VF interface {event.ifname}; only the synthetic "
                     f"interface {nic.synthetic or ''} should be configured", group="userspace")
        if kind == "datapath_to_vf" and before is not None:
            self._switched_back(nic, line, t)
        if kind == "association_wait":
            if nic.key not in self._waits:
                self._waits[nic.key] = event.at(line, t)
        elif kind == "datapath_to_vf" and nic.key in self._waits:
            wait = self._waits.pop(nic.key)
            self.add("association-wait", nic, wait,
                     f"{_name(nic)}: netvsc waited for the host's VF association before switching; it came",
                     [line], severity=Severity.INFO)
        if kind in machine.WITHDRAWALS or kind in _VANISHED:
            state = before if before is not None else nic.state
            if TRAITS[state].registered:
                self.add("surprise-removal", nic, event.at(line, t),
                         f"{_name(nic)}: {kind.replace('_', ' ')} while the VF was {state.value}")
        elif kind == "vf_unregistering" and before in machine.ON_VF:
            self.add("surprise-removal", nic, event.at(line, t),
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
        for name in (event.get("vf"), event.ifname if event.driver not in SYNTHETIC_DRIVERS else None):
            if name and name.startswith(_TEMP_PREFIXES) and _TEMP_NAME.match(name) \
                    and (nic.key, name) not in self._temp_named:
                self._temp_named.add((nic.key, name))
                self.add("vf-temp-name", nic, event,
                         f"{_name(nic)}: the VF carried the kernel temporary name {name}; a udev rename failed", group="temp")

    def _driver_change(self, nic: Nic, event: Event, line: int, t: float | None) -> None:
        """Report a VF that came back with another driver or device ID (*event*: a message's parse that reveals
        them, at *line* and time *t*), once per VF generation."""
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
                self.add("driver-changed", nic, event.at(line, t),
                         f"{_name(nic)}: after the re-add the VF {field} is {new} (was {old}): the VM moved to other hardware")
                return

    def _trace(self, event: Event) -> None:
        """Judge one kernel trace (correlate.TRACE): kernel-trace when its lines name one of our drivers, or
        when it came within trace_window seconds after a line about a VF (a lifecycle input, or any line
        printed on a VF's netdev)."""
        names = event.get("names") or ()
        vf_t = event.get("vf_t")
        near = (event.t is not None and vf_t is not None and 0 <= event.t - vf_t <= self.config.trace_window)
        if not (names or near):
            return
        why = f"names {names[0]}" if names else "follows a VF lifecycle event"
        quotes = dict(zip(event.get("lines", ()), event.get("frames", ())))
        evidence = list(event.get("lines", ()))
        if near:
            evidence.append(event.get("vf_line"))
            quotes[event.get("vf_line")] = event.get("vf_text")
        self.add("kernel-trace", None, event, f"a kernel trace {why}: {event.message[:120]}", evidence, quotes=quotes)

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
        nics = list(nics)
        self._untied = any(nic.vmbus_id is None for nic in nics)  # a VF tied to no NIC may be any NIC's
        for nic in nics:
            self._timeout(nic, end_t, last_other_line, final=True)

    def _wait(self, nic: Nic, state: State) -> Wait | None:
        """Return what *nic* waits for in *state* (its trait; a bus without a device line awaits the device)."""
        wait = TRAITS[state].wait
        if wait is machine.DEVICE_WAIT and (nic.vf is None or nic.vf.device_id is None):
            return machine.BUS_WAIT
        if wait is None and not nic.generations and self._from_banner and not self._untied \
                and nic.key not in self._refused:
            return machine.NO_VF_WAIT  # the whole boot is in the log: a NIC without any VF line has none
        return wait

    def _awaited(self, nic: Nic) -> tuple[Wait, int, float | None] | None:
        """Return what the NIC is waiting for, and since which line and time."""
        wait = self._waits.get(nic.key)
        if wait is not None and nic.state not in machine.ON_VF:
            return machine.ASSOCIATION_WAIT, wait.line, wait.t
        awaited = self._wait(nic, nic.state)
        if awaited is None:
            return None
        if awaited is machine.NO_VF_WAIT:
            return awaited, nic.first_line or 0, nic.first_t
        return awaited, nic.state_line, nic.state_t

    def _unprovable(self, nic: Nic, wait: Wait) -> bool:
        """Return whether the absence of what *wait* awaits proves nothing for *nic*: its driver prints those
        steps only when booted verbose (FreeBSD's hn), and nothing shows that this boot was verbose."""
        return nic.key not in self._verbose and bool(wait.steps) \
            and all(verbose_only(nic.driver, step) for step in wait.steps)

    def _timeout(self, nic: Nic, now: float | None, last_other_line: int, *, final: bool) -> None:
        """Report what the NIC still waits for at time *now*: its finding once past the threshold,
        ``incomplete`` at the end of the log when the wait cannot be judged."""
        awaited = self._awaited(nic)
        if awaited is None:
            return
        wait, since_line, since_t = awaited
        code = wait.code
        if (nic.key, since_line, code) in self._provisional:
            return
        threshold = getattr(self.config, wait.threshold)
        elapsed = None if (now is None or since_t is None) else now - since_t
        quotes = dict([self._state_text[nic.key]]) if nic.key in self._state_text else {}
        association = self._waits.get(nic.key)
        if association is not None:
            quotes[association.line] = association.message
        evidence = [since_line]
        if code == "vf-not-readded" and nic.outages and nic.outages[-1].end_line is None:
            evidence.append(nic.outages[-1].start_line)
        unprovable = self._unprovable(nic, wait)
        if elapsed is not None and elapsed >= threshold and last_other_line > since_line and not unprovable:
            self._absent[nic.key] = (since_line, code)
            ending = "until the log ends" if final else "so far"
            draft = self.add(code, nic, None,
                             f"{_name(nic)}: {wait.failure} ({_ago(elapsed)} in state {nic.state.value} {ending})",
                             evidence, quotes=quotes, t=since_t)
            if draft is not None:
                self._provisional[(nic.key, since_line, code)] = draft
        elif final:
            if unprovable:
                how_long = f"{nic.driver} prints that step only when the kernel is booted verbose"
            elif elapsed is None:
                how_long = "no timestamps"
            elif elapsed < threshold:
                how_long = f"only {_ago(elapsed)} later"
            else:
                how_long = "no other log lines after it: the log looks filtered or cut"
            self.add("incomplete", nic, None,
                     f"{_name(nic)}: the log ends in state {nic.state.value} ({how_long}), so vflog cannot tell "
                     f"whether {wait.pending}", [since_line], quotes=quotes, t=since_t)

    def _left(self, nic: Nic, kind: str, line: int, t: float | None, before: State, last_other_line: int) -> None:
        """Judge a state left because the VF was taken away (a gone state that awaits a re-add; a failed probe
        is its own finding) by an input of *kind* at *line* and time *t*: when the state waited past its threshold
        while the log went on (other lines between its start and *line*), what it waited for never came."""
        after = TRAITS[nic.state]
        if not after.gone or after.wait is None:
            return
        wait = self._wait(nic, before)
        if wait is None or after.wait.code == wait.code or kind in wait.steps:
            return
        since_line, since_t = nic.left_line, nic.left_t
        if (nic.key, since_line, wait.code) in self._kept or since_t is None or t is None:
            return
        elapsed = t - since_t
        if elapsed < getattr(self.config, wait.threshold) or not since_line < last_other_line < line \
                or self._unprovable(nic, wait):
            return
        self.add(wait.code, nic, None,
                 f"{_name(nic)}: {wait.failure} ({_ago(elapsed)} in state {before.value} until the VF was taken away)",
                 [since_line, line], t=since_t)

    def absence_shown(self, nic: Nic) -> bool:
        """Return whether the log went on past the step *nic* awaits in its current state."""
        awaited = self._awaited(nic)
        return awaited is not None and self._absent.get(nic.key) == (awaited[1], awaited[0].code)

    def schedule(self, nic: Nic) -> None:
        """Follow mode: note when what *nic* now awaits falls due, so that tick looks at it only then."""
        awaited = self._awaited(nic)
        plan = None
        if awaited is not None:
            wait, since_line, since_t = awaited
            if since_t is not None:
                plan = Plan(nic.key, since_line, wait.code, since_t, getattr(self.config, wait.threshold))
        self._deadlines.plan(nic, plan)

    def tick(self, now: float, last_other_line: int) -> None:
        """Follow mode: fire the time-based findings whose threshold the stream's clock has passed.

        Only the waits that fell due are looked at (see Deadlines), so a line costs O(log n) for n NICs, not O(n).
        """
        self._deadlines.tick(now, last_other_line, lambda nic, code: self._fire(nic, code, now, last_other_line))

    def _fire(self, nic: Nic, code: str, now: float, last_other_line: int) -> None:
        """Report what *nic* waits for, fallen due at *now*; a finding of *code* over the per-code limit is counted
        once, at the end, as report does."""
        suppressed = self._findings.suppressed(code)
        self._timeout(nic, now, last_other_line, final=False)
        if self._findings.suppressed(code) > suppressed:
            self._findings.unsuppress(code, suppressed)

    def moved(self, nic: Nic) -> None:
        """Withdraw a time-based finding fired while following once the NIC leaves that state."""
        if not self._provisional:
            return
        for key in [k for k in self._provisional if k[0] == nic.key]:
            awaited = self._awaited(nic)
            if awaited is not None and (nic.key, awaited[1], awaited[0].code) == key:
                continue
            draft = self._provisional.pop(key)
            after = TRAITS[nic.state]
            if key[1] == nic.left_line and after.gone and after.wait is not None and after.wait.code != key[2]:
                self._kept.add(key)  # the VF was taken away before the awaited step: the finding stands (_left)
                continue
            self._findings.withdraw(draft)

    def _switched_back(self, nic: Nic, line: int, t: float | None) -> None:
        """Judge the outage that a switch back to the VF at *line* and time *t* just closed: too long, or one flap
        too many."""
        outage = nic.outages[-1] if nic.outages else None
        if outage is None or outage.end_line != line:
            return
        seconds = outage.seconds
        if seconds is not None and seconds > self.config.outage_max:
            self.add("long-outage", nic, None, f"{_name(nic)}: traffic ran on the synthetic path for {_ago(seconds)}",
                     [outage.start_line, line], t=outage.start_t)
        if outage.vf_removed or t is None:
            return
        window, allowed = self.config.flap_window, self.config.flap_allowed
        recent = [(flap_line, flap_t) for flap_line, flap_t in nic.flaps if flap_t is not None and t - flap_t <= window]
        if len(recent) <= allowed:
            return
        group, last = self._flap_burst.get(nic.key, (None, None))
        if group is None or last is None or t - last > window:
            group = recent[0][0]
        self._flap_burst[nic.key] = (group, t)
        self.add("datapath-flapping", nic, None,
                 f"{_name(nic)}: the data path left the VF and came back more than {allowed} times within {_ago(window)}",
                 [flap_line for flap_line, _ in recent], group=("flap", group), t=recent[0][1])
