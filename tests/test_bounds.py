"""Bounded memory and linear time whatever the shape of the input: many renames, NICs, boots, flaps.

Every input is built inside the test.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Iterator

import pytest

import vflog
from vflog.analyze import Analyzer
from vflog.config import Config

GUID = "000d3af5-76bd-000d-3af5-76bd000d3af5"


def _line(t: float, message: str) -> str:
    return f"[{t:12.6f}] {message}\n"


def _renames(count: int) -> str:
    """Return a log of one VF that is renamed *count* times (vf0, vf1, ...) after it joined."""
    lines = [_line(1.0, f"hv_netvsc {GUID} eth0: VF slot 1 added"),
             _line(1.1, "pci cf63:00:02.0: [15b3:1016] type 00 class 0x020000"),
             _line(1.2, "mlx5_core cf63:00:02.0: firmware version: 14.25.8362"),
             _line(1.3, f"hv_netvsc {GUID} eth0: VF registering: eth1"),
             _line(1.31, "mlx5_core cf63:00:02.0 eth1: joined to eth0")]
    previous = "eth1"
    for i in range(count):
        lines.append(_line(2.0 + i * 0.001, f"mlx5_core cf63:00:02.0 vf{i}: renamed from {previous}"))
        previous = f"vf{i}"
    lines.append(_line(3.0 + count * 0.001, f"hv_netvsc {GUID} eth0: Data path switched to VF: {previous}"))
    return "".join(lines)


def wide_boots(boots: int, nics: int) -> Iterator[str]:
    """Yield a log of *boots* boots, each with *nics* NICs that get their VF and switch to it."""
    for b in range(boots):
        yield f"[    0.000000] Linux version 5.15.0-1057-azure (buildd@lcy02) #{b}\n"
        for n in range(nics):
            guid = f"{b:08x}-{n:04x}-4000-8000-{n:012x}"
            t = 1.0 + n * 0.01
            yield _line(t, f"hv_netvsc {guid} eth{n}: VF slot {n + 1} added")
            yield _line(t + 0.001, f"hv_netvsc {guid} eth{n}: VF registering: vf{n}")
            yield _line(t + 0.002, f"hv_netvsc {guid} eth{n}: Data path switched to VF: vf{n}")


def _flaps(nics: int, flaps: int) -> str:
    """Return one boot in which each of *nics* NICs leaves the VF and comes back *flaps* times."""
    lines = []
    for n in range(nics):
        guid = f"00000000-{n:04x}-4000-8000-{n:012x}"
        lines += [_line(1.0 + n, f"hv_netvsc {guid} eth{n}: VF slot {n + 1} added"),
                  _line(1.1 + n, f"hv_netvsc {guid} eth{n}: VF registering: vf{n}"),
                  _line(1.2 + n, f"hv_netvsc {guid} eth{n}: Data path switched to VF: vf{n}")]
    for i in range(flaps):
        for n in range(nics):
            guid = f"00000000-{n:04x}-4000-8000-{n:012x}"
            t = 1000.0 + i * 1000 + n
            lines += [_line(t, f"hv_netvsc {guid} eth{n}: Data path switched from VF: vf{n}"),
                      _line(t + 0.5, f"hv_netvsc {guid} eth{n}: Data path switched to VF: vf{n}")]
    return "".join(lines)


def _failing_boots(boots: int, nics: int) -> Iterator[str]:
    """Yield *boots* boots whose *nics* NICs each log a channel error and lose their VF for good."""
    for b in range(boots):
        yield f"[    0.000000] Linux version 5.15.0-1057-azure (buildd@lcy02) #{b}\n"
        for n in range(nics):
            guid = f"{b:08x}-{n:04x}-4000-8000-{n:012x}"
            yield _line(1.0 + n, f"hv_netvsc {guid} eth{n}: VF slot {n + 1} added")
            yield _line(1.1 + n, f"hv_netvsc {guid} eth{n}: unable to open channel: -19")
            yield _line(1.2 + n, f"hv_netvsc {guid} eth{n}: VF slot {n + 1} removed")
        yield _line(9999.0, "EXT4-fs (sda1): mounted filesystem")


def _servicing(cycles: int) -> str:
    """Return one NIC going through *cycles* host-servicing cycles (VF removed, added back, switched to)."""
    lines = [_line(1.0, f"hv_netvsc {GUID} eth0: VF slot 1 added"),
             _line(1.1, f"hv_netvsc {GUID} eth0: VF registering: eth1"),
             _line(1.2, f"hv_netvsc {GUID} eth0: Data path switched to VF: eth1")]
    for i in range(cycles):
        t = 100.0 + i * 100
        lines += [_line(t, f"hv_netvsc {GUID} eth0: Data path switched from VF: eth1"),
                  _line(t + 1, f"hv_netvsc {GUID} eth0: VF unregistering: eth1"),
                  _line(t + 2, f"hv_netvsc {GUID} eth0: VF slot 1 removed"),
                  _line(t + 30, f"hv_netvsc {GUID} eth0: VF slot 1 added"),
                  _line(t + 31, f"hv_netvsc {GUID} eth0: VF registering: eth1"),
                  _line(t + 32, f"hv_netvsc {GUID} eth0: Data path switched to VF: eth1")]
    return "".join(lines)


def test_many_renames_keep_the_newest_names() -> None:
    """A VF renamed 20,000 times (linear time) keeps its current name and the newest 16 names, and says so."""
    report = vflog.analyze_text(_renames(20_000))
    nic = report.boots[0].nics[0]
    assert nic.vf.name == "vf19999" and nic.datapath == "vf"
    assert nic.vf.names == tuple(f"vf{i}" for i in range(19_984, 20_000))
    assert any("19985 older interface names" in note for note in report.boots[0].notes)


def test_renamed_back_name_becomes_current() -> None:
    """A name taken again by a rename is the current (last) name, not a duplicate."""
    text = (_renames(2) + _line(9.0, "mlx5_core cf63:00:02.0 vf0: renamed from vf1")
            + _line(9.1, f"hv_netvsc {GUID} eth0: Data path switched to VF: vf0"))
    assert vflog.analyze_text(text).boots[0].nics[0].vf.names == ("eth1", "vf1", "vf0")


def test_synthetic_renames_keep_the_newest_names() -> None:
    """A synthetic NIC renamed 5,000 times keeps its current name and the newest 16 names."""
    text = _line(1.0, f"hv_netvsc {GUID} eth0: VF slot 1 added") + "".join(
        _line(2.0 + i, f"hv_netvsc {GUID} n{i + 1}: renamed from n{i}") for i in range(5_000))
    nic = vflog.analyze_text(text).boots[0].nics[0]
    assert nic.synthetic == "n5000" and nic.synthetic_names[-1] == "n5000" and len(nic.synthetic_names) == 16


def test_wide_boots_keep_bounded_detail() -> None:
    """Past detail_limit the older boots lose their NICs' history, then their NICs, with a note; the newest
    boot keeps everything and every boot keeps its findings."""
    config = Config(detail_limit=600)
    report = vflog.analyze_text("".join(wide_boots(12, 100)), config=config)
    assert len(report.boots) == 12 and all(len(n.timeline) == 3 for n in report.boots[-1].nics)
    assert len(report.boots[-1].nics) == 100
    assert sum(b.detail() for b in report.boots) <= config.detail_limit + report.boots[-1].detail()
    summarised = [b for b in report.boots if b.nics and not any(n.timeline for n in b.nics)]
    dropped = [b for b in report.boots if not b.nics]
    assert dropped and all("left out" in b.notes[-1] and "detail_limit" in b.notes[-1] for b in dropped)
    assert all(n.timeline_dropped == 3 for b in summarised for n in b.nics)
    unbounded = vflog.analyze_text("".join(wide_boots(12, 100)))
    assert [len(b.findings) for b in report.boots] == [len(b.findings) for b in unbounded.boots]


def test_findings_of_summarised_boots_keep_the_worst() -> None:
    """Boots past detail_limit keep the first finding of each code and severity (the worst severity, so the
    exit status, is unchanged) and a note counts the findings left out."""
    text = "".join(_failing_boots(12, 30))
    report = vflog.analyze_text(text, config=Config(detail_limit=150))
    full = vflog.analyze_text(text)
    assert report.worst() is full.worst() and report.boots[-1].findings == full.boots[-1].findings
    dropped = [b for b in report.boots if not b.nics]
    assert dropped
    for boot in dropped:
        kinds = [(f.code, f.severity) for f in boot.findings]
        assert len(kinds) == len(set(kinds)) and {f.code for f in boot.findings} == {"netvsc-error", "vf-not-readded"}
        assert any("more finding(s) of this boot are left out" in note for note in boot.notes)


def test_timelines_of_one_boot_share_a_budget() -> None:
    """The NICs of one boot add at most detail_limit timeline entries and outages together (past a small floor
    each); every NIC still shows its newest entry and outage and counts what it dropped."""
    report = vflog.analyze_text(_flaps(20, 30), config=Config(detail_limit=200))
    boot = report.boots[0]
    nics = boot.nics
    assert sum(len(n.timeline) + len(n.outages) for n in nics) <= 200 + 12 * len(nics)
    for nic in nics:
        assert nic.timeline[-1].event == "datapath_to_vf" and nic.switches_to_vf == 31
        assert len(nic.timeline) + nic.timeline_dropped == 3 + 2 * 30
        assert nic.outages_total == 30 and nic.outages[-1].end_line == nic.timeline[-1].line
    assert any("limit of 200 timeline entries and outages (detail_limit)" in note for note in boot.notes)


def test_bounds_of_one_nic_are_noted() -> None:
    """A NIC with more outages and VF generations than are kept in detail gets notes giving the totals."""
    boot = vflog.analyze_text(_servicing(120)).boots[0]
    nic = boot.nics[0]
    assert (nic.outages_total, len(nic.outages), nic.vf_generations) == (120, 100, 121)
    assert any(note.startswith("20 older outages") for note in boot.notes)
    assert any(note.startswith("105 older VF generations") for note in boot.notes)


def test_finished_boot_is_freed_without_the_cycle_collector() -> None:
    """A boot's NICs and rules are freed as soon as the next boot starts, not at the next full GC."""
    analyzer = Analyzer()
    text = "".join(wide_boots(2, 3)).splitlines()
    gc.disable()
    try:
        for number, line in enumerate(text[:4], 1):
            analyzer.feed(number, line)
        first = weakref.ref(analyzer._boot)
        for number, line in enumerate(text[4:], 5):
            analyzer.feed(number, line)
        assert first() is None
    finally:
        gc.enable()


#: Runs the JSON report and prints the process's own peak RSS in MB.  VmHWM, not ru_maxrss: Linux
#: carries ru_maxrss over exec, so a child of a big pytest process would report the parent's size.
PEAK_SCRIPT = """
import sys
from vflog.cli import main
with open(sys.argv[1], "w") as out:
    status = main(["report", "--format", "json", sys.argv[2]], {}, out, sys.stderr)
with open("/proc/self/status") as status_file:
    print(next(int(line.split()[1]) for line in status_file if line.startswith("VmHWM:")) // 1024)
"""


def _peak_mb(tmp_path: Path, boots: int, nics: int) -> int:
    """Return the peak RSS (MB) of `vflog report --format json` on wide_boots(boots, nics), in a fresh process."""
    if not Path("/proc/self/status").exists():
        pytest.skip("the peak RSS is read from /proc (Linux)")
    log = tmp_path / "wide.log"
    with log.open("w") as file:
        file.writelines(wide_boots(boots, nics))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(tmp_path / "out.json"), str(log)], env=env,
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("VFLOG_FUZZ"), reason="long run: set VFLOG_FUZZ=1")
def test_400_boots_of_500_nics_stay_under_60_mb(tmp_path: Path) -> None:
    """The JSON report of 400 boots x 500 NICs (56 MB of log) peaks under 60 MB of RSS."""
    assert _peak_mb(tmp_path, 400, 500) <= 60


def test_20_boots_of_500_nics_stay_under_60_mb(tmp_path: Path) -> None:
    """The JSON report of 20 boots x 500 NICs (2.8 MB of log, past detail_limit) peaks under 60 MB of RSS."""
    assert _peak_mb(tmp_path, 20, 500) <= 60


def test_many_vpci_buses_and_joins_are_linear() -> None:
    """Joins of a VF while 20,000 vPCI buses are known are routed in linear time (a tie looks up its buses)."""
    lines = [_line(1.0, f"hv_netvsc {GUID} eth0: VF slot 1 added")]
    lines += [_line(2.0, f"hv_pci {i:08x}-cf63-4466-9ae3-4b849c3ee03b: PCI host bridge to bus {i:04x}:00")
              for i in range(20_000)]
    lines += [_line(3.0, f"mlx5_core {j:04x}:00:02.0 eth1: joined to eth0") for j in range(4_000)]
    lines.append(_line(4.0, f"hv_netvsc {GUID} eth0: Data path switched to VF: eth1"))
    nics = vflog.analyze_text("".join(lines)).boots[0].nics
    assert [(n.key, n.vf.name, n.datapath) for n in nics] == [(GUID, "eth1", "vf")]


def test_long_unrecognised_lines_are_kept_short() -> None:
    """A long unrecognised driver line is listed with its start and a marker, never kept whole (memory bound)."""
    long = "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: nonsense " + "x" * 100_000
    report = vflog.analyze_text("".join(f"[{i}.0] {long}{i}\n" for i in range(1, 6)))
    assert report.stats.unrecognised == 5
    assert all(len(u.text) < 5000 and u.text.endswith("more characters]") for u in report.unrecognised)
