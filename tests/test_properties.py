"""Properties over generated lifecycles: valid logs are clean, each injected fault gives its code."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

import vflog
from vflog.catalogue import Severity

from .strategies import FAULTS, GeneratedLog, faulty_logs, valid_logs

_SETTINGS = settings()


def _above_info(report: vflog.Report) -> set[str]:
    return {f.code for f in report.findings if f.severity.rank > Severity.INFO.rank}


def _final(report: vflog.Report) -> dict[str, str]:
    return {nic.key: nic.datapath for nic in report.boots[-1].nics}


def _counted_lines(text: str) -> int:
    """Return the number of lines `grep -c ''` counts: LF-terminated lines plus an unterminated last one."""
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def _check_accounting(report: vflog.Report, lines: list[str] | None) -> None:
    """Assert the line identities: no line counted twice, findings and quotes point inside the input and quote it."""
    stats = report.stats
    assert stats.events + stats.unrecognised <= stats.lines, stats
    assert len(report.unrecognised) <= stats.unrecognised
    for finding in report.findings:
        assert finding.line is None or 1 <= finding.line <= stats.lines, finding
        assert all(1 <= number <= stats.lines for number in finding.evidence), finding
        for quote in finding.evidence_text:
            assert 1 <= quote.line <= stats.lines, (finding, quote)
            if lines is not None:
                assert quote.text in lines[quote.line - 1], (quote, lines[quote.line - 1])


@_SETTINGS
@given(valid_logs())
def test_valid_lifecycles_have_no_finding_above_info(log: GeneratedLog) -> None:
    """Any number of NICs, servicing cycles, interleavings and start-up flaps: nothing above info."""
    report = vflog.analyze_text(log.text)
    assert _above_info(report) == set(), [f for f in report.findings if f.severity is not Severity.INFO]
    assert len(report.boots) == 1
    assert report.stats.unrecognised == 0
    assert report.stats.lines == _counted_lines(log.text)
    _check_accounting(report, log.text.split("\n"))


@_SETTINGS
@given(valid_logs())
def test_valid_lifecycles_end_where_the_log_says(log: GeneratedLog) -> None:
    """Final data path, VF driver and the number of servicing cycles match the generator."""
    report = vflog.analyze_text(log.text)
    assert _final(report) == log.final_datapath
    nics = {nic.key: nic for nic in report.boots[-1].nics}
    assert {key: nics[key].vf.driver for key in log.vf_drivers} == log.vf_drivers
    for key, cycles in log.servicing_cycles.items():
        closed = [o for o in nics[key].outages if o.vf_removed and o.end_line is not None]
        assert len(closed) == cycles


@settings()
@given(faulty_logs())
def test_each_injected_fault_gives_its_code(case: tuple[GeneratedLog, str]) -> None:
    """A dropped line, swapped order, duplicated switch, missing re-add or driver swap gives exactly its code."""
    log, fault = case
    report = vflog.analyze_text(log.text)
    codes = {f.code for f in report.findings}
    assert FAULTS[fault] in codes, (fault, report.findings)
    assert _above_info(report) <= {FAULTS[fault]}, (fault, report.findings)
    assert _final(report) == log.final_datapath
    _check_accounting(report, log.text.split("\n"))


@settings()
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises(text: str) -> None:
    """Whatever text comes in, analysis returns a report."""
    report = vflog.analyze_text(text + "\n")
    assert report.stats.lines == _counted_lines(text + "\n")
    _check_accounting(report, None)


@settings()
@given(st.lists(st.sampled_from([
    "[ 1.0] hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added",
    "[ 2.0] hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: Data path switched to VF: eth1",
    "[ 3.0] hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF unregistering: eth1",
    "[ 0.5] pci cf63:00:02.0: [15b3:1016] type 00 class 0x020000",
    "[ 9.0] mlx5_core cf63:00:02.0 eth1: joined to eth0",
    "[ 4.0] hv_pci e9ac9b28-cf63-4466-9ae3-4b849c3ee03b: PCI host bridge to bus cf63:00",
    "[ 5.0] mana 7870:00:00.0 vf_eth0: Configured vPort 0 PD 18 DB 16",
    "Linux version 6.8.0",
    "[ 6.0] Call Trace:",
    "garbage \x1b[31m line",
]), max_size=40))
def test_shuffled_driver_lines_never_raise(lines: list[str]) -> None:
    """Lifecycle lines in any order give a report whose every line is counted once and whose quotes are the input's lines."""
    text = "\n".join(lines) + "\n"
    report = vflog.analyze_text(text)
    assert report.stats.lines == _counted_lines(text) == max(len(lines), 1)
    _check_accounting(report, lines or [""])


@settings()
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Any bytes (compressed-looking or not) give a report or an InputError, never another exception."""
    try:
        report = vflog.analyze(data)
    except vflog.InputError:
        return
    _check_accounting(report, None)


@settings()
@given(st.binary(max_size=3000), st.sampled_from([["report"], ["report", "--format", "json"], ["events"]]))
def test_cli_never_tracebacks(data: bytes, argv: list[str]) -> None:
    """The command line turns any input into output and an exit status, never a traceback."""
    import io as _io
    import sys as _sys

    from vflog.cli import main
    old = _sys.stdin
    _sys.stdin = _io.TextIOWrapper(_io.BytesIO(data))
    try:
        out, err = _io.StringIO(), _io.StringIO()
        status = main(argv + ["-"], {}, out, err)
    finally:
        _sys.stdin = old
    assert status in (0, 1, 2) and "internal error" not in err.getvalue()


@settings()
@given(valid_logs(max_nics=2, max_cycles=1), st.integers(min_value=0, max_value=10**9))
def test_follow_in_two_chunks_equals_the_whole(log: GeneratedLog, cut: int) -> None:
    """Feeding a live stream in two chunks cut anywhere (even mid-line) gives the whole log's result."""
    from vflog.follow import Follower
    whole = vflog.analyze_text(log.text)
    position = cut % (len(log.text) + 1)
    follower = Follower()
    follower.feed_text(log.text[:position])
    follower.feed_text(log.text[position:])
    split = follower.finish()
    assert [(n.key, n.state, n.datapath, n.switches_to_vf) for b in split.boots for n in b.nics] == \
        [(n.key, n.state, n.datapath, n.switches_to_vf) for b in whole.boots for n in b.nics]
    assert sorted((f.code, f.nic, f.line) for f in split.findings) == sorted((f.code, f.nic, f.line) for f in whole.findings)
