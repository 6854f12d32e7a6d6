"""Tests of vflog.rules: when absence is evidence, bursts, traces and thresholds."""

from __future__ import annotations

import vflog

A = "000d3af5-76bd-000d-3af5-76bd000d3af5"


def _line(t: float, message: str) -> str:
    return f"[{t:12.6f}] {message}\n"


REGISTERED = (_line(1.0, f"hv_netvsc {A} eth0: VF slot 1 added")
              + _line(2.0, f"hv_netvsc {A} eth0: VF registering: eth1")
              + _line(2.1, "mlx5_core cf63:00:02.0 eth1: joined to eth0"))


def _codes(text: str, **config: float) -> set[tuple[str, str]]:
    report = vflog.analyze_text(text, config=vflog.Config(**config))
    return {(f.code, f.severity.value) for f in report.findings}


def test_a_wait_past_the_threshold_with_other_lines_after_is_an_error() -> None:
    """The log goes on (other lines) past 30 s without a switch: datapath-not-switched."""
    assert _codes(REGISTERED + _line(40.0, "EXT4-fs (sda1): re-mounted")) == {("datapath-not-switched", "error")}


def test_a_short_wait_is_incomplete() -> None:
    """The log ends 5 s after the VF registered: incomplete (info), not an error."""
    assert _codes(REGISTERED + _line(7.0, "EXT4-fs (sda1): re-mounted")) == {("incomplete", "info")}


def test_a_filtered_log_proves_no_absence() -> None:
    """Only driver lines (grep): even a long gap is not evidence of a missing line."""
    text = REGISTERED + _line(900.0, f"hv_netvsc {A} eth0: VF slot 1 removed")
    assert ("datapath-not-switched", "error") not in _codes(text)


def test_thresholds_are_configurable() -> None:
    """With register_to_datapath=60 the 38 s wait is only incomplete."""
    text = REGISTERED + _line(40.0, "EXT4-fs (sda1): re-mounted")
    assert _codes(text, register_to_datapath=60) == {("incomplete", "info")}


def test_driver_error_lines_of_one_burst_are_one_finding() -> None:
    """Repeated command timeouts within a minute are one finding with all lines as evidence."""
    lines = "".join(_line(10.0 + i, "mlx5_core cf63:00:02.0: cmd[0]: QUERY_VPORT_STATE(0x750) No done completion")
                    for i in range(5))
    lines += _line(500.0, "mlx5_core cf63:00:02.0: cmd[0]: QUERY_VPORT_STATE(0x750) No done completion")
    findings = [f for f in vflog.analyze_text(lines).findings if f.code == "vf-driver-error"]
    assert [len(f.evidence) for f in findings] == [5, 1]


def test_a_trace_soon_after_a_lifecycle_event_is_reported_even_without_driver_names() -> None:
    """A call trace within trace_window seconds of a VF event is kernel-trace, whatever its frames."""
    text = (REGISTERED + _line(2.5, "WARNING: CPU: 0 PID: 1 at kernel/workqueue.c:3040 __flush_work+0x1/0x2")
            + _line(2.5, "Call Trace:") + _line(2.5, " process_one_work+0x1d3/0x3a0") + _line(3.0, "later"))
    assert ("kernel-trace", "error") in _codes(text)
    late = (REGISTERED + _line(200.0, "WARNING: CPU: 0 PID: 1 at kernel/workqueue.c:3040 __flush_work+0x1/0x2")
            + _line(200.0, "Call Trace:") + _line(200.0, " process_one_work+0x1d3/0x3a0"))
    assert ("kernel-trace", "error") not in _codes(late)


def test_start_up_flaps_are_normal_but_many_flaps_are_not() -> None:
    """Two or three switches at start-up are fine; more than flap_allowed within the window is flapping."""
    on = REGISTERED + _line(2.2, "mlx5_core cf63:00:02.0 eth1: Link up") + _line(2.3, f"hv_netvsc {A} eth0: Data path switched to VF: eth1")

    def flaps(n: int) -> str:
        return "".join(_line(3.0 + i, f"hv_netvsc {A} eth0: Data path switched from VF: eth1")
                       + _line(3.5 + i, f"hv_netvsc {A} eth0: Data path switched to VF: eth1") for i in range(n))

    assert _codes(on + flaps(3) + _line(100.0, "x")) == set()
    assert ("datapath-flapping", "warning") in _codes(on + flaps(5) + _line(100.0, "x"))
