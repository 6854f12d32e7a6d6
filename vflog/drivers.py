"""The registry of the kernel drivers whose lines vflog reads, and the prefix level built from it.

Every Linux line of these drivers starts with the prefix its printing macro puts in front of the
message (kernel-formats.md, section 3): ``<driver> <device>: `` (dev_*), ``<driver> <device>
<ifname>[ (state)]: `` (netdev_*), ``<driver>: `` (pr_* with a pr_fmt) or mlx4_en's own
``mlx4_en: <ifname or device>: ``; mlx5's wrappers add ``<func>:<line>:(pid <N>): ``.
:func:`read_prefix` reads that prefix whatever the message and whatever stands where the id
should be (redacted ``uuid``, ``<GUID>``, ``xxxx:00:02.0``, upper-case GUIDs), so no line of these
drivers is invisible even when its message is unknown.
"""

from __future__ import annotations

import re
from typing import Mapping

import attrs

#: Roles a driver plays in a NIC's story.
SYNTHETIC, VF, BUS, PCI_CORE = "synthetic", "vf", "bus", "pci-core"


@attrs.frozen
class Driver:
    """One kernel driver: its printk name, role, error finding code and the catalogue names it prints under."""

    name: str
    role: str
    error_code: str
    #: The names in the catalogue's driver column whose rows this driver's lines carry (rows listed
    #: as ``mlx5_core|mlx4_core|mana`` are printed by netvsc or the PCI core on the VF's device,
    #: rows of ``vmbus`` by the VMBus core on a child device bound to the driver).
    catalogue_names: tuple[str, ...]
    #: The prefix shapes its lines take: ``dev``, ``netdev``, ``pr`` (``<driver>: ``), ``if`` (FreeBSD's
    #: ``<ifname><unit>: ``).
    shapes: tuple[str, ...] = ("dev", "netdev")
    #: The kernel source paths (prefixes) of its code: a message printed there is this driver's,
    #: whatever prefix it carries (netvsc prints some of its messages on the VF's netdev).
    sources: tuple[str, ...] = ()
    #: PCI vendor:device IDs of the virtual functions it drives (kernel-messages.md, section 10).
    device_ids: tuple[str, ...] = ()
    #: The driver a VF report names for this one's lines (mlx4_en's netdev belongs to the mlx4_core device).
    reported_as: str | None = None
    #: Words that name the driver in a kernel trace (module names, function-name prefixes).
    trace_words: tuple[str, ...] = ()
    #: It is a VMBus client whose registration (``hv_vmbus: registering driver <name>``) is part of a NIC's story.
    vmbus_client: bool = False
    #: Lifecycle input kinds it prints only when the kernel was booted verbose: their absence proves nothing.
    verbose_only: frozenset[str] = frozenset()
    #: Grammar kinds of messages it prints under another prefix (netvsc on the VF's netdev, hv_pci's bare
    #: ``pci_create slot``): their faults are its own, whatever the line's prefix says.
    own_kinds: frozenset[str] = frozenset()


_VF_SHARED = ("mlx5_core|mlx4_core|mana", "mlx5_core|mlx4_core", "mlx5_core|mlx4_core|mana|hv_netvsc")

#: The drivers of Linux Accelerated Networking lines, by printk name.
DRIVERS: Mapping[str, Driver] = {d.name: d for d in (
    Driver("hv_netvsc", SYNTHETIC, "netvsc-error", ("hv_netvsc", "vmbus", "mlx5_core|mlx4_core|mana|hv_netvsc"),
           ("dev", "netdev", "pr"), ("drivers/net/hyperv/",), trace_words=("netvsc",), vmbus_client=True,
           own_kinds=frozenset({"err_pairing", "err_namespace_move", "err_enslave", "err_vf_open"})),
    Driver("hv_pci", BUS, "hv-pci-error", ("hv_pci", "vmbus"), sources=("drivers/pci/controller/pci-hyperv",),
           trace_words=("hv_pci", "pci_hyperv"), vmbus_client=True, own_kinds=frozenset({"err_pci_create_slot"})),
    Driver("hv_vmbus", BUS, "netvsc-error", ("hv_vmbus",), ("pr",), ("drivers/hv/",), trace_words=("hv_vmbus", "vmbus")),
    Driver("pci", PCI_CORE, "hv-pci-error", ("pci",), ("dev",)),
    Driver("pci_bus", PCI_CORE, "hv-pci-error", ("pci_bus",), ("dev",)),
    Driver("mlx5_core", VF, "vf-driver-error", ("mlx5_core", *_VF_SHARED), ("dev", "netdev", "pr"),
           ("drivers/net/ethernet/mellanox/mlx5/", "include/linux/mlx5/"),
           ("15b3:1012", "15b3:1014", "15b3:1016", "15b3:1018", "15b3:101a", "15b3:101c", "15b3:101e", "15b3:a2d3"),
           trace_words=("mlx5",)),
    Driver("mlx4_core", VF, "vf-driver-error", ("mlx4_core", *_VF_SHARED), ("dev", "netdev", "pr"),
           ("drivers/net/ethernet/mellanox/mlx4/",), ("15b3:1002", "15b3:1004"), trace_words=("mlx4",)),
    Driver("mlx4_en", VF, "vf-driver-error", ("mlx4_en",), ("dev", "pr"), reported_as="mlx4_core",
           trace_words=("mlx4",)),
    Driver("mana", VF, "vf-driver-error", ("mana", "mlx5_core|mlx4_core|mana", "mlx5_core|mlx4_core|mana|hv_netvsc"),
           sources=("drivers/net/ethernet/microsoft/mana/", "include/net/mana/"), device_ids=("1414:00ba",),
           trace_words=("mana", "gdma")),
)}

#: FreeBSD's drivers, by the name their events carry (``hn0: ...`` is hn; the catalogue's FreeBSD rows say
#: which messages hn prints only when booted verbose: ``datapath is switched``, ``try bringing up``).
BSD_DRIVERS: Mapping[str, Driver] = {d.name: d for d in (
    Driver("hn", SYNTHETIC, "netvsc-error", ("hn",), ("if",),
           verbose_only=frozenset({"datapath_to_vf", "datapath_from_vf", "bsd_vf_bringup"})),
    Driver("mce", VF, "vf-driver-error", ("mce",), ("if",)),
    Driver("mlxen", VF, "vf-driver-error", ("mlxen",), ("if",)),
)}

#: Every driver whose events vflog reads, Linux and FreeBSD.
KNOWN: Mapping[str, Driver] = {**DRIVERS, **BSD_DRIVERS}


def named(role: str) -> frozenset[str]:
    """Return the names of the known drivers (Linux and FreeBSD) that play *role*."""
    return frozenset(d.name for d in KNOWN.values() if d.role == role)


#: Drivers of the synthetic NIC and of the VF (Linux and FreeBSD).
#: The PCI domain of the machine's own root bus: Hyper-V never gives a vPCI bus this domain, so a device on it is
#: no VF of Accelerated Networking (a host's or a bare-metal machine's own NIC).
HOST_DOMAIN = "0000"
SYNTHETIC_DRIVERS = named(SYNTHETIC)
VF_DRIVERS = named(VF)
#: Drivers of the PCI core, whose lines name a PCI address or bus.
PCI_CORE_DRIVERS = named(PCI_CORE)
#: Bus drivers whose device is a vPCI bus (a VMBus client of the bus role: hv_pci).
VPCI_DRIVERS: frozenset[str] = frozenset(d.name for d in KNOWN.values() if d.role == BUS and d.vmbus_client)
#: PCI vendor:device IDs of NIC virtual functions, of every VF driver.
VF_DEVICE_IDS: frozenset[str] = frozenset(i for d in KNOWN.values() for i in d.device_ids)
#: VMBus drivers whose registration belongs to a NIC's story.
VMBUS_CLIENTS: frozenset[str] = frozenset(d.name for d in KNOWN.values() if d.vmbus_client)
#: Words that name one of the drivers inside a kernel trace.
TRACE_WORDS: tuple[str, ...] = tuple(dict.fromkeys(w for d in KNOWN.values() for w in d.trace_words))


def reported_name(driver: str) -> str:
    """Return the name a VF report gives the driver of a line printed by *driver* (mlx4_en -> mlx4_core)."""
    entry = KNOWN.get(driver)
    return entry.reported_as or driver if entry is not None else driver


def printer_of(kind: str) -> str | None:
    """Return the driver that prints messages of grammar kind *kind* under another prefix (Driver.own_kinds), or None."""
    return next((d.name for d in KNOWN.values() if kind in d.own_kinds), None)


def verbose_only(driver: str | None, kind: str) -> bool:
    """Return whether *driver* prints lifecycle input *kind* only when booted verbose (its absence proves nothing)."""
    entry = KNOWN.get(driver or "")
    return entry is not None and kind in entry.verbose_only


def printed_by(file: str) -> str | None:
    """Return the registry's driver whose source *file* is (by path prefix), or None."""
    return next((d.name for d in DRIVERS.values() if any(file.startswith(path) for path in d.sources)), None)


def error_code(driver: str | None) -> str | None:
    """Return the finding code that an error of *driver* raises, or None for a driver not in the registry."""
    entry = DRIVERS.get(driver or "")
    return entry.error_code if entry is not None else None


@attrs.frozen
class Prefix:
    """What the printk prefix of a driver line says: driver, device, interface, state and the message after it."""

    driver: str
    device: str | None
    ifname: str | None
    regstate: str | None
    message: str
    #: mlx5's ``<func>:<line>:(pid <N>): `` (func, line, pid), when the line has one.
    funcline: tuple[str, int, int] | None = None
    #: The message right after ``<driver>: `` (pr_* lines, whose format may hold a word and colon).
    plain: str | None = None


_NAMES = "|".join(sorted((re.escape(name) for name in DRIVERS), key=len, reverse=True))
#: An interface name, or the name of a netdev not yet registered.
_IFNAME = r"\(unnamed\ net_device\)|[^\s:()\[\]]+"
_REGSTATE = r"\((?:uninitialized|unregistering|unregistered|released|dummy|unknown)\)"
_PREFIX = re.compile(
    rf"""(?P<driver>{_NAMES})
    (?:
        \ (?P<device>[^\s]+?)                                   # whatever stands where the id should
        (?:\ (?P<ifname>{_IFNAME})(?:\ (?P<regstate>{_REGSTATE}))?)?
        :(?:\ |$)
      | :\ (?P<plain>.*)
    )""",
    re.X | re.S,
)
#: mlx4_en's own printer: ``mlx4_en: eth1: ...`` or ``mlx4_en: 0001:00:02.0: Port 1: ...``.
_MLX4EN = re.compile(r"(?P<head>[^\s]+?): (?:Port \d+: )?")
#: mlx5's ``<func>:<line>:(pid <N>): `` (and the ``QoS: `` its qos_* wrappers add after it); kernels
#: before 4.19 put the device name first (``<name>:<func>:<line>:(pid <N>): ``).
_FUNCLINE = re.compile(r"(?:[0-9a-fA-Fx]{4,8}:[0-9a-fA-Fx]{2}:[0-9a-fA-Fx]{2}\.[0-7]:)?"
                       r"(?P<func>[A-Za-z_]\w*):(?P<line>\d+):\(pid (?P<pid>\d+)\): ?(?:QoS: )?")
#: What mlx5_pci_trace puts before its message.
_PCI_TRACE = re.compile(r"\w+ Device state = -?\d+ health sensors: -?\d+ pci_status: -?\d+\. ")
_PCI_ADDRESS = re.compile(r"[0-9a-fA-Fx]{4,8}:[0-9a-fA-Fx]{2}:[0-9a-fA-Fx]{2}\.[0-7]")


def read_prefix(text: str) -> Prefix | None:
    """Return the prefix of kernel message *text* when one of the registry's drivers printed it, else None."""
    match = _PREFIX.match(text)
    if match is None:
        return None
    driver, plain = match["driver"], match["plain"]
    device = ifname = None
    if plain is not None:
        message = plain
        if driver == "mlx4_en":
            head = _MLX4EN.match(plain)
            if head is not None:
                message = plain[head.end():]
                if _PCI_ADDRESS.fullmatch(head["head"]):
                    device = head["head"]
                else:
                    ifname = head["head"]
    else:
        device, ifname = match["device"], match["ifname"]
        message = text[match.end():]
    funcline = None
    found = _FUNCLINE.match(message)
    if found is not None:
        funcline = (found["func"], int(found["line"]), int(found["pid"]))
        message = message[found.end():]
    else:
        trace = _PCI_TRACE.match(message)
        if trace is not None:
            message = message[trace.end():]
    return Prefix(driver, device, ifname, match["regstate"], message, funcline, plain)


# -- redacted and re-cased identifiers -----------------------------------------------------------

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_VMBUS_DEV = re.compile(r"vmbus_\d+")
#: A PCI address or bus with upper-case hex or x's where digits were redacted (``xxxx:00:02.0``).
_PCI_LIKE = re.compile(r"(?<![\w:])[0-9a-fA-FxX]{4,8}:[0-9a-fA-FxX]{2}(?::[0-9a-fA-FxX]{2}\.[0-7])?(?![\w.])")
#: Drivers whose device is a VMBus instance GUID.
_GUID_DEVICES = frozenset(d.name for d in DRIVERS.values() if d.role in (SYNTHETIC, BUS) and "dev" in d.shapes)


def canonical_ids(text: str) -> tuple[str, dict[str, str]]:
    """Return *text* with its identifiers in the form the grammar reads, and canonical -> original for the
    redacted ones: upper-case GUIDs and PCI addresses are lower-cased; a redacted VMBus device (``uuid``,
    ``<GUID>``, ``XXXXXXXX-XXXX-...``) becomes a stand-in GUID fixed by its text; x's in a PCI address
    (``xxxx:00:02.0``) become f's."""
    originals: dict[str, str] = {}
    prefix = read_prefix(text)
    if prefix is not None and prefix.driver in _GUID_DEVICES and prefix.device is not None \
            and _VMBUS_DEV.fullmatch(prefix.device) is None and not _is_guid(prefix.device):
        stand_in = _stand_in(prefix.device)
        originals[stand_in] = prefix.device
        head = len(prefix.driver) + 1
        text = text[:head] + text[head:].replace(prefix.device, stand_in, 1)
    text = _GUID.sub(lambda m: m[0].lower(), text)

    def pci(match: re.Match[str]) -> str:
        token = match[0]
        canonical = token.lower().replace("x", "f")
        if canonical != token.lower():
            originals[canonical] = token
        return canonical
    return _PCI_LIKE.sub(pci, text), originals


def _is_guid(token: str) -> bool:
    """Return whether *token* is a GUID of hex digits (any case)."""
    return _GUID.fullmatch(token) is not None


def _stand_in(token: str) -> str:
    """Return the GUID that stands in for redacted device *token* (the same token, the same GUID)."""
    import hashlib
    return "00000000-0000-4000-8000-" + hashlib.sha256(token.encode()).hexdigest()[:12]
