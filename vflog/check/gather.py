"""Read the facts a check judges from a tree (the live system, a sosreport, a saved tree) into frozen values.

Longer than 400 lines because each fact of the present state has its reader for the live system and for
a sosreport's file side by side, so both forms give the same facts.
"""

from __future__ import annotations

import functools
import json
import re
import time
from typing import Callable, Mapping

import attrs

from .tree import LiveTree, Tree

#: The sysfs ``flags`` bit of an enslaved interface (IFF_SLAVE).
IFF_SLAVE = 0x800
#: The statistics read from sysfs per interface.
STATISTICS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes")
#: The modules of the VF drivers, by family.
VF_MODULES = {"mlx4": ("mlx4_core", "mlx4_en"), "mlx5": ("mlx5_core",), "mana": ("mana",)}


@attrs.frozen
class Address:
    """One address of an interface (``10.0.0.4/24``) with its scope (global, link, host)."""

    cidr: str
    scope: str

    @property
    def is_global(self) -> bool:
        """Return whether the address is global (not link-local or host)."""
        return self.scope == "global"


@attrs.frozen
class Interface:
    """A network interface as it is now: name, MAC, driver, master, flags, addresses and counter samples."""

    name: str
    mac: str | None = None
    driver: str | None = None
    device: str | None = None
    master: str | None = None
    slave: bool = False
    operstate: str | None = None
    addresses: tuple[Address, ...] = ()
    samples: tuple[Mapping[str, int], ...] = ()


@attrs.frozen
class PciDevice:
    """A PCI device: address, vendor and device IDs, model name and the driver in use."""

    address: str
    vendor: str
    device: str
    model: str | None = None
    driver: str | None = None


@attrs.frozen
class ConfigFile:
    """A network configuration file (NetworkManager, systemd-networkd, udev) and its text."""

    path: str
    text: str


@attrs.frozen
class NmDevice:
    """One device as NetworkManager reports it (``nmcli device``): name, type, state, connection and the line."""

    device: str
    type: str
    state: str
    connection: str | None
    line: str

    @property
    def managed(self) -> bool:
        """Return whether NetworkManager manages the device (any state but ``unmanaged``)."""
        return not self.state.startswith("unmanaged")


@attrs.frozen
class Facts:
    """Everything a check read from one tree, and what it could not read."""

    source: str
    kind: str
    kernel: str | None = None
    os_release: Mapping[str, str] = attrs.field(factory=dict)
    interfaces: tuple[Interface, ...] = ()
    pci: tuple[PciDevice, ...] = ()
    modules: frozenset[str] | None = None
    configs: tuple[ConfigFile, ...] = ()
    networkmanager_running: bool = False
    networkd_running: bool = False
    nm_output: str | None = None
    cloud_init: str | None = None
    kernel_log: str | None = None
    kernel_log_name: str | None = None
    interval: float = 0.0
    unread: tuple[str, ...] = ()

    @property
    def nm_devices(self) -> tuple[NmDevice, ...] | None:
        """Return NetworkManager's devices (``nmcli device``), or None when it listed none or could not be read."""
        return parse_nmcli_devices(self.nm_output or "") or None

    def interface(self, name: str | None) -> Interface | None:
        """Return the interface called *name*, or None."""
        return next((i for i in self.interfaces if i.name == name), None)

    def pci_device(self, address: str | None) -> PciDevice | None:
        """Return the PCI device at *address* (with or without its domain), or None."""
        if not address:
            return None
        return next((d for d in self.pci if d.address == address or d.address.endswith(":" + address)
                     or address.endswith(":" + d.address)), None)


def gather(tree: Tree, *, interval: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> Facts:
    """Read every fact from *tree*; on the live system sample the counters twice, *interval* seconds apart."""
    unread: list[str] = []
    names = _interface_names(tree)
    if not names:
        unread.append("network interfaces: neither sys/class/net nor ip -d address could be read")
    ip_blocks = _ip_address(tree)
    live = isinstance(tree, LiveTree)  # live, sysfs knows every driver: no driver is a virtual interface
    synthetic = {name for name in names if _driver(tree, name) == "hv_netvsc" or (not live and not _driver(tree, name))}
    first = {name: _sample(tree, name, name in synthetic) for name in names}
    samples: dict[str, tuple[Mapping[str, int], ...]] = {name: (first[name],) for name in names}
    if live and names:
        sleep(interval)
        samples = {name: (first[name], _sample(tree, name, name in synthetic)) for name in names}
    interfaces = tuple(_interface(tree, name, ip_blocks.get(name, {}), samples[name]) for name in names)
    kernel = _kernel(tree)
    if kernel is None:
        unread.append("kernel release: neither proc/version nor sos_commands/kernel/uname_-a could be read")
    modules = _modules(tree, kernel)
    if modules is None:
        unread.append("kernel modules: lib/modules/<release>/modules.dep and modules.builtin could not be read")
    log_name, log = _kernel_log(tree, unread)
    nm_output = tree.command("networkmanager", "nmcli dev", live=NMCLI_LIVE, required=False)
    nm_output = nm_output if parse_nmcli_devices(nm_output or "") else None
    nm_running = _nm_running(tree) or nm_output is not None
    if nm_running and nm_output is None:
        unread.append("NetworkManager's devices: 'nmcli device' (sos_commands/networkmanager/nmcli_dev) could not be "
                      "read, so only its configuration is judged")
    if isinstance(tree, LiveTree):
        unread.extend(tree.missing)
    return Facts(source=tree.name, kind=tree.kind, kernel=kernel, os_release=_os_release(tree),
                 interfaces=interfaces, pci=_pci(tree), modules=modules, configs=_configs(tree),
                 networkmanager_running=nm_running, networkd_running=_networkd_running(tree), nm_output=nm_output,
                 cloud_init=_cloud_init(tree), kernel_log=log, kernel_log_name=log_name,
                 interval=interval if isinstance(tree, LiveTree) else 0.0, unread=tuple(unread))


def _interface_names(tree: Tree) -> list[str]:
    """Return the interfaces in sys/class/net, else those of ``ip -d address``; never ``lo``."""
    names = tree.names("sys/class/net") or sorted(_ip_address(tree))
    return [n for n in names if n != "lo" and n not in ("bonding_masters",)]


def _interface(tree: Tree, name: str, ip: Mapping[str, object], samples: tuple[Mapping[str, int], ...]) -> Interface:
    """Return one interface from sysfs, ``ethtool -i`` and ``ip -d address`` (sysfs first)."""
    base = f"sys/class/net/{name}"
    mac = _strip(tree.text(f"{base}/address")) or _str(ip.get("mac"))
    driver = _driver(tree, name)
    device = _basename(tree.link(f"{base}/device")) or _ethtool_info(tree, name).get("bus-info") or None
    master = _basename(tree.link(f"{base}/master")) or _str(ip.get("master"))
    flags = _strip(tree.text(f"{base}/flags"))
    slave = bool(int(flags, 16) & IFF_SLAVE) if flags and re.fullmatch(r"0x[0-9a-fA-F]+", flags) \
        else bool(ip.get("slave"))
    addresses = ip.get("addresses", ())
    return Interface(name=name, mac=mac.lower() if mac else None, driver=driver, device=device, master=master,
                     slave=slave, operstate=_strip(tree.text(f"{base}/operstate")) or _str(ip.get("state")),
                     addresses=tuple(addresses) if isinstance(addresses, (tuple, list)) else (), samples=samples)


def _driver(tree: Tree, name: str) -> str | None:
    """Return the interface's driver: its sysfs device's driver link, else (in a captured tree) ``ethtool -i``."""
    return _basename(tree.link(f"sys/class/net/{name}/device/driver")) or _ethtool_info(tree, name).get("driver")


def _sample(tree: Tree, name: str, synthetic: bool) -> Mapping[str, int]:
    """Return one sample of the interface's counters: sysfs statistics, and ``ethtool -S`` of a synthetic NIC."""
    ethtool = tree.command("networking", f"ethtool -S {name}") if synthetic else None
    counters: dict[str, int] = parse_ethtool_stats(ethtool or "")
    for stat in STATISTICS:
        value = _strip(tree.text(f"sys/class/net/{name}/statistics/{stat}"))
        if value and value.isdigit():
            counters[stat] = int(value)
    return counters


def parse_ethtool_stats(text: str) -> dict[str, int]:
    """Return the ``name: number`` counters of ``ethtool -S`` output."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s*([\w.\[\]-]+):\s*(\d+)\s*$", text, re.M)}


def _ethtool_info(tree: Tree, name: str) -> dict[str, str]:
    """Return the ``key: value`` lines of ``ethtool -i`` output in a captured tree (live, sysfs says it all)."""
    if isinstance(tree, LiveTree):
        return {}
    text = tree.command("networking", f"ethtool -i {name}") or ""
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^([\w-]+):[ \t]*(.*)$", text, re.M)}


_IP_HEAD = re.compile(r"^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>(.*)$")
_IP_LINK = re.compile(r"^\s+link/\w+\s+([0-9a-fA-F:]{17})")
_IP_ADDR = re.compile(r"^\s+inet6?\s+(\S+).*?\bscope\s+(\w+)")
_IP_ONELINE = re.compile(r"^\d+:\s+(\S+)\s+inet6?\s+(\S+).*?\bscope\s+(\w+)")


def _ip_address(tree: Tree) -> dict[str, dict[str, object]]:
    """Return per interface what iproute2 shows: MAC, master, SLAVE, state and addresses.

    ``ip -j addr`` (JSON) when it can be read; else ``ip -d address``, with ``ip -s -d link`` filling
    in what it lacks (links only) and ``ip -o addr`` giving the addresses when no block listed any.
    """
    found = parse_ip_json(tree.command("networking", "ip -j addr", required=False) or "")
    if found:
        return found
    for command in ("ip -d address", "ip -s -d link"):
        for name, entry in _ip_blocks(tree.command("networking", command) or "").items():
            known = found.setdefault(name, {"addresses": []})
            for key, value in entry.items():
                if not known.get(key):
                    known[key] = value
    if not any(entry["addresses"] for entry in found.values()):
        for line in (tree.command("networking", "ip -o addr") or "").splitlines():
            one = _IP_ONELINE.match(line)
            if one:
                entry = found.setdefault(one.group(1), {"addresses": []})
                entry["addresses"].append(Address(one.group(2), one.group(3)))  # type: ignore[attr-defined]
    return found


def parse_ip_json(text: str) -> dict[str, dict[str, object]]:
    """Return the interfaces of ``ip -j addr`` output (MAC, master, SLAVE, state, addresses); {} when it is not that."""
    try:
        links = json.loads(text) if text.strip() else []
    except ValueError:
        return {}
    found: dict[str, dict[str, object]] = {}
    for link in links if isinstance(links, list) else ():
        if not isinstance(link, dict) or not isinstance(link.get("ifname"), str):
            continue
        listed = link.get("flags")
        flags: list[object] = listed if isinstance(listed, list) else []
        state = link.get("operstate")
        addresses = [Address(f"{info['local']}/{info['prefixlen']}", str(info.get("scope", "global")))
                     for info in link.get("addr_info") or () if isinstance(info, dict)
                     and isinstance(info.get("local"), str) and isinstance(info.get("prefixlen"), int)]
        found[link["ifname"]] = {"mac": _str(link.get("address")), "master": _str(link.get("master")),
                                 "slave": "SLAVE" in flags, "state": state.lower() if isinstance(state, str) else None,
                                 "addresses": addresses}
    return found


def _ip_blocks(text: str) -> dict[str, dict[str, object]]:
    """Return the interfaces of ``ip -d address`` or ``ip -s -d link`` output, one block each."""
    found: dict[str, dict[str, object]] = {}
    current: dict[str, object] | None = None
    for line in text.splitlines():
        head = _IP_HEAD.match(line)
        if head:
            rest = head.group(3)
            master = re.search(r"\bmaster\s+(\S+)", rest)
            state = re.search(r"\bstate\s+(\S+)", rest)
            current = found.setdefault(head.group(1), {"addresses": []})
            current.update(slave="SLAVE" in head.group(2).split(","), master=master.group(1) if master else None,
                           state=state.group(1).lower() if state else None)
        elif current is not None and (link := _IP_LINK.match(line)):
            current["mac"] = link.group(1)
        elif current is not None and (addr := _IP_ADDR.match(line)):
            current["addresses"].append(Address(addr.group(1), addr.group(2)))  # type: ignore[attr-defined]
    return found


_LSPCI_HEAD = re.compile(r"^((?:[0-9a-fA-F]{4,}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+[^:]*?:\s+(.*?)\s*"
                         r"\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]")


def _pci(tree: Tree) -> tuple[PciDevice, ...]:
    """Return the PCI devices of sys/bus/pci/devices, else of ``lspci -nnvv``."""
    devices = []
    for address in tree.names("sys/bus/pci/devices"):
        base = f"sys/bus/pci/devices/{address}"
        vendor, device = _strip(tree.text(f"{base}/vendor")), _strip(tree.text(f"{base}/device"))
        if vendor and device:
            devices.append(PciDevice(address, vendor.lower().removeprefix("0x"), device.lower().removeprefix("0x"),
                                     driver=_basename(tree.link(f"{base}/driver"))))
    listed = {d.address: d for d in parse_lspci(tree.command("pci", "lspci -nnvv") or "")}
    if not devices:
        return tuple(listed.values())
    return tuple(attrs.evolve(d, model=listed[d.address].model) if d.address in listed else d for d in devices)


def parse_lspci(text: str) -> list[PciDevice]:
    """Return the devices of ``lspci -nnvv`` stanzas: address, IDs, model and ``Kernel driver in use``."""
    devices: list[PciDevice] = []
    for stanza in re.split(r"\n\s*\n", text):
        lines = stanza.strip("\n").splitlines()
        head = _LSPCI_HEAD.match(lines[0]) if lines else None
        if not head:
            continue
        driver = next((line.split(":", 1)[1].strip() for line in lines if "Kernel driver in use:" in line), None)
        model = re.sub(r"\s*\[[0-9a-fA-F]{4}:[0-9a-fA-F]{4}\].*$", "", lines[0].split(": ", 1)[1]).strip()
        devices.append(PciDevice(head.group(1).lower(), head.group(3).lower(), head.group(4).lower(), model, driver))
    return devices


def _kernel(tree: Tree) -> str | None:
    """Return the kernel release (``uname -r``) from proc/version or ``uname -a``."""
    for text, pattern in ((tree.text("proc/version"), r"Linux version (\S+)"),
                          (tree.command("kernel", "uname -a"), r"^\S+\s+\S+\s+(\S+)")):
        match = re.search(pattern, text or "")
        if match:
            return match.group(1)
    return None


def _modules(tree: Tree, kernel: str | None) -> frozenset[str] | None:
    """Return the modules available to the kernel (modules.dep, modules.builtin, the drivers' directories)."""
    if not kernel:
        return None
    names: set[str] = set()
    read = False
    for base in (f"lib/modules/{kernel}", f"usr/lib/modules/{kernel}"):
        for index in ("modules.dep", "modules.builtin"):
            text = tree.text(f"{base}/{index}")
            if text is not None:
                read = True
                names.update(m.group(1) for m in re.finditer(r"([\w-]+)\.ko(?:\.\w+)?:?", text))
        for folder in ("kernel/drivers/net/ethernet/mellanox/mlx4", "kernel/drivers/net/ethernet/mellanox/mlx5/core",
                       "kernel/drivers/net/ethernet/microsoft/mana"):
            for file in tree.names(f"{base}/{folder}"):
                read = True
                names.add(file.split(".ko", 1)[0])
    return frozenset(n.replace("-", "_") for n in names) if read else None


def _kernel_log(tree: Tree, unread: list[str]) -> tuple[str | None, str | None]:
    """Return the name and text of the current boot's kernel log; say in *unread* why none could be read.

    Live: ``/dev/kmsg`` read without blocking, else ``journalctl -k -b -o json`` (readable to the
    systemd-journal group under dmesg_restrict), else the dmesg program; in a captured tree, sos's dmesg.
    """
    why = []
    if isinstance(tree, LiveTree):
        text, failure = tree.records("dev/kmsg")
        if text:
            return "/dev/kmsg", text
        why.append(failure or "dev/kmsg: empty")
        text = tree.command("logs", "journalctl -k -b -o json --no-pager", required=False)
        if text:
            return "journalctl -k -b -o json", text
        why.append("journalctl -k -b: nothing")
    text = tree.command("kernel", "dmesg")
    if text:
        return "dmesg", text
    why.append("dmesg: nothing" if isinstance(tree, LiveTree) else "sos_commands/kernel/dmesg: missing or empty")
    unread.append(f"kernel log: could not be read ({'; '.join(why)})")
    return None, None


def _cloud_init(tree: Tree) -> str | None:
    """Return the installed cloud-init version: ``cloud-init --version``, its version.py, or the package lists.

    The sources are read in that order and only until one names a version.
    """
    readers: list[tuple[Callable[[], str | None], str]] = [
        (lambda: tree.command("cloud_init", "cloud-init --version", required=False), r"cloud-init\s+v?(\d[\w.~+-]*)")]
    readers += [(functools.partial(tree.text, f"{path}/cloudinit/version.py"), r"__VERSION__\s*=\s*[\"']([^\"']+)")
                for path in ["usr/lib/python3/dist-packages", *(f"usr/lib/{n}/site-packages"
                                                                 for n in tree.names("usr/lib") if n.startswith("python3"))]]
    readers += [(lambda: tree.text("sos_commands/dpkg/dpkg_-l"), r"^[hi]i\s+cloud-init(?::\w+)?\s+(?:\d+:)?(\S+)"),
                (lambda: tree.text("installed-rpms"), r"^cloud-init-(\d[^\s]*?)\.(?:noarch|x86_64|aarch64)\b"),
                (lambda: _dpkg_installed(tree.text("var/lib/dpkg/status")), r"^Version:\s*(?:\d+:)?(\S+)")]
    for read, pattern in readers:
        match = re.search(pattern, read() or "", re.M)
        if match:
            return match.group(1)
    return None


def _dpkg_installed(status: str | None) -> str | None:
    """Return the stanza of an installed cloud-init package in dpkg's status database, or None."""
    for stanza in re.split(r"\n\s*\n", status or ""):
        if re.search(r"^Package:\s*cloud-init\s*$", stanza, re.M) and re.search(
                r"^Status:.*\binstalled\s*$", stanza, re.M):
            return stanza
    return None


#: What ``nmcli device`` lists, live in its terse form (colons, ``\:`` escaped) as sos does not.
NMCLI_LIVE = "nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device"
_NMCLI_FIELDS = ("DEVICE", "TYPE", "STATE", "CONNECTION")


def parse_nmcli_devices(text: str) -> tuple[NmDevice, ...]:
    """Return the devices of ``nmcli device`` output: its table (columns placed by the header) or its terse form."""
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and re.match(r"^DEVICE\s+TYPE\s+STATE\b", lines[0]):
        starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
        names = lines[0].split()
        rows = [dict(zip(names, (line[a:b].strip() for a, b in zip(starts, [*starts[1:], None]))))
                for line in lines[1:]]
        pairs = list(zip(rows, lines[1:]))
    else:
        pairs = [(dict(zip(_NMCLI_FIELDS, (f.replace("\\:", ":") for f in re.split(r"(?<!\\):", line)))), line)
                 for line in lines if len(re.split(r"(?<!\\):", line)) >= 3]
    return tuple(NmDevice(row["DEVICE"], row.get("TYPE", ""), row.get("STATE", ""),
                          row.get("CONNECTION") if row.get("CONNECTION") not in (None, "", "--") else None, line)
                 for row, line in pairs if row.get("DEVICE") and row.get("STATE"))


def _os_release(tree: Tree) -> dict[str, str]:
    """Return the ``KEY=value`` pairs of etc/os-release (or usr/lib/os-release)."""
    text = tree.text("etc/os-release") or tree.text("usr/lib/os-release") or ""
    return {m.group(1): m.group(2).strip().strip("\"'") for m in re.finditer(r"^(\w+)=(.*)$", text, re.M)}


#: Where network configuration lives (NetworkManager, systemd-networkd, udev rules).
CONFIG_DIRS = ("etc/NetworkManager/conf.d", "usr/lib/NetworkManager/conf.d", "run/NetworkManager/conf.d",
               "etc/systemd/network", "run/systemd/network", "usr/lib/systemd/network", "lib/systemd/network",
               "etc/udev/rules.d")


def _configs(tree: Tree) -> tuple[ConfigFile, ...]:
    """Return NetworkManager.conf and the drop-ins of CONFIG_DIRS with their text."""
    paths = ["etc/NetworkManager/NetworkManager.conf"]
    paths += [f"{d}/{n}" for d in CONFIG_DIRS for n in tree.names(d)
              if n.endswith((".conf", ".network", ".link", ".rules"))]
    return tuple(ConfigFile(p, text) for p in paths if (text := tree.text(p)) is not None)


def _nm_running(tree: Tree) -> bool:
    """Return whether NetworkManager runs (its run directory, or sos's nmcli outputs)."""
    outputs = [tree.text(f"sos_commands/networkmanager/{n}") or "" for n in tree.names("sos_commands/networkmanager")
               if n.startswith("nmcli")]
    return bool(tree.names("run/NetworkManager")) or any(
        text.strip() and "NetworkManager is not running" not in text for text in outputs)


def _networkd_running(tree: Tree) -> bool:
    """Return whether systemd-networkd runs (its state directory run/systemd/netif/links)."""
    return bool(tree.names("run/systemd/netif/links"))


def _strip(text: str | None) -> str | None:
    """Return *text* without surrounding white space, or None when nothing is left."""
    return text.strip() if text is not None and text.strip() else None


def _str(value: object) -> str | None:
    """Return *value* when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def _basename(link: str | None) -> str | None:
    """Return the last component of a link target (``../../../0001:00:02.0`` -> ``0001:00:02.0``)."""
    return link.rstrip("/").rsplit("/", 1)[-1] or None if link else None
