"""One big log on several cores (``--jobs``): the report is the one of reading it in one process.

The oracle is the sequential reading of the same file (``jobs=1``): the whole JSON report, with
the unrecognised lines, notes and line numbers, must be identical, wherever the chunks are cut
(inside pretty-printed JSON objects, between a wrapped line and its rest, inside a trace).  Small
blocks and chunks are forced (``small_reads``) so that short logs are cut in many places.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import multiprocessing
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Iterator
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vflog
from vflog import parallel
from vflog.cli import ExitStatus, main
from vflog.input import Limits
from vflog.input import text as input_text
from vflog.render import render_json

from . import converters
from .strategies import GeneratedLog, valid_logs
from .test_wrapped import wrap_at

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TRACE = (SAMPLES / "finding-kernel-trace.log").read_text()
SERVICING = (SAMPLES / "host-servicing.log").read_text()

#: Formats whose lines stand alone, and those whose records span lines (pretty JSON, kmsg continuations).
FORMATS = ("dmesg", "dmesg_caller", "dmesg_delta", "dmesg_human", "dmesg_json_pretty", "dmesg_follow_json", "kmsg",
           "journal_json", "journal_json_bytes", "journal_short_monotonic", "syslog_rfc3164", "rsyslog_precise",
           "serial_console", "no_timestamps")


@contextlib.contextmanager
def small_reads(first: int = 512, size: int = 97, chunk: int = 1) -> Iterator[None]:
    """Read in small blocks (the sequential reading too) and cut chunks of about *chunk* bytes."""
    with mock.patch.object(input_text, "_FIRST_BLOCK", first), mock.patch.object(input_text, "_BLOCK", size), \
            mock.patch.object(parallel, "MIN_CHUNK_BYTES", 1), mock.patch.object(parallel, "CHUNK_BYTES", chunk):
        yield


def reports(path: Path, jobs: int = 2, limits: Limits = Limits()) -> tuple[str, str]:
    """Return the JSON reports (unrecognised lines included) of *path* read on *jobs* processes and in one."""
    together = render_json(vflog.analyze(path, jobs=jobs, limits=limits), show_unrecognised=True)
    alone = render_json(vflog.analyze(path, jobs=1, limits=limits), show_unrecognised=True)
    return together, alone


@contextlib.contextmanager
def counted(name: str) -> Iterator[list[int]]:
    """Count the calls of parallel.*name* (in this process) within the block."""
    calls: list[int] = []
    real = getattr(parallel, name)

    def spy(*args: object) -> object:
        calls.append(1)
        return real(*args)

    with mock.patch.object(parallel, name, spy):
        yield calls


def story(log: GeneratedLog, source: str) -> str:
    """Return the dmesg text of the story: the generated log, a log with a kernel trace, or both."""
    return {"generated": log.text, "trace": TRACE, "both": log.text + TRACE}[source]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(log=valid_logs(max_nics=2, max_cycles=2), source=st.sampled_from(("generated", "trace", "both")),
       fmt=st.sampled_from(FORMATS), wrap=st.sampled_from((0, 0, 60, 90)), first=st.integers(64, 3000),
       size=st.integers(16, 1500), chunk=st.integers(1, 6000), jobs=st.integers(2, 3), junk=st.integers(0, 120),
       repeat=st.integers(0, 5))
def test_any_chunks_give_the_sequential_report(log: GeneratedLog, source: str, fmt: str, wrap: int, first: int,
                                               size: int, chunk: int, jobs: int, junk: int, repeat: int) -> None:
    """For random logs in any format (multi-line records, wrapped lines, traces, repeated lines, a start in no
    layout) and random chunk boundaries, the report read on several processes is the sequential one, byte for byte."""
    text = converters.TEXT_FORMATS[fmt](story(log, source))
    if wrap:
        text = wrap_at(text, wrap)
    if repeat:  # every repeat-th line twice in a row (the sequential reading counts some of them)
        text = "".join(line * (1 + (index % (repeat + 1) == 0)) for index, line in enumerate(text.splitlines(True)))
    text = "".join(f"no layout in these words, number {i}\n" for i in range(junk)) + text
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.log"
        path.write_text(text)
        with small_reads(first, size, chunk), counted("read_chunks") as used:
            together, alone = reports(path, jobs)
    assert together == alone
    assert used or len(text.encode()) <= first  # the file was read in parallel unless it is one block


def test_chunks_inside_multi_line_objects_are_read_again_here(tmp_path: Path) -> None:
    """A chunk that starts inside a pretty-printed JSON object is read again by the parent, with the same report."""
    path = tmp_path / "pretty.json"
    path.write_text(converters.TEXT_FORMATS["dmesg_json_pretty"](SERVICING))
    with small_reads(first=300, size=70, chunk=70), counted("_read_here") as again:
        together, alone = reports(path)
    assert again and together == alone


def test_a_layout_change_in_a_chunk_keeps_the_sequential_report(tmp_path: Path) -> None:
    """dmesg then syslog then JSON in one file: chunks whose layout guess is wrong are read again, same report."""
    path = tmp_path / "mixed.log"
    lines = SERVICING.splitlines(keepends=True)
    third = len(lines) // 3
    path.write_text("".join(lines[:third]) + converters.syslog_rfc3164("".join(lines[third:2 * third]))
                    + converters.journal_json("".join(lines[2 * third:])))
    with small_reads(first=2000, size=500, chunk=500):
        together, alone = reports(path)
    assert together == alone


def test_long_lines_and_crlf_are_cut_and_counted_as_in_one_process(tmp_path: Path) -> None:
    """Lines over the length limit (cut, with their note) and CRLF line ends give the sequential report."""
    path = tmp_path / "long.log"
    body = SERVICING.replace("\n", "\r\n", 40)
    lines = body.splitlines(keepends=True)
    lines[10:10] = ["[    1.000000] x" + "y" * 3000 + "\n"] * 3
    path.write_text("".join(lines))
    with small_reads(first=512, size=256, chunk=300):
        together, alone = reports(path, limits=Limits(max_line=1024))
    assert together == alone and "were cut" in together


@pytest.mark.parametrize("kind", ["gz", "tar", "export", "small", "stdin"])
def test_compressed_archived_exported_small_and_stdin_inputs_stay_sequential(tmp_path: Path, kind: str) -> None:
    """Compressed files, archives, journal exports, stdin and files below the size threshold are read in one
    process (no plan), with the same report."""
    text = SERVICING * 3
    if kind == "gz":
        path = tmp_path / "log.gz"
        path.write_bytes(gzip.compress(text.encode()))
    elif kind == "tar":
        path = tmp_path / "logs.tar"
        with tarfile.open(path, "w") as tar:
            data = text.encode()
            info = tarfile.TarInfo("var/log/kern.log")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    elif kind == "export":
        path = tmp_path / "journal.export"
        path.write_text("".join(f"__CURSOR=s;i={i}\n__MONOTONIC_TIMESTAMP={i}\nMESSAGE={line}\n\n"
                                for i, line in enumerate(text.splitlines())))
    else:
        path = tmp_path / "log.txt"
        path.write_text(text)
    source = "-" if kind == "stdin" else path
    with small_reads(first=512, size=97, chunk=97):
        planned = parallel.plan(source, None if kind == "small" else 2, Limits())
        assert planned is None
        if kind != "stdin":
            assert render_json(vflog.analyze(path, jobs=2)) == render_json(vflog.analyze(path, jobs=1))


def test_every_core_for_a_big_file_by_default(tmp_path: Path) -> None:
    """Without jobs, a file of at least AUTO_BYTES is read on every core, a smaller one in one process."""
    path = tmp_path / "log.txt"
    path.write_text(SERVICING * 3)
    with small_reads(chunk=97), mock.patch.object(parallel, "default_jobs", lambda: 3):
        with mock.patch.object(parallel, "AUTO_BYTES", 1000):
            planned = parallel.plan(path, None, Limits())
        assert planned is not None and planned.workers == 3 and len(planned.starts) > 2
        assert parallel.plan(path, None, Limits()) is None


def test_jobs_below_one_are_refused_by_the_library() -> None:
    """analyze(jobs=0) is a ValueError, not a silent sequential reading."""
    with pytest.raises(ValueError, match="jobs"):
        vflog.analyze(SAMPLES / "normal-boot.log", jobs=0)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), {}, out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_cli_jobs_must_be_a_positive_number(value: str) -> None:
    """--jobs 0, a negative or a non-number is a usage error (exit 2)."""
    status, out, err = run("report", "--jobs", value, str(SAMPLES / "normal-boot.log"))
    assert status == ExitStatus.ERROR and "usage error" in err and "--jobs" in err and not out


def test_cli_jobs_on_stdin_reads_it_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """--jobs 2 on standard input works: it is read in one process, with the usual report."""
    def piped() -> io.TextIOWrapper:
        return io.TextIOWrapper(io.BytesIO(SERVICING.encode()), encoding="utf-8")

    monkeypatch.setattr(sys, "stdin", piped())
    status, together, err = run("report", "--format", "json", "--jobs", "2", "-")
    monkeypatch.setattr(sys, "stdin", piped())
    assert (status, together) == run("report", "--format", "json", "-")[:2] and not err


def test_cli_jobs_gives_the_sequential_report(tmp_path: Path) -> None:
    """vflog report --jobs 2 prints the report of --jobs 1."""
    path = tmp_path / "log.txt"
    path.write_text(SERVICING * 5)
    with small_reads(chunk=200):
        together = run("report", "--format", "json", "--jobs", "2", str(path))
        alone = run("report", "--format", "json", "--jobs", "1", str(path))
    assert together == alone and together[0] == ExitStatus.OK


def _raising_scan(task: parallel.Task) -> parallel.Scanned:
    """A worker's task that fails outside the reader's own guard."""
    raise RuntimeError("boom")


def _dying_scan(task: parallel.Task) -> parallel.Scanned:
    """A worker's task whose process dies (killed, out of memory)."""
    os._exit(9)


@pytest.mark.parametrize(("scan", "says"), [(_raising_scan, "a reader process failed (RuntimeError: boom)"),
                                            (_dying_scan, "a reader process died")])
def test_a_failing_worker_is_a_clean_error(tmp_path: Path, scan: object, says: str) -> None:
    """A worker that raises or dies gives one 'vflog: error:' line naming the file (exit 2), never a traceback,
    and no worker process is left behind."""
    path = tmp_path / "log.txt"
    path.write_text(SERVICING * 5)
    with small_reads(chunk=200), mock.patch.object(parallel, "scan_chunk", scan):
        status, out, err = run("report", "--jobs", "2", str(path))
    assert status == ExitStatus.ERROR and not out
    assert err.startswith(f"vflog: error: {path}: {says}") and "Traceback" not in err and "--jobs 1" in err
    assert not multiprocessing.active_children()


#: The worker's task before any test patches it.
_SCAN_CHUNK = parallel.scan_chunk


def _scan_failing_after_one_block(task: parallel.Task) -> parallel.Scanned:
    """A worker's task whose block reader fails at its second block (patched in the worker: any start method)."""
    real = parallel.BlockPath.feed_block
    calls = []

    def failing(self: parallel.BlockPath, first: int, block: str) -> int:
        calls.append(1)
        if len(calls) > 1:
            raise MemoryError("no room")
        return real(self, first, block)

    with mock.patch.object(parallel.BlockPath, "feed_block", failing):
        return _SCAN_CHUNK(task)


def test_a_reader_fault_inside_a_worker_is_reported_after_the_lines_before(tmp_path: Path) -> None:
    """A fault of the block reader in a worker becomes the input's error; the report still says what was read, and
    the next input's lines follow the lines read."""
    path = tmp_path / "log.txt"
    path.write_text(SERVICING * 5)
    after = SAMPLES / "normal-boot.log"
    with small_reads(first=2000, size=1024, chunk=8000), \
            mock.patch.object(parallel, "scan_chunk", _scan_failing_after_one_block):
        report = vflog.analyze_files([path, after], jobs=2)
    assert report.errors == (f"{path}: a reader process failed (MemoryError: no room)",)
    read = report.stats.lines - after.read_text().count("\n")
    assert 0 < read < (SERVICING * 5).count("\n") and report.inputs[1].first_line == read + 1


def test_ctrl_c_while_reading_in_parallel_stops_the_workers(tmp_path: Path) -> None:
    """Ctrl-C while the parent waits for a worker exits 130 with 'vflog: interrupted', and no worker outlives it."""
    path = tmp_path / "log.txt"
    path.write_text(SERVICING * 5)

    def interrupted(*args: object) -> parallel.Scanned:
        raise KeyboardInterrupt

    with small_reads(chunk=200), mock.patch.object(parallel, "_result", interrupted):
        status, out, err = run("report", "--jobs", "2", str(path))
    assert status == ExitStatus.INTERRUPTED and err == "vflog: interrupted\n"
    assert not multiprocessing.active_children()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups and /proc")
def test_ctrl_c_on_the_process_group_exits_130_without_traceback(tmp_path: Path) -> None:
    """SIGINT sent to vflog and its workers (a terminal's Ctrl-C) while a big file is read on 2 processes: exit 130,
    one line on stderr, no traceback from any worker."""
    path = tmp_path / "big.log"
    line = "[    1.000000] random: unrelated chatter of some length for the test\n"
    with path.open("w") as out:
        for _ in range(40):
            out.write(line * 10000 + SERVICING)
    child = subprocess.Popen([sys.executable, "-m", "vflog", "report", "--jobs", "2", str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and child.poll() is None and not _children(child.pid):
        time.sleep(0.01)
    if child.poll() is not None:
        pytest.skip("vflog finished before it could be interrupted")
    os.killpg(child.pid, signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == ExitStatus.INTERRUPTED, err
    assert err.decode() == "vflog: interrupted\n"


def _children(pid: int) -> list[str]:
    """Return the process ids of the children of *pid*."""
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def test_a_chunk_read_line_by_line_in_one_process_is_read_so_in_parallel(tmp_path: Path) -> None:
    """After blocks without a layout, a sequential reading looks for one only in every 16th block and reads the
    others line by line (counting repeated lines): the chunks whose workers guessed a layout are read again."""
    junk = "".join(f"no layout in these words, number {i}\n" for i in range(300))
    repeated = "".join(f"[{i:12.6f}] random: chatter {i}\n" * 2 for i in range(400))
    path = tmp_path / "junk-then-dmesg.log"
    path.write_text(junk + repeated + SERVICING)
    with small_reads(first=512, size=256, chunk=256), counted("_read_here") as again:
        together, alone = reports(path)
    assert again and together == alone and "repeated verbatim" in alone


def test_chunks_are_not_cut_inside_lines_over_the_limit(tmp_path: Path) -> None:
    """A file whose lines run past the length limit for many reads is planned with each byte looked at about once,
    and chunks start only after such lines: the report is the sequential one."""
    path = tmp_path / "long-lines.log"
    path.write_text(SERVICING[:3000] + "[    9.000000] " + "z" * 20000 + "\n" + SERVICING + "w" * 9000)
    limits = Limits(max_line=2048)
    with small_reads(first=512, size=128, chunk=128), counted("_line_end_after") as jumps:
        planned = parallel.plan(path, 2, limits)
        together, alone = reports(path, limits=limits)
    assert planned is not None and jumps
    assert all(not 3000 < start < 3000 + 20015 for start, _ in planned.starts)
    assert together == alone and "were cut" in alone
