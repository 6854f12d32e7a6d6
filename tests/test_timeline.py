"""Tests of vflog timeline: lanes of data paths over time, marks, axis with compressed quiet stretches."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import vflog
from vflog.cli import main
from vflog.render import Display
from vflog.render_timeline import axis_of, breaks, render_timeline
from vflog.report import path_spans

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
ALL_SAMPLES = sorted(SAMPLES.glob("*.log"))


def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run vflog; return status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), env or {}, out, err)
    return status, out.getvalue(), err.getvalue()


def lane(text: str, name: str) -> str:
    """Return the lane cells of NIC *name* in a timeline."""
    return next(line for line in text.splitlines() if line.startswith(name + "  "))[len(name) + 2:]


def test_path_spans_follow_the_nic_through_a_servicing_event() -> None:
    """The NIC's data path over time: unknown, on the VF, briefly synthetic, no VF while removed, back on the VF."""
    report = vflog.analyze(SAMPLES / "host-servicing.log")
    paths = [span.path for span in path_spans(report.boots[0].nics[0], report.boots[0])]
    assert paths[0] == "unknown" and paths[-1] == "vf"
    assert paths.index("no-vf") > paths.index("vf") and "synthetic" in paths
    spans = path_spans(report.boots[0].nics[0], report.boots[0])
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("ascii_flag", [[], ["--ascii"]], ids=["unicode", "ascii"])
def test_timeline_fits_80_columns(sample: Path, ascii_flag: list[str]) -> None:
    """Every line of every sample's timeline fits 80 columns (the width in a pipe); --ascii prints only ASCII."""
    status, out, err = run("timeline", *ascii_flag, str(sample))
    assert status in (0, 1), err
    assert max(map(len, out.splitlines())) <= 80
    if ascii_flag:
        assert out.isascii()


def test_timeline_draws_one_lane_per_nic_with_a_legend() -> None:
    """Each NIC gets a lane of block characters; the legend names every data path."""
    _status, out, _err = run("timeline", str(SAMPLES / "multi-nic-mana.log"))
    assert "█ on VF" in out and "▒ synthetic" in out and "░ no VF" in out and "· unknown" in out
    assert "█" in lane(out, "eth0") and "█" in lane(out, "eth1")


def test_quiet_stretches_are_compressed_so_start_up_and_servicing_both_show() -> None:
    """Hours of quiet between start-up and a servicing event become visible breaks; both get room."""
    report = vflog.analyze(SAMPLES / "host-servicing.log")
    assert list(breaks(axis_of(report.boots[0])))
    out = render_timeline(report, Display(80))
    cells = lane(out, "eth0")
    assert "┊" in cells and "≈" in out
    assert cells[:cells.index("┊")].count("█") >= 10  # the start-up is drawn to scale
    assert "░" in cells[cells.index("┊"):]  # the servicing event is drawn too
    assert "2h16m" in out


def test_findings_are_marks_under_the_lane_and_listed() -> None:
    """A finding is a severity letter under its NIC's lane and a short line below the axis."""
    out = render_timeline(vflog.analyze(SAMPLES / "finding-device-without-driver.log"), Display(80))
    lines = out.splitlines()
    below = lines[lines.index(next(x for x in lines if x.startswith("eth0  "))) + 1]
    assert below.strip() == "E"
    assert "  E eth0: device-without-driver (line 64, 6.9s)" in lines


def test_a_log_without_timestamps_uses_line_numbers_for_the_axis() -> None:
    """Without timestamps the axis is line numbers and says so."""
    text = (SAMPLES / "host-servicing.log").read_text(encoding="utf-8")
    unstamped = "\n".join(line.split("] ", 1)[-1] for line in text.splitlines())
    out = render_timeline(vflog.analyze_text(unstamped), Display(80))
    assert "the axis is line numbers" in out and "line 133" in out


def test_timeline_exit_status_and_empty_input() -> None:
    """timeline exits 1 on an error finding like report, and 2 on empty input."""
    assert run("timeline", str(SAMPLES / "finding-device-without-driver.log"))[0] == 1
    assert run("timeline", str(SAMPLES / "normal-boot.log"))[0] == 0


def test_timeline_on_empty_input_is_an_error(tmp_path: Path) -> None:
    """An empty file is an error (exit 2), as for report."""
    empty = tmp_path / "empty.log"
    empty.write_text("")
    status, _out, err = run("timeline", str(empty))
    assert status == 2 and "is empty" in err


def test_timeline_colours_only_when_asked() -> None:
    """--color always paints the lanes (each run of one data path once); a pipe gets no escape sequences."""
    sample = str(SAMPLES / "finding-vf-not-readded.log")
    plain, painted = run("timeline", sample)[1], run("timeline", "--color", "always", sample)[1]
    assert "\x1b[" not in plain
    assert "\x1b[32m███" in painted and "\x1b[31m" in painted
