"""Fake VM roots for ``vflog check``: the same facts written as a live tree (sysfs) or as a sosreport.

The file contents follow the real formats: sysfs attributes, ``ethtool -S`` of hv_netvsc,
``ethtool -i``, ``ip -d address``, ``lspci -nnvv`` stanzas, NetworkManager and networkd drop-ins.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import attrs

GUID = "000d3a6f-1b2c-4d5e-8f90-a1b2c3d4e5f6"
MAC = "00:0d:3a:6f:1b:2c"
VF_PCI = "cf63:00:02.0"
VF_NAME = "enP53091s1np0"
KERNEL = "5.15.0-1057-azure"

NETVSC_STATS = """NIC statistics:
     tx_scattered: 0
     tx_no_memory: 0
     tx_no_space: 0
     tx_too_big: 0
     tx_busy: 0
     tx_send_full: 0
     rx_comp_busy: 0
     rx_no_memory: 0
     stop_queue: 0
     wake_queue: 0
     vf_rx_packets: {vf_rx}
     vf_rx_bytes: {vf_rx_bytes}
     vf_tx_packets: {vf_tx}
     vf_tx_bytes: {vf_tx_bytes}
     vf_tx_dropped: 0
     tx_queue_0_packets: 3652
     tx_queue_0_bytes: 321550
     rx_queue_0_packets: 8891
     rx_queue_0_bytes: 10318224
"""

LSPCI = {
    ("15b3", "1016"): "Mellanox Technologies MT27710 Family [ConnectX-4 Lx Virtual Function]",
    ("15b3", "101a"): "Mellanox Technologies MT28800 Family [ConnectX-5 Ex Virtual Function]",
    ("15b3", "1004"): "Mellanox Technologies MT27500/MT27520 Family [ConnectX-3/ConnectX-3 Pro Virtual Function]",
    ("1414", "00ba"): "Microsoft Corporation Device",
}

NM_DROPIN = """# keep the SR-IOV VF away from NetworkManager on Azure
[keyfile]
unmanaged-devices=driver:mlx4_core;driver:mlx5_core
"""

NETWORKD_DROPIN = """[Match]
Driver=mlx4_en mlx5_en mlx4_core mlx5_core

[Link]
Unmanaged=yes
"""

NETPLAN_ETH = """[Match]
Name=eth*

[Network]
DHCP=ipv4
"""

DMESG_VF = """[    0.000000] Linux version 5.15.0-1057-azure (buildd@lcy02-amd64-033) (gcc 11.4.0) #65-Ubuntu SMP
[    4.081811] hv_vmbus: registering driver hv_netvsc
[    4.433301] hv_netvsc 000d3a6f-1b2c-4d5e-8f90-a1b2c3d4e5f6 eth0: VF slot 1 added
[    5.160124] hv_pci 4f6a2b1c-cf63-4a5b-9c8d-7e6f5a4b3c2d: PCI VMBus probing: Using version 0x10004
[    5.266271] pci cf63:00:02.0: [15b3:1016] type 00 class 0x020000
[    5.508817] mlx5_core cf63:00:02.0: firmware version: 14.30.1224
[    5.919106] hv_netvsc 000d3a6f-1b2c-4d5e-8f90-a1b2c3d4e5f6 eth0: VF registering: eth1
[    5.921345] mlx5_core cf63:00:02.0 enP53091s1np0: renamed from eth1
[    6.012332] hv_netvsc 000d3a6f-1b2c-4d5e-8f90-a1b2c3d4e5f6 eth0: Data path switched to VF: enP53091s1np0
"""


@attrs.frozen
class Vm:
    """The facts of a fake VM: one synthetic NIC and (optionally) its VF, its image and configuration."""

    vf: bool = True
    vf_driver: str = "mlx5_core"
    vf_ids: tuple[str, str] = ("15b3", "1016")
    vf_pci: bool = True
    enslaved: bool = True
    vf_addresses: tuple[str, ...] = ()
    vf_rx: int = 111180
    vf_tx: int = 9107646
    rx: int = 8891
    tx: int = 3652
    modules: tuple[str, ...] | None = ("mlx4_core", "mlx4_en", "mlx5_core", "mana", "hv_netvsc")
    kernel: str = KERNEL
    os_id: str = "ubuntu"
    os_version: str = "22.04"
    nm_running: bool = False
    nm_dropin: bool = False
    networkd_running: bool = False
    networkd_files: tuple[tuple[str, str], ...] = ()
    dmesg: str | None = DMESG_VF
    cloud_init: str | None = None
    nm_vf_state: str | None = None


def _write(root: Path, path: str, text: str) -> None:
    """Write *text* at *path* below *root*, making its directories."""
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _link(root: Path, path: str, target: str) -> None:
    """Make a symbolic link at *path* below *root* pointing at *target*."""
    link = root / path
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)


def _common(root: Path, vm: Vm) -> None:
    """Write what both layouts share: os-release, configuration, modules, statistics and flags."""
    _write(root, "etc/os-release", f'NAME="{vm.os_id.title()}"\nID={vm.os_id}\nVERSION_ID="{vm.os_version}"\n'
                                   f'PRETTY_NAME="{vm.os_id.title()} {vm.os_version}"\n')
    if vm.nm_dropin:
        _write(root, "etc/NetworkManager/conf.d/99-azure-unmanaged-devices.conf", NM_DROPIN)
    if vm.nm_running:
        _write(root, "etc/NetworkManager/NetworkManager.conf", "[main]\nplugins=ifupdown,keyfile\n")
    for name, text in vm.networkd_files:
        _write(root, f"etc/systemd/network/{name}", text)
    if vm.modules is not None:
        _write(root, f"lib/modules/{vm.kernel}/modules.dep", "".join(
            f"kernel/drivers/net/ethernet/{m}.ko.zst:\n" for m in vm.modules if m != "hv_netvsc"))
        _write(root, f"lib/modules/{vm.kernel}/modules.builtin", "kernel/drivers/net/hyperv/hv_netvsc.ko\n")
    for name, flags, rx, tx in _nics(vm):
        _write(root, f"sys/class/net/{name}/flags", f"{flags:#x}\n")
        _write(root, f"sys/class/net/{name}/statistics/rx_packets", f"{rx}\n")
        _write(root, f"sys/class/net/{name}/statistics/tx_packets", f"{tx}\n")


def _nics(vm: Vm) -> list[tuple[str, int, int, int]]:
    """Return the interfaces' names, sysfs flags and packet counts."""
    nics = [("eth0", 0x1003, vm.rx + vm.vf_rx, vm.tx + vm.vf_tx)]
    if vm.vf:
        nics.append((VF_NAME, 0x1803 if vm.enslaved else 0x1003, vm.vf_rx, vm.vf_tx))
    return nics


def live_tree(root: Path, vm: Vm) -> Path:
    """Write *vm* as a live system's tree (sysfs with its links, the kernel log as sos names it) and return *root*."""
    _common(root, vm)
    _write(root, "proc/version", f"Linux version {vm.kernel} (buildd@lcy02) (gcc 11.4.0) #65-Ubuntu SMP\n")
    if vm.nm_running:
        _write(root, "run/NetworkManager/NetworkManager.pid", "812\n")
    if vm.networkd_running:
        _write(root, "run/systemd/netif/links/2", "ADMIN_STATE=configured\n")
    _write(root, "sys/class/net/eth0/address", MAC + "\n")
    _write(root, "sys/class/net/eth0/operstate", "up\n")
    _link(root, f"sys/devices/vmbus/{GUID}/driver", "../../../bus/vmbus/drivers/hv_netvsc")
    _link(root, "sys/class/net/eth0/device", f"../../../devices/vmbus/{GUID}")
    _ethtool_s(root, vm)
    if vm.vf:
        _write(root, f"sys/class/net/{VF_NAME}/address", MAC + "\n")
        _write(root, f"sys/class/net/{VF_NAME}/operstate", "up\n")
        if vm.enslaved:
            _link(root, f"sys/class/net/{VF_NAME}/master", "../eth0")
        _link(root, f"sys/devices/pci/{VF_PCI}/driver", f"../../../bus/pci/drivers/{vm.vf_driver}")
        _link(root, f"sys/class/net/{VF_NAME}/device", f"../../../devices/pci/{VF_PCI}")
    if vm.vf_pci:
        _write(root, f"sys/bus/pci/devices/{VF_PCI}/vendor", f"0x{vm.vf_ids[0]}\n")
        _write(root, f"sys/bus/pci/devices/{VF_PCI}/device", f"0x{vm.vf_ids[1]}\n")
        _link(root, f"sys/bus/pci/devices/{VF_PCI}/driver", f"../../../bus/pci/drivers/{vm.vf_driver}")
    _ip_address(root, vm)
    if vm.dmesg is not None:
        _write(root, "sos_commands/kernel/dmesg", vm.dmesg)
    if vm.cloud_init:
        _write(root, "usr/lib/python3/dist-packages/cloudinit/version.py",
               f'__VERSION__ = "{vm.cloud_init}"\n_PACKAGED_VERSION = "@@PACKAGED_VERSION@@"\n')
    if vm.nm_vf_state:  # what `nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device` prints live
        _write(root, "sos_commands/networkmanager/nmcli_dev",
               f"eth0:ethernet:connected:Wired connection 1\n{VF_NAME}:ethernet:{vm.nm_vf_state}:"
               f"{'Wired connection 2' if vm.nm_vf_state == 'connected' else ''}\nlo:loopback:unmanaged:\n")
    return root


def _nmcli_dev(vm: Vm) -> str:
    """Return ``nmcli dev`` as sos saves it: a table whose columns start where the header's words do."""
    vf_connection = "Wired connection 2" if vm.nm_vf_state == "connected" else "--"
    rows = [("DEVICE", "TYPE", "STATE", "CONNECTION"), ("eth0", "ethernet", "connected", "Wired connection 1"),
            (VF_NAME, "ethernet", vm.nm_vf_state or "", vf_connection), ("lo", "loopback", "unmanaged", "--")]
    return "".join(f"{a:<15}{b:<10}{c:<24}{d}\n" for a, b, c, d in rows)


def _ethtool_s(root: Path, vm: Vm) -> None:
    """Write the synthetic NIC's ``ethtool -S`` output as sos names it."""
    _write(root, "sos_commands/networking/ethtool_-S_eth0", NETVSC_STATS.format(
        vf_rx=vm.vf_rx, vf_tx=vm.vf_tx, vf_rx_bytes=vm.vf_rx * 900, vf_tx_bytes=vm.vf_tx * 200))


def _ip_address(root: Path, vm: Vm) -> None:
    """Write ``ip -d address`` as iproute2 prints it."""
    text = (f"1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n"
            f"    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00 promiscuity 0 minmtu 0 maxmtu 0\n"
            f"    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n"
            f"2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc mq state UP group default qlen 1000\n"
            f"    link/ether {MAC} brd ff:ff:ff:ff:ff:ff promiscuity 0 minmtu 68 maxmtu 65521\n"
            f"    inet 10.0.0.4/24 metric 100 brd 10.0.0.255 scope global eth0\n"
            f"       valid_lft forever preferred_lft forever\n"
            f"    inet6 fe80::20d:3aff:fe6f:1b2c/64 scope link\n       valid_lft forever preferred_lft forever\n")
    if vm.vf:
        flags = "BROADCAST,MULTICAST,SLAVE,UP,LOWER_UP" if vm.enslaved else "BROADCAST,MULTICAST,UP,LOWER_UP"
        master = " master eth0" if vm.enslaved else ""
        text += (f"3: {VF_NAME}: <{flags}> mtu 1500 qdisc mq{master} state UP group default qlen 1000\n"
                 f"    link/ether {MAC} brd ff:ff:ff:ff:ff:ff promiscuity 0 minmtu 68 maxmtu 9978\n"
                 f"    altname enP53091p0s2\n")
        for address in vm.vf_addresses:
            text += f"    inet {address} brd 10.0.0.255 scope global {VF_NAME}\n"
    _write(root, "sos_commands/networking/ip_-d_address", text)


def sos_tree(root: Path, vm: Vm) -> Path:
    """Write *vm* as a sosreport directory (command outputs, copied etc/ and sysfs flags/statistics); return it."""
    _common(root, vm)
    _write(root, "sos_logs/sos.log", "2026-12-02 15:00:00,000 INFO: [sos.report] executing 'sos report'\n")
    _write(root, "sos_commands/kernel/uname_-a", f"Linux vm1 {vm.kernel} #65-Ubuntu SMP x86_64 x86_64 GNU/Linux\n")
    _ethtool_s(root, vm)
    _write(root, "sos_commands/networking/ethtool_-i_eth0", "driver: hv_netvsc\nversion: \nfirmware-version: N/A\n"
                                                            "bus-info: \nsupports-statistics: yes\n")
    if vm.vf:
        _write(root, f"sos_commands/networking/ethtool_-i_{VF_NAME}",
               f"driver: {vm.vf_driver}\nversion: 5.15.0-1057-azure\nfirmware-version: 14.30.1224 (MSF0010110035)\n"
               f"bus-info: {VF_PCI}\nsupports-statistics: yes\n")
    if vm.vf_pci:
        _write(root, "sos_commands/pci/lspci_-nnvv",
               f"{VF_PCI} Ethernet controller [0200]: {LSPCI[vm.vf_ids]} [{vm.vf_ids[0]}:{vm.vf_ids[1]}] (rev 80)\n"
               f"\tSubsystem: Mellanox Technologies Device [15b3:0190]\n\tPhysical Slot: 1\n"
               f"\tControl: I/O- Mem+ BusMaster+ SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B-\n"
               f"\tKernel driver in use: {vm.vf_driver}\n\tKernel modules: {vm.vf_driver}\n\n")
    if vm.nm_running:
        _write(root, "sos_commands/networkmanager/nmcli_dev_show", "GENERAL.DEVICE:  eth0\n")
    if vm.nm_vf_state:
        _write(root, "sos_commands/networkmanager/nmcli_dev", _nmcli_dev(vm))
    if vm.cloud_init:
        _write(root, "sos_commands/cloud_init/cloud-init_--version", f"/usr/bin/cloud-init {vm.cloud_init}\n")
    _ip_address(root, vm)
    if vm.dmesg is not None:
        _write(root, "sos_commands/kernel/dmesg", vm.dmesg)
    return root


def tarball(directory: Path, target: Path, top: str = "sosreport-vm1-2026-12-02-abcdefg") -> Path:
    """Pack *directory* below a top directory (as sos does) into the tar.xz *target*; return it."""
    with tarfile.open(target, "w:xz") as archive:
        for path in sorted(directory.rglob("*")):
            name = f"{top}/{path.relative_to(directory)}"
            if path.is_symlink():
                info = tarfile.TarInfo(name)
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
                archive.addfile(info)
            elif path.is_file():
                data = path.read_bytes()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return target
