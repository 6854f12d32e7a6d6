"""Hypothesis strategies that generate realistic Azure dmesg logs.

The generated text follows the Accelerated Networking (SR-IOV VF) lifecycle described in
``shared/seeds/000_*.txt`` and ``shared/reference/kernel-messages.md`` section 13, with
unrelated kernel chatter mixed in.  Each example also says what a correct analyser has to
conclude about it (:class:`GeneratedLog`).

Public API::

    GeneratedLog                         # attrs frozen class, see below
    valid_logs(max_nics=4, max_cycles=3) # -> SearchStrategy[GeneratedLog]
    faulty_logs(max_nics=4, max_cycles=3, faults=None)
                                         # -> SearchStrategy[tuple[GeneratedLog, str]]
    FAULTS                               # fault name -> expected finding code
    kernel_messages(ours)                # -> SearchStrategy[str]: one of ours, a stack frame or chatter

Everything is drawn through Hypothesis (no ``random``), so examples are reproducible from the
Hypothesis seed and shrink well.  Times are handled as integer microseconds and rendered as
``[%12.6f] message``; the final pass makes timestamps strictly increasing.
"""

from __future__ import annotations

from typing import Callable

import attrs
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

__all__ = ["FAULTS", "GeneratedLog", "faulty_logs", "kernel_messages", "valid_logs"]

US = 1_000_000  # microseconds per second
MS = 1_000  # microseconds per millisecond

FAULTS: dict[str, str] = {
    "missing-readd": "vf-not-readded",
    "no-switch": "datapath-not-switched",
    "no-driver": "device-without-driver",
    "no-device": "slot-without-device",
    "duplicated-switch": "unexpected-event",
    "surprise-removal": "surprise-removal",
    "driver-swap": "driver-changed",
    "long-outage": "long-outage",
    "flapping": "datapath-flapping",
    "switch-failed": "switch-failed",
}

# Faults that happen during a servicing cycle (need at least one cycle for the affected NIC).
_SERVICING_FAULTS = ("missing-readd", "surprise-removal", "driver-swap", "long-outage")
# Faults that cut the NIC's boot bring-up short; the NIC then takes part in nothing else.
_BOOT_TRUNCATING_FAULTS = ("no-device", "no-driver", "no-switch")


@attrs.frozen
class GeneratedLog:
    """A generated log and what a correct analyser must conclude from it.

    * ``final_datapath``: every NIC's GUID -> ``"vf"`` or ``"synthetic"`` at the end.
    * ``vf_drivers``: GUID -> last VF driver that bound (``mlx5_core``/``mlx4_core``/``mana``);
      NICs on which no VF driver ever bound (faults no-device, no-driver) are absent.
    * ``expected_codes``: finding codes expected at warning/error severity, empty for valid
      logs (exception: ``driver-changed`` is an info finding but is listed too).
    * ``servicing_cycles``: GUID -> completed host-servicing cycles (removal followed by a
      re-add that got the data path back on the VF); a removal never re-added is not counted.
    """

    text: str  # the whole log, '\n'-terminated lines
    final_datapath: dict[str, str]  # netvsc GUID -> "vf" | "synthetic" at end of log
    vf_drivers: dict[str, str]  # netvsc GUID -> last VF driver
    expected_codes: frozenset[str]  # finding codes expected (see above)
    servicing_cycles: dict[str, int]  # netvsc GUID -> completed remove/re-add cycles


# --------------------------------------------------------------------------------------
# VF drivers
# --------------------------------------------------------------------------------------

MLX5 = "mlx5_core"
MLX4 = "mlx4_core"
MANA = "mana"
VF_DRIVERS = (MLX5, MLX4, MANA)

PCI_IDS = {MLX5: "15b3:1016", MLX4: "15b3:1004", MANA: "1414:00ba"}
# driver -> (BAR number, config register, BAR size, flags)
_BARS = {
    MLX5: (0, 0x10, 0x100000, "64bit pref"),
    MLX4: (2, 0x18, 0x800000, "64bit pref"),
    MANA: (0, 0x10, 0x100000, "64bit"),
}
_OTHER_MELLANOX = {MLX5: MLX4, MLX4: MLX5}


@attrs.frozen
class _Nic:
    """Identity of one virtual NIC (stable for the whole log)."""

    guid: str  # netvsc VMBus instance GUID (MAC-derived)
    syn: str  # synthetic interface name, ethN
    pci_guid: str  # hv_pci VMBus instance GUID; 2nd group == domain
    domain: int  # PCI domain (non-zero, unique)
    slot: int  # VF serial / slot number
    kname: str  # kernel name of the VF netdev before udev rename, ethK
    rename: bool  # whether udev renames the VF to enP<dom>s<slot>...
    mem_base: int  # MMIO window of the vPCI bus

    @property
    def dom(self) -> str:
        return f"{self.domain:04x}"

    def addr(self, drv: str) -> str:
        return f"{self.dom}:00:{'00' if drv == MANA else '02'}.0"

    def vf_name(self, drv: str) -> str:
        """Name the VF carries once registered (after the optional udev rename)."""
        if not self.rename:
            return self.kname
        return f"enP{self.domain}s{self.slot}" + ("np0" if drv == MLX5 else "")


def _mem_range(nic: _Nic, drv: str) -> str:
    size = _BARS[drv][2]
    return f"0x{nic.mem_base:x}-0x{nic.mem_base + size - 1:x}"


# --------------------------------------------------------------------------------------
# One function per relevant message template
# --------------------------------------------------------------------------------------


def msg_vmbus_registering(driver: str) -> str:
    return f"hv_vmbus: registering driver {driver}"


def msg_vf_slot(nic: _Nic, action: str) -> str:
    return f"hv_netvsc {nic.guid} {nic.syn}: VF slot {nic.slot} {action}"


def msg_pci_probing(nic: _Nic) -> str:
    return f"hv_pci {nic.pci_guid}: PCI VMBus probing: Using version 0x10002"


def msg_pci_host_bridge(nic: _Nic) -> str:
    return f"hv_pci {nic.pci_guid}: PCI host bridge to bus {nic.dom}:00"


def msg_pci_root_bus_resource(nic: _Nic, drv: str) -> str:
    return f"pci_bus {nic.dom}:00: root bus resource [mem {_mem_range(nic, drv)} window]"


def msg_pci_device(nic: _Nic, drv: str) -> str:
    return f"pci {nic.addr(drv)}: [{PCI_IDS[drv]}] type 00 class 0x020000"


def msg_pci_reg(nic: _Nic, drv: str) -> str:
    _, reg, _, flags = _BARS[drv]
    return f"pci {nic.addr(drv)}: reg 0x{reg:x}: [mem {_mem_range(nic, drv)} {flags}]"


def msg_pci_extended_tags(nic: _Nic, drv: str) -> str:
    return f"pci {nic.addr(drv)}: enabling Extended Tags"


def msg_pci_bandwidth(nic: _Nic, drv: str) -> str:
    a = nic.addr(drv)
    return (
        f"pci {a}: 0.000 Gb/s available PCIe bandwidth, limited by Unknown x0 link at {a} "
        f"(capable of 63.008 Gb/s with 8.0 GT/s PCIe x8 link)"
    )


def msg_pci_bar_assigned(nic: _Nic, drv: str) -> str:
    bar, _, _, flags = _BARS[drv]
    return f"pci {nic.addr(drv)}: BAR {bar}: assigned [mem {_mem_range(nic, drv)} {flags}]"


def msg_busn_released(nic: _Nic) -> str:
    return f"pci_bus {nic.dom}:00: busn_res: [bus 00] is released"


def msg_mlx5_firmware(addr: str) -> str:
    return f"mlx5_core {addr}: firmware version: 14.25.8362"


def msg_mlx5_hca_cap(addr: str, pid: int) -> str:
    return (
        f"mlx5_core {addr}: handle_hca_cap:524:(pid {pid}): log_max_qp value in current "
        f"profile is 18, changing it to HCA capability limit (12)"
    )


def msg_mlx5_params(addr: str) -> str:
    return f"mlx5_core {addr}: MLX5E: StrdRq(0) RqSz(1024) StrdSz(256) RxCqeCmprss(0)"


def msg_mlx5_lro(addr: str, ifname: str, regstate: str = "") -> str:
    return f"mlx5_core {addr} {ifname}{regstate}: Disabling LRO, not supported in legacy RQ"


def msg_mlx5_link_up(addr: str, ifname: str) -> str:
    return f"mlx5_core {addr} {ifname}: Link up"


def msg_mlx4_initializing(addr: str) -> str:
    return f"mlx4_core: Initializing {addr}"


def msg_mlx4_slave_mode(addr: str) -> str:
    return f"mlx4_core {addr}: Detected virtual function - running in slave mode"


def msg_mlx4_core_info(addr: str, text: str) -> str:
    return f"mlx4_core {addr}: {text}"


def msg_mlx4_activating(addr: str) -> str:
    return f"mlx4_en {addr}: Activating port:1"


def msg_mlx4_port_info(addr: str, text: str) -> str:
    return f"mlx4_en: {addr}: Port 1: {text}"


def msg_mlx4_link_up(ifname: str) -> str:
    return f"mlx4_en: {ifname}: Link Up"


def msg_mana_protocol(addr: str) -> str:
    return f"mana {addr}: Microsoft Azure Network Adapter protocol version: 0.1.1"


def msg_mana_vport(addr: str, ifname: str) -> str:
    return f"mana {addr} {ifname}: Configured vPort 0 PD 18 DB 16"


def msg_mana_steering(addr: str, ifname: str) -> str:
    return f"mana {addr} {ifname}: Configured steering vPort 0 entries 64"


def msg_vf_registering(nic: _Nic) -> str:
    return f"hv_netvsc {nic.guid} {nic.syn}: VF registering: {nic.kname}"


def msg_joined(nic: _Nic, drv: str) -> str:
    return f"{drv} {nic.addr(drv)} {nic.kname}: joined to {nic.syn}"


def msg_renamed(nic: _Nic, drv: str) -> str:
    return f"{drv} {nic.addr(drv)} {nic.vf_name(drv)}: renamed from {nic.kname}"


def msg_datapath_switched(nic: _Nic, direction: str, vf: str) -> str:
    return f"hv_netvsc {nic.guid} {nic.syn}: Data path switched {direction} VF: {vf}"


def msg_datapath_switch_failed(nic: _Nic, vf: str, err: int = -110) -> str:
    return f"hv_netvsc {nic.guid} {nic.syn}: Data path failed to switch to VF: {vf}, err: {err}"


def msg_vf_unregistering(nic: _Nic, vf: str) -> str:
    return f"hv_netvsc {nic.guid} {nic.syn}: VF unregistering: {vf}"


# --------------------------------------------------------------------------------------
# Unrelated kernel chatter (each returns one or more messages logged in quick succession)
# --------------------------------------------------------------------------------------

def _hexstr(draw, n: int) -> str:
    return f"{draw(st.integers(0, 16**n - 1)):0{n}x}"


def noise_ext4_mount(draw) -> list[str]:
    dev = draw(st.sampled_from(["sda1", "sdb1", "sdc1", "nvme0n1p1"]))
    return [f"EXT4-fs ({dev}): mounted filesystem with ordered data mode. Opts: (null)"]


def noise_ext4_remount(draw) -> list[str]:
    dev = draw(st.sampled_from(["sda1", "sdb1"]))
    return [f"EXT4-fs ({dev}): re-mounted. Opts: discard. Quota mode: none."]


def noise_audit(draw) -> list[str]:
    epoch = draw(st.integers(1_690_000_000, 1_790_000_000))
    serial = draw(st.integers(2, 999))
    pid = draw(st.integers(300, 65000))
    name = draw(
        st.sampled_from(
            ["/usr/bin/man", "lsb_release", "nvidia_modprobe", "/usr/sbin/chronyd",
             "/{,usr/}sbin/dhclient", "docker-default", "snap-update-ns.lxd"]
        )
    )
    return [
        f'audit: type=1400 audit({epoch}.{serial % 1000:03d}:{serial}): apparmor="STATUS" '
        f'operation="profile_load" profile="unconfined" name="{name}" pid={pid} '
        f'comm="apparmor_parser"'
    ]


def noise_kauditd(draw) -> list[str]:
    return [f"kauditd_printk_skb: {draw(st.integers(1, 40))} callbacks suppressed"]


def noise_hv_balloon(draw) -> list[str]:
    return [
        draw(
            st.sampled_from(
                ["hv_balloon: Max. dynamic memory size: 8192 MB",
                 "hv_balloon: Using Dynamic Memory protocol version 2.0",
                 "hv_balloon: Max. dynamic memory size: 16384 MB"]
            )
        )
    ]


def noise_loop(draw) -> list[str]:
    n = draw(st.integers(0, 12))
    size = draw(st.sampled_from([8, 130552, 91008, 183096, 114144, 129664]))
    return [f"loop{n}: detected capacity change from 0 to {size}"]


def noise_docker_up(draw) -> list[str]:
    host, peer = f"veth{_hexstr(draw, 7)}", f"veth{_hexstr(draw, 7)}"
    port = draw(st.integers(1, 9))
    return [
        f"docker0: port {port}({host}) entered blocking state",
        f"docker0: port {port}({host}) entered disabled state",
        f"device {host} entered promiscuous mode",
        f"eth0: renamed from {peer}",
        f"IPv6: ADDRCONF(NETDEV_CHANGE): {host}: link becomes ready",
        f"docker0: port {port}({host}) entered blocking state",
        f"docker0: port {port}({host}) entered forwarding state",
        "IPv6: ADDRCONF(NETDEV_CHANGE): docker0: link becomes ready",
    ]


def noise_docker_down(draw) -> list[str]:
    host, peer = f"veth{_hexstr(draw, 7)}", f"veth{_hexstr(draw, 7)}"
    port = draw(st.integers(1, 9))
    return [
        f"docker0: port {port}({host}) entered disabled state",
        f"{peer}: renamed from eth0",
        f"docker0: port {port}({host}) entered disabled state",
        f"device {host} left promiscuous mode",
        f"docker0: port {port}({host}) entered disabled state",
    ]


def noise_ipv6_ready(draw) -> list[str]:
    ifname = draw(st.sampled_from(["eth0", "docker0", "cni0", "flannel.1"]))
    return [f"IPv6: ADDRCONF(NETDEV_CHANGE): {ifname}: link becomes ready"]


def noise_ufw(draw) -> list[str]:
    src = ".".join(str(draw(st.integers(1, 254))) for _ in range(4))
    spt, dpt = draw(st.integers(1024, 65535)), draw(st.sampled_from([22, 23, 445, 3389, 8080]))
    return [
        f"[UFW BLOCK] IN=eth0 OUT= MAC=12:34:56:78:9a:bc:fe:ed:fa:ce:0b:0e:08:00 SRC={src} "
        f"DST=10.0.0.4 LEN=40 TOS=0x00 PREC=0x00 TTL=242 ID=54321 PROTO=TCP SPT={spt} "
        f"DPT={dpt} WINDOW=1024 RES=0x00 SYN URGP=0"
    ]


def noise_tcp_syn_flood(draw) -> list[str]:
    port = draw(st.sampled_from([80, 443, 8443]))
    return [
        f"TCP: request_sock_TCP: Possible SYN flooding on port {port}. Sending cookies.  "
        f"Check SNMP counters."
    ]


def noise_misc(draw) -> list[str]:
    return [
        draw(
            st.sampled_from(
                ["hv_utils: Heartbeat IC version 3.0",
                 "hv_utils: TimeSync IC version 4.0",
                 "hv_utils: Shutdown IC version 3.2",
                 "random: crng init done",
                 "Adding 2097148k swap on /mnt/swapfile.  Priority:-2 extents:8 across:2457600k FS",
                 "bridge: filtering via arp/ip/ip6tables is no longer available by default. "
                 "Update your scripts to load br_netfilter if you need this.",
                 "Bridge firewalling registered",
                 "Initializing XFRM netlink socket",
                 "evm: overlay not supported",
                 "/dev/sr0: Can't lookup blockdev",
                 "sd 1:0:1:0: [sdb] Attached SCSI disk",
                 "nf_conntrack: default automatic helper assignment has been turned off for "
                 "security reasons and CT-based  firewall rule not found. Use the iptables CT "
                 "target to attach helpers instead."]
            )
        )
    ]


_NOISE: tuple[Callable, ...] = (
    noise_ext4_mount, noise_ext4_remount, noise_audit, noise_audit, noise_kauditd,
    noise_hv_balloon, noise_loop, noise_docker_up, noise_docker_down, noise_ipv6_ready,
    noise_ufw, noise_tcp_syn_flood, noise_misc, noise_misc,
)


def _boot_preamble(draw) -> list[str]:
    kver = draw(st.sampled_from(
        ["5.4.0-1109-azure", "5.15.0-1057-azure", "6.2.0-1019-azure", "6.5.0-1025-azure"]
    ))
    return [
        f"Linux version {kver} (buildd@lcy02-amd64-033) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) "
        f"11.4.0, GNU ld (GNU Binutils for Ubuntu) 2.38) #60-Ubuntu SMP",
        f"Command line: BOOT_IMAGE=/boot/vmlinuz-{kver} root=PARTUUID=8b6c1a44-01 ro "
        f"console=tty1 console=ttyS0 earlyprintk=ttyS0",
        "Hypervisor detected: Microsoft Hyper-V",
        "Hyper-V: privilege flags low 0x2e7f, high 0x3b8030, hints 0x64e24, misc 0xbed7b2",
        "hv_vmbus: Vmbus version:5.2",
        "hv_vmbus: registering driver hyperv_keyboard",
        "hv_vmbus: registering driver hv_storvsc",
        "scsi host0: storvsc_host_t",
        "sd 0:0:0:0: [sda] Attached SCSI disk",
    ]


# --------------------------------------------------------------------------------------
# Timed line sources
# --------------------------------------------------------------------------------------


class _Track:
    """Lines of one source (one NIC, or global noise) with a running clock in µs."""

    def __init__(self, draw, t: int = 0):
        self.draw = draw
        self.t = t
        self.lines: list[tuple[int, str]] = []

    def gap(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi)) if hi > lo else lo

    def emit(self, msg: str, lo: int = 1, hi: int = 1) -> int:
        """Wait lo..hi µs, then log msg. Returns the line's time."""
        self.t += max(1, self.gap(lo, hi))
        self.lines.append((self.t, msg))
        return self.t

    def emit_at(self, t: int, msg: str) -> int:
        self.t = t
        self.lines.append((t, msg))
        return t


# --------------------------------------------------------------------------------------
# Lifecycle building blocks (one NIC)
# --------------------------------------------------------------------------------------


def _driver_init(tr: _Track, nic: _Nic, drv: str) -> None:
    a = nic.addr(drv)
    if drv == MLX5:
        tr.emit(msg_mlx5_firmware(a), 5 * MS, 90 * MS)
        if tr.draw(st.booleans()):
            tr.emit(msg_mlx5_hca_cap(a, tr.gap(7, 400)), 5 * MS, 15 * MS)
        tr.emit(msg_mlx5_params(a), 100 * MS, 250 * MS)
    elif drv == MLX4:
        verbose = tr.draw(st.booleans())
        tr.emit(msg_mlx4_initializing(a), 5 * MS, 90 * MS)
        tr.emit(msg_mlx4_slave_mode(a), 2 * MS, 5 * MS)
        if verbose:
            for text in ("Sending reset", "Sending vhcr0", "HCA minimum page size:512",
                         "Timestamping is not supported in slave mode"):
                tr.emit(msg_mlx4_core_info(a, text), 50, 2 * MS)
        tr.emit(msg_mlx4_activating(a), 50 * MS, 130 * MS)
        if verbose:
            for text in ("Using 8 TX rings", "Using 8 RX rings", "Initializing port"):
                tr.emit(msg_mlx4_port_info(a, text), 5, 25 * MS)
    else:
        tr.emit(msg_mana_protocol(a), 5 * MS, 90 * MS)


def _vf_open(tr: _Track, nic: _Nic, drv: str, vf: str, lo: int, hi: int) -> None:
    """The VF being opened: 'Link up' (mlx5), 'Link Up' (mlx4), 'Configured vPort' (MANA)."""
    a = nic.addr(drv)
    if drv == MLX5:
        tr.emit(msg_mlx5_link_up(a, vf), lo, hi)
    elif drv == MLX4:
        tr.emit(msg_mlx4_link_up(vf), lo, hi)
    else:
        tr.emit(msg_mana_vport(a, vf), lo, hi)
        if tr.draw(st.booleans()):
            tr.emit(msg_mana_steering(a, vf), 5 * MS, 20 * MS)


def _bring_up(
    tr: _Track,
    nic: _Nic,
    drv: str,
    *,
    pci_not_before: int = 0,
    pci_delay: tuple[int, int] = (300, 3 * MS),
    stop: str | None = None,
    switch_failed: bool = False,
) -> str:
    """VF slot added -> vPCI probe -> PCI enumeration -> driver -> pairing -> switch to VF.

    The caller positions ``tr.t`` just before the slot message.  ``stop`` truncates the
    sequence for the no-device / no-driver / no-switch faults.  Returns the VF name.
    """
    a = nic.addr(drv)
    vf = nic.vf_name(drv)
    tr.emit(msg_vf_slot(nic, "added"))
    if stop == "no-device":
        return vf
    tr.t = max(tr.t, pci_not_before)
    tr.emit(msg_pci_probing(nic), *pci_delay)
    tr.emit(msg_pci_host_bridge(nic), 1 * MS, 10 * MS)
    tr.emit(msg_pci_root_bus_resource(nic, drv), 1, 10)
    tr.emit(msg_pci_device(nic, drv), 500, 5 * MS)
    tr.emit(msg_pci_reg(nic, drv), 5 * MS, 15 * MS)
    tr.emit(msg_pci_extended_tags(nic, drv), 50 * MS, 90 * MS)
    tr.emit(msg_pci_bandwidth(nic, drv), 3 * MS, 6 * MS)
    tr.emit(msg_pci_bar_assigned(nic, drv), 100, 1 * MS)
    if stop == "no-driver":
        return vf
    _driver_init(tr, nic, drv)
    tr.emit(msg_vf_registering(nic), 100 * MS, 150 * MS)
    tr.emit(msg_joined(nic, drv), 20, 60)
    if drv == MLX5:
        for _ in range(tr.gap(1, 2)):
            tr.emit(msg_mlx5_lro(a, nic.kname), 500, 6 * MS)
    if nic.rename:
        tr.emit(msg_renamed(nic, drv), 50, 100)
    _vf_open(tr, nic, drv, vf, 200 * MS, 700 * MS)
    if stop == "no-switch":
        return vf
    if switch_failed:
        tr.emit(msg_datapath_switch_failed(nic, vf), 500, 2 * MS)
        tr.emit(msg_datapath_switched(nic, "to", vf), 900 * MS, 1_200 * MS)
    else:
        tr.emit(msg_datapath_switched(nic, "to", vf), 1 * MS, 3 * MS)
    return vf


def _flap(tr: _Track, nic: _Nic, drv: str, vf: str, lo: int, hi: int) -> None:
    """Data path from VF, VF re-opened (link up), data path back to VF."""
    tr.emit(msg_datapath_switched(nic, "from", vf), lo, hi)
    if drv == MLX5 and tr.draw(st.booleans()):
        tr.emit(msg_mlx5_lro(nic.addr(drv), vf), 100 * MS, 150 * MS)
    _vf_open(tr, nic, drv, vf, 100 * MS, 300 * MS)
    tr.emit(msg_datapath_switched(nic, "to", vf), 1 * MS, 3 * MS)


def _removal(tr: _Track, nic: _Nic, drv: str, vf: str, *, surprise: bool = False) -> int:
    """Host-initiated VF removal. Returns the time of the 'switched from VF' line."""
    if surprise:
        # The host's VF association 'removed' arrives while the VF is still up; the
        # GOING_DOWN/UNREGISTER notifications only follow afterwards.
        tr.emit(msg_vf_slot(nic, "removed"))
        t_from = tr.emit(msg_datapath_switched(nic, "from", vf), 1 * MS, 50 * MS)
        tr.emit(msg_vf_unregistering(nic, vf), 300, 1 * MS)
    else:
        t_from = tr.emit(msg_datapath_switched(nic, "from", vf))
        tr.emit(msg_vf_unregistering(nic, vf), 300, 1 * MS)
        if drv == MLX5 and tr.draw(st.booleans()):
            tr.emit(msg_mlx5_lro(nic.addr(drv), vf, " (unregistering)"), 100, 5 * MS)
        tr.emit(msg_vf_slot(nic, "removed"), 500 * MS, 1_500 * MS)
    if tr.draw(st.booleans()):
        tr.emit(msg_busn_released(nic), 100, 5 * MS)
    return t_from


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------


def _distinct(draw, n: int, lo: int, hi: int) -> list[int]:
    """n distinct integers in lo..hi (collisions are bumped, not filtered: no invalid examples)."""
    values: list[int] = []
    for _ in range(n):
        v = draw(st.integers(lo, hi))
        while v in values:
            v = lo if v == hi else v + 1
        values.append(v)
    return values


@st.composite
def _nics(draw, n: int) -> list[_Nic]:
    macs = _distinct(draw, n, 0, 0xFFFFFF)
    domains = _distinct(draw, n, 1, 0xFFFF)
    slots = draw(st.permutations(range(1, n + 1)))
    knums = draw(st.permutations(range(n, 2 * n + 2)))[:n]
    # Azure gives all vPCI instance GUIDs of a VM the same last 8 bytes.
    tail = draw(st.integers(0, 2**64 - 1))
    nics = []
    for i in range(n):
        ab, cd, ef = macs[i] >> 16, (macs[i] >> 8) & 0xFF, macs[i] & 0xFF
        guid = f"000d3a{ab:02x}-{cd:02x}{ef:02x}-000d-3a{ab:02x}-{cd:02x}{ef:02x}000d3a{ab:02x}"
        g1, g3 = draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 0xFFFF))
        pci_guid = f"{g1:08x}-{domains[i]:04x}-{g3:04x}-{tail >> 48:04x}-{tail & (2**48 - 1):012x}"
        nics.append(
            _Nic(
                guid=guid, syn=f"eth{i}", pci_guid=pci_guid, domain=domains[i],
                slot=slots[i], kname=f"eth{knums[i]}", rename=draw(st.booleans()),
                mem_base=0xFE0000000 + i * 0x1000000,
            )
        )
    return nics


def _add_noise(draw, track: _Track, lo: int, hi: int, min_count: int, max_count: int) -> None:
    """Scatter unrelated kernel messages between lo and hi (µs)."""
    if hi <= lo:
        return
    for _ in range(draw(st.integers(min_count, max_count))):
        t = draw(st.integers(lo, hi))
        for msg in draw(st.sampled_from(_NOISE))(draw):
            track.emit_at(t, msg)
            t += draw(st.integers(20, 3 * MS))


def _render(tracks: list[_Track]) -> str:
    """Merge all tracks by time.  Lines that share a timestamp are pushed 1 µs apart, so
    durations chosen above may shift by a few µs; the choices keep 1 ms of margin."""
    entries = []
    seq = 0
    for tr in tracks:
        for t, msg in tr.lines:
            entries.append((t, seq, msg))
            seq += 1
    entries.sort()
    out, prev = [], -1
    for t, _, msg in entries:
        t = max(t, prev + 1)  # strictly increasing, keeps the sorted order
        prev = t
        out.append(f"[{t // US:>5}.{t % US:06d}] {msg}")  # == "[%12.6f]" % (t / 1e6)
    return "\n".join(out) + "\n"


@st.composite
def _logs(draw, max_nics: int = 4, max_cycles: int = 3, fault: str | None = None) -> GeneratedLog:
    n = draw(st.integers(1, max_nics))
    nics = draw(_nics(n))
    affected = draw(st.integers(0, n - 1)) if fault else -1
    drivers = [draw(st.sampled_from(VF_DRIVERS)) for _ in range(n)]
    if fault == "driver-swap":
        drivers[affected] = draw(st.sampled_from((MLX5, MLX4)))

    # ---- plan the servicing events: each a list of [nic index, mode] --------------------
    n_events = draw(st.integers(0, max_cycles))
    if fault in _SERVICING_FAULTS:
        n_events = max(n_events, 1)
    events: list[list[list]] = []
    for _ in range(n_events):
        members = [[i, "normal"] for i in range(n) if draw(st.booleans())]
        if not members:
            members = [[draw(st.integers(0, n - 1)), "normal"]]
        events.append(members)
    if fault in _SERVICING_FAULTS:
        k = draw(st.integers(0, n_events - 1))
        events[k] = [m for m in events[k] if m[0] != affected] + [[affected, fault]]
        events[k].sort(key=lambda m: m[0])
        if fault == "missing-readd":  # never re-added: no later servicing for that NIC
            for ev in events[k + 1:]:
                ev[:] = [m for m in ev if m[0] != affected]
    if fault in _BOOT_TRUNCATING_FAULTS:
        for ev in events:
            ev[:] = [m for m in ev if m[0] != affected]
    episodes: list[tuple[str, object]] = [("service", ev) for ev in events if ev]
    if fault == "flapping":
        episodes.insert(draw(st.integers(0, len(episodes))), ("flap", affected))
    dup_phase = -1  # duplicated-switch: 0 = boot, k = k-th completed re-add of that NIC
    if fault == "duplicated-switch":
        readds = sum(1 for kind, ev in episodes if kind == "service"
                     for i, _ in ev if i == affected)
        dup_phase = draw(st.integers(0, readds))

    # ---- boot -----------------------------------------------------------------------------
    glob = _Track(draw, 0)
    for j, msg in enumerate(_boot_preamble(draw)):
        glob.emit_at(j * 37 * MS + draw(st.integers(0, 30 * MS)), msg)
    t_netvsc = glob.emit_at(draw(st.integers(1 * US, 3 * US)), msg_vmbus_registering("hv_netvsc"))
    t_pci = glob.emit_at(t_netvsc + draw(st.integers(500 * MS, 5 * US)),
                         msg_vmbus_registering("hv_pci"))

    tracks = [_Track(draw) for _ in nics]
    vf_names = [""] * n
    datapath = ["vf"] * n
    cycles = [0] * n
    bound = [True] * n  # has some VF driver ever bound
    for i, (nic, tr) in enumerate(zip(nics, tracks)):
        stop = fault if (i == affected and fault in _BOOT_TRUNCATING_FAULTS) else None
        tr.t = t_netvsc + draw(st.integers(300 * MS, 2_500 * MS))
        vf_names[i] = _bring_up(
            tr, nic, drivers[i],
            pci_not_before=t_pci + 1, pci_delay=(200, 30 * MS), stop=stop,
            switch_failed=(fault == "switch-failed" and i == affected),
        )
        if stop:
            datapath[i] = "synthetic"
            bound[i] = stop == "no-switch"
            continue
        for _ in range(draw(st.integers(0, 2))):  # normal start-up flaps
            _flap(tr, nic, drivers[i], vf_names[i], 500 * MS, 2 * US)
        if dup_phase == 0 and i == affected:
            tr.emit(msg_datapath_switched(nic, "to", vf_names[i]), 2 * MS, 9 * MS)

    def activity_end() -> int:
        return max([glob.t] + [tr.t for tr in tracks])

    noise = _Track(draw)
    boot_end = activity_end()
    _add_noise(draw, noise, 400 * MS, boot_end, 8, 30)  # after the preamble

    # ---- later episodes, each >= 600 s after the previous activity -----------------------
    readd_no = 0
    for kind, what in episodes:
        prev_end = activity_end()
        start = prev_end + draw(st.integers(600 * US + 1 * MS, 20_000 * US))
        if kind == "flap":
            i = what
            nic, tr, drv, vf = nics[i], tracks[i], drivers[i], vf_names[i]
            tr.t = max(start, 1_000 * US + draw(st.integers(0, 500 * US)))
            for p in range(draw(st.integers(5, 8))):
                _flap(tr, nic, drv, vf, 1 if p == 0 else 2 * US, 12 * US)
        else:
            for i, mode in what:
                nic, tr = nics[i], tracks[i]
                tr.t = start + draw(st.integers(0, 5 * US))
                t_from = _removal(tr, nic, drivers[i], vf_names[i],
                                  surprise=(mode == "surprise-removal"))
                if mode == "missing-readd":
                    datapath[i] = "synthetic"
                    continue
                if mode == "long-outage":
                    tr.t = t_from + draw(st.integers(400 * US, 895 * US))
                else:
                    tr.t += draw(st.integers(20 * US, 200 * US))
                if mode == "driver-swap":
                    drivers[i] = _OTHER_MELLANOX[drivers[i]]
                vf_names[i] = _bring_up(tr, nic, drivers[i])
                cycles[i] += 1
                if i == affected:
                    readd_no += 1
                    if readd_no == dup_phase:
                        tr.emit(msg_datapath_switched(nic, "to", vf_names[i]), 2 * MS, 9 * MS)
        _add_noise(draw, noise, prev_end, activity_end(), 1, 6)

    # ---- tail: unrelated lines after the last relevant one ---------------------------------
    last = activity_end()
    end = last + draw(st.integers(1 * US + 1 * MS, 100 * US - 100 * MS))  # margin: see _render
    if fault:  # let every timeout expire: go on >= 400 s after the affected NIC's last line
        end = max(end, tracks[affected].t + draw(st.integers(400 * US + 1 * MS, 900 * US)))
    _add_noise(draw, noise, last + 1, end - 1, 0, 4)
    for msg in draw(st.sampled_from(_NOISE))(draw)[:1]:
        noise.emit_at(end, msg)

    return GeneratedLog(
        text=_render([glob, noise, *tracks]),
        final_datapath={nic.guid: datapath[i] for i, nic in enumerate(nics)},
        vf_drivers={nic.guid: drivers[i] for i, nic in enumerate(nics) if bound[i]},
        expected_codes=frozenset({FAULTS[fault]}) if fault else frozenset(),
        servicing_cycles={nic.guid: cycles[i] for i, nic in enumerate(nics)},
    )


def valid_logs(max_nics: int = 4, max_cycles: int = 3) -> SearchStrategy[GeneratedLog]:
    """Logs of 1..max_nics NICs that boot normally and go through 0..max_cycles
    host-servicing cycles; every NIC ends on its VF and no finding is expected."""
    if max_nics < 1 or max_cycles < 0:
        raise ValueError("need max_nics >= 1 and max_cycles >= 0")
    return _logs(max_nics=max_nics, max_cycles=max_cycles, fault=None)


@st.composite
def _faulty(draw, max_nics: int, max_cycles: int, faults: tuple[str, ...]) -> tuple[GeneratedLog, str]:
    fault = draw(st.sampled_from(faults))
    return draw(_logs(max_nics=max_nics, max_cycles=max_cycles, fault=fault)), fault


def faulty_logs(
    max_nics: int = 4, max_cycles: int = 3, faults: tuple[str, ...] | None = None
) -> SearchStrategy[tuple[GeneratedLog, str]]:
    """(log, fault name): a valid log with exactly one fault from FAULTS injected into one
    NIC; ``log.expected_codes == {FAULTS[fault]}``.  ``faults`` restricts the fault names
    drawn from (default: all of FAULTS)."""
    if max_nics < 1 or max_cycles < 0:
        raise ValueError("need max_nics >= 1 and max_cycles >= 0")
    names = tuple(sorted(FAULTS)) if faults is None else tuple(faults)
    unknown = set(names) - set(FAULTS)
    if not names or unknown:
        raise ValueError(f"unknown or no fault names: {sorted(unknown)}")
    return _faulty(max_nics, max_cycles, names)


#: Stack-frame lines as kernels print them inside a trace (with and without the ``?`` of unsure frames).
_FRAME_LINES = ("? mlx5_cmd_exec+0x2a/0x50 [mlx5_core]", " netvsc_vf_changed+0x1d4/0x2c0 [hv_netvsc]",
                "? __schedule+0x2d4/0x890", "dump_stack_lvl+0x48/0x70")


@st.composite
def kernel_messages(draw, ours: tuple[str, ...]) -> str:
    """Draw one kernel message: one of *ours*, a stack-frame line, unrelated chatter or an empty message."""
    pick = draw(st.sampled_from(("ours", "frame", "noise", "empty")))
    if pick == "ours":
        return draw(st.sampled_from(ours))
    if pick == "frame":
        return draw(st.sampled_from(_FRAME_LINES))
    if pick == "empty":
        return ""
    return draw(st.sampled_from(_NOISE))(draw)[0]


def json_values() -> SearchStrategy[object]:
    """Any value json encodes: scalars (non-ASCII and control characters included), arrays, tuples,
    objects (with the keys json turns into strings: numbers, booleans, None)."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                        | st.dictionaries(st.text(max_size=8) | st.integers() | st.booleans() | st.none(), inner, max_size=4),
                        max_leaves=30)
