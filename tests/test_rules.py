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


def _nic(text: str, tmp_path) -> vflog.NicReport:  # type: ignore[no-untyped-def]
    log = tmp_path / "excerpt.log"
    log.write_text(text, encoding="utf-8")
    return vflog.analyze(log).boots[-1].nics[0]


def test_a_grepped_log_claims_no_data_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Only 'VF registering' lines (a grep): the data path is unknown, not synthetic."""
    assert _nic(_line(2.0, f"hv_netvsc {A} eth0: VF registering: eth1"), tmp_path).datapath == "unknown"


def test_an_excerpt_that_just_stops_claims_no_data_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The log stops 5 s after the VF registered (incomplete): the data path is unknown."""
    assert _nic(REGISTERED + _line(7.0, "EXT4-fs (sda1): re-mounted"), tmp_path).datapath == "unknown"


def test_a_log_that_goes_on_past_the_wait_proves_the_synthetic_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Other lines 40 s after the VF registered, no switch: datapath-not-switched and the synthetic path."""
    assert _nic(REGISTERED + _line(40.0, "EXT4-fs (sda1): re-mounted"), tmp_path).datapath == "synthetic"


def test_a_removal_or_a_switch_away_proves_the_synthetic_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A VF removal proves the synthetic path; so does a switch away until a switch back, even while the VF returns."""
    removed = _line(5.0, f"hv_netvsc {A} eth0: VF unregistering: eth1")
    assert _nic(REGISTERED + removed, tmp_path).datapath == "synthetic"
    away = (_line(3.0, f"hv_netvsc {A} eth0: Data path switched to VF: eth1")
            + _line(9.0, f"hv_netvsc {A} eth0: Data path switched from VF: eth1") + removed.replace("5.000000", "9.100000")
            + _line(10.0, f"hv_netvsc {A} eth0: VF registering: eth1"))
    nic = _nic(REGISTERED + away, tmp_path)
    assert (nic.state, nic.datapath) == ("vf-registered", "synthetic")


def test_a_switch_to_the_vf_proves_the_vf_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A 'Data path switched to VF' line is the evidence for the VF path, even in a grepped log."""
    text = _line(3.0, f"hv_netvsc {A} eth0: Data path switched to VF: eth1")
    assert _nic(text, tmp_path).datapath == "vf"


def test_unexpected_event_quotes_its_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The refused input's own line is the finding's quoted evidence."""
    switch = f"hv_netvsc {A} eth0: Data path switched to VF: eth1"
    log = tmp_path / "twice.log"
    log.write_text(REGISTERED + _line(3.0, switch) + _line(4.0, "EXT4-fs (sda1): re-mounted") + _line(5.0, switch),
                   encoding="utf-8")
    finding = next(f for f in vflog.analyze(log).findings if f.code == "unexpected-event")
    assert [(q.line, q.text) for q in finding.evidence_text] == [(6, switch)]


def test_netvsc_faults_on_the_vf_netdev_are_netvsc_errors_even_outside_the_catalogue() -> None:
    """netvsc prints its pairing faults on the VF's netdev (the registry's own_kinds): an older wording the
    catalogue lacks (``no netdev found for vf serial 1``) is still netvsc's error, not the VF driver's."""
    text = REGISTERED + _line(2.2, "mlx5_core cf63:00:02.0 eth1: no netdev found for vf serial 1")
    codes = _codes(text)
    assert ("netvsc-error", "error") in codes and not any(code == "vf-driver-error" for code, _ in codes)


def test_the_per_event_rules_skip_only_messages_none_of_them_can_judge() -> None:
    """Which per-event rules a message can trigger is decided once per text (rules.judging): a message is inert
    (Rules.observe skips its per-event rules) only when no rule can fire on it: every kind a rule looks at,
    every fault level and every temporary name is judged."""
    from vflog import rules
    from vflog.events import Event
    judged_kinds = (rules._IDENTITY_KINDS | rules._NIC_KINDS | rules._VERBOSE_KINDS | rules._REFUSED_OFFERS
                    | frozenset(rules._KIND_CODES))
    assert judged_kinds and not any(rules.judging(Event(kind)).inert for kind in judged_kinds)
    assert rules.judging(Event("vf_info", driver="mlx5_core", ifname="rename7")).temp_name
    assert rules.judging(Event("hv_info", driver="hv_netvsc", fields={"vf": "rename7"})).temp_name
    assert rules.judging(Event("err_something", driver="mlx5_core")).finding
    assert rules.judging(Event("lro_disabled", driver="mlx5_core", ifname="enP1s1np0")).inert
