"""Write gathered facts as a tarball in the sosreport layout, so ``vflog check --root FILE`` reads them back."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import tempfile
import time
from pathlib import Path

from ..errors import InputError
from .gather import IFF_SLAVE, STATISTICS, Facts, Interface, PciDevice
from .judge import VF_IDS
from .tree import sos_name


def layout(facts: Facts) -> tuple[dict[str, str], dict[str, str]]:
    """Return the files (path -> text) and symbolic links (path -> target) that hold *facts* (the last sample)."""
    files: dict[str, str] = {}
    links: dict[str, str] = {}
    for nic in facts.interfaces:
        _interface(nic, files, links)
    files[_cmd("networking", "ip -d address")] = "".join(_ip_block(i, n) for n, i in enumerate(facts.interfaces, 2))
    files[_cmd("pci", "lspci -nnvv")] = "".join(_lspci(d) for d in facts.pci)
    for device in facts.pci:
        base = f"sys/bus/pci/devices/{device.address}"
        files[f"{base}/vendor"], files[f"{base}/device"] = f"0x{device.vendor}\n", f"0x{device.device}\n"
        if device.driver:
            links[f"{base}/driver"] = f"../../../../bus/pci/drivers/{device.driver}"
    if facts.kernel:
        files[_cmd("kernel", "uname -a")] = f"Linux localhost {facts.kernel} #1 SMP x86_64 GNU/Linux\n"
        if facts.modules is not None:
            files[f"lib/modules/{facts.kernel}/modules.builtin"] = "".join(f"kernel/{m}.ko\n"
                                                                          for m in sorted(facts.modules))
    if facts.kernel_log:
        files[_cmd("kernel", "dmesg")] = facts.kernel_log
    if facts.os_release:
        files["etc/os-release"] = "".join(f'{k}="{v}"\n' for k, v in facts.os_release.items())
    for config in facts.configs:
        files[config.path] = config.text
    if facts.networkmanager_running:
        files["run/NetworkManager/running"] = ""
    if facts.nm_output is not None:
        files[_cmd("networkmanager", "nmcli dev")] = facts.nm_output
    if facts.cloud_init:
        files[_cmd("cloud_init", "cloud-init --version")] = f"/usr/bin/cloud-init {facts.cloud_init}\n"
    if facts.networkd_running:
        files["run/systemd/netif/links/running"] = ""
    return files, links


def _cmd(plugin: str, command: str) -> str:
    """Return the path sos gives the output of *command* under its *plugin*."""
    return f"sos_commands/{plugin}/{sos_name(command)}"


def _interface(nic: Interface, files: dict[str, str], links: dict[str, str]) -> None:
    """Add one interface's sysfs attributes, links and ethtool outputs."""
    base = f"sys/class/net/{nic.name}"
    if nic.mac:
        files[f"{base}/address"] = nic.mac + "\n"
    if nic.operstate:
        files[f"{base}/operstate"] = nic.operstate + "\n"
    files[f"{base}/flags"] = f"{0x1003 | (IFF_SLAVE if nic.slave else 0):#x}\n"
    if nic.master:
        links[f"{base}/master"] = f"../{nic.master}"
    if nic.device:
        links[f"{base}/device"] = f"../../../{nic.device}"
    if nic.driver:
        links[f"{base}/device/driver"] = f"../../../bus/drivers/{nic.driver}"
    last = nic.samples[-1] if nic.samples else {}
    for stat in STATISTICS:
        if stat in last:
            files[f"{base}/statistics/{stat}"] = f"{last[stat]}\n"
    stats = {k: v for k, v in last.items() if k not in STATISTICS}
    if stats:
        files[_cmd("networking", f"ethtool -S {nic.name}")] = "NIC statistics:\n" + "".join(
            f"     {k}: {v}\n" for k, v in stats.items())
    if nic.driver:
        files[_cmd("networking", f"ethtool -i {nic.name}")] = f"driver: {nic.driver}\nbus-info: {nic.device or ''}\n"


def _ip_block(nic: Interface, index: int) -> str:
    """Return the interface as ``ip -d address`` prints it (flags, master, state, link and addresses)."""
    flags = "BROADCAST,MULTICAST" + (",SLAVE" if nic.slave else "") + ",UP,LOWER_UP"
    master = f" master {nic.master}" if nic.master else ""
    text = f"{index}: {nic.name}: <{flags}> mtu 1500 qdisc mq{master} state {(nic.operstate or 'unknown').upper()}\n"
    text += f"    link/ether {nic.mac or '00:00:00:00:00:00'} brd ff:ff:ff:ff:ff:ff\n"
    for address in nic.addresses:
        family = "inet6" if ":" in address.cidr else "inet"
        text += f"    {family} {address.cidr} scope {address.scope} {nic.name}\n"
    return text


def _lspci(device: PciDevice) -> str:
    """Return the device as an ``lspci -nnvv`` stanza (its first line and the driver in use)."""
    driver = f"\tKernel driver in use: {device.driver}\n" if device.driver else ""
    return (f"{device.address} Ethernet controller [0200]: {device.model or VF_IDS.get((device.vendor, device.device), 'Device')} "
            f"[{device.vendor}:{device.device}]\n{driver}\n")


def save(facts: Facts, path: str | os.PathLike[str]) -> None:
    """Write *facts* to the gzip tarball *path* atomically (a temporary file renamed into place)."""
    target = Path(path)
    files, links = layout(facts)
    now = time.time()
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=".vflog-", suffix=".tar.gz", dir=target.parent or Path("."))
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            for name, text in sorted(files.items()):
                data = text.encode("utf-8", "surrogateescape")
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), now, 0o644
                archive.addfile(info, io.BytesIO(data))
            for name, target_name in sorted(links.items()):
                info = tarfile.TarInfo(name)
                info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target_name, now
                archive.addfile(info)
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        raise InputError(str(target), f"cannot write: {exc.strerror or exc}") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
