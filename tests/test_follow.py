"""Follow mode: changes as they happen, time-based findings on the stream's clock, clean Ctrl-C."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

import pytest

import vflog
from vflog.report import StateChange
from vflog.errors import InputError
from vflog.follow import Follower, Segment, Tail, follow, read_lines, tail
from vflog.report import Finding, Report
from vflog.report import Withdrawn
from vflog.rules import Rules
from vflog.input import Limits

from .converters import journal_export

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
    assert isinstance(items[-1], Report) and {f.code for f in items[-1].findings} == {"long-outage"}


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
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the replay has started: the machines are running
    assert "slot-offered" in first
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert "Traceback" not in err
    assert proc.returncode == 0
    assert "datapath-vf" in first + out and "Boot 0" in out


def _steps(*actions: Callable[[], object]) -> Callable[[], bool]:
    """Return a stop callable for tail that runs one file action at each idle pause, then stops."""
    pending = list(actions)

    def stop() -> bool:
        if not pending:
            return True
        pending.pop(0)()
        return False
    return stop


def _lines(count: int, prefix: str) -> str:
    return "".join(f"[{index:5d}.000000] {prefix} line {index}\n" for index in range(1, count + 1))


def _texts(items: Sequence[object]) -> list[str]:
    """Return tail's items with each line reduced to its last word (and Segments by their reason)."""
    return [item.reason if isinstance(item, Segment) else str(item).rsplit(" ", 1)[-1] for item in items]


def test_tail_reads_the_new_file_after_a_rename_rotation(tmp_path: Path) -> None:
    """`mv f.log f.log.1` and a new f.log: the rest of the old file is read, then the new one from its start."""
    path = tmp_path / "f.log"
    path.write_text("[1.0] old one\n[2.0] old two\n")

    def rotate() -> None:
        with open(path, "a") as handle:
            handle.write("[3.0] old three\n")  # written before the rename: still read
        path.rename(tmp_path / "f.log.1")
        with open(tmp_path / "f.log.1", "a") as handle:
            handle.write("[4.0] old four")  # after the rename, to the old file, without a line end
        path.write_text("[5.0] new one\n[6.0] new two\n")

    items = list(Tail(path, poll=0, stop=_steps(rotate)))
    assert _texts(items) == ["one", "two", "three", "four", "rotated", "one", "two"]


def test_tail_waits_for_a_rotated_name_to_come_back(tmp_path: Path) -> None:
    """Between the rename and the new file the name is missing: tail keeps waiting, then reads the new file."""
    path = tmp_path / "f.log"
    path.write_text("[1.0] old one\n")
    items = list(Tail(path, poll=0, stop=_steps(lambda: path.rename(tmp_path / "f.log.1"), lambda: None,
                                                 lambda: path.write_text("[2.0] new one\n"))))
    assert _texts(items) == ["one", "rotated", "one"]


def test_tail_restarts_a_truncated_file_from_its_start(tmp_path: Path) -> None:
    """copytruncate: the file shrinks below the position read, so it is read again from its start."""
    path = tmp_path / "f.log"
    path.write_text(_lines(10, "old"))
    items = list(Tail(path, poll=0, stop=_steps(lambda: path.write_text("[0.5] new a\n[0.6] new b\n"))))
    assert _texts(items)[10:] == ["truncated", "a", "b"]


def test_tail_reads_every_line_of_a_burst_after_copytruncate(tmp_path: Path) -> None:
    """A file truncated and refilled past the old position before the next look loses no line."""
    path = tmp_path / "f.log"
    path.write_text(_lines(10, "old"))

    def copytruncate_then_burst() -> None:
        (tmp_path / "f.log.1").write_bytes(path.read_bytes())
        with open(path, "r+") as handle:
            handle.truncate(0)
            handle.write(_lines(50, "new"))

    items = list(Tail(path, poll=0, stop=_steps(copytruncate_then_burst)))
    assert items[10] == Segment(f"{path} (after truncation 1)", "truncated")
    assert [str(item) for item in items[11:]] == _lines(50, "new").splitlines()


def test_line_numbers_go_on_across_a_rotation(tmp_path: Path) -> None:
    """After a rotation, line numbers keep counting as one stream; the origin names the part and its own line."""
    path = tmp_path / "kern.log"
    first = (SAMPLES / "normal-boot.log").read_text()
    second = (SAMPLES / "finding-switch-failed.log").read_text()
    path.write_text(first)

    def rotate() -> None:
        path.rename(tmp_path / "kern.log.1")
        path.write_text(second)

    follower = Follower(name=str(path))
    for item in Tail(path, poll=0, stop=_steps(rotate)):
        if isinstance(item, Segment):
            follower.begin(item.name)
        else:
            follower.feed(item)
    report = follower.finish()
    finding = next(f for f in report.findings if f.code == "switch-failed")
    alone = next(f for f in vflog.analyze(SAMPLES / "finding-switch-failed.log").findings if f.code == "switch-failed")
    assert finding.line is not None and alone.line is not None
    assert finding.line == len(first.splitlines()) + alone.line
    assert finding.origin == f"{path} (after rotation 1):{alone.line}"


def _run_follow(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "vflog", "follow", *args], input=stdin, capture_output=True,
                          timeout=60)


def test_follow_replays_a_compressed_file_then_ends(tmp_path: Path) -> None:
    """`vflog follow x.log.gz` decodes the file as report does, prints its findings and ends (not raw bytes)."""
    path = tmp_path / "x.log.gz"
    path.write_bytes(gzip.compress((SAMPLES / "finding-switch-failed.log").read_bytes()))
    proc = _run_follow("--format", "jsonl", str(path))
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1, proc.stderr
    assert any(r["type"] == "finding" and r["code"] == "switch-failed" for r in records)
    assert f"{path}: gzip-compressed: replayed to its end, not followed" in records[-1]["report"]["notes"]


def test_follow_replays_a_journal_export_then_ends(tmp_path: Path) -> None:
    """A journal export (binary-safe fields) is decoded as report decodes it, then follow ends."""
    path = tmp_path / "journal.export"
    path.write_bytes(journal_export((SAMPLES / "finding-switch-failed.log").read_text()))
    items = list(follow(path))
    replayed = [i for i in Tail(path, poll=0, stop=lambda: True) if isinstance(i, str)]
    assert any(isinstance(i, Finding) and i.code == "switch-failed" for i in items)
    follower = Follower()
    for line in replayed:
        follower.feed(line)
    assert {f.code for f in follower.finish().findings} == {f.code for f in vflog.analyze(path).findings}


def test_follow_refuses_a_binary_file(tmp_path: Path) -> None:
    """Binary data is refused as report refuses it: the same message, exit 2, no table."""
    path = tmp_path / "core.log"
    path.write_bytes(bytes(range(256)) * 64)
    proc = _run_follow(str(path))
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr.decode().strip() == f"vflog: error: {path}: is not a text log (binary data)"
    assert _run_follow("-", stdin=bytes(range(256)) * 64).stderr.strip() == \
        b"vflog: error: <stdin>: is not a text log (binary data)"


def test_follow_refuses_compressed_stdin() -> None:
    """Compressed bytes on stdin are refused with a clear error (exit 2), not read as text."""
    proc = _run_follow("-", stdin=gzip.compress((SAMPLES / "normal-boot.log").read_bytes()))
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"<stdin>: is gzip-compressed" in proc.stderr


def test_final_report_notes_the_lines_cut_at_the_length_limit(tmp_path: Path) -> None:
    """Lines cut at the length limit are counted in follow's final report notes, on stdin and for a file."""
    proc = _run_follow("--format", "jsonl", "-", stdin=b"short\n" + b"x" * (3 << 20) + b"\nshort\n")
    assert proc.returncode == 0
    report = json.loads(proc.stdout.splitlines()[-1])["report"]
    assert report["notes"] == ["<stdin>: 1 line(s) longer than 1048576 bytes were cut to their first 1048576 bytes"]
    path = tmp_path / "long.log"
    path.write_bytes(b"a" * 3000 + b"\nb\n" + b"c" * 5000 + b"\n")
    followed = Tail(path, poll=0, stop=lambda: True, limits=Limits(max_line=1000))
    assert [len(line) for line in followed if isinstance(line, str)] == [1000, 1, 1000]
    assert followed.notes() == [f"{path}: 2 line(s) longer than 1000 bytes were cut to their first 1000 bytes"]


_STAMP = re.compile(r"^\[\s*(\d+\.\d+)\]")
_NIC_LINE = re.compile("000d3af5|cf63|enP53091")


def _many_nics(count: int) -> list[str]:
    """The long-outage sample for *count* NICs at once: even NICs get their VF back (the finding is withdrawn),
    odd ones never do (vf-not-readded stands); the unrelated lines are shared."""
    timed = []
    for index, line in enumerate((SAMPLES / "finding-long-outage.log").read_text().splitlines()):
        t = float(_STAMP.match(line)[1])  # type: ignore[index]
        if not _NIC_LINE.search(line):
            timed.append((t, -1, index, line))
            continue
        for nic in range(count):
            if nic % 2 and t > 4000:
                continue
            bus = f"{0x1000 + nic:04x}"
            text = (line.replace("000d3af5-76bd-000d-3af5-76bd000d3af5", f"{nic:08x}-76bd-000d-3af5-76bd000d3af5")
                    .replace("e9ac9b28-cf63", f"e9ac9b28-{bus}").replace("cf63", bus)
                    .replace("enP53091s1np0", f"enP{0x1000 + nic}s1np0")
                    .replace("eth0", f"eth{2 * nic}").replace("eth1", f"eth{2 * nic + 1}"))
            stamp = t + nic * 1e-4
            timed.append((stamp, nic, index, f"[{stamp:12.6f}]" + text[_STAMP.match(text).end():]))  # type: ignore[union-attr]
    return [line for *_, line in sorted(timed)]


def test_many_nics_follow_finds_what_report_finds_at_the_same_stream_time() -> None:
    """With 300 NICs, follow fires each vf-not-readded at the first line past its threshold, withdraws the
    ones whose VF comes back, and ends with report's findings (withdrawn ones free their place under the
    per-code limit of 200)."""
    lines = _many_nics(300)
    due = next(n for n, line in enumerate(lines, 1) if float(_STAMP.match(line)[1]) >= 3606.520633 + 300)  # type: ignore[index]
    follower = Follower()
    fired: list[tuple[str, int]] = []
    for number, line in enumerate(lines, 1):
        follower.feed(line)
        for change in follower.changes():
            if isinstance(change, (Finding, Withdrawn)):
                fired.append((change.code if isinstance(change, Finding) else "withdrawn", number))
    final = follower.finish()
    expected = vflog.analyze_text("\n".join(lines) + "\n")
    readded = [number for code, number in fired if code == "vf-not-readded"]
    assert readded == [due] * 200  # the per-code limit: the first 200 fire, half of them NICs whose VF comes back
    assert len([number for code, number in fired if code == "withdrawn"]) == 100
    assert sorted((f.code, f.nic, f.line) for f in final.findings) == \
        sorted((f.code, f.nic, f.line) for f in expected.findings)
    assert {f.code for f in final.findings} == {"long-outage", "vf-not-readded"}
    assert final.boots[0].notes == expected.boots[0].notes


def test_follow_looks_only_at_waits_that_fell_due(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time-based rules are checked when the stream clock passes a wait's deadline, not for every NIC on
    every line: 300 NICs over 11,000 lines take a few checks per NIC, not one per NIC and line."""
    lines = _many_nics(300)
    calls = 0
    timeout = Rules._timeout

    def counted(self: Rules, *args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        timeout(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Rules, "_timeout", counted)
    follower = Follower()
    for line in lines:
        follower.feed(line)
    assert calls <= 2 * 300


def test_follow_keeps_bounded_bookkeeping_for_a_flapping_nic() -> None:
    """A NIC that changes state 20,000 times leaves a bounded number of scheduled waits behind, not one per change."""
    follower = Follower()
    guid = "000d3af5-76bd-000d-3af5-76bd000d3af5"
    follower.feed(f"[1.0] hv_netvsc {guid} eth0: VF slot 1 added")
    follower.feed(f"[1.1] hv_netvsc {guid} eth0: VF registering: eth1")
    for index in range(10_000):
        direction = "to" if index % 2 else "from"
        follower.feed(f"[{2 + index * 0.001:.6f}] hv_netvsc {guid} eth0: Data path switched {direction} VF: eth1")
        follower.changes()
    deadlines = follower._analyzer._boot.rules._deadlines
    assert len(deadlines._due) + len(deadlines._quiet) <= 2 * len(deadlines._plans) + 1024


class _Trickle:
    """A pipe that delivers its bytes three at a time."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read1(self, size: int) -> bytes:
        piece, self.data = self.data[:3], self.data[3:]
        return piece

    read = read1


@pytest.mark.parametrize("data, reason", [(gzip.compress(b"[1.0] text\n" * 100), "is gzip-compressed"),
                                          (bytes(range(256)) * 16, "is not a text log (binary data)")],
                         ids=["gzip", "binary"])
def test_stdin_that_trickles_in_is_still_judged_on_its_first_bytes(data: bytes, reason: str) -> None:
    """A pipe that delivers a few bytes at a time is judged on its first 4 KiB, not on its first read."""
    with pytest.raises(InputError, match=re.escape(reason)):
        list(read_lines(_Trickle(data)))  # type: ignore[arg-type]


def _follow_cli(sample: str, *options: str, columns: str) -> subprocess.CompletedProcess[str]:
    """Run `vflog follow OPTIONS` on *sample* fed to stdin with COLUMNS=*columns* (stdout a pipe)."""
    env = {**os.environ, "COLUMNS": columns}
    env.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "vflog", "follow", *options], input=(SAMPLES / sample).read_text(),
                          capture_output=True, text=True, env=env)


def _final_table(stdout: str) -> list[str]:
    """Return the lines of follow's final report (from its `vflog report for` header on)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("vflog report for"))
    return lines[start:]


def test_follow_final_table_is_the_report_table_stacked_at_80_columns() -> None:
    """follow's final report uses report's width-aware renderer: at COLUMNS=80 it fits, the NIC table stacked."""
    proc = _follow_cli("finding-device-without-driver.log", columns="80")
    table = _final_table(proc.stdout)
    assert max(map(len, table)) <= 80
    assert "  VMBus id           000d3af5-76bd-000d-3af5-76bd000d3af5" in table


def test_follow_final_table_is_one_row_per_nic_at_200_columns() -> None:
    """At COLUMNS=200 follow's final report is the wide one-row-per-NIC table, as report prints it."""
    table = _final_table(_follow_cli("finding-device-without-driver.log", columns="200").stdout)
    assert any(line.startswith("NIC    VMBus id") for line in table)
    assert max(map(len, table)) <= 200


def test_follow_colours_its_final_table_with_color_always() -> None:
    """`vflog follow --color always` colours the final report's verdicts like report; --color never does not."""
    assert "\x1b[31m✘\x1b[0m" in _follow_cli("finding-device-without-driver.log", "--color", "always",
                                             columns="200").stdout
    assert "\x1b[" not in _follow_cli("finding-device-without-driver.log", "--color", "never", columns="200").stdout

