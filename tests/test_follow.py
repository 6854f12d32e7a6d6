"""Follow mode: changes as they happen, time-based findings on the stream's clock, clean Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import vflog
from vflog.analyze import StateChange
from vflog.follow import Follower, follow, tail
from vflog.report import Finding, Report
from vflog.rules import Withdrawn

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def _verdict(report: Report) -> tuple[object, ...]:
    return (tuple((n.key, n.state, n.datapath) for b in report.boots for n in b.nics),
            tuple(sorted((f.code, f.severity.value, f.nic, f.line) for f in report.findings)))


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.log")))
def test_follow_ends_with_the_report_of_the_whole_log(sample: str) -> None:
    """Following a log line by line ends with the same verdict as analysing it at once."""
    items = list(follow(SAMPLES / sample))
    assert isinstance(items[-1], Report)
    assert _verdict(items[-1]) == _verdict(vflog.analyze(SAMPLES / sample))


def test_state_changes_come_in_line_order() -> None:
    """Each machine move is reported once, in the order of the log."""
    changes = [c for c in follow(SAMPLES / "host-servicing.log") if isinstance(c, StateChange)]
    lines = [c.event.line for c in changes]
    assert lines == sorted(lines)
    assert [c.after for c in changes][-3:] == ["vf-registered", "link-up", "datapath-vf"]
    assert all(c.synthetic == "eth0" for c in changes)


def test_time_based_finding_fires_when_the_stream_clock_passes_the_threshold() -> None:
    """vf-not-readded is reported while the stream goes on, not only when it ends."""
    follower = Follower()
    lines = (SAMPLES / "finding-vf-not-readded.log").read_text().splitlines()
    fired_at = None
    for number, line in enumerate(lines, 1):
        follower.feed(line)
        if any(isinstance(c, Finding) and c.code == "vf-not-readded" for c in follower.changes()):
            fired_at = number
            break
    assert fired_at is not None and fired_at < len(lines)


def test_a_finding_that_stops_holding_is_withdrawn() -> None:
    """A long outage first looks like a missing re-add; the re-add withdraws that finding."""
    items = list(follow(SAMPLES / "finding-long-outage.log"))
    fired = [i for i in items if isinstance(i, Finding) and i.code == "vf-not-readded"]
    withdrawn = [i for i in items if isinstance(i, Withdrawn)]
    assert fired and withdrawn and withdrawn[0].finding.code == "vf-not-readded"
    assert {f.code for f in items[-1].findings} == {"long-outage"}


def test_cli_follow_jsonl_on_stdin() -> None:
    """`dmesg -w | vflog follow --format jsonl`: one JSON object per change, then the report."""
    text = (SAMPLES / "finding-switch-failed.log").read_text()
    proc = subprocess.run([sys.executable, "-m", "vflog", "follow", "--format", "jsonl"], input=text,
                          capture_output=True, text=True)
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1
    assert {r["type"] for r in records} == {"state", "finding", "report"}
    assert records[-1]["type"] == "report" and records[-1]["interrupted"] is False
    assert any(r["type"] == "finding" and r["code"] == "switch-failed" for r in records)


def test_tail_follows_a_growing_file(tmp_path: Path) -> None:
    """Lines appended after the start are read, like tail -f."""
    path = tmp_path / "live.log"
    path.write_text("first\n")
    done = threading.Event()

    def grow() -> None:
        time.sleep(0.1)
        with open(path, "a") as handle:
            handle.write("second\nthird\n")
        time.sleep(0.1)
        done.set()

    threading.Thread(target=grow).start()
    lines = list(tail(path, poll=0.02, stop=done.is_set))
    assert [line.strip() for line in lines] == ["first", "second", "third"]


def test_ctrl_c_prints_the_final_table_and_exits_cleanly(tmp_path: Path) -> None:
    """Interrupting `vflog follow FILE` prints the final table, no traceback."""
    path = tmp_path / "live.log"
    path.write_text((SAMPLES / "normal-boot.log").read_text())
    proc = subprocess.Popen([sys.executable, "-m", "vflog", "follow", "--poll", "0.05", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # the replay has started: the machines are running
    assert "slot-offered" in first
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert "Traceback" not in err
    assert proc.returncode == 0
    assert "datapath-vf" in first + out and "Boot 0" in out
