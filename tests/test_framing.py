"""Tests of vflog.framing: finding the driver message inside any outer log prefix, and its time."""

from __future__ import annotations

import pytest

from vflog import framing

MSG = "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added"


@pytest.mark.parametrize(("raw", "t", "clock"), [
    (f"[    3.918902] {MSG}", 3.918902, "monotonic"),
    (f"[3.918902] {MSG}", 3.918902, "monotonic"),
    (f"[    3.918902] [    T1] {MSG}", 3.918902, "monotonic"),
    (f"<6>[    3.918902] {MSG}", 3.918902, "monotonic"),
    (f"kern  :info  : [    3.918902] {MSG}", 3.918902, "monotonic"),
    (f"2021-01-08T01:02:18.342860+00:00 host kernel: [ 3.918902] {MSG}", 3.918902, "monotonic"),
    (f"2023-07-25T22:06:11.903 INFO   kern   kernel:[    3.918902] {MSG}", 3.918902, "monotonic"),
    (f"Jul 23 16:18:53 rac02 kernel: {MSG}", None, "wall"),
    (f"[2026-09-03 05:50:31.887 Agent I] [Thu Sep  3 05:08:01 2026] {MSG}", 1788412081.0, "wall"),
    (f"2021-01-08T01:02:18.5+01:00 host kernel: {MSG}", 1610064138.5, "wall"),
    (f"> [    3.918902] {MSG}", 3.918902, "monotonic"),
    (f"   {MSG}", None, None),
    (MSG, None, None),
])
def test_message_and_time_found_in_any_prefix(raw: str, t: float | None, clock: str | None) -> None:
    """The message starts at the driver's printk prefix; the innermost time of the prefix is kept."""
    framed = framing.frame(raw)
    assert framed is not None
    assert framed.message == MSG
    stamp = framing.stamp(framed.prefix)
    if clock is None:
        assert stamp is None
    else:
        assert stamp is not None and stamp.clock == clock
        if t is not None:
            assert stamp.t == pytest.approx(t)


@pytest.mark.parametrize("raw", [
    "[    5.1] eth0: renamed from vethf9a5043",
    "[    5.1] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
    "[    0.2] pci 0000:00:07.1: legacy IDE quirk: reg 0x10: [io  0x01f0-0x01f7]",
    "[    0.2] pci_bus 0000:00: root bus resource [io  0x0000-0x0cf7 window]",
    "modprobe: FATAL: Module mlx5_core not found in directory /lib/modules/5.4.0",
    "[ 0.1] hv_pci_probe: line 3694: create_root_hv_pci_bus=0: sleeping 10s",
    "",
])
def test_unrelated_lines_are_not_framed(raw: str) -> None:
    """Lines of other drivers, parent-less renames (veth) and the emulated domain 0000 are skipped."""
    assert framing.frame(raw) is None
