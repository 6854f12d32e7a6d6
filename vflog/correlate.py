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
"""

from __future__ import annotations

from typing import Callable

import attrs

from .events import Event
from .machine import State
from .nic import SYNTHETIC_DRIVERS, VF_DRIVERS, Nic

#: PCI vendor:device IDs of NIC virtual functions (catalogue section 10).
VF_DEVICE_IDS = frozenset({
    "15b3:1002", "15b3:1004", "15b3:1012", "15b3:1014", "15b3:1016", "15b3:1018",
    "15b3:101a", "15b3:101c", "15b3:101e", "15b3:a2d3", "1414:00ba",
})
#: User-space programs whose lines name an interface.
_USERSPACE = frozenset({"systemd-networkd", "NetworkManager"})
_PENDING_LIMIT = 256
_PENDING_KEYS = 4096
_NAME_LIMIT = 1 << 16

Deliver = Callable[[str | None, Event], None]


def is_nic_function(event: Event) -> bool:
    """Return whether a ``pci_device`` event describes a NIC virtual function."""
    vendev = str(event.get("vendev", "")).strip("[]")
    return vendev in VF_DEVICE_IDS or str(event.get("class", "")).startswith("0x0200")


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

    # -- routing ---------------------------------------------------------
    def route(self, event: Event) -> None:
        """Deliver *event* to its NIC now, or hold it until something ties it to one."""
        driver = event.driver
        if driver in SYNTHETIC_DRIVERS and event.device:
            self._netvsc(event)
        elif driver == "hv_pci" and event.device:
            self._hv_pci(event)
        elif driver in ("pci", "pci_bus"):
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
        elif driver in _USERSPACE and event.ifname:
            key = self._by_synthetic.get(event.ifname)
            if key is not None and event.ifname not in self._by_vf_name:
                self._deliver(key, event)
            else:
                self._named(event.ifname, event)
        else:
            self._deliver(None, event)

    def _deliver(self, key: str | None, event: Event) -> None:
        """Hand *event* on, remembering which NICs' VF netdevs live on which PCI domain."""
        if key is not None and event.ifname and event.domain and event.driver in VF_DRIVERS:
            users = self._domain_users.get(event.domain)
            if users is None:
                users = self._domain_users[event.domain] = set()
            users.add(key)
        self._downstream(key, event)

    def _nic(self, key: str) -> Nic:
        nic = self._nics.get(key)
        if nic is None:
            nic = self._nics[key] = self._new_nic(key)
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
        if event.ifname:
            self._by_synthetic[event.ifname] = key
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
            for held in self._pending.pop("domain:" + domain, ()):
                self._deliver(None, held)
            self._deliver(None, event)
            return
        key = self._domain_owner.get(domain)
        if key is None and event.kind == "pci_device":
            waiting = [k for k, nic in self._nics.items() if nic.state is State.SLOT_OFFERED]
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
        self._by_vf_name[name] = key
        if not self._pending:  # the usual case: nothing waits (and no key string is built)
            return
        for held in self._pending.pop("name:" + name, ()):
            domain = held.pci_domain
            if domain and domain not in self._domain_owner:
                self._tie(domain, key)
            self._deliver(key, held)

    def _tie(self, domain: str, key: str) -> None:
        self._domain_owner[domain] = key
        self._ties += 1
        if self._pending:
            for guid in tuple(self._domain_guids.get(domain, ())):
                for held in self._pending.pop("guid:" + guid, ()):
                    self._deliver(key, held)
        for held in self._pending.pop("domain:" + domain, ()):
            self._deliver(key, held)

    def _candidates(self) -> list[str]:
        """Return the NICs that could own an untied VF: the only NIC, or the NICs no PCI domain is tied to yet."""
        if len(self._nics) == 1:
            return list(self._nics)
        owned = set(self._domain_owner.values())
        return [k for k in self._nics if k not in owned and not k.startswith("pci:")]

    def finish(self) -> None:
        """Give what is still untied to the one NIC that could own it, or to a NIC of its own."""
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
                target: str | None = candidates[0] if len(candidates) == 1 else None
                for event in held:
                    self._deliver(target, event)
                continue
            if kind == "domain":
                if not any(e.kind == "pci_device" or e.driver in VF_DRIVERS for e in held):
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
                    self._deliver(target, event)
        self._pending.clear()
