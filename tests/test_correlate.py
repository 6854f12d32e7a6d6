"""Tests of vflog.correlate: which virtual NIC each event belongs to."""

from __future__ import annotations

import pytest

import vflog
from vflog.correlate import slot_domain

A = "000d3af5-76bd-000d-3af5-76bd000d3af5"
B = "000d3af6-76be-000d-3af6-76be000d3af6"


def _nics(text: str) -> dict[str, vflog.NicReport]:
    return {nic.key: nic for nic in vflog.analyze_text(text).boots[-1].nics}


def _line(t: float, message: str) -> str:
    return f"[{t:12.6f}] {message}\n"


def test_pci_lines_before_the_join_go_to_the_nic_the_join_names() -> None:
    """Two NICs offered at once: the vPCI bus, device and driver lines wait until `joined to` ties them."""
    text = "".join([
        _line(1.0, f"hv_netvsc {A} eth0: VF slot 1 added"),
        _line(1.1, f"hv_netvsc {B} eth1: VF slot 2 added"),
        _line(2.0, "hv_pci 11111111-cf63-4466-9ae3-4b849c3ee03b: PCI VMBus probing: Using version 0x10002"),
        _line(2.1, "hv_pci 11111111-cf63-4466-9ae3-4b849c3ee03b: PCI host bridge to bus cf63:00"),
        _line(2.2, "pci cf63:00:02.0: [15b3:1016] type 00 class 0x020000"),
        _line(2.3, "mlx5_core cf63:00:02.0: firmware version: 14.25.8362"),
        _line(3.0, f"hv_netvsc {B} eth1: VF registering: eth2"),
        _line(3.1, "mlx5_core cf63:00:02.0 eth2: joined to eth1"),
        _line(3.2, f"hv_netvsc {B} eth1: Data path switched to VF: eth2"),
        _line(9.0, "unrelated line"),
    ])
    nics = _nics(text)
    assert nics[B].vf is not None and nics[B].vf.pci == "cf63:00:02.0" and nics[B].vf.driver == "mlx5_core"
    assert nics[B].vf.device_id == "15b3:1016" and nics[B].datapath == "vf"
    assert nics[A].vf is None and nics[A].state == "slot-offered"


def test_joined_before_registering_ties_by_synthetic_name() -> None:
    """Old kernels print `joined to` before `VF registering`: the synthetic name still ties the VF."""
    text = "".join([
        _line(1.0, "hv_netvsc vmbus_16 eth1: Device MAC 00:15:5d:af:0c:21 link state up"),
        _line(8.5, "mlx4_core: Initializing 0002:00:02.0"),
        _line(8.6, "mlx4_core 0002:00:02.0 eth2: joined to eth1"),
        _line(8.7, "hv_netvsc vmbus_16 eth1: VF registering: eth2"),
    ])
    nic = _nics(text)["vmbus_16"]
    assert nic.vf.pci == "0002:00:02.0" and nic.vf.driver == "mlx4_core" and nic.state == "vf-registered"


def test_renamed_synthetic_nic_stays_one_nic() -> None:
    """`eth3` renamed to `eth3-hv` is the same NIC: the GUID is the key."""
    text = (_line(1.0, f"hv_netvsc {A} eth3: VF registering: eth7")
            + _line(2.0, f"hv_netvsc {A} eth3-hv: renamed from eth3")
            + _line(3.0, f"hv_netvsc {A} eth3-hv: VF unregistering: eth7"))
    nics = _nics(text)
    assert list(nics) == [A] and nics[A].synthetic_names == ("eth3", "eth3-hv")


def test_a_vf_no_nic_claims_gets_a_nic_of_its_own() -> None:
    """A VF device seen without any netvsc line is reported under `pci:DDDD`, not dropped."""
    text = (_line(1.0, "pci cf63:00:02.0: [15b3:1016] type 00 class 0x020000")
            + _line(2.0, "mlx5_core cf63:00:02.0: firmware version: 14.25.8362")
            + _line(3.0, "unrelated"))
    nics = _nics(text)
    assert list(nics) == ["pci:cf63"] and nics["pci:cf63"].vf.driver == "mlx5_core"


def test_events_of_one_vf_follow_its_names_through_renames() -> None:
    """Lines under the kernel name and under the udev name land on the same NIC."""
    routed = list(vflog.events_text(
        _line(1.0, f"hv_netvsc {A} eth0: VF registering: eth1")
        + _line(1.1, "mlx5_core cf63:00:02.0 eth1: joined to eth0")
        + _line(1.2, "mlx5_core cf63:00:02.0 enP53091s1np0: renamed from eth1")
        + _line(1.3, "mlx5_core cf63:00:02.0 enP53091s1np0: Link up")))
    assert {r.nic for r in routed} == {A}


def test_a_vf_renamed_by_networkd_takes_its_new_name() -> None:
    """systemd-networkd's rename notice, routed by the old name, makes the new name the VF's current one."""
    text = (_line(1.0, f"hv_netvsc {A} eth0: VF registering: rename3")
            + _line(1.1, f"hv_netvsc {A} eth0: Data path switched to VF: rename3")
            + _line(2.0, "systemd-networkd[779]: rename3: Interface name change detected, rename3 has been renamed to eth1.")
            + _line(2.1, "systemd-networkd[779]: eth1: Link UP"))
    nic = _nics(text)[A]
    assert nic.vf is not None and nic.vf.names == ("rename3", "eth1") and nic.vf.name == "eth1"
    routed = list(vflog.events_text(text))
    assert {r.nic for r in routed} == {A}


def test_a_vf_known_only_from_its_drivers_netdev_lines_is_driver_bound() -> None:
    """A VF driver's error line on its own registered netdev proves the driver bound: the VF is recorded."""
    text = (_line(1.0, "mana 7870:00:00.0: HWC: Failed hw_channel req: 0xc000009a")
            + _line(1.1, "mana 7870:00:00.0 eth7: Failed to create RXQ: err = -71"))
    nic = _nics(text)["pci:7870"]
    assert nic.state == "driver-bound" and nic.datapath == "unknown"
    assert nic.vf is not None and (nic.vf.name, nic.vf.pci, nic.vf.driver) == ("eth7", "7870:00:00.0", "mana")
    step = next(entry for entry in nic.timeline if entry.event == "driver_init")
    assert step.line == 2 and "implied" in step.detail


def test_a_vf_netdev_line_proves_nothing_once_the_driver_is_known_or_the_vf_gone() -> None:
    """After the VF is registered, or removed, its driver's netdev lines move no state (no re-add, no refusal)."""
    text = (_line(1.0, f"hv_netvsc {A} eth0: VF registering: eth1")
            + _line(1.1, "mlx5_core cf63:00:02.0 eth1: joined to eth0")
            + _line(1.2, "mlx5_core cf63:00:02.0 eth1: Disabling LRO, not supported in legacy RQ")
            + _line(2.0, f"hv_netvsc {A} eth0: VF unregistering: eth1")
            + _line(2.1, "mlx5_core cf63:00:02.0 eth1: Disabling LRO, not supported in legacy RQ"))
    nic = _nics(text)[A]
    assert nic.state == "vf-going-away" and all(entry.event != "driver_init" for entry in nic.timeline)


def test_an_unregistered_netdev_does_not_prove_the_driver_bound() -> None:
    """A netdev still `(uninitialized)` is printed during the probe, which may yet fail: no driver-bound from it."""
    text = (_line(1.0, "pci cf63:00:02.0: [15b3:1016] type 00 class 0x020000")
            + _line(1.1, "mlx5_core cf63:00:02.0 eth1 (uninitialized): Disabling LRO, not supported in legacy RQ"))
    assert _nics(text)["pci:cf63"].state == "pci-present"


TRACE_LINES = ["WARNING: CPU: 3 PID: 412 at drivers/net/hyperv/netvsc_drv.c:2290 netvsc_vf_changed+0x1d4/0x2c0",
               "Modules linked in: mlx5_core hv_netvsc", "RIP: 0010:netvsc_vf_changed+0x1d4/0x2c0 [hv_netvsc]",
               "Call Trace:", " <TASK>", " ? mlx5_cmd_exec+0x2a/0x50 [mlx5_core]",
               " netvsc_netdev_event+0x1a/0x40 [hv_netvsc]", "---[ end trace 5e1b1c8f4a0b2d11 ]---"]


def test_a_kernel_trace_is_one_event_whose_lines_are_its_evidence() -> None:
    """``vflog events`` shows a trace as one kernel_trace event: its recognised lines are its evidence (line
    numbers and texts), and the drivers it names are read from all of them."""
    text = _line(1.0, f"hv_netvsc {A} eth0: VF slot 1 added") + "".join(_line(5.0, m) for m in TRACE_LINES) \
        + _line(6.0, f"hv_netvsc {A} eth0: VF slot 1 removed")
    kinds = [routed.event.kind for routed in vflog.events_text(text)]
    assert kinds == ["slot_added", "kernel_trace", "slot_removed"]
    (trace,) = [r.event for r in vflog.events_text(text) if r.event.kind == "kernel_trace"]
    assert trace.line == 2 and trace.get("lines") == (2, 3, 4, 5, 7, 8, 9)  # " <TASK>" is no trace line
    assert trace.get("frames")[0] == TRACE_LINES[0] and trace.get("names") == ("netvsc", "mlx5")
    (finding,) = [f for f in vflog.analyze_text(text).findings if f.code == "kernel-trace"]
    assert {2, 3, 4, 5, 7, 8, 9} <= set(finding.evidence)


def test_an_end_marker_or_a_gap_separates_two_traces() -> None:
    """Two traces back to back (the first ends with its marker) or far apart are two events."""
    one = "".join(_line(5.0, m) for m in TRACE_LINES)
    gap = "".join(_line(6.0, f"unrelated line {i}") for i in range(100))
    frames = _line(7.0, "Call Trace:") + _line(7.0, " dump_stack_lvl+0x48/0x70")
    text = one + one + frames + gap + frames
    assert [r.event.kind for r in vflog.events_text(text)] == ["kernel_trace"] * 4


def test_a_trace_interleaved_with_another_drivers_line_stays_one_trace() -> None:
    """Console output interleaved with an oops (a driver line between its header and its call trace) does not
    split it: one kernel_trace opened by the header, and the driver line is still its own event."""
    header = _line(5.0, TRACE_LINES[0])
    rest = "".join(_line(5.1, m) for m in TRACE_LINES[3:])
    text = header + _line(5.0, "mana 7870:00:00.0 enP30832s1: Configured vPort 0 PD 18 DB 16") + rest
    routed = list(vflog.events_text(text))
    traces = [r.event for r in routed if r.event.kind == "kernel_trace"]
    assert len(traces) == 1 and traces[0].line == 1 and traces[0].get("end_line") == 7
    assert any(r.event.line == 2 and r.event.driver == "mana" for r in routed)


def test_a_new_header_or_a_far_driver_line_after_an_interruption_ends_the_trace() -> None:
    """After an interleaved driver line, a new trace header starts a new trace; a driver line further than
    TRACE_INTERLEAVE lines from the trace ends it, so a later call trace is a trace of its own."""
    from vflog.correlate import TRACE_INTERLEAVE
    header = _line(5.0, TRACE_LINES[0])
    vf = _line(5.0, "mana 7870:00:00.0 enP30832s1: Configured vPort 0 PD 18 DB 16")

    def traces(text: str) -> list[tuple[int, int]]:
        return [(r.event.line, r.event.get("end_line")) for r in vflog.events_text(text) if r.event.kind == "kernel_trace"]

    assert traces(header + vf + header) == [(1, 1), (3, 3)]
    gap = "".join(_line(5.0, f"unrelated line {i}") for i in range(TRACE_INTERLEAVE + 1))
    far = 2 + TRACE_INTERLEAVE + 1
    assert traces(header + gap + vf + _line(5.2, "Call Trace:")) == [(1, 1), (far + 1, far + 1)]


def test_a_trace_keeps_a_bounded_number_of_lines() -> None:
    """A hostile endless trace is one event that keeps its first lines and counts the rest."""
    text = _line(5.0, "Call Trace:") + "".join(_line(5.0, f" f{i}+0x1/0x2") for i in range(5000))
    (routed,) = list(vflog.events_text(text))
    assert routed.event.get("count") == 5001 and len(routed.event.get("lines")) < 100


def test_only_netvsc_and_hv_pci_registrations_are_events() -> None:
    """``hv_vmbus: registering driver hv_balloon`` (storvsc, utils, keyboard, ...) is not part of a VF's
    story and is no event; hv_netvsc's and hv_pci's registrations are."""
    names = ["hv_storvsc", "hv_netvsc", "hyperv_keyboard", "hid_hyperv", "hv_utils", "hv_balloon", "hv_pci"]
    text = "".join(_line(1.0 + i, f"hv_vmbus: registering driver {name}") for i, name in enumerate(names))
    text += _line(9.0, "hv_vmbus: unregistering driver hv_balloon")
    events = [r.event for r in vflog.events_text(text)]
    assert [(e.kind, e.get("name")) for e in events] == [("vmbus_driver_registered", "hv_netvsc"),
                                                           ("vmbus_driver_registered", "hv_pci")]
    report = vflog.analyze_text(text)
    assert report.stats.unrecognised == 0 and report.content == "no-an-lines"


def test_a_vf_known_only_from_benign_lines_on_its_netdev_gets_an_entry_of_its_own() -> None:
    """No NIC in the log, only a VF driver's informational lines on its own netdev: the VF is an entry `pci:<domain>`."""
    text = "".join([
        _line(231.4, "mana 7870:00:00.0 enP30832s1: Moved VF to namespace with: eth0"),
        _line(231.5, "mana 7870:00:00.0 enP30832s1: Configured vPort 0 PD 18 DB 16"),
    ])
    nic = _nics(text)["pci:7870"]
    assert (nic.vf.name, nic.vf.pci, nic.vf.driver) == ("enP30832s1", "7870:00:00.0", "mana")
    assert nic.state == "link-up" and nic.datapath == "unknown"


def test_a_vf_entry_of_its_own_never_owns_another_vfs_domain() -> None:
    """Two VFs on two PCI domains and no synthetic NIC (a log grepped for the VF driver): two entries, not one."""
    text = "".join([
        _line(8.89, "mlx4_core 9ba0:00:02.0: Detected virtual function - running in slave mode"),
        _line(8.92, "mlx4_core 85e5:00:02.0: Detected virtual function - running in slave mode"),
        _line(9.10, "mana 7870:00:00.0 enP30832s1: Configured vPort 0 PD 18 DB 16"),
    ])
    nics = _nics(text)
    assert sorted(nics) == ["pci:7870", "pci:85e5", "pci:9ba0"]
    assert [nics[k].vf.pci for k in ("pci:85e5", "pci:9ba0")] == ["85e5:00:02.0", "9ba0:00:02.0"]


def test_a_vf_known_only_from_user_space_lines_on_its_slot_name_gets_an_entry_of_its_own() -> None:
    """networkd lines on an interface udev named after its PCI slot (enP1s1) make a VF entry on that domain."""
    text = "".join(f"Mar 18 18:35:04 vm systemd-networkd[975]: {name}: Gained carrier\n"
                   for name in ("eth0", "enP1s1", "vethb2aa6e21"))
    nics = _nics(text)
    assert list(nics) == ["pci:0001"]
    assert nics["pci:0001"].vf.name == "enP1s1" and nics["pci:0001"].state == "unknown"


def test_a_slot_names_domain_joins_the_vf_the_kernel_lines_name() -> None:
    """The decimal domain of enP30832s1 is PCI domain 7870: its user-space lines go to the VF of that domain."""
    text = "".join([
        _line(231.5, "mana 7870:00:00.0: Configured vPort 0 PD 18 DB 16"),
    ]) + "Mar 18 18:35:04 vm systemd-networkd[975]: enP30832s1: Gained carrier\n"
    assert list(_nics(text)) == ["pci:7870"]


@pytest.mark.parametrize(("name", "domain"), [
    ("enP1s1", "0001"), ("enP30832s1", "7870"), ("enP53091s1np0", "cf63"), ("enP2p0s2f1", "0002"),
    ("eth1", None), ("enP70000s1", None), ("enp1s0", None), ("enP1", None),
])
def test_slot_domain_reads_udevs_pci_slot_names(name: str, domain: str | None) -> None:
    """udev's slot names carry the PCI domain in decimal; other names carry none."""
    assert slot_domain(name) == domain


def test_a_vf_drivers_lines_on_the_host_pci_domain_are_no_vf() -> None:
    """mlx5 lines on PCI domain 0000 (a bare-metal host's own NIC; Hyper-V never numbers a vPCI bus 0000) make no
    VF entry, with or without a synthetic NIC in the log."""
    bare = "".join([
        _line(115.69, "pci 0000:41:00.1: [15b3:101e] type 00 class 0x020700"),
        _line(115.69, "mlx5_core 0000:41:00.1: firmware version: 28.39.1002"),
        _line(115.89, "mlx5_core 0000:41:00.1 ibp65s0v0: renamed from ib0"),
    ])
    assert _nics(bare) == {}
    assert vflog.analyze_text(bare).content == "no-an-lines"
    assert list(_nics(_line(1.0, f"hv_netvsc {A} eth0: VF slot 1 added") + bare)) == [A]


def test_a_vmbus_probe_failure_of_a_device_no_nic_or_bus_names_is_not_the_nics() -> None:
    """`hv_vmbus: probe failed for device G` when only that line names G (a frame buffer, say) stays with the VM:
    the one NIC of the log is not blamed. A GUID that is the NIC's own still goes to the NIC."""
    fb = "5620e0c7-8062-4dce-aeb7-520c7ef76171"
    text = "".join([
        _line(590.0, f"hv_netvsc {A} (unnamed net_device) (uninitialized): VF slot 1 added"),
        _line(605.2, f"hv_vmbus: probe failed for device {fb} (-110)"),
        _line(605.3, "hv_vmbus: registering driver hv_pci"),
    ])
    report = vflog.analyze_text(text)
    assert [(f.code, f.nic) for f in report.findings if f.code == "hv-pci-error"] == [("hv-pci-error", None)]
    own = _line(1.0, f"hv_vmbus: probe failed for device {A} (-19)") + _line(1.1, f"hv_netvsc {A} eth0: VF slot 1 added")
    assert {f.nic for f in vflog.analyze_text(own).findings if f.severity.value == "error"} == {A}


def test_a_vf_drivers_line_on_its_pci_device_names_the_vf_without_proving_a_state() -> None:
    """`mana 7870:00:00.0: Shutdown was called` alone: the entry's VF has that PCI address and driver, state unknown."""
    nic = _nics(_line(191.3, "mana 7870:00:00.0: Shutdown was called"))["pci:7870"]
    assert nic.vf is not None and (nic.vf.pci, nic.vf.driver) == ("7870:00:00.0", "mana")
    assert nic.state == "unknown" and nic.datapath == "unknown"


def _routes(text: str) -> list[tuple[str | None, str]]:
    """Return (NIC key, message) of every event of *text*, in line order."""
    routed = sorted(vflog.events_text(text), key=lambda r: r.event.line)
    return [(r.nic, r.event.message) for r in routed]


def test_a_message_repeated_but_for_its_time_is_routed_once_while_the_ties_stay(monkeypatch) -> None:
    """A storm repeats one VF line: its route is decided when it first goes somewhere without tying anything,
    then every repeat goes there without being decided again."""
    from vflog.correlate import Correlator
    decided: list[str] = []
    dispatch = Correlator._dispatch

    def counting(self: Correlator, event: vflog.Event) -> None:
        decided.append(event.message)
        dispatch(self, event)

    monkeypatch.setattr(Correlator, "_dispatch", counting)
    link = "mlx5_core cf63:00:02.0 eth2: Link up"
    text = (_line(1.0, f"hv_netvsc {A} eth0: VF registering: eth2")
            + "".join(_line(2.0 + i, link) for i in range(50)))
    routes = _routes(text)
    assert [key for key, message in routes if message == link] == [A] * 50
    assert decided.count(link) == 2  # the first ties domain cf63 to the NIC: the second is decided again


def test_a_remembered_route_follows_a_tie_that_changed() -> None:
    """The VF name eth2 moves from NIC A to NIC B: the repeated line about eth2 goes to A, then to B."""
    link = "mlx5_core cf63:00:02.0 eth2: Link up"
    text = "".join([
        _line(1.0, f"hv_netvsc {A} eth0: VF registering: eth2"),
        _line(2.0, link), _line(3.0, link), _line(4.0, link),
        _line(5.0, f"hv_netvsc {A} eth0: VF unregistering: eth2"),
        _line(6.0, f"hv_netvsc {B} eth1: VF registering: eth2"),
        _line(7.0, link), _line(8.0, link),
    ])
    assert [key for key, message in _routes(text) if message == link] == [A, A, A, B, B]
