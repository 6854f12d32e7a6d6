"""Line numbers are those of ``grep -n`` on every path: a line ends at LF only, one over-long line is one line.

The expected numbers are computed with a plain split on b"\\n" of the bytes the test builds.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Callable

import pytest

import vflog
from vflog.follow import Follower, LineSplitter, read_lines, tail
from vflog.report import Report
from vflog.input import Limits

from . import converters

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
FLAPPING = (SAMPLES / "finding-datapath-flapping.log").read_text()
PROBE = (SAMPLES / "finding-driver-probe-failed.log").read_text()


def serial_capture(text: str) -> bytes:
    """The lines of *text* as a serial console gives them: CRLF, a CR before a line, lone CRs and odd separators."""
    out = []
    for index, line in enumerate(text.splitlines()):
        kind = index % 5
        if kind == 0:
            out.append(line + "\r\n")
        elif kind == 1:
            out.append("\r" + line + "\n")
        elif kind == 2:
            out.append(line + "\nsystemd[1]: Starting x\r[  OK  ] Started y\n")
        elif kind == 3:
            out.append(line + "\n\x0c\x0b\x1c\x1d\x1e page\u0085 next\u2028 sep\u2029 end\n")
        else:
            out.append(line + "\n")
    return "".join(out).encode()


def grep_lines(data: bytes) -> list[bytes]:
    """The lines of *data* as grep -n numbers them (index 0 is line 1)."""
    lines = data.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


def assert_evidence_at_grep_lines(report: Report, data: bytes, codes: set[str]) -> None:
    """Every evidence line of every finding quotes the text that grep -n shows at that number."""
    lines = grep_lines(data)
    assert {f.code for f in report.findings} == codes
    quotes = [q for f in report.findings for q in f.evidence_text]
    assert quotes and all(len(f.evidence_text) == len(f.evidence) for f in report.findings)
    for quote in quotes:
        assert quote.text.strip()[-40:] in lines[quote.line - 1].decode(), (quote, lines[quote.line - 1])


def _tar(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _stdin(data: bytes, monkeypatch: pytest.MonkeyPatch) -> Report:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return vflog.analyze("-")


def _follow(data: bytes) -> Report:
    follower = Follower()
    for line in read_lines(io.BufferedReader(io.BytesIO(data), 100)):
        follower.feed(line)
    return follower.finish()


READERS: dict[str, Callable[[bytes, Path, pytest.MonkeyPatch], Report]] = {
    "file": lambda data, tmp, mp: vflog.analyze(_write(tmp / "console.log", data)),
    "gz": lambda data, tmp, mp: vflog.analyze(_write(tmp / "console.log.gz", gzip.compress(data))),
    "tar-member": lambda data, tmp, mp: vflog.analyze(_write(tmp / "logs.tar.gz", _tar("var/log/kern.log", data))),
    "stdin": lambda data, tmp, mp: _stdin(data, mp),
    "bytes": lambda data, tmp, mp: vflog.analyze(data),
    "text": lambda data, tmp, mp: vflog.analyze_text(data.decode()),
    "text-stream": lambda data, tmp, mp: vflog.analyze(io.StringIO(data.decode(), newline="")),
    "text-file-stream": lambda data, tmp, mp: vflog.analyze(open(_write(tmp / "t.log", data), encoding="utf-8")),
    "lines": lambda data, tmp, mp: vflog.analyze(data.decode().split("\n")[:-1]),
    "follow": lambda data, tmp, mp: _follow(data),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("sample", [FLAPPING, PROBE], ids=["flapping", "probe-failed"])
def test_serial_capture_evidence_lines_are_grep_lines(reader: str, sample: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Lone CRs, FF, VT, \\x1c-\\x1e, U+0085, U+2028/9 stay inside their line on every path; CRLF counts once."""
    data = serial_capture(sample)
    report = READERS[reader](data, tmp_path, monkeypatch)
    assert report.stats.lines == len(grep_lines(data))
    assert_evidence_at_grep_lines(report, data, {f.code for f in vflog.analyze_text(sample).findings})


def test_journal_export_evidence_is_at_the_message_field() -> None:
    """In a journalctl -o export file, a finding points at the line of its entry's MESSAGE field."""
    data = converters.journal_export(PROBE)
    report = vflog.analyze(data)
    lines = grep_lines(data)
    assert report.stats.lines == len(lines)
    assert report.findings and all(lines[n - 1].startswith(b"MESSAGE") for f in report.findings for n in f.evidence)


LONG = os.urandom(3 << 19).hex().encode()  # 3 MiB that compress too little to look like a bomb


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_line_over_the_cap_is_one_line(reader: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 3 MiB first line is one line: finding lines and Stats.lines are exact, and the cut is noted."""
    data = LONG + b"\n" + PROBE.encode()
    report = READERS[reader](data, tmp_path, monkeypatch)
    assert report.stats.lines == len(grep_lines(data))
    assert_evidence_at_grep_lines(report, data, {"driver-probe-failed", "incomplete", "vf-driver-error"})
    if reader != "follow":
        assert any("1 line(s) longer than" in note for note in report.notes)


def test_long_lines_inside_a_block_and_across_blocks_are_cut_once() -> None:
    """Lines over the cap in the middle of a block, at its end and with no line end at all each count once."""
    limit = 1000
    lines = [b"a" * 5, "é".encode() * 800, b"b" * 3000, b"c" * 999, b"d" * 1001, b"e"]
    data = b"\n".join(lines) + b"\n" + b"f" * 5000
    report = vflog.analyze(data, limits=Limits(max_line=limit))
    assert report.stats.lines == len(lines) + 1
    assert any("4 line(s) longer than 1000 bytes" in note for note in report.notes)
    splitter = LineSplitter(limit)
    got = [line for start in range(0, len(data), 777) for line in splitter.feed(data[start:start + 777])]
    got += splitter.finish()
    assert [len(line.encode()) for line in got] == [5, 1000, 1000, 999, 1000, 1, 1000] and splitter.cut == 4


def test_cli_stdin_evidence_lines_are_grep_lines() -> None:
    """`vflog report --format json` on stdin numbers a serial capture as grep -n does."""
    data = serial_capture(FLAPPING)
    proc = subprocess.run([sys.executable, "-m", "vflog", "report", "--format", "json", "-"], input=data,
                          capture_output=True)
    report = json.loads(proc.stdout)
    lines = grep_lines(data)
    assert report["stats"]["lines"] == len(lines)
    evidence = [q for boot in report["boots"] for f in boot["findings"] for q in f["evidence_text"]]
    assert evidence and all(q["text"].strip()[-40:] in lines[q["line"] - 1].decode() for q in evidence)


def test_tail_numbers_lines_like_grep(tmp_path: Path) -> None:
    """`vflog follow FILE` reads lines at LF only and caps a line that never ends (like /dev/zero)."""
    path = tmp_path / "console.log"
    path.write_bytes(b"one\rstill one\r\ntwo\x0cstill two\n" + b"\0" * 5000)
    lines = list(tail(path, poll=0.01, stop=lambda: True, limits=Limits(max_line=1000)))
    assert lines == ["one\rstill one", "two\x0cstill two", "\0" * 1000]
