#!/usr/bin/env python3
"""Write the deterministic inputs of the vflog speed benchmark (see bench/README.md).

    python bench/generate.py [--out DIR] [--seed N] [--big]

Files written into DIR (default /tmp/vflog-bench), never into the repository:

``dmesg-1m.log``
    1,000,000 dmesg lines (``[%12.6f] message``) of one long-running boot of a VM with 4 NICs
    (mlx5_core, mlx5_core, mana, mlx4); 2 % of the lines come from the Accelerated Networking
    drivers (normal boot sequence and start-up flaps per NIC, several host-servicing cycles per
    NIC, and neutral VF reconfiguration lines in between), the other 98 % are unrelated kernel
    lines (UFW, audit, docker veth, EXT4, journald, hv_balloon, storvsc, ...).
``dmesg-1m.expected.json``
    What the generator intended: per NIC the final data path and the number of completed
    host-servicing cycles (plus line and byte counts).
``storm-200k.log`` / ``storm-200k.expected.json``
    200,000 lines, all of them driver lines: a host-servicing storm on 8 mlx5 NICs.
``journal-1m.json``
    dmesg-1m.log as ``journalctl -k -o json`` would print it.
``dmesg-1m.log.gz``
    gzip of dmesg-1m.log.
``syslog-1m.log``
    dmesg-1m.log as rsyslog's traditional file format keeps it (``Mon DD HH:MM:SS host kernel: [..] msg``).
``lookalike-1m.log`` / ``lookalike-journal-1m.json``
    1,000,000 dmesg lines like dmesg-1m.log where a quarter come from other Hyper-V and PCI drivers
    (hv_storvsc, hv_utils, hv_balloon, hv_vmbus, the PCI core on a GPU's and an NVMe disk's buses),
    and the same as ``journalctl -k -o json``.
``dmesg-1g.log`` / ``dmesg-1g.expected.json`` (only with ``--big``)
    ~1 GB of dmesg-1m-like content in one boot: the same generator run for ~9 M lines, one
    running monotonic clock (no boot restart).

Everything is derived from ``random.Random(seed)``: the same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import heapq
import json
import math
import os
import random
import re
import sys
import time
from json.encoder import encode_basestring
from typing import Callable

GENERATOR_VERSION = 1
DEFAULT_OUT = "/tmp/vflog-bench"
DEFAULT_SEED = 20240601

#: Wall-clock time (Unix µs) of monotonic zero, for audit stamps and the journal rendering.
BOOT_EPOCH_US = 1_717_200_000_000_000
BOOT_ID = "8c3f0e6a5b2d4f1e9a7c6b5d4e3f2a1b"
MACHINE_ID = "4f3c2a1e9b0d4c6e8a7f5b3d1e0c9a8b"
SEQNUM_ID = "d1e5c2b7a4f84e3c9b0a6f2e8d7c5b31"
HOSTNAME = "vm-bench-01"

#: Share of the dmesg lines that come from the Accelerated Networking drivers.
DRIVER_SHARE = 0.02
#: Share of the lines of lookalike-1m.log that come from other Hyper-V and PCI drivers (LookAlike).
LOOKALIKE_SHARE = 0.25
#: Mean spacing of the unrelated lines (µs): 1M lines cover about 15 days.
MEAN_GAP_US = 1_300_000
#: Host-servicing events per million lines (each touches one or more NICs).
SERVICING_PER_MILLION = (8, 12)
MIN_CYCLES_PER_NIC = 3
READD_DELAY_S = (20.0, 200.0)

S = 1_000_000  # µs per second


# --------------------------------------------------------------------------- NICs
class NicSpec:
    """One virtual NIC: synthetic netvsc device plus the VF it gets from the host."""

    def __init__(self, index: int, driver: str, netvsc_guid: str, domain: str, hvpci_guid: str,
                 synthetic: str, temp: str) -> None:
        self.index = index
        self.driver = driver              # "mlx5" | "mana" | "mlx4"
        self.guid = netvsc_guid
        self.domain = domain
        self.hvpci = hvpci_guid
        self.syn = synthetic
        self.temp = temp
        self.slot = index + 1
        dom_dec = int(domain, 16)
        if driver == "mlx5":
            self.pci = f"{domain}:00:02.0"
            self.vf = f"enP{dom_dec}s{self.slot}np0"
            self.vendev = "15b3:1016"
            self.size = 0x100000
        elif driver == "mana":
            self.pci = f"{domain}:00:00.0"
            self.vf = f"enP{dom_dec}s{self.slot}"
            self.vendev = "1414:00ba"
            self.size = 0x100000
        else:
            self.pci = f"{domain}:00:02.0"
            self.vf = f"enP{dom_dec}p0s2"
            self.vendev = "15b3:1004"
            self.size = 0x800000
        base = 0xFE0000000 + index * 0x800000
        self.mem = f"0x{base:x}-0x{base + self.size - 1:x}"
        self.vf_driver = {"mlx5": "mlx5_core", "mana": "mana", "mlx4": "mlx4_core"}[driver]

    # Each sequence is a list of (offset µs, message); offsets are from real logs (samples/).
    def _netvsc(self, text: str) -> str:
        return f"hv_netvsc {self.guid} {self.syn}: {text}"

    def add(self, boot: bool) -> list[tuple[int, str]]:
        """Slot offered -> vPCI -> PCI device -> driver -> VF registered -> Link up -> to VF."""
        g, pci, dom, vf, temp, syn = self.hvpci, self.pci, self.domain, self.vf, self.temp, self.syn
        bar = f"[mem {self.mem} 64bit pref]"
        seq: list[tuple[int, str]] = [(0, self._netvsc(f"VF slot {self.slot} added"))]
        if self.driver == "mlx5":
            seq += [
                (600, f"hv_pci {g}: PCI VMBus probing: Using version 0x10002"),
                (9_500, f"hv_pci {g}: PCI host bridge to bus {dom}:00"),
                (9_503, f"pci_bus {dom}:00: root bus resource [mem {self.mem} window]"),
                (14_300, f"pci {pci}: [{self.vendev}] type 00 class 0x020000"),
                (27_600, f"pci {pci}: reg 0x10: {bar}"),
                (105_600, f"pci {pci}: enabling Extended Tags"),
                (110_600, f"pci {pci}: 0.000 Gb/s available PCIe bandwidth, limited by Unknown x0 link at "
                          f"{pci} (capable of 63.008 Gb/s with 8.0 GT/s PCIe x8 link)"),
                (110_700, f"pci {pci}: BAR 0: assigned {bar}"),
                (122_400, f"mlx5_core {pci}: firmware version: 14.25.8362"),
                (133_800, f"mlx5_core {pci}: handle_hca_cap:524:(pid 12): log_max_qp value in current "
                          f"profile is 18, changing it to HCA capability limit (12)"),
                (331_200, f"mlx5_core {pci}: MLX5E: StrdRq(0) RqSz(1024) StrdSz(256) RxCqeCmprss(0)"),
                (463_800, self._netvsc(f"VF registering: {temp}")),
                (463_840, f"mlx5_core {pci} {temp}: joined to {syn}"),
                (464_700, f"mlx5_core {pci} {temp}: Disabling LRO, not supported in legacy RQ"),
                (469_400, f"mlx5_core {pci} {vf}: renamed from {temp}"),
                (708_000, f"mlx5_core {pci} {vf}: Link up"),
                (710_100, self._netvsc(f"Data path switched to VF: {vf}")),
            ]
        elif self.driver == "mana":
            seq += [
                (600, f"hv_pci {g}: PCI VMBus probing: Using version 0x10004"),
                (4_800, f"hv_pci {g}: PCI host bridge to bus {dom}:00"),
                (4_803, f"pci_bus {dom}:00: root bus resource [mem {self.mem} window]"),
                (4_805, f"pci_bus {dom}:00: No busn resource found for root bus, will use [bus 00-ff]"),
                (6_400, f"pci {pci}: [{self.vendev}] type 00 class 0x020000"),
                (9_700, f"pci {pci}: reg 0x10: {bar}"),
                (72_100, f"pci {pci}: enabling Extended Tags"),
                (78_900, f"pci_bus {dom}:00: busn_res: [bus 00-ff] end is updated to 00"),
                (79_000, f"pci {pci}: BAR 0: assigned {bar}"),
                (185_000, f"mana {pci}: enabling device (0000 -> 0002)"),
                (211_400, f"mana {pci}: Microsoft Azure Network Adapter protocol version: 0.1.1"),
                (246_900, self._netvsc(f"VF registering: {temp}")),
                (246_930, f"mana {pci} {temp}: joined to {syn}"),
                (273_100, f"mana {pci} {vf}: renamed from {temp}"),
                (357_600, f"mana {pci} {vf}: Configured vPort 0 PD 18 DB 16"),
                (375_100, f"mana {pci} {vf}: Configured steering vPort 0 entries 64"),
                (376_000, self._netvsc(f"Data path switched to VF: {vf}")),
            ]
        else:  # mlx4 (ConnectX-3 VF) on a current kernel
            seq += [
                (600, f"hv_pci {g}: PCI VMBus probing: Using version 0x10002"),
                (11_400, f"hv_pci {g}: PCI host bridge to bus {dom}:00"),
                (11_404, f"pci_bus {dom}:00: root bus resource [mem {self.mem} window]"),
                (11_407, f"pci_bus {dom}:00: No busn resource found for root bus, will use [bus 00-ff]"),
                (12_900, f"pci {pci}: [{self.vendev}] type 00 class 0x020000"),
                (15_600, f"pci {pci}: reg 0x18: {bar}"),
                (73_200, f"pci {pci}: BAR 2: assigned {bar}"),
            ]
            if boot:
                seq.append((2_413_300, "mlx4_core: Mellanox ConnectX core driver v4.0-0"))
            seq += [
                (2_413_330, f"mlx4_core: Initializing {pci}"),
                (2_416_700, f"mlx4_core {pci}: Detected virtual function - running in slave mode"),
                (2_416_800, f"mlx4_core {pci}: Sending reset"),
                (2_416_950, f"mlx4_core {pci}: Sending vhcr0"),
                (2_418_400, f"mlx4_core {pci}: HCA minimum page size:512"),
                (2_419_000, f"mlx4_core {pci}: Timestamping is not supported in slave mode"),
            ]
            if boot:
                seq.append((2_543_700, "mlx4_en: Mellanox ConnectX HCA Ethernet driver v4.0-0"))
            seq += [
                (2_544_600, f"mlx4_en {pci}: Activating port:1"),
                (2_568_300, f"mlx4_en: {pci}: Port 1: Using 4 TX rings"),
                (2_568_310, f"mlx4_en: {pci}: Port 1: Using 4 RX rings"),
                (2_568_500, f"mlx4_en: {pci}: Port 1: Initializing port"),
                (2_572_400, self._netvsc(f"VF registering: {temp}")),
                (2_572_440, f"mlx4_core {pci} {temp}: joined to {syn}"),
                (2_580_500, f"mlx4_core {pci} {vf}: renamed from {temp}"),
                (3_818_900, f"mlx4_en: {vf}: Steering Mode 1"),
                (3_849_200, f"mlx4_en: {vf}: Link Up"),
                (3_849_300, self._netvsc(f"Data path switched to VF: {vf}")),
            ]
        return seq

    def remove(self) -> list[tuple[int, str]]:
        """Host servicing: the orderly eject of the VF."""
        return [
            (0, self._netvsc(f"Data path switched from VF: {self.vf}")),
            (610, self._netvsc(f"VF unregistering: {self.vf}")),
            (1_108_000, self._netvsc(f"VF slot {self.slot} removed")),
        ]

    def flap(self) -> list[tuple[int, str]]:
        """A start-up flap: the data path goes back to synthetic and returns (ifup of the VF)."""
        pci, vf = self.pci, self.vf
        if self.driver == "mlx5":
            mid = [(121_000, f"mlx5_core {pci} {vf}: Disabling LRO, not supported in legacy RQ"),
                   (254_100, f"mlx5_core {pci} {vf}: Link up")]
            end = 255_500
        elif self.driver == "mana":
            mid = [(203_900, f"mana {pci} {vf}: Configured vPort 0 PD 18 DB 16"),
                   (221_300, f"mana {pci} {vf}: Configured steering vPort 0 entries 64")]
            end = 222_300
        else:
            mid = [(655_600, f"mlx4_en: {vf}: Steering Mode 1"), (663_700, f"mlx4_en: {vf}: Link Up")]
            end = 663_800
        return ([(0, self._netvsc(f"Data path switched from VF: {vf}"))] + mid
                + [(end, self._netvsc(f"Data path switched to VF: {vf}"))])

    def filler(self) -> list[str]:
        """Driver lines that change nothing while the VF carries traffic (ethtool, ifup, carrier)."""
        pci, vf = self.pci, self.vf
        if self.driver == "mlx5":
            return [f"mlx5_core {pci} {vf}: Disabling LRO, not supported in legacy RQ",
                    f"mlx5_core {pci} {vf}: Link up"]
        if self.driver == "mana":
            return [f"mana {pci} {vf}: Configured vPort 0 PD 18 DB 16",
                    f"mana {pci} {vf}: Configured steering vPort 0 entries 64"]
        return [f"mlx4_en: {vf}: Steering Mode 1", f"mlx4_en: {vf}: Link Up"]


def _guid(r: random.Random, second: str | None = None) -> str:
    a, b, c, d, e = (r.getrandbits(32), r.getrandbits(16), r.getrandbits(16), r.getrandbits(16), r.getrandbits(48))
    return f"{a:08x}-{second or f'{b:04x}'}-{c:04x}-{d:04x}-{e:012x}"


def _netvsc_guid(r: random.Random, driver: str, index: int) -> str:
    mac = r.getrandbits(24)
    m1, m2 = f"{mac >> 16:02x}", f"{mac & 0xFFFF:04x}"
    if driver == "mana":
        return f"f8615163-{index:04x}-1000-2000-6045bd{mac:06x}"
    return f"000d3a{m1}-{m2}-000d-3a{m1}-{m2}000d3a{m1}"  # MAC-derived, as Azure does


def make_nics(r: random.Random, drivers: list[str]) -> list[NicSpec]:
    nics, domains = [], set()
    n = len(drivers)
    for i, driver in enumerate(drivers):
        while True:
            domain = f"{r.randrange(0x1000, 0xFFFF):04x}"
            if domain not in domains:
                domains.add(domain)
                break
        nics.append(NicSpec(i, driver, _netvsc_guid(r, driver, i), domain, _guid(r, domain),
                            f"eth{i}", f"eth{n + i}"))
    return nics


# --------------------------------------------------------------------------- unrelated lines
#: Boot preamble (unrelated lines, fixed times in µs) before the steady state; from samples/normal-boot.log.
PREAMBLE: list[tuple[int, str]] = [
    (0, "Linux version 5.15.0-1057-azure (buildd@lcy02-amd64-081) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, "
        "GNU ld (GNU Binutils for Ubuntu) 2.38) #65-Ubuntu SMP Fri Feb 9 18:39:24 UTC 2024 "
        "(Ubuntu 5.15.0-1057.65-azure 5.15.143)"),
    (1, "Command line: BOOT_IMAGE=/boot/vmlinuz-5.15.0-1057-azure root=PARTUUID=5d3a8e41-92c7-4b0f-a1e6-07f3c2d9b854 "
        "ro console=tty1 console=ttyS0 earlyprintk=ttyS0 panic=-1"),
    (2, "KERNEL supported cpus:"),
    (3, "  Intel GenuineIntel"),
    (4, "  AMD AuthenticAMD"),
    (5, "x86/fpu: Supporting XSAVE feature 0x001: 'x87 floating point registers'"),
    (6, "x86/fpu: Supporting XSAVE feature 0x002: 'SSE registers'"),
    (7, "x86/fpu: Enabled xstate features 0x7, context size is 832 bytes, using 'compacted' format."),
    (8, "SMBIOS 3.1.0 present."),
    (9, "DMI: Microsoft Corporation Virtual Machine/Virtual Machine, BIOS Hyper-V UEFI Release v4.1 05/09/2022"),
    (10, "Hypervisor detected: Microsoft Hyper-V"),
    (11, "Hyper-V: privilege flags low 0x2e7f, high 0x3b8030, hints 0x64e24, misc 0xbed7b2"),
    (12, "Hyper-V Host Build:20348-10.0-1-0.1633"),
    (13, "clocksource: hyperv_clocksource_tsc_page: mask: 0xffffffffffffffff max_cycles: 0x24e6a1710, "
         "max_idle_ns: 440795202120 ns"),
    (14, "tsc: Detected 2593.906 MHz processor"),
    (43_201, "Console: colour dummy device 80x25"),
    (169_029, "ACPI: Core revision 20210730"),
    (239_185, "Calibrating delay loop (skipped), value calculated using timer frequency.. 5187.81 BogoMIPS "
              "(lpj=10375624)"),
    (318_062, "smpboot: CPU0: Intel(R) Xeon(R) Platinum 8272CL CPU @ 2.60GHz (family: 0x6, model: 0x55, stepping: 0x7)"),
    (335_902, "devtmpfs: initialized"),
    (347_482, "audit: initializing netlink subsys (disabled)"),
    (368_082, "audit: type=2000 audit(1717200000.368:1): state=initialized audit_enabled=0 res=1"),
    (396_835, "SCSI subsystem initialized"),
    (413_353, "hv_vmbus: Vmbus version:5.2"),
    (723_103, "Trying to unpack rootfs image as initramfs..."),
    (886_759, "Freeing initrd memory: 29536K"),
    (1_053_324, "Serial: 8250/16550 driver, 32 ports, IRQ sharing enabled"),
    (1_350_000, "hv_vmbus: registering driver hv_storvsc"),
    (1_439_850, "scsi host0: storvsc_host_t"),
    (1_666_180, "scsi 0:0:0:0: Direct-Access     Msft     Virtual Disk     1.0  PQ: 0 ANSI: 5"),
    (1_757_717, "sd 0:0:0:0: [sda] 62914560 512-byte logical blocks: (32.2 GB/30.0 GiB)"),
    (2_145_575, "sd 0:0:0:0: [sda] Write cache: disabled, read cache: enabled, supports DPO and FUA"),
    (2_217_210, " sda: sda1 sda14 sda15"),
    (2_223_252, "sd 0:0:0:0: [sda] Attached SCSI disk"),
    (2_327_663, "hv_vmbus: registering driver hv_netvsc"),
    (2_942_330, "EXT4-fs (sda1): mounted filesystem with ordered data mode. Opts: (null). Quota mode: none."),
    (2_996_218, "systemd[1]: Hostname set to <vm-bench-01>."),
    (3_373_878, "systemd[1]: Created slice Slice /system/modprobe."),
    (3_534_965, "systemd[1]: Started Journal Service."),
    (3_689_961, "systemd-journald[236]: Received client request to flush runtime journal."),
    (4_037_246, "loop0: detected capacity change from 0 to 8"),
    (4_078_288, "loop1: detected capacity change from 0 to 130552"),
    (5_111_119, "hid: raw HID events driver (C) Jiri Kosina"),
    (5_394_596, "hv_vmbus: registering driver hid_hyperv"),
    (6_024_977, 'audit: type=1400 audit(1717200006.025:2): apparmor="STATUS" operation="profile_load" '
                'profile="unconfined" name="lsb_release" pid=512 comm="apparmor_parser"'),
    (6_944_883, "hv_vmbus: registering driver hv_pci"),
    (9_085_927, 'audit: type=1400 audit(1717200009.086:5): apparmor="STATUS" operation="profile_load" '
                'profile="unconfined" name="/usr/sbin/tcpdump" pid=521 comm="apparmor_parser"'),
    (13_105_855, "hv_utils: KVP IC version 4.0"),
    (13_695_791, "hv_utils: VSS IC version 5.0"),
    (19_654_869, "EXT4-fs (sda1): resizing filesystem from 7575035 to 7838715 blocks"),
    (23_641_766, "EXT4-fs (sda1): resized filesystem to 7838715"),
    (25_507_922, "Adding 2097148k swap on /mnt/swapfile.  Priority:-2 extents:6 across:2260988k FS"),
    (26_133_691, "hv_balloon: Max. dynamic memory size: 8192 MB"),
]

_HEX = "0123456789abcdef"
_PROFILES = ("snap.lxd.activate", "/usr/sbin/cupsd", "snap.docker.dockerd", "docker-default",
             "/usr/lib/snapd/snap-confine", "/usr/bin/man", "cri-containerd.apparmor.d", "/usr/sbin/chronyd")
_FILES = ("/proc/{pid}/mounts", "/sys/fs/cgroup/memory.max", "/etc/ssl/openssl.cnf", "/run/systemd/userdb/",
          "/proc/sys/kernel/osrelease", "/var/lib/waagent/history/", "/sys/kernel/mm/transparent_hugepage/enabled")
_COMMS = ("lxd", "cupsd", "dockerd", "runc:[2:INIT]", "snap-confine", "chronyd", "python3", "node", "java")
_DPORTS = (22, 23, 80, 443, 445, 1433, 2375, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200, 27017)
_JOURNAL = "/var/log/journal/" + MACHINE_ID


class Unrelated:
    """Realistic kernel lines that have nothing to do with Accelerated Networking."""

    def __init__(self, r: random.Random) -> None:
        self.r = r
        rand = r.random
        self.ri = lambda lo, hi: lo + int(rand() * (hi - lo))      # faster than randrange
        self.ch = lambda seq: seq[int(rand() * len(seq))]           # faster than choice
        self.audit_serial = 10
        self.bridge_ports: list[tuple[int, str, str]] = []   # (port, host veth, peer veth) of running containers
        self.next_port = 1
        self.loop = 8
        self.sg = 1
        kinds: list[tuple[float, Callable[[int], list[str]]]] = [
            (24, self.ufw), (9, self.audit_denied), (3, self.audit_status), (2, self.audit_seccomp),
            (4, self.kauditd), (2.2, self.docker_start), (2.0, self.docker_stop), (2, self.calico),
            (2, self.ext4), (2, self.loopdev), (2, self.journald), (2, self.balloon), (3, self.storvsc),
            (1, self.synflood), (1, self.conntrack), (1, self.perf), (0.5, self.hrtimer), (1, self.pids),
            (0.3, self.oom), (0.3, self.tcp_gro), (0.5, self.cifs), (0.5, self.floppy), (0.3, self.overlay),
            (1.5, self.ipvs), (0.5, self.nfs), (0.5, self.blocked_ip6),
        ]
        total = sum(w for w, _ in kinds)
        acc, self.cum, self.fns = 0.0, [], []
        for w, fn in kinds:
            acc += w / total
            self.cum.append(acc)
            self.fns.append(fn)
        self.cum[-1] = 1.0

    def burst(self, t_us: int) -> list[str]:
        return self.fns[min(bisect.bisect_left(self.cum, self.r.random()), len(self.fns) - 1)](t_us)

    # helpers
    def _ip(self) -> str:
        g = self.r.getrandbits(32)
        return f"{(g >> 24) % 223 + 1}.{(g >> 16) & 255}.{(g >> 8) & 255}.{g & 255}"

    def _hex(self, n: int) -> str:
        return f"{self.r.getrandbits(4 * n):0{n}x}"

    def _audit(self, t_us: int) -> str:
        self.audit_serial += 1
        wall = BOOT_EPOCH_US + t_us
        return f"audit({wall // S}.{wall // 1000 % 1000:03d}:{self.audit_serial})"

    # kinds
    def ufw(self, t_us: int) -> list[str]:
        r = self.r
        mac = "12:34:56:78:9a:bc:00:0d:3a:f5:76:bd:08:00"
        if r.random() < 0.8:
            return [f"[UFW BLOCK] IN=eth0 OUT= MAC={mac} SRC={self._ip()} DST=10.1.19.4 LEN={self.ch((40, 44, 52, 60))} "
                    f"TOS=0x00 PREC=0x00 TTL={self.ri(30, 250)} ID={r.getrandbits(16)} "
                    f"{'DF ' if r.random() < 0.3 else ''}PROTO=TCP SPT={self.ri(1024, 65535)} "
                    f"DPT={self.ch(_DPORTS)} WINDOW={self.ch((1024, 29200, 65535))} RES=0x00 SYN URGP=0"]
        length = self.ri(48, 400)
        return [f"[UFW BLOCK] IN=eth0 OUT= MAC={mac} SRC={self._ip()} DST=10.1.19.4 LEN={length} "
                f"TOS=0x00 PREC=0x00 TTL={self.ri(30, 250)} ID={r.getrandbits(16)} PROTO=UDP "
                f"SPT={self.ri(1024, 65535)} DPT={self.ch((53, 123, 161, 1900, 5060, 11211))} LEN={length - 20}"]

    def audit_denied(self, t_us: int) -> list[str]:
        pid = self.ri(300, 4_000_000)
        name = self.ch(_FILES).format(pid=pid)
        return [f'audit: type=1400 {self._audit(t_us)}: apparmor="DENIED" operation="open" class="file" '
                f'profile="{self.ch(_PROFILES)}" name="{name}" pid={pid} comm="{self.ch(_COMMS)}" '
                f'requested_mask="r" denied_mask="r" fsuid=0 ouid=0']

    def audit_status(self, t_us: int) -> list[str]:
        return [f'audit: type=1400 {self._audit(t_us)}: apparmor="STATUS" operation="profile_replace" '
                f'info="same as current profile, skipping" profile="unconfined" name="{self.ch(_PROFILES)}" '
                f'pid={self.ri(300, 4_000_000)} comm="apparmor_parser"']

    def audit_seccomp(self, t_us: int) -> list[str]:
        return [f"audit: type=1326 {self._audit(t_us)}: auid=4294967295 uid=0 gid=0 ses=4294967295 "
                f"subj=snap.lxd.daemon pid={self.ri(300, 4_000_000)} comm=\"{self.ch(_COMMS)}\" "
                f"exe=\"/snap/lxd/29351/bin/lxd\" sig=0 arch=c000003e syscall={self.ri(1, 330)} compat=0 "
                f"ip=0x{self._hex(12)} code=0x50000"]

    def kauditd(self, t_us: int) -> list[str]:
        return [f"kauditd_printk_skb: {self.ri(1, 40)} callbacks suppressed"]

    def docker_start(self, t_us: int) -> list[str]:
        if len(self.bridge_ports) > 40:
            return self.docker_stop(t_us)
        port = self.next_port
        self.next_port += 1
        host, peer = "veth" + self._hex(7), "veth" + self._hex(7)
        self.bridge_ports.append((port, host, peer))
        return [f"docker0: port {port}({host}) entered blocking state",
                f"docker0: port {port}({host}) entered disabled state",
                f"device {host} entered promiscuous mode",
                f"eth0: renamed from {peer}",
                f"IPv6: ADDRCONF(NETDEV_CHANGE): {host}: link becomes ready",
                f"docker0: port {port}({host}) entered blocking state",
                f"docker0: port {port}({host}) entered forwarding state"]

    def docker_stop(self, t_us: int) -> list[str]:
        if not self.bridge_ports:
            return self.docker_start(t_us)
        port, host, peer = self.bridge_ports.pop(self.ri(0, len(self.bridge_ports)))
        return [f"docker0: port {port}({host}) entered disabled state",
                f"{peer}: renamed from eth0",
                f"device {host} left promiscuous mode",
                f"docker0: port {port}({host}) entered disabled state"]

    def calico(self, t_us: int) -> list[str]:
        return [f"IPv6: ADDRCONF(NETDEV_CHANGE): cali{self._hex(11)}: link becomes ready"]

    def ext4(self, t_us: int) -> list[str]:
        r = self.r
        x = r.random()
        if x < 0.4:
            return ["EXT4-fs (sdc1): mounted filesystem with ordered data mode. Opts: (null). Quota mode: none."]
        if x < 0.7:
            return ["EXT4-fs (sdc1): unmounting filesystem."]
        return [f"EXT4-fs (dm-{self.ri(0, 4)}): mounted filesystem {_guid(r)} r/w with ordered data mode. "
                f"Quota mode: none."]

    def loopdev(self, t_us: int) -> list[str]:
        self.loop = self.loop + 1 if self.loop < 40 else 8
        return [f"loop{self.loop}: detected capacity change from 0 to {self.ri(8, 400_000)}"]

    def journald(self, t_us: int) -> list[str]:
        r = self.r
        if r.random() < 0.5:
            return [f"systemd-journald[236]: {_JOURNAL}/system.journal: Journal header limits reached or "
                    f"header out-of-date, rotating."]
        items = self.ri(8000, 11377)
        return [f"systemd-journald[236]: Data hash table of {_JOURNAL}/system.journal has a fill level at "
                f"{items * 100 / 11377:.1f} ({items} of 11377 items, 8388608 file size, 737 bytes per hash table "
                f"item), suggesting rotation."]

    def balloon(self, t_us: int) -> list[str]:
        r = self.r
        if r.random() < 0.6:
            return ["hv_balloon: Balloon request will be partially fulfilled. Balloon floor reached."]
        return [f"hv_balloon: Hot adding {self.ri(1, 64) * 32768} pages"]

    def storvsc(self, t_us: int) -> list[str]:
        r = self.r
        if r.random() < 0.7:
            return [f"hv_storvsc f8b3781a-1e82-4818-a1c3-63d806ec15bb: tag#{self.ri(0, 1024)} cmd "
                    f"0x{self.ch(('28', '2a', '85', 'a1'))} status: scsi 0x2 srb 0x4 hv 0xc0000001"]
        return ["sd 1:0:0:0: [storvsc] Sense Key : Unit Attention [current]",
                "sd 1:0:0:0: [storvsc] Add. Sense: Changed operating definition",
                "sd 1:0:0:0: Warning! Received an indication that the operating parameters on this target "
                "have changed. The Linux SCSI layer does not automatically adjust these parameters."]

    def synflood(self, t_us: int) -> list[str]:
        return [f"TCP: request_sock_TCP: Possible SYN flooding on port {self.ch((80, 443, 8443))}. "
                f"Sending cookies.  Check SNMP counters."]

    def conntrack(self, t_us: int) -> list[str]:
        return ["nf_conntrack: nf_conntrack: table full, dropping packet"]

    def perf(self, t_us: int) -> list[str]:
        a = self.ri(2500, 9000)
        return [f"perf: interrupt took too long ({a} > {a - 10}), lowering kernel.perf_event_max_sample_rate "
                f"to {self.ri(20, 80) * 1000}"]

    def hrtimer(self, t_us: int) -> list[str]:
        return [f"hrtimer: interrupt took {self.ri(100_000, 3_000_000)} ns"]

    def pids(self, t_us: int) -> list[str]:
        return [f"cgroup: fork rejected by pids controller in /system.slice/docker-{self._hex(64)}.scope"]

    def oom(self, t_us: int) -> list[str]:
        pid = self.ri(1000, 4_000_000)
        cg = f"/system.slice/docker-{self._hex(64)}.scope"
        return ["java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
                f"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset={cg[14:40]},mems_allowed=0,"
                f"oom_memcg={cg},task_memcg={cg},task=java,pid={pid},uid=1000",
                f"Memory cgroup out of memory: Killed process {pid} (java) total-vm:{self.ri(10**6, 10**7)}kB, "
                f"anon-rss:{self.ri(10**5, 10**6)}kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:"
                f"{self.ri(1000, 9000)}kB oom_score_adj:0"]

    def tcp_gro(self, t_us: int) -> list[str]:
        return ["TCP: eth0: Driver has suspect GRO implementation, TCP performance may be compromised."]

    def cifs(self, t_us: int) -> list[str]:
        return ["CIFS: VFS: \\\\stbench01.file.core.windows.net has not responded in 180 seconds. Reconnecting..."]

    def floppy(self, t_us: int) -> list[str]:
        return ["blk_update_request: I/O error, dev fd0, sector 0 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0",
                "floppy: error 10 while reading block 0"]

    def overlay(self, t_us: int) -> list[str]:
        return ["overlayfs: upperdir is in-use as upperdir/workdir of another mount, accessing files from both "
                "mounts will result in undefined behavior."]

    def ipvs(self, t_us: int) -> list[str]:
        return [f"IPVS: rr: TCP 10.96.{self.ri(0, 255)}.{self.ri(1, 255)}:443 - no destination available"]

    def nfs(self, t_us: int) -> list[str]:
        return ["nfs: server 10.1.20.5 not responding, still trying", "nfs: server 10.1.20.5 OK"]

    def blocked_ip6(self, t_us: int) -> list[str]:
        return [f"IPv6: eth0: IPv6 duplicate address fe80::{self._hex(4)}:{self._hex(4)}:fe{self._hex(2)}:"
                f"{self._hex(4)} used by 12:34:56:{self._hex(2)}:{self._hex(2)}:{self._hex(2)} detected!"]


#: vPCI buses of other devices: an NVIDIA GPU (domain 0001) and an Azure NVMe disk (domain c05b); hv_pci's
#: lines of their probe at boot, then the PCI core's (printk formats of drivers/pci/controller/pci-hyperv.c
#: and drivers/pci/probe.c, setup-bus.c).
_GPU_BUS, _GPU = "47505500-0001-0000-3130-444531334632", "0001:00:00.0"
_NVME_BUS, _NVME = "c05b2d4e-97a1-4f3b-8e6c-5a1d0b9e3f72", "c05b:00:00.0"
OTHER_VPCI_BOOT: list[tuple[int, str]] = [
    (7_912_004, f"hv_pci {_GPU_BUS}: PCI VMBus probing: Using version 0x10004"),
    (7_921_310, f"hv_pci {_GPU_BUS}: PCI host bridge to bus 0001:00"),
    (7_921_313, "pci_bus 0001:00: root bus resource [mem 0xe1000000-0xe1ffffff window]"),
    (7_921_315, "pci_bus 0001:00: root bus resource [mem 0x1800000000-0x1fffffffff window]"),
    (7_921_317, "pci_bus 0001:00: No busn resource found for root bus, will use [bus 00-ff]"),
    (7_930_552, f"pci {_GPU}: [10de:20b5] type 00 class 0x030200"),
    (7_941_806, f"pci {_GPU}: reg 0x10: [mem 0xe1000000-0xe1ffffff 64bit]"),
    (7_952_113, f"pci {_GPU}: reg 0x18: [mem 0x1800000000-0x1fffffffff 64bit pref]"),
    (8_004_561, f"pci {_GPU}: enabling Extended Tags"),
    (8_017_220, f"pci {_GPU}: 252.048 Gb/s available PCIe bandwidth, limited by 16.0 GT/s PCIe x16 link at "
                f"{_GPU} (capable of 504.112 Gb/s with 32.0 GT/s PCIe x16 link)"),
    (8_031_447, f"pci_bus 0001:00: busn_res: [bus 00-ff] end is updated to 00"),
    (8_031_502, f"pci {_GPU}: BAR 1: assigned [mem 0x1800000000-0x1fffffffff 64bit pref]"),
    (8_031_540, f"pci {_GPU}: BAR 0: assigned [mem 0xe1000000-0xe1ffffff 64bit]"),
    (8_212_775, f"hv_pci {_NVME_BUS}: PCI VMBus probing: Using version 0x10004"),
    (8_219_090, f"hv_pci {_NVME_BUS}: PCI host bridge to bus c05b:00"),
    (8_219_093, "pci_bus c05b:00: root bus resource [mem 0xfc0000000-0xfc00fffff window]"),
    (8_224_318, f"pci {_NVME}: [1414:b111] type 00 class 0x010802"),
    (8_229_904, f"pci {_NVME}: reg 0x10: [mem 0xfc0000000-0xfc001ffff 64bit]"),
    (8_241_650, f"pci {_NVME}: BAR 0: assigned [mem 0xfc0000000-0xfc001ffff 64bit]"),
    (8_255_012, f"nvme nvme0: pci function {_NVME}"),
    (8_301_877, "nvme nvme0: 8/0/0 default/read/poll queues"),
]


class LookAlike(Unrelated):
    """Unrelated lines where about *share* of the lines come from other Hyper-V and PCI drivers.

    hv_storvsc, hv_utils, hv_balloon, hv_vmbus (other drivers registering, its own notices) and the PCI
    core on the GPU's and the NVMe disk's buses (OTHER_VPCI_BOOT): lines that a naive prefilter for the
    Accelerated Networking drivers (hv_vmbus, pci) lets through.  Wordings are the drivers' printk
    formats (drivers/hv/hv_util.c, hv_kvp.c, hv_snapshot.c, hv_balloon.c, vmbus_drv.c,
    drivers/scsi/storvsc_drv.c, drivers/pci/probe.c, setup-bus.c, drivers/nvme/host/pci.c).
    """

    _FIXED = (
        "hv_vmbus: registering driver hv_storvsc", "hv_vmbus: registering driver hv_utils",
        "hv_vmbus: registering driver hv_balloon", "hv_vmbus: registering driver hyperv_fb",
        "hv_vmbus: registering driver hid_hyperv", "hv_vmbus: registering driver hyperv_keyboard",
        "hv_vmbus: registering driver hv_sock", "hv_vmbus: registering driver uio_hv_generic",
        "hv_vmbus: unregistering driver uio_hv_generic", "hv_vmbus: Vmbus version:5.3",
        "hv_utils: Registering HyperV Utility Driver", "hv_utils: Heartbeat IC version 3.0",
        "hv_utils: TimeSync IC version 4.0", "hv_utils: Shutdown IC version 3.2", "hv_utils: KVP IC version 4.0",
        "hv_utils: VSS IC version 5.0", "hv_utils: KVP: user-mode registering done.",
        "hv_balloon: Using Dynamic Memory protocol version 2.0", "hv_balloon: Cold memory discard hint enabled",
        "hv_balloon: Balloon request will be partially fulfilled. Balloon floor reached.",
        "hv_balloon: Max. dynamic memory size: 8192 MB",
        f"pci {_GPU}: [10de:20b5] type 00 class 0x030200", f"pci {_GPU}: enabling Extended Tags",
        f"pci {_GPU}: reg 0x10: [mem 0xe1000000-0xe1ffffff 64bit]",
        f"pci {_GPU}: BAR 1: assigned [mem 0x1800000000-0x1fffffffff 64bit pref]",
        "pci_bus 0001:00: root bus resource [mem 0xe1000000-0xe1ffffff window]",
        f"pci {_NVME}: [1414:b111] type 00 class 0x010802", f"pci {_NVME}: reg 0x10: [mem 0xfc0000000-0xfc001ffff 64bit]",
        "pci_bus c05b:00: root bus resource [mem 0xfc0000000-0xfc00fffff window]",
        f"nvme nvme0: pci function {_NVME}",
        "pci 0000:00:08.0: [1414:5353] type 00 class 0x030000",
    )

    def __init__(self, r: random.Random, share: float) -> None:
        super().__init__(r)
        # base bursts average ~1.33 lines: a one-line look-alike burst with this chance makes *share* of the lines
        self.chance = share * 1.33 / (1 - share + share * 1.33)
        self.emitted = 0
        self.storage = ("f8b3781a-1e82-4818-a1c3-63d806ec15bb", "00000000-0001-8899-0000-000000000000")

    def burst(self, t_us: int) -> list[str]:
        if self.r.random() >= self.chance:
            return super().burst(t_us)
        self.emitted += 1
        x = self.r.random()
        if x < 0.35:
            return [f"hv_storvsc {self.ch(self.storage)}: tag#{self.ri(0, 1024)} cmd 0x{self.ch(('28', '2a', '85', 'a1'))} "
                    f"status: scsi 0x{self.ch(('2', '0'))} srb 0x{self.ch(('4', '6', '20'))} hv 0xc0000001"]
        if x < 0.45:
            return [f"hv_balloon: Hot adding {self.ri(1, 64) * 32768} pages"]
        if x < 0.5:
            return [f"hv_utils: VSS: userspace daemon ver. {self.ch((129, 130))} connected"]
        return [self.ch(self._FIXED)]


# --------------------------------------------------------------------------- writing
def _stamp(t: int) -> str:
    return f"[{t // S:5d}.{t % S:06d}] "


class Writer:
    """Buffer formatted dmesg lines, enforce strictly increasing µs timestamps, write in big chunks."""

    def __init__(self, path: str) -> None:
        self.f = open(path, "w", encoding="utf-8", newline="\n")
        self.buf: list[str] = []
        self.last = -1
        self.lines = 0
        self.driver_lines = 0

    def emit(self, t: int, text: str, driver: bool = False) -> int:
        if t <= self.last:
            t = self.last + 1
        self.last = t
        self.buf.append(f"[{t // S:5d}.{t % S:06d}] {text}\n")
        self.lines += 1
        if driver:
            self.driver_lines += 1
        if len(self.buf) >= 65536:
            self.f.write("".join(self.buf))
            self.buf.clear()
        return t

    def close(self) -> int:
        self.f.write("".join(self.buf))
        self.buf.clear()
        size = self.f.tell()
        self.f.close()
        return size


def write_dmesg(path: str, n_lines: int, seed: int, lookalike: float = 0.0) -> dict[str, object]:
    """Write one boot of *n_lines* dmesg lines with 4 NICs; return what the generator intended.

    With *lookalike* > 0, about that share of the lines come from other Hyper-V and PCI drivers
    (LookAlike), and the boot also probes a GPU and an NVMe device on vPCI buses of their own.
    """
    r = random.Random(seed)
    nics = make_nics(r, ["mlx5", "mlx5", "mana", "mlx4"])
    unrelated: Unrelated = LookAlike(r, lookalike) if lookalike > 0 else Unrelated(r)
    preamble = sorted(PREAMBLE + OTHER_VPCI_BOOT) if lookalike > 0 else PREAMBLE
    budget = round(n_lines * DRIVER_SHARE)
    n_unrel = n_lines - budget

    heap: list[tuple[int, int, str]] = []
    order = 0

    def schedule(t0: int, seq: list[tuple[int, str]], scale: float = 1.0) -> int:
        nonlocal order
        end = t0
        for off, text in seq:
            t = t0 + int(off * scale)
            order += 1
            heapq.heappush(heap, (t, order, text))
            end = max(end, t)
        return end

    cycles = {n.guid: 0 for n in nics}
    flaps = {n.guid: 0 for n in nics}
    busy_until = {n.guid: 0 for n in nics}   # no filler, and no new cycle, before this time
    cycle_end = {n.guid: 0 for n in nics}
    driver_planned = 0

    # Boot: slot offers at ~3.9 s, the vPCI side once hv_pci registers (6.94 s), then start-up flaps.
    for n in nics:
        seq = n.add(boot=True)
        t_slot = 3_918_902 + n.index * 21_000
        t_pci = 6_945_132 + n.index * 187_000
        parts = [(0, seq[0][1])] + [(t_pci - t_slot + off - seq[1][0], text) for off, text in seq[1:]]
        end = schedule(t_slot, parts)
        driver_planned += len(parts)
        for _ in range(r.randint(1, 2)):
            fl = n.flap()
            end = schedule(end + r.randrange(900_000, 2_500_000), fl, r.uniform(0.8, 1.3))
            driver_planned += len(fl)
            flaps[n.guid] += 1
        busy_until[n.guid] = end + S

    # Host-servicing events, as trigger positions in the stream of unrelated lines.
    first = len(preamble)
    events_n = max(1, round(n_lines / 1e6 * r.randint(*SERVICING_PER_MILLION)))
    events: list[tuple[int, list[NicSpec]]] = []
    for k in range(events_n):
        pos = first + int((n_unrel - first) * (0.03 + 0.92 * (k + r.uniform(0.1, 0.9)) / events_n))
        hit = list(nics) if r.random() < 0.6 else r.sample(nics, r.randint(1, len(nics) - 1))
        events.append((pos, hit))
    for n in nics:  # several cycles for every NIC
        while sum(n in hit for _, hit in events) < min(MIN_CYCLES_PER_NIC, events_n):
            candidates = [hit for _, hit in events if n not in hit]
            r.choice(candidates).append(n)
    per_cycle = {n.guid: len(n.remove()) + len(n.add(boot=False)) for n in nics}
    for _, hit in events:
        for n in hit:
            driver_planned += per_cycle[n.guid]
    filler_total = budget - driver_planned
    if filler_total < 0:
        raise SystemExit(f"driver budget {budget} too small for {driver_planned} lifecycle lines")

    # Neutral VF lines (ethtool / ifup / carrier) in bursts of 1-4 lines, at random positions.
    fills: list[int] = []
    left = filler_total
    while left > 0:
        k = min(left, r.randint(1, 4))
        fills.append(k)
        left -= k
    fill_pos = sorted(r.randrange(first + 200, int(n_unrel * 0.97)) for _ in fills)
    triggers: dict[int, list[object]] = {}
    for pos, hit in events:
        triggers.setdefault(pos, []).append(hit)
    for pos, k in zip(fill_pos, fills):
        triggers.setdefault(pos, []).append(k)
    deferred = 0

    w = Writer(path)
    t = 0

    def drain(upto: int) -> None:
        while heap and heap[0][0] <= upto:
            tt, _, text = heapq.heappop(heap)
            w.emit(tt, text, driver=True)

    def run_triggers(index: int, now: int) -> None:
        nonlocal deferred
        for item in triggers.pop(index, ()):
            if isinstance(item, list):  # a servicing event
                start = now + r.randrange(1_000, 400_000)
                for n in item:
                    assert cycle_end[n.guid] < start, "overlapping cycles of one NIC"
                    t_rm = max(start + r.randrange(0, 2_000_000), busy_until[n.guid] + 1_000)
                    end = schedule(t_rm, n.remove())
                    readd = end + int(r.uniform(*READD_DELAY_S) * S)
                    end = schedule(readd, n.add(boot=False), r.uniform(0.8, 1.5))
                    busy_until[n.guid] = cycle_end[n.guid] = end + S
                    cycles[n.guid] += 1
            else:
                deferred += int(item)  # type: ignore[call-overload]
        if deferred:
            free = [n for n in nics if busy_until[n.guid] < now]
            if free:
                n = r.choice(free)
                lines = n.filler()
                tt = now + r.randrange(1_000, 200_000)
                for j in range(deferred):
                    order_text = lines[j % len(lines)]
                    schedule(tt + j * r.randrange(50, 20_000), [(0, order_text)])
                busy_until[n.guid] = max(busy_until[n.guid], tt + deferred * 20_000)
                deferred = 0

    index = 0
    for t0, text in preamble:
        drain(t0)
        w.emit(t0, text)
        t = t0
        index += 1
    pending: list[str] = []
    rand, log, burst, emit = r.random, math.log, unrelated.burst, w.emit
    while index < n_unrel:
        if not pending:
            t += 1 + int(-log(1.0 - rand()) * MEAN_GAP_US)
            pending = burst(t)
            pending.reverse()
        else:
            t += 30 + int(rand() * 40_000)
        if heap and heap[0][0] <= t:
            drain(t)
        t = emit(t, pending.pop())
        index += 1
        if deferred or index in triggers:
            run_triggers(index, t)
    drain(1 << 62)
    if deferred:  # could not place them before the end (never with the default sizes)
        n = nics[0]
        for j in range(deferred):
            w.emit(w.last + 1000, n.filler()[j % 2], driver=True)
    size = w.close()
    assert w.lines == n_lines, (w.lines, n_lines)
    assert w.driver_lines == budget, (w.driver_lines, budget)
    extra: dict[str, object] = {}
    if isinstance(unrelated, LookAlike):
        extra["lookalike_lines"] = unrelated.emitted  # one-line bursts: none is left in pending at the end
    return {**extra,
        "generator_version": GENERATOR_VERSION, "seed": seed, "file": os.path.basename(path),
        "lines": w.lines, "bytes": size, "driver_lines": w.driver_lines,
        "lifecycle_lines": driver_planned, "neutral_vf_lines": filler_total, "servicing_events": events_n,
        "boots": 1, "t_end": round(w.last / S, 6),
        "nics": {n.guid: {"synthetic": n.syn, "driver": n.vf_driver, "pci": n.pci, "vf": n.vf,
                          "datapath": "vf", "servicing_cycles": cycles[n.guid], "startup_flaps": flaps[n.guid]}
                 for n in nics},
    }


def write_storm(path: str, n_lines: int, seed: int, n_nics: int = 8) -> dict[str, object]:
    """Write *n_lines* driver lines: a host-servicing storm on *n_nics* mlx5 NICs."""
    r = random.Random(seed)
    nics = make_nics(r, ["mlx5"] * n_nics)
    events: list[tuple[int, int, str]] = []
    order = 0

    def put(t0: int, seq: list[tuple[int, str]], scale: float = 1.0) -> int:
        nonlocal order
        end = t0
        for off, text in seq:
            order += 1
            end = max(end, t0 + int(off * scale))
            events.append((t0 + int(off * scale), order, text))
        return end

    ends = {}
    for n in nics:
        seq = n.add(boot=True)
        t_slot = 3_918_902 + n.index * 21_000
        t_pci = 6_945_132 + n.index * 250_000
        ends[n.guid] = put(t_slot, [(0, seq[0][1])] + [(t_pci - t_slot + off - seq[1][0], x) for off, x in seq[1:]])
    boot_lines = len(events)
    per_cycle = len(nics[0].remove()) + len(nics[0].add(boot=False))
    cycles_each = (n_lines - boot_lines) // (per_cycle * n_nics)
    cycles = {}
    for n in nics:
        t = ends[n.guid] + r.randrange(30 * S, 90 * S)
        for _ in range(cycles_each):
            end = put(t, n.remove())
            end = put(end + r.randrange(5 * S, 60 * S), n.add(boot=False), r.uniform(0.8, 1.5))
            t = end + r.randrange(5 * S, 90 * S)
        cycles[n.guid] = cycles_each
        ends[n.guid] = t
    pad = n_lines - len(events)  # neutral lines while every VF carries traffic again
    t = max(ends.values())
    for j in range(pad):
        n = nics[j % n_nics]
        t += r.randrange(1_000, 2 * S)
        order += 1
        events.append((t, order, n.filler()[j // n_nics % 2]))
    events.sort()
    w = Writer(path)
    for tt, _, text in events:
        w.emit(tt, text, driver=True)
    size = w.close()
    assert w.lines == n_lines
    return {
        "generator_version": GENERATOR_VERSION, "seed": seed, "file": os.path.basename(path),
        "lines": w.lines, "bytes": size, "driver_lines": w.driver_lines, "boots": 1,
        "t_end": round(w.last / S, 6),
        "nics": {n.guid: {"synthetic": n.syn, "driver": n.vf_driver, "pci": n.pci, "vf": n.vf,
                          "datapath": "vf", "servicing_cycles": cycles[n.guid], "startup_flaps": 0}
                 for n in nics},
    }


_DEVICE = re.compile(r"(?:mlx5_core|mlx4_core|mana|pci) ([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])[: ]")


def write_journal(src: str, dst: str) -> dict[str, object]:
    """Render the dmesg file *src* as ``journalctl -k -o json`` output (one object per line)."""
    buf: list[str] = []
    lines = 0
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8", newline="\n") as out:
        for i, line in enumerate(f):
            close = line.index("] ")
            stamp = line[1:close].strip()
            sec, _, frac = stamp.partition(".")
            mono = int(sec) * S + int(frac)
            msg = line[close + 2:-1]
            real = BOOT_EPOCH_US + mono
            received = mono + 1_234 if mono > 3_700_000 else 3_700_000 + i
            ident, pid, prio, facility = "kernel", None, "6", "0"
            extra = ""
            if msg.startswith("[UFW "):
                prio = "4"
            elif msg.startswith("audit:"):
                prio = "5"
            elif msg.startswith("systemd"):
                head, _, rest = msg.partition(": ")
                ident, _, pid = head.partition("[")
                pid, msg, facility = pid.rstrip("]"), rest, "3"
            else:
                m = _DEVICE.match(msg)
                if m:
                    dev = m[1]
                    extra = f'"_KERNEL_SUBSYSTEM":"pci","_KERNEL_DEVICE":"+pci:{dev}","_UDEV_SYSNAME":"{dev}",'
            xor = (i * 0x9E3779B97F4A7C15 + mono) & 0xFFFFFFFFFFFFFFFF
            cursor = f"s={SEQNUM_ID};i={0x1000 + i:x};b={BOOT_ID};m={received:x};t={real:x};x={xor:016x}"
            ident_fields = (f'"SYSLOG_IDENTIFIER":"{ident}",' if pid is None
                            else f'"SYSLOG_IDENTIFIER":"{ident}","SYSLOG_PID":"{pid}",')
            buf.append(
                f'{{"__CURSOR":"{cursor}","__REALTIME_TIMESTAMP":"{real}","__MONOTONIC_TIMESTAMP":"{received}",'
                f'"_BOOT_ID":"{BOOT_ID}","_SOURCE_MONOTONIC_TIMESTAMP":"{mono}","_TRANSPORT":"kernel",'
                f'"PRIORITY":"{prio}","SYSLOG_FACILITY":"{facility}",{ident_fields}{extra}'
                f'"_MACHINE_ID":"{MACHINE_ID}","_HOSTNAME":"{HOSTNAME}","MESSAGE":{encode_basestring(msg)}}}\n')
            lines += 1
            if len(buf) >= 32768:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))
        size = out.tell()
    return {"lines": lines, "bytes": size}


def write_syslog(src: str, dst: str) -> dict[str, object]:
    """Render the dmesg file *src* as rsyslog's traditional file format (RFC 3164 stamps) would keep it.

    ``Mon DD HH:MM:SS host kernel: [seconds] message``: the kernel's lines with their monotonic stamp
    (rsyslog's imklog keeps it), systemd's own lines as ``host program[pid]: message``.
    """
    import datetime
    stamps: dict[int, str] = {}
    buf: list[str] = []
    lines = 0
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8", newline="\n") as out:
        for line in f:
            close = line.index("] ")
            sec = int(line[1:close].strip().partition(".")[0])
            date = stamps.get(sec)
            if date is None:
                when = datetime.datetime.fromtimestamp(BOOT_EPOCH_US // S + sec, datetime.timezone.utc)
                date = stamps[sec] = f"{when:%b} {when.day:2d} {when:%H:%M:%S}"
            msg = line[close + 2:]
            if msg.startswith("systemd"):
                buf.append(f"{date} {HOSTNAME} {msg}")
            else:
                buf.append(f"{date} {HOSTNAME} kernel: {line}")
            lines += 1
            if len(buf) >= 32768:
                out.write("".join(buf))
                buf.clear()
                stamps.clear()
        out.write("".join(buf))
        size = out.tell()
    return {"lines": lines, "bytes": size}


def write_gzip(src: str, dst: str) -> int:
    with open(src, "rb") as f, open(dst, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=raw, mtime=0) as gz:
            while True:
                block = f.read(8 << 20)
                if not block:
                    break
                gz.write(block)
        return raw.tell()


def _save(path: str, data: dict[str, object]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def generate(out: str, seed: int = DEFAULT_SEED, big: bool = False, quiet: bool = False) -> dict[str, float]:
    """Write every input into *out*; return the seconds each file took."""
    os.makedirs(out, exist_ok=True)
    took: dict[str, float] = {}

    def step(name: str, fn: Callable[[], object]) -> object:
        t0 = time.perf_counter()
        result = fn()
        took[name] = time.perf_counter() - t0
        if not quiet:
            print(f"  {name:<20} {took[name]:6.1f} s", file=sys.stderr, flush=True)
        return result

    p = lambda name: os.path.join(out, name)  # noqa: E731
    expected = step("dmesg-1m.log", lambda: write_dmesg(p("dmesg-1m.log"), 1_000_000, seed))
    _save(p("dmesg-1m.expected.json"), expected)  # type: ignore[arg-type]
    storm = step("storm-200k.log", lambda: write_storm(p("storm-200k.log"), 200_000, seed + 1))
    _save(p("storm-200k.expected.json"), storm)  # type: ignore[arg-type]
    journal = step("journal-1m.json", lambda: write_journal(p("dmesg-1m.log"), p("journal-1m.json")))
    _save(p("journal-1m.expected.json"), {**expected, "file": "journal-1m.json", **journal})  # type: ignore[dict-item]
    gz = step("dmesg-1m.log.gz", lambda: write_gzip(p("dmesg-1m.log"), p("dmesg-1m.log.gz")))
    _save(p("dmesg-1m.log.gz.expected.json"), {**expected, "file": "dmesg-1m.log.gz", "compressed_bytes": gz})  # type: ignore[dict-item]
    syslog = step("syslog-1m.log", lambda: write_syslog(p("dmesg-1m.log"), p("syslog-1m.log")))
    _save(p("syslog-1m.expected.json"), {**expected, "file": "syslog-1m.log", **syslog})  # type: ignore[dict-item]
    alike = step("lookalike-1m.log", lambda: write_dmesg(p("lookalike-1m.log"), 1_000_000, seed + 3, LOOKALIKE_SHARE))
    _save(p("lookalike-1m.expected.json"), alike)  # type: ignore[arg-type]
    alike_journal = step("lookalike-journal-1m.json",
                         lambda: write_journal(p("lookalike-1m.log"), p("lookalike-journal-1m.json")))
    _save(p("lookalike-journal-1m.expected.json"),
          {**alike, "file": "lookalike-journal-1m.json", **alike_journal})  # type: ignore[dict-item]
    if big:
        per_line = int(expected["bytes"]) / int(expected["lines"])  # type: ignore[call-overload, index]
        n = int(1_000_000_000 / per_line) + 1
        data = step("dmesg-1g.log", lambda: write_dmesg(p("dmesg-1g.log"), n, seed + 2))
        _save(p("dmesg-1g.expected.json"), data)  # type: ignore[arg-type]
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--big", action="store_true", help="also write dmesg-1g.log (~1 GB)")
    args = parser.parse_args(argv)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.abspath(args.out).startswith(repo + os.sep):
        parser.error("generated data must not go into the repository")
    print(f"generating into {args.out} (seed {args.seed})", file=sys.stderr)
    t0 = time.perf_counter()
    generate(args.out, args.seed, args.big)
    print(f"  total {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
