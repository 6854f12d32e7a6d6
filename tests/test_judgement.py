"""Judgement gaps closed (issue 14, item 6): removals while the VF is in use, traces after lines on a VF's
netdev, waits ended by a removal, and what a whole boot (or a verbose-only step) proves."""

from __future__ import annotations

import vflog
from vflog.catalogue import Severity

A = "000d3af5-76bd-000d-3af5-76bd000d3af5"
HV_PCI = "e9ac9b28-cf63-4466-9ae3-4b849c3ee03b"
BANNER = "Linux version 5.15.0-1057-azure (buildd@lcy02-amd64-033) (gcc 11.4.0) #65-Ubuntu SMP"
BSD_BANNER = "Copyright (c) 1992-2023 The FreeBSD Project."


def _line(t: float, message: str) -> str:
    return f"[{t:12.6f}] {message}\n"


def _other(t: float) -> str:
    """An unrelated kernel line at time *t* (the log demonstrably goes on)."""
    return _line(t, "EXT4-fs (sda1): re-mounted. Opts: discard,errors=remount-ro. Quota mode: none.")


def _findings(text: str) -> set[tuple[str, str]]:
    return {(f.code, f.severity.value) for f in vflog.analyze_text(text).findings}


def _nic(text: str) -> vflog.NicReport:
    (nic,) = vflog.analyze_text(text).boots[-1].nics
    return nic


OFFER = _line(3.9, f"hv_netvsc {A} eth0: VF slot 1 added")
DEVICE = (_line(6.9, f"hv_pci {HV_PCI}: PCI VMBus probing: Using version 0x10002")
          + _line(6.95, f"hv_pci {HV_PCI}: PCI host bridge to bus cf63:00")
          + _line(6.96, "pci cf63:00:02.0: [15b3:1016] type 00 class 0x020000")
          + _line(7.1, "mlx5_core cf63:00:02.0: firmware version: 14.25.8362"))
REGISTERED = (OFFER + DEVICE + _line(7.4, f"hv_netvsc {A} eth0: VF registering: eth1")
              + _line(7.5, "mlx5_core cf63:00:02.0 eth1: joined to eth0"))
ON_VF = REGISTERED + _line(8.0, f"hv_netvsc {A} eth0: Data path switched to VF: eth1")


# -- hv_pci's "The device is gone." -------------------------------------------------------------------

def test_device_gone_while_the_vf_is_in_use_is_an_error() -> None:
    """kernel-messages.md (5.2) calls ``The device is gone.`` an error; the kernel prints it at warning level
    (dev_warn_once): while the VF is registered (in use) the NIC's hv-pci-error is an error, and says so."""
    text = ON_VF + _line(20.0, f"hv_pci {HV_PCI}: The device is gone.") + _other(21.0)
    report = vflog.analyze_text(text)
    (error,) = [f for f in report.findings if f.code == "hv-pci-error"]
    assert error.severity is Severity.ERROR and error.nic == A and "while the VF was in use" in error.message
    assert ("surprise-removal", "error") in _findings(text)


def test_device_gone_before_the_vf_registered_stays_a_warning() -> None:
    """The same line while the VF was only being set up (no driver yet) keeps the kernel's warning level."""
    text = OFFER + DEVICE[:-len(_line(7.1, "mlx5_core cf63:00:02.0: firmware version: 14.25.8362"))] \
        + _line(8.0, f"hv_pci {HV_PCI}: The device is gone.") + _other(9.0)
    findings = _findings(text)
    assert ("hv-pci-error", "warning") in findings and ("hv-pci-error", "error") not in findings
    assert ("surprise-removal", "error") not in findings


# -- a trace after a line printed on the VF's netdev ----------------------------------------------

TRACE = (_line(2.5, "WARNING: CPU: 0 PID: 1 at kernel/workqueue.c:3040 __flush_work+0x1/0x2")
         + _line(2.5, "Call Trace:") + _line(2.5, " process_one_work+0x1d3/0x3a0")
         + _line(2.5, "---[ end trace 0000000000000000 ]---"))


def test_a_trace_after_a_line_on_the_vf_netdev_is_reported() -> None:
    """A trace seconds after a line that netvsc printed on the VF's own netdev (the VF known from nothing
    else: no netvsc line ties it to a NIC yet) is a kernel-trace that quotes that line."""
    vf_line = "mlx5_core cf63:00:02.0 enP53091s1np0: joined to eth0"
    report = vflog.analyze_text(_line(2.1, vf_line) + TRACE + _other(3.0))
    (trace,) = [f for f in report.findings if f.code == "kernel-trace"]
    assert "follows a VF lifecycle event" in trace.message and trace.evidence == (1, 2, 3, 4, 5)
    assert any(q.text == vf_line for q in trace.evidence_text)


def test_a_trace_after_a_catalogued_line_on_the_vf_netdev_is_reported() -> None:
    """Any line on a VF's netdev counts, not only lifecycle inputs (here netvsc's ``unable to change mtu``)."""
    text = _line(2.1, "mlx5_core cf63:00:02.0 enP53091s1np0: unable to change mtu to 9000") + TRACE + _other(3.0)
    assert ("kernel-trace", "error") in _findings(text)


def test_a_trace_long_after_a_vf_netdev_line_is_not_reported() -> None:
    """Outside trace_window the same trace, naming none of our drivers, is someone else's."""
    text = _line(2.1, "mlx5_core cf63:00:02.0 enP53091s1np0: joined to eth0") + TRACE.replace("[    2.5", "[  200.5") \
        + _other(201.0)
    assert ("kernel-trace", "error") not in _findings(text)


# -- a wait ended by a removal ------------------------------------------------------------------------

def test_a_slot_removed_hours_later_without_a_device_is_slot_without_device() -> None:
    """A slot offered and removed hours later, with other lines between and no PCI device, is
    slot-without-device (the removal does not erase what never came)."""
    text = OFFER + _other(100.0) + _line(7200.0, f"hv_netvsc {A} eth0: VF slot 1 removed") + _other(7201.0)
    report = vflog.analyze_text(text)
    (finding,) = [f for f in report.findings if f.code == "slot-without-device"]
    assert finding.line == 1 and finding.evidence == (1, 3) and "until the VF was taken away" in finding.message


def test_a_slot_removed_soon_without_a_device_is_not_slot_without_device() -> None:
    """Removed within slot_to_device seconds of the offer: nothing was late."""
    text = OFFER + _other(5.0) + _line(10.0, f"hv_netvsc {A} eth0: VF slot 1 removed") + _other(11.0)
    assert "slot-without-device" not in {code for code, _ in _findings(text)}


def test_a_grepped_log_does_not_prove_the_device_missing_before_a_removal() -> None:
    """With no other line between offer and removal (a log grepped for ``VF``) the absence proves nothing."""
    text = OFFER + _line(7200.0, f"hv_netvsc {A} eth0: VF slot 1 removed") + _other(7201.0)
    assert "slot-without-device" not in {code for code, _ in _findings(text)}


def test_a_slot_offered_during_the_old_vfs_teardown_then_no_device_is_slot_without_device() -> None:
    """The host offers the slot again while the old VF is still torn down (its vPCI bus released after the
    offer): the offer still awaits its device, and none ever comes."""
    text = (ON_VF + _line(100.0, f"hv_netvsc {A} eth0: Data path switched from VF: eth1")
            + _line(100.1, f"hv_netvsc {A} eth0: VF unregistering: eth1")
            + _line(101.0, f"hv_netvsc {A} eth0: VF slot 1 added")
            + _line(101.5, "pci_bus cf63:00: busn_res: [bus 00] is released")
            + _other(200.0) + _other(400.0))
    report = vflog.analyze_text(text)
    nic = report.boots[0].nics[0]
    assert nic.state == "slot-offered"
    assert {f.code for f in report.findings if f.severity is not Severity.INFO} == {"slot-without-device"}


def test_the_old_vfs_device_gone_after_a_new_offer_is_no_surprise() -> None:
    """hv_pci's ``the device has gone`` for the old VF after the new offer is its teardown ending: the offer
    still awaits its device, nothing is out of order."""
    text = (ON_VF + _line(100.0, f"hv_netvsc {A} eth0: Data path switched from VF: eth1")
            + _line(100.1, f"hv_netvsc {A} eth0: VF unregistering: eth1")
            + _line(101.0, f"hv_netvsc {A} eth0: VF slot 1 added")
            + _line(101.2, f"hv_pci {HV_PCI}: the device has gone")
            + _other(200.0) + _other(400.0))
    report = vflog.analyze_text(text)
    assert report.boots[0].nics[0].state == "slot-offered"
    assert "unexpected-event" not in {f.code for f in report.findings}
    assert "slot-without-device" in {f.code for f in report.findings}


def test_a_registered_vf_removed_long_after_without_a_switch_is_datapath_not_switched() -> None:
    """The rule is the states' waits, not one case: a VF registered for minutes and then removed without the
    data path ever switching is datapath-not-switched."""
    text = REGISTERED + _other(60.0) + _line(300.0, f"hv_netvsc {A} eth0: VF slot 1 removed") + _other(301.0)
    assert ("datapath-not-switched", "error") in _findings(text)


def test_a_wait_that_fired_while_following_stays_when_the_vf_is_removed() -> None:
    """In follow mode the slot-without-device fired at the threshold is not withdrawn by the removal that
    ends the wait (the device never came)."""
    from vflog.analyze import Analyzer
    from vflog.report import Withdrawn
    seen: list[object] = []
    analyzer = Analyzer(listener=seen.append)
    text = OFFER + _other(100.0) + _line(7200.0, f"hv_netvsc {A} eth0: VF slot 1 removed") + _other(7201.0)
    for number, line in enumerate(text.splitlines(), 1):
        analyzer.feed(number, line)
    report = analyzer.finish()
    assert not [s for s in seen if isinstance(s, Withdrawn)]
    assert [f.code for f in report.findings].count("slot-without-device") == 1


# -- what a whole boot proves -----------------------------------------------------------------------

NO_VF = _line(0.0, BANNER) + _line(2.3, "hv_vmbus: registering driver hv_netvsc") \
    + _line(3.5, f"hv_netvsc {A} eth0: renamed from eth1") + _other(30.0) + _other(95.0)


def test_a_whole_linux_boot_without_a_vf_runs_on_the_synthetic_path() -> None:
    """From the ``Linux version`` banner on, a NIC with no VF line at all while the log goes on past
    synthetic_max: the absence is real, the data path is synthetic, and an info finding says why."""
    nic = _nic(NO_VF)
    assert (nic.state, nic.datapath) == ("unknown", "synthetic")
    assert _findings(NO_VF) == {("no-accelerated-networking", "info")}


def test_an_excerpt_without_the_banner_proves_no_absence_of_a_vf() -> None:
    """The same lines without the banner (an excerpt, a tail) prove nothing: the data path stays unknown."""
    text = NO_VF.split("\n", 1)[1]
    assert _nic(text).datapath == "unknown" and _findings(text) == set()


def test_a_short_whole_boot_without_a_vf_is_incomplete() -> None:
    """A whole boot that ends before synthetic_max after the NIC appeared cannot tell yet."""
    text = _line(0.0, BANNER) + _line(3.5, f"hv_netvsc {A} eth0: renamed from eth1") + _other(10.0)
    assert _nic(text).datapath == "unknown" and _findings(text) == {("incomplete", "info")}


def test_an_untied_vf_keeps_a_nic_without_vf_lines_unknown() -> None:
    """A VF that the log could not tie to any of two NICs may be either's: neither shows the absence."""
    other = "000d3a54-c1a2-000d-3a54-c1a2000d3a54"
    text = (NO_VF + _line(95.5, f"hv_netvsc {other} eth1: renamed from eth0")
            + _line(96.0, "mlx5_core cf63:00:02.0: firmware version: 14.25.8362") + _other(200.0))
    report = vflog.analyze_text(text)
    assert any(n.vmbus_id is None for n in report.boots[0].nics)  # the VF got a NIC of its own
    assert {n.key: n.datapath for n in report.boots[0].nics if n.vmbus_id} == {A: "unknown", other: "unknown"}


BSD = (f"Sep  3 05:08:01 fbsd-vm kernel: {BSD_BANNER}\n"
       "Sep  3 05:08:01 fbsd-vm kernel: FreeBSD 13.2-RELEASE releng/13.2-n254617-525ecfdad597 GENERIC amd64\n"
       "Sep  3 05:08:01 fbsd-vm kernel: hn0: <Hyper-V Network Interface> on vmbus0\n"
       "Sep  3 05:08:01 fbsd-vm kernel: hn0: Ethernet address: 00:0d:3a:f5:76:bd\n"
       "Sep  3 05:08:01 fbsd-vm kernel: hn0: link state changed to UP\n")
BSD_LATER = ("Sep  3 05:08:09 fbsd-vm sshd[701]: Server listening on 0.0.0.0 port 22.\n"
             "Sep  3 05:12:12 fbsd-vm sshd[901]: Accepted publickey for azureuser from 10.1.19.10 port 50122 ssh2\n")


def test_the_freebsd_banner_starts_a_boot() -> None:
    """FreeBSD's copyright banner is a boot banner like ``Linux version``: a second one starts a new boot."""
    report = vflog.analyze_text(BSD + BSD_LATER + BSD + BSD_LATER)
    assert len(report.boots) == 2


def test_a_whole_freebsd_boot_without_a_vf_runs_on_the_synthetic_path() -> None:
    """From FreeBSD's copyright banner on, hn0 without any VF line while the log goes on is synthetic."""
    nic = _nic(BSD + BSD_LATER)
    assert (nic.synthetic, nic.datapath) == ("hn0", "synthetic")
    assert _findings(BSD + BSD_LATER) == {("no-accelerated-networking", "info")}


def test_freebsd_vf_link_lines_without_a_datapath_line_prove_nothing() -> None:
    """hn(4) prints ``datapath is switched`` only when booted verbose: a VF attached and up with no data-path
    line, however long the log goes on, is neither ``vf`` nor ``synthetic``, and raises no
    datapath-not-switched (only an incomplete that says why)."""
    text = (BSD + "Sep  3 05:08:02 fbsd-vm kernel: mce0: link state changed to DOWN\n"
            "Sep  3 05:08:02 fbsd-vm kernel: hn0: mce0 was attached as VF\n"
            "Sep  3 05:08:04 fbsd-vm kernel: mce0: link state changed to UP\n" + BSD_LATER)
    report = vflog.analyze_text(text)
    (nic,) = report.boots[0].nics
    assert (nic.state, nic.datapath) == ("link-up", "unknown")
    (finding,) = report.findings
    assert finding.code == "incomplete" and "booted verbose" in finding.message


def test_a_verbose_freebsd_boot_shows_the_missing_switch_back() -> None:
    """Once hn printed a verbose-only line (a switch from the VF), the boot is verbose: a switch back that
    never comes is judged like on Linux."""
    text = (BSD + "Sep  3 05:08:02 fbsd-vm kernel: hn0: mce0 was attached as VF\n"
            "Sep  3 05:08:04 fbsd-vm kernel: mce0: link state changed to UP\n"
            "Sep  3 05:08:04 fbsd-vm kernel: hn0: datapath is switched to mce0\n"
            "Sep  3 05:08:06 fbsd-vm kernel: hn0: datapath is switched from mce0\n" + BSD_LATER)
    assert _nic(text).datapath == "synthetic" and ("ends-on-synthetic", "warning") in _findings(text)


def test_a_probe_that_fails_after_minutes_is_only_the_probe_failure() -> None:
    """A driver that bound the device and failed its probe two minutes later (firmware timeout) did take the
    device: no device-without-driver or vf-not-registered on top of driver-probe-failed."""
    text = (OFFER + DEVICE + _other(30.0)
            + _line(130.0, "mlx5_core cf63:00:02.0: mlx5_function_setup:1130:(pid 17): Firmware over 120000 MS in "
                           "pre-initializing state, aborting") + _other(131.0))
    codes = {code for code, _ in _findings(text)}
    assert "driver-probe-failed" in codes and not codes & {"device-without-driver", "vf-not-registered"}


def test_a_no_vf_finding_fired_while_following_is_withdrawn_when_a_vf_shows_up() -> None:
    """While following, no-accelerated-networking fires once the whole boot went on without a VF, and is
    withdrawn when a VF line comes after all."""
    from vflog.analyze import Analyzer
    from vflog.report import Withdrawn
    seen: list[object] = []
    analyzer = Analyzer(listener=seen.append)
    text = NO_VF + _line(96.0, f"hv_netvsc {A} eth0: VF slot 1 removed") + _other(97.0)
    for number, line in enumerate(text.splitlines(), 1):
        analyzer.feed(number, line)
    report = analyzer.finish()
    withdrawn = [s.finding.code for s in seen if isinstance(s, Withdrawn)]
    assert withdrawn == ["no-accelerated-networking"]
    assert "no-accelerated-networking" not in {f.code for f in report.findings}
