"""Decide which virtual NIC each event belongs to.

The key of a NIC is its hv_netvsc VMBus device (GUID, or ``vmbus_N`` on old
kernels).  netvsc lines name it directly.  VF-side lines name a PCI address or
an interface name; they are tied to a NIC by what netvsc says: the VF name in
``VF registering`` / ``Data path switched`` / ``VF up``, the synthetic name in
``joined to``, and the vPCI bus (hv_pci GUID -> ``PCI host bridge to bus
DDDD:00``).  Lines that cannot be tied yet wait, per PCI domain or per
interface name, until a later line ties them; what is still untied when the
boot ends goes to the only NIC that could own it, or to a NIC of its own
keyed ``pci:DDDD``.  MANA VFs of several NICs share one PCI address, so
interface names win over addresses.

Two kinds of lines are shaped here, before anyone sees them: the lines of a
kernel trace become one ``kernel_trace`` event (its lines are its evidence,
and it carries the last line about a VF before it, for the trace window), and
lines that belong to no NIC's story (``hv_vmbus: registering driver
hv_balloon``) are not delivered at all.

Longer than 400 lines because the routing state (names, buses, domains, lines waiting for a tie) and
every rule that changes it, with the route memo that any change clears, must change together.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import attrs

from . import machine
from .drivers import (HOST_DOMAIN, PCI_CORE_DRIVERS, SYNTHETIC_DRIVERS, TRACE_WORDS, VF_DEVICE_IDS, VF_DRIVERS,
                      VMBUS_CLIENTS, VPCI_DRIVERS)
from .events import Event
from .nic import Nic

#: Kinds of the lines of a kernel trace (its header, call trace, modules, registers, frames, end marker).
TRACE_KINDS = frozenset({"trace_start", "trace_calls", "trace_modules", "trace_rip", "trace_frame", "trace_end"})
#: The kind of the one event that a whole kernel trace becomes: its lines are its evidence.
TRACE = "kernel_trace"
#: Two trace lines further apart than this many lines belong to two traces.
TRACE_GAP = 80
#: A driver line this many lines or fewer after a trace's last line leaves the trace open (console output
#: interleaved with an oops); the trace goes on if its next line continues it (not a new header).
TRACE_INTERLEAVE = 16
#: Lines of one trace kept as its evidence (a longer trace is counted, not kept).
_TRACE_KEEP = 64
_TRACE_WORDS = re.compile("|".join(re.escape(word) for word in TRACE_WORDS))
#: Kinds of VMBus driver (un)registrations: only the registry's VMBus clients (netvsc, hv_pci) belong to a NIC's story.
_REGISTRATIONS = frozenset({"vmbus_driver_registered", "vmbus_driver_unregistered"})
#: User-space programs whose lines name an interface.
_USERSPACE = frozenset({"systemd-networkd", "NetworkManager"})
_PENDING_LIMIT = 256
_PENDING_KEYS = 4096
_NAME_LIMIT = 1 << 16
#: Messages whose route is remembered (a longer message is routed each time: the memo stays small).
_ROUTES_LIMIT = 1 << 12
#: udev's name of a PCI slot's interface (enP<domain>[p<bus>]s<slot>[f<function>][np<port>|n<name>]): the domain
#: is in decimal, as in ``enP30832s1`` for the VF on PCI domain 7870.
_SLOT_NAME = re.compile(r"enP(\d{1,5})(?:p\d+)?s\d+(?:f\d+)?(?:np\d+|n\w+)?")
_ROUTED_TEXT_LIMIT = 1024

#: Where the events go: (NIC key or None, the event or its message's parse, its line, its time).
Deliver = Callable[[str | None, Event, int, "float | None"], None]
#: The last line about a VF: (its message's parse, its line, its time).
_Seen = tuple[Event, int, "float | None"]


def in_story(event: Event) -> bool:
    """Return whether *event* belongs to some NIC's story: a VMBus driver's registration only when the driver
    is one of the registry's VMBus clients (``hv_vmbus: registering driver hv_balloon`` is not)."""
    return event.kind not in _REGISTRATIONS or event.get("name") in VMBUS_CLIENTS


def is_vf_event(event: Event) -> bool:
    """Return whether *event* is about a VF: a lifecycle input, or any line printed on a VF's netdev (with a
    VF driver's prefix: netvsc prints some of its messages there)."""
    return event.kind in machine.INPUTS or (event.driver in VF_DRIVERS and bool(event.ifname))


@attrs.define
class _Trace:
    """The lines of one kernel trace as they come: the first kept whole, the rest counted."""

    first: Event
    last_line: int
    #: The last VF event before the trace: (its message's parse, line, time).
    after: tuple[Event, int, float | None] | None = None
    #: Another driver's line came after the trace's last line (interleaved console output).
    interrupted: bool = False
    lines: list[int] = attrs.field(factory=list)
    texts: list[str] = attrs.field(factory=list)
    count: int = 0
    names: dict[str, None] = attrs.field(factory=dict)

    def add(self, event: Event) -> None:
        """Take one more line of the trace."""
        self.count += 1
        self.last_line = event.line
        if len(self.lines) < _TRACE_KEEP:
            self.lines.append(event.line)
            self.texts.append(event.message)
        for word in _TRACE_WORDS.findall(event.message):
            self.names.setdefault(word, None)

    def event(self, after: Event | None) -> Event:
        """Return the one event of the whole trace; *after* is the last VF event before it."""
        first = self.first
        fields: dict[str, Any] = {"text": first.get("text", first.message), "lines": tuple(self.lines),
                                  "frames": tuple(self.texts), "count": self.count, "end_line": self.last_line,
                                  "names": tuple(self.names)}
        if after is not None:
            fields.update(vf_line=after.line, vf_t=after.t, vf_text=after.message)
        return Event(TRACE, fields=fields, message=first.message, line=first.line, t=first.t)


@attrs.frozen(slots=True)
class Route:
    """Where the events of one message went (Correlator.route), decided once while the ties stay as they were."""

    #: The key of the NIC they were delivered to, None when they belong to none.
    key: str | None
    #: They belong to some NIC's story (in_story): else they are not delivered at all.
    in_story: bool
    #: They are about a VF (is_vf_event): the window of a later kernel trace starts at the last of them.
    about_vf: bool


def is_nic_function(event: Event) -> bool:
    """Return whether a ``pci_device`` event describes a NIC virtual function."""
    vendev = str(event.get("vendev", "")).strip("[]")
    return vendev in VF_DEVICE_IDS or str(event.get("class", "")).startswith("0x0200")


def slot_domain(ifname: str) -> str | None:
    """Return the PCI domain (``7870``) of an interface that udev named after its PCI slot (``enP30832s1``), else None."""
    found = _SLOT_NAME.fullmatch(ifname)
    if found is None or int(found.group(1)) > 0xFFFF:
        return None
    return f"{int(found.group(1)):04x}"


class Correlator:
    """Route each event of one boot to the key of its NIC (or None when it belongs to no NIC)."""

    def __init__(self, deliver: Deliver, nics: dict[str, Nic], new_nic: Callable[[str], Nic],
                 max_nics: int = 512) -> None:
        self._downstream = deliver
        self._max_nics = max_nics
        self.untracked = 0
        self._nics = nics
        self._new_nic = new_nic
        self._by_synthetic: dict[str, str] = {}
        self._by_vf_name: dict[str, str] = {}
        self._domain_owner: dict[str, str] = {}
        self._guid_domain: dict[str, str] = {}
        self._domain_guids: dict[str, dict[str, None]] = {}  # the reverse of _guid_domain, in insertion order
        self._ties = 0  # how many times a domain was tied to a NIC
        self._not_nic: set[str] = set()
        self._pending: dict[str, list[Event]] = {}
        self._domain_users: dict[str, set[str]] = {}
        self.dropped = 0
        self._trace: _Trace | None = None
        self._last_vf: _Seen | None = None
        #: The route each message took, while the ties stay as they were then (see route).
        self._routes: dict[str, Route] = {}
        #: What the route being decided delivered (None when no route is being decided).
        self._delivered: list[tuple[str | None, Event]] | None = None
        self._changes = 0  # how many times a tie changed (see _changed)

    # -- routing ---------------------------------------------------------
    def route(self, event: Event) -> None:
        """Deliver *event* to its NIC now, or hold it until something ties it to one.

        The lines of a kernel trace are gathered into one event (delivered when the trace ends: at its
        end marker, at the next other event, or more than TRACE_GAP lines on); lines that belong to no
        NIC's story (in_story) are not delivered at all.  A message routed before goes where it went
        then, without being decided again, as long as no tie changed since (see _decide).
        """
        self.route_at(event, event.line, event.t)

    def route_at(self, template: Event, line: int, t: float | None) -> None:
        """Route the event of *template* placed at *line* and time *t* (see route): the placed event is only made
        when it goes somewhere, so a remembered message outside every NIC's story costs a dict lookup."""
        if template.kind in TRACE_KINDS:
            self._trace_line(template.at(line, t))
            return
        trace = self._trace
        if trace is not None:
            if line - trace.last_line > TRACE_INTERLEAVE:
                self._close_trace()
            else:
                trace.interrupted = True
        route = self._routes.get(template.message)
        if route is None:
            self._decide(template.at(line, t))
        elif route.in_story:
            if route.about_vf:
                self._last_vf = (template, line, t)
            self._downstream(route.key, template, line, t)

    def _decide(self, event: Event) -> None:
        """Route *event* by its driver and the ties known so far; remember where its message went when the route
        only read the ties (the event itself delivered once, nothing held, tied, learnt or counted)."""
        story, about_vf = in_story(event), is_vf_event(event)
        if about_vf and story:
            self._last_vf = (event, event.line, event.t)
        ties = self._tie_state()
        delivered: list[tuple[str | None, Event]] = []
        if story:
            self._delivered = delivered
            self._dispatch(event)
            self._delivered = None
        if ((len(delivered) == 1 and delivered[0][1] is event) or not story) and self._tie_state() == ties \
                and event.message and len(event.message) <= _ROUTED_TEXT_LIMIT:
            if len(self._routes) >= _ROUTES_LIMIT:
                self._routes.clear()
            self._routes[event.message] = Route(delivered[0][0] if story else None, story, about_vf and story)

    def _tie_state(self) -> tuple[int, ...]:
        """Return a fingerprint of everything a route reads or changes (see _changed): equal before and after a
        route means the route changed nothing."""
        return (self._changes, self.untracked, self.dropped, len(self._nics))

    def _changed(self) -> None:
        """Note that a tie changed (a name, bus, domain or NIC learnt, an event held): every remembered route is
        decided again."""
        self._changes += 1
        self._routes.clear()

    def _dispatch(self, event: Event) -> None:
        """Route *event* by its driver (see route)."""
        driver = event.driver
        if driver in SYNTHETIC_DRIVERS and event.device:
            self._netvsc(event)
        elif driver in VPCI_DRIVERS and event.device:
            self._hv_pci(event)
        elif driver in PCI_CORE_DRIVERS:
            self._domain_event(event.domain or None, event)
        elif driver in VF_DRIVERS:
            self._vf(event)
        elif event.kind == "err_vmbus_probe":
            guid = str(event.get("guid"))
            if guid in self._nics:
                self._deliver(guid, event)
            else:
                self._hv_pci(attrs.evolve(event, device=guid))
        elif event.kind == "udev_rename_failed":
            old = str(event.get("quoted", "")).strip("'")
            self._named(old, event)
        elif driver in _USERSPACE and event.kind == "renamed":
            self._user_renamed(event)
        elif driver in _USERSPACE and event.ifname:
            key = self._by_synthetic.get(event.ifname)
            if key is not None and event.ifname not in self._by_vf_name:
                self._deliver(key, event)
            else:
                self._named(event.ifname, event)
        else:
            self._deliver(None, event)

    def _trace_line(self, event: Event) -> None:
        """Add one trace line to the open trace, or open one; its end marker closes it."""
        trace = self._trace
        if trace is not None and (event.line - trace.last_line > TRACE_GAP
                                  or (trace.interrupted and event.kind == "trace_start")):
            self._close_trace()
            trace = None
        if trace is None:
            trace = self._trace = _Trace(event, event.line, self._last_vf)
        trace.add(event)
        if event.kind == "trace_end":
            self._close_trace()

    def _close_trace(self) -> None:
        """Deliver the open trace as one event (to no NIC)."""
        trace, self._trace = self._trace, None
        if trace is not None:
            after = None
            if trace.after is not None:
                template, line, t = trace.after
                after = template.at(line, t)
            self._deliver(None, trace.event(after))

    def _deliver(self, key: str | None, event: Event) -> None:
        """Hand *event* on, remembering which NICs' VF netdevs live on which PCI domain."""
        if key is not None and event.ifname and event.domain and event.driver in VF_DRIVERS:
            users = self._domain_users.get(event.domain)
            if users is None:
                users = self._domain_users[event.domain] = set()
            users.add(key)
        if self._delivered is not None:
            self._delivered.append((key, event))
        self._downstream(key, event, event.line, event.t)

    def _nic(self, key: str) -> Nic:
        nic = self._nics.get(key)
        if nic is None:
            nic = self._nics[key] = self._new_nic(key)
            self._changed()
        return nic

    def _netvsc(self, event: Event) -> None:
        key = str(event.device)
        if key not in self._nics and len(self._nics) >= self._max_nics:
            self.untracked += 1  # adversarial input: millions of distinct fake GUIDs
            self._deliver(None, event)
            return
        self._nic(key)
        if event.kind == "renamed":
            old = event.get("old")
            if old and self._by_synthetic.get(old) == key:
                del self._by_synthetic[old]
                self._changed()
        if event.ifname and self._by_synthetic.get(event.ifname) != key:
            self._by_synthetic[event.ifname] = key
            self._changed()
        vf_name = event.get("vf")
        self._deliver(key, event)
        if vf_name:
            self._learn_name(vf_name, key)

    def _hv_pci(self, event: Event) -> None:
        guid = str(event.device)
        if event.kind == "host_bridge":
            domain = str(event.get("bus")).split(":", 1)[0]
            self._map_guid(guid, domain)
            for held in self._pending.pop("guid:" + guid, ()):
                self._domain_event(domain, held)
        served = self._guid_domain.get(guid)
        if served is None:
            self._hold("guid:" + guid, event)
        else:
            self._domain_event(served, event)

    def _map_guid(self, guid: str, domain: str) -> None:
        """Remember that the vPCI bus *guid* serves PCI domain *domain* (both ways, so ties are O(1))."""
        if self._guid_domain.get(guid) == domain:
            return
        self._changed()
        if len(self._guid_domain) >= _NAME_LIMIT:
            self._guid_domain.clear()
            self._domain_guids.clear()
        previous = self._guid_domain.get(guid)
        if previous is not None:
            self._domain_guids.get(previous, {}).pop(guid, None)
        self._guid_domain[guid] = domain
        self._domain_guids.setdefault(domain, {})[guid] = None

    def _vf(self, event: Event) -> None:
        domain = event.domain or None
        if event.kind == "vf_joined":
            key = self._by_synthetic.get(str(event.get("synthetic")))
            if key is not None:
                self._learn_name(str(event.ifname), key)
                if domain:
                    self._tie(domain, key)
                self._deliver(key, event)
                return
        if event.kind == "renamed":
            key = self._by_vf_name.get(str(event.get("old")))
            if key is None and domain:
                key = self._domain_owner.get(domain)
            if key is not None:
                self._learn_name(str(event.ifname), key)
                self._deliver(key, event)
                return
        if event.ifname:
            key = self._by_vf_name.get(event.ifname)
            if key is None:
                self._hold("name:" + event.ifname, event)
                return
            if domain and domain not in self._domain_owner:
                self._tie(domain, key)
            self._deliver(key, event)
            return
        self._domain_event(domain, event)

    def _user_renamed(self, event: Event) -> None:
        """Route a user-space rename by the old name: a known VF's name also leads to its new name."""
        old = str(event.get("old"))
        key = self._by_vf_name.get(old)
        if key is None:
            self._hold("name:" + old, event)
            return
        self._learn_name(str(event.ifname), key)
        self._deliver(key, event)

    def _named(self, name: str, event: Event) -> None:
        key = self._by_vf_name.get(name)
        if key is None:
            self._hold("name:" + name, event)
        else:
            self._deliver(key, event)

    def _domain_event(self, domain: str | None, event: Event) -> None:
        if domain is None or domain in self._not_nic:
            self._deliver(None, event)
            return
        if event.kind == "pci_device" and not is_nic_function(event):
            self._not_nic.add(domain)
            self._changed()
            for held in self._pending.pop("domain:" + domain, ()):
                self._deliver(None, held)
            self._deliver(None, event)
            return
        key = self._domain_owner.get(domain)
        if key is None and event.kind == "pci_device":
            waiting = [k for k, nic in self._nics.items() if machine.TRAITS[nic.state].offered]
            owned = set(self._domain_owner.values())
            waiting = [k for k in waiting if k not in owned]
            if len(waiting) == 1:
                key = waiting[0]
                self._tie(domain, key)
        if key is None:
            self._hold("domain:" + domain, event)
        else:
            self._deliver(key, event)

    # -- ties ------------------------------------------------------------
    def _hold(self, where: str, event: Event) -> None:
        self._changed()
        if where not in self._pending and len(self._pending) >= _PENDING_KEYS:
            oldest = next(iter(self._pending))
            for stale in self._pending.pop(oldest):
                self.dropped += 1
                self._deliver(None, stale)
        held = self._pending.setdefault(where, [])
        if len(held) >= _PENDING_LIMIT:
            held.pop(0)
            self.dropped += 1
        held.append(event)

    def _learn_name(self, name: str, key: str) -> None:
        if len(self._by_vf_name) >= _NAME_LIMIT:
            for old in list(self._by_vf_name)[: _NAME_LIMIT // 2]:
                del self._by_vf_name[old]
            self._changed()
        if self._by_vf_name.get(name) != key:
            self._by_vf_name[name] = key
            self._changed()
        if not self._pending:  # the usual case: nothing waits (and no key string is built)
            return
        for held in self._pending.pop("name:" + name, ()):
            domain = held.pci_domain
            if domain and domain not in self._domain_owner:
                self._tie(domain, key)
            self._deliver(key, held)

    def _tie(self, domain: str, key: str) -> None:
        if self._domain_owner.get(domain) != key:
            self._domain_owner[domain] = key
            self._changed()
        self._ties += 1
        if self._pending:
            for guid in tuple(self._domain_guids.get(domain, ())):
                for held in self._pending.pop("guid:" + guid, ()):
                    self._deliver(key, held)
        for held in self._pending.pop("domain:" + domain, ()):
            self._deliver(key, held)

    def _candidates(self) -> list[str]:
        """Return the NICs that could own an untied VF: the only NIC, or the NICs no PCI domain is tied to yet; a VF's
        entry of its own (``pci:<domain>``) never owns another domain."""
        synthetic = [k for k in self._nics if not k.startswith("pci:")]
        if len(self._nics) == 1:
            return synthetic
        owned = set(self._domain_owner.values())
        return [k for k in synthetic if k not in owned]

    def _own_entry(self, event: Event) -> str | None:
        """Return the key of a VF entry of its own (``pci:<domain>``, made if need be) for a VF driver's line on its
        netdev that no NIC can own, or for a user-space line on an interface udev named after its PCI slot; None for
        any other line, or when no more NICs may be made."""
        if event.driver in VF_DRIVERS:
            domain = event.pci_domain
        elif event.driver in _USERSPACE and event.ifname:
            domain = slot_domain(event.ifname)
        else:
            return None
        if not domain or domain == HOST_DOMAIN:
            return None
        owner = self._domain_owner.get(domain)
        if owner is None:
            if len(self._nics) >= self._max_nics:
                return None
            owner = "pci:" + domain
            self._nic(owner)
            self._tie(domain, owner)
        return owner

    def finish(self) -> None:
        """Close an open trace, then give what is still untied to the one NIC that could own it, or to a NIC of its own."""
        self._close_trace()
        version: tuple[int, int] | None = None
        for where in sorted(self._pending, key=lambda w: min(e.line for e in self._pending[w]) if self._pending[w] else 0):
            held = self._pending.get(where)
            if not held:
                continue
            kind, _, name = where.partition(":")
            if version != (self._ties, len(self._nics)):  # only a tie or a new NIC changes the candidates
                version = (self._ties, len(self._nics))
                candidates = self._candidates()
            if kind == "guid":
                self._pending.pop(where)
                # A GUID only a VMBus probe failure names may be any VMBus device (a frame buffer, a disk): only
                # a line of the vPCI driver makes it a vPCI bus that the one candidate NIC could own.
                bus = any(e.driver in VPCI_DRIVERS for e in held)
                target: str | None = candidates[0] if len(candidates) == 1 and bus else None
                if name in self._nics:  # the GUID turned out to be a synthetic NIC's own
                    target = name
                for event in held:
                    self._deliver(target, event)
                continue
            if kind == "domain":
                if name == HOST_DOMAIN or not any(e.kind == "pci_device" or e.driver in VF_DRIVERS for e in held):
                    self._pending.pop(where)
                    for event in held:
                        self._deliver(None, event)
                elif len(candidates) == 1:
                    self._tie(name, candidates[0])
                elif len(self._nics) < self._max_nics:
                    self._nic("pci:" + name)
                    self._tie(name, "pci:" + name)
                else:
                    self.untracked += len(self._pending.pop(where))
                    for event in held:
                        self._deliver(None, event)
            elif kind == "name":
                self._pending.pop(where)
                for event in held:
                    users = self._domain_users.get(event.pci_domain or "", set())
                    if len(users) == 1:
                        target = next(iter(users))
                    else:
                        target = candidates[0] if len(candidates) == 1 and not users else None
                    if target is None and not users:
                        target = self._own_entry(event)
                    self._deliver(target, event)
        self._pending.clear()
