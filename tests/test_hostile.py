"""Hostile and broken input: bombs, traversal archives, terminal escapes, floods, odd files.

Every hostile input is built inside the test itself.
"""

from __future__ import annotations

import bz2
import fcntl
import gzip
import io
import json
import lzma
import os
import signal
import struct
import subprocess
import sys
import tarfile
import termios
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

import vflog
from vflog.cli import main
from vflog.input import Limits

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
BOOT = (SAMPLES / "normal-boot.log").read_bytes()
GUID = "000d3af5-76bd-000d-3af5-76bd000d3af5"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), {}, out, err), out.getvalue(), err.getvalue()


ZEROS = b"\0" * (64 << 20)


@pytest.mark.parametrize("pack", [gzip.compress, bz2.compress, lzma.compress], ids=["gz", "bz2", "xz"])
def test_decompression_bomb_is_stopped(tmp_path: Path, pack) -> None:
    """A tiny file that would expand to 64 MiB of zeros is stopped by the ratio limit, with a clear error."""
    bomb = tmp_path / "kern.log.bomb"
    bomb.write_bytes(pack(ZEROS))
    assert bomb.stat().st_size < 1 << 20
    report = vflog.analyze_files([str(bomb)])
    assert report.errors and "decompression bomb" in report.errors[0]
    status, _, err = run("report", str(bomb))
    assert status in (0, 2) and "decompression bomb" in err and "Traceback" not in err


def test_zstd_and_zip_bombs_are_stopped(tmp_path: Path) -> None:
    """The limit holds for zstd and for a zip member that inflates by itself."""
    zstandard = pytest.importorskip("zstandard")
    zst = tmp_path / "big.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(ZEROS))
    assert "decompression bomb" in vflog.analyze_files([str(zst)]).errors[0]
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("var/log/kern.log", ZEROS)
    assert "decompression bomb" in vflog.analyze_files([str(archive)]).errors[0]


def test_size_limit_is_configurable(tmp_path: Path) -> None:
    """--max-bytes stops an input at the given size even when its ratio is modest."""
    path = tmp_path / "dmesg.gz"
    path.write_bytes(gzip.compress(BOOT * 200))
    report = vflog.analyze_files([str(path)], limits=Limits(max_bytes=1 << 20))
    assert "expands beyond" in report.errors[0] and report.stats.lines > 0
    status, _, err = run("report", "--max-bytes", "1M", str(path))
    assert status in (0, 1) and "expands beyond" in err  # what was read before the limit is analysed


def test_traversal_links_and_devices_in_a_tar_are_never_written(tmp_path: Path) -> None:
    """Members with ../, absolute paths, symlinks, hard links and devices are skipped with a note."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in ("../../evil.log", "/etc/cron.d/evil", "var/log/kern.log"):
            info = tarfile.TarInfo(name)
            info.size = len(BOOT)
            tar.addfile(info, io.BytesIO(BOOT))
        for name, kind in (("var/log/link", tarfile.SYMTYPE), ("var/log/hard", tarfile.LNKTYPE),
                           ("var/log/dev", tarfile.CHRTYPE)):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/shadow"
            tar.addfile(info)
    archive = tmp_path / "x" / "sos.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(buffer.getvalue())
    before = set(tmp_path.rglob("*"))
    report = vflog.analyze_files([str(archive)])
    assert set(tmp_path.rglob("*")) == before and not Path("/etc/cron.d/evil").exists()
    assert report.sources == (f"{archive}!var/log/kern.log",)
    assert any("skipped" in note and "link" in note for note in report.notes)
    assert report.boots[0].nics[0].datapath == "vf"


def test_nested_archives_have_a_depth_limit(tmp_path: Path) -> None:
    """A zip in a zip in a zip ... beyond the depth limit is an error, not a recursion."""
    data = BOOT
    name = "kern.log"
    for level in range(6):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr(name, data)
        data, name = buffer.getvalue(), f"kern.log.{level}.zip"
    path = tmp_path / "deep.zip"
    path.write_bytes(data)
    report = vflog.analyze_files([str(path)], selection=vflog.analyze.__globals__["Selection"](include=("*",)))
    assert report.errors and "nested deeper" in report.errors[0]


def test_escape_sequences_cannot_reach_the_terminal(tmp_path: Path) -> None:
    """Control and ANSI/OSC sequences in names and messages are neutralised in human output, escaped in JSON."""
    evil = "\x1b]0;pwned\x07\x1b[2J\x1b[1A\u202e"
    lines = [
        f"[ 1.0] hv_netvsc {GUID} eth0: VF slot 1 added",
        f"[ 2.0] hv_netvsc {GUID} eth0: VF registering: ev{evil}il",
        f"[ 3.0] hv_netvsc {GUID} eth0: brand new{evil} message",
        f"[ 4.0] hv_netvsc {GUID} eth0: unable to open slave: a{evil}b: -5",
    ]
    path = tmp_path / "evil.log"
    path.write_text("\n".join(lines) + "\n")
    _, out, _ = run("report", "--show-unrecognised", str(path))
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\u202e" in out and "pwned" not in out
    _, out, _ = run("report", "--format", "json", "--show-unrecognised", str(path))
    assert "\x1b" not in out and "\x07" not in out
    json.loads(out)
    _, out, err = run("report", str(tmp_path / f"missing{evil}.log"))
    assert "\x1b" not in err


def _fake_guid_peak(count: int) -> tuple[vflog.Report, int]:
    """Return the report on `count` distinct fake NICs and the peak traced memory of analysing them."""
    lines = (f"[{i}.0] hv_netvsc {i:08x}-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added" for i in range(count))
    tracemalloc.start()
    try:
        report = vflog.analyze(lines)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return report, peak


#: Numbers of distinct fake NICs, far beyond Config.max_nics (512); VFLOG_FUZZ=1 runs the long version.
_FAKE_NICS = (8_000, 60_000) if os.environ.get("VFLOG_FUZZ") else (4_000, 16_000)


def test_millions_of_fake_guids_do_not_grow_without_bound() -> None:
    """Distinct fake NICs beyond the limit are counted, not tracked: four times as many barely move peak memory."""
    small, large = _FAKE_NICS
    _, small_peak = _fake_guid_peak(small)
    report, large_peak = _fake_guid_peak(large)
    assert len(report.boots[0].nics) == vflog.Config().max_nics
    assert any(f"{large - vflog.Config().max_nics} event(s) of NICs beyond the limit" in note for note in report.boots[0].notes)
    assert large_peak - small_peak < 2 << 20, (small_peak, large_peak)
    assert large_peak < 120 << 20


def test_floods_of_one_finding_are_capped() -> None:
    """A log repeating one anomaly forever lists a bounded number of findings and says how many more."""
    text = "".join(f"[{i}.0] hv_netvsc {GUID} eth0: Data path switched to VF: eth1\n" for i in range(1, 2000))
    boot = vflog.analyze_text(text).boots[0]
    assert sum(f.code == "unexpected-event" for f in boot.findings) == vflog.Config().max_findings_per_code
    assert any("more unexpected-event" in note for note in boot.notes)


@pytest.mark.parametrize("content", [
    b"",
    b"\0" * 1000,
    os.urandom(200_000),
    b"\xff\xfe\xfa" * 10_000 + b"\n" + BOOT,
    b"x" * (10 << 20),
    BOOT.replace(b"\n", b"\r\n"),
    BOOT.replace(b"\n", b"\r"),
    BOOT.replace(b"\n", b"\x0c\n"),
    BOOT[: len(BOOT) // 2],
    BOOT.replace(b"hv_netvsc", b"hv_ne\0tsvc", 3),
], ids=["empty", "nul", "random", "bad-utf8", "10MB-line", "crlf", "cr", "formfeed", "mid-line", "nul-in-line"])
def test_bad_bytes_never_crash(tmp_path: Path, content: bytes) -> None:
    """Odd files give a report (or a clear message), never a traceback."""
    path = tmp_path / "input.log"
    path.write_bytes(content)
    status, out, err = run("report", str(path))
    assert status in (0, 1, 2) and "Traceback" not in err and "internal error" not in err
    assert out.startswith("vflog report") or (status == 2 and ("is not a text log (binary data)" in err
                                                                 or "is empty: nothing to analyse" in err))


def test_line_endings_do_not_change_the_verdict(tmp_path: Path) -> None:
    """CRLF reads like LF; lines end at LF only, so a file of CR-ended lines is one line (as grep -n counts)."""
    expected = [(n.key, n.datapath) for n in vflog.analyze(BOOT).boots[0].nics]
    report = vflog.analyze(BOOT.replace(b"\n", b"\r\n"))
    assert [(n.key, n.datapath) for n in report.boots[0].nics] == expected
    assert report.stats.lines == BOOT.count(b"\n")
    assert vflog.analyze(BOOT.replace(b"\n", b"\r")).stats.lines == 1


def test_interleaved_writers_are_recovered_where_the_prefix_is_intact() -> None:
    """A kernel line that starts in the middle of another line is still recognised."""
    text = BOOT.decode().replace(
        f"[    8.090127] hv_netvsc {GUID} eth0: Data path switched to VF",
        f"[    8.090100] systemd[1]: Startin[    8.090127] hv_netvsc {GUID} eth0: Data path switched to VF")
    nic = vflog.analyze_text(text).boots[0].nics[0]
    assert nic.datapath == "vf" and nic.switches_to_vf == 3


def test_same_boot_twice_is_noted() -> None:
    """The same boot concatenated twice is two boots and a note, not a wrong state."""
    report = vflog.analyze(BOOT + BOOT)
    assert len(report.boots) == 2 and any("repeats boot 0" in n for n in report.notes)


def test_directory_fifo_and_permission_denied(tmp_path: Path, deny_reading) -> None:  # type: ignore[no-untyped-def]
    """A FIFO is read; an unreadable file is one clear message."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(BOOT))
    writer.start()
    report = vflog.analyze(fifo)
    writer.join()
    assert report.boots[0].nics[0].datapath == "vf"
    locked = tmp_path / "locked.log"
    locked.write_bytes(BOOT)
    deny_reading(locked)
    status, _, err = run("report", str(locked))
    assert status == 2 and "permission denied" in err


def _wait_until_read(fd: int, timeout: float = 60.0) -> None:
    """Waits until the reader has drained the pipe at fd, so it is past start-up and reading."""
    deadline = time.monotonic() + timeout
    while struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)


def test_ctrl_c_exits_130_with_a_short_message(tmp_path: Path) -> None:
    """Interrupting a report waiting on a stream exits 130, no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "vflog", "report", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(BOOT)
    proc.stdin.flush()
    _wait_until_read(proc.stdin.fileno())
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and b"interrupted" in err and b"Traceback" not in err


def test_output_file_is_written_atomically(tmp_path: Path) -> None:
    """--output replaces the file in one step; a failed write leaves no partial file."""
    target = tmp_path / "report.json"
    target.write_text("old")
    status, _, _ = run("report", "--format", "json", "--output", str(target), str(SAMPLES / "normal-boot.log"))
    assert status == 0 and json.loads(target.read_text())["boots"]
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    status, _, err = run("report", "--output", str(tmp_path / "no" / "dir" / "r.txt"), str(SAMPLES / "normal-boot.log"))
    assert status == 2 and "cannot be written" in err


def test_a_line_repeated_verbatim_is_read_once_with_a_note() -> None:
    """A stamped line that a collector wrote twice does not count as two kernel events."""
    text = BOOT.decode()
    line = next(l for l in text.splitlines() if "Data path switched to VF" in l)
    doubled = text.replace(line + "\n", line + "\n" + line + "\n", 1)
    report = vflog.analyze_text(doubled)
    assert {f.code for f in report.findings} == set()
    assert any("repeated verbatim" in note for note in report.boots[0].notes)
    assert report.boots[0].nics[0].switches_to_vf == 3


# -- hostile surroundings: odd names, broken standard streams, signals ----------------------------------------

WORKTREE = Path(__file__).resolve().parents[1]


def vflog_process(*argv: str, **kwargs) -> subprocess.Popen:
    """Start `python -m vflog ARGV` on this checkout's copy of vflog."""
    env = dict(os.environ, PYTHONPATH=str(WORKTREE), **kwargs.pop("env", {}))
    return subprocess.Popen([sys.executable, "-m", "vflog", *argv], cwd=WORKTREE, env=env, **kwargs)


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv", "sarif"])
def test_a_file_name_that_is_not_utf8_is_shown_escaped_by_scan(tmp_path: Path, fmt: str) -> None:
    """`scan` on `x\\xff.log` writes every format as valid UTF-8 that names the file `x\\xff.log` (JSON stays valid)."""
    (tmp_path / os.fsdecode(b"x\xff.log")).write_bytes((SAMPLES / "finding-switch-failed.log").read_bytes())
    output = tmp_path / "out" / f"scan.{fmt}"
    output.parent.mkdir()
    status, out, err = run("scan", "-q", "--format", fmt, "-o", str(output), str(tmp_path / os.fsdecode(b"x\xff.log")))
    assert status == 1, err
    text = output.read_bytes().decode("utf-8")  # strict: no surrogate, no raw \xff byte
    assert "x\\xff.log" in text.replace("\\\\", "\\") or "x%5Cxff.log" in text
    if fmt in ("json", "sarif"):
        json.loads(text)
    status, out, err = run("scan", "-q", "--format", fmt, str(tmp_path))
    assert status == 1 and out.encode("utf-8") and "Traceback" not in err


def test_a_file_name_that_is_not_utf8_is_shown_escaped_by_report(tmp_path: Path) -> None:
    """`report -o out.txt $'b\\xff.log'` writes the report naming `b\\xff.log`; JSON and events are valid UTF-8."""
    name = tmp_path / os.fsdecode(b"b\xff.log")
    name.write_bytes(BOOT)
    output = tmp_path / "out.txt"
    status, _, err = run("report", "-o", str(output), str(name))
    assert status == 0, err
    assert "b\\xff.log" in output.read_bytes().decode("utf-8")
    assert sorted(os.listdir(tmp_path)) == sorted([os.fsdecode(b"b\xff.log"), "out.txt"])
    status, out, _ = run("report", "--format", "json", str(name))
    assert json.loads(out.encode("utf-8"))["source"].endswith("b\\xff.log")
    status, _, err = run("report", str(tmp_path / os.fsdecode(b"gone\xfe.log")))
    assert status == 2 and "gone\\xfe.log: no such file" in err


def test_stderr_without_a_reader_does_not_cost_stdout(tmp_path: Path) -> None:
    """With stderr a pipe nobody reads, stdout is still complete and the exit status still counts the findings."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    log = str(SAMPLES / "finding-switch-failed.log")
    proc = vflog_process("report", str(tmp_path / "missing.log"), log, stdout=subprocess.PIPE, stderr=write_end)
    os.close(write_end)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1 and b"switch-failed" in out and out.endswith(b"\n")


def test_a_closed_stderr_never_sends_messages_to_stdout(tmp_path: Path) -> None:
    """With fd 2 closed (`2>&-`) the error message is dropped, stdout stays clean (JSON intact), the status holds."""
    script = ("import os, sys, runpy; os.close(2); sys.argv = ['vflog'] + sys.argv[1:]; "
              "runpy.run_module('vflog', run_name='__main__')")
    env = dict(os.environ, PYTHONPATH=str(WORKTREE))
    missing = str(tmp_path / "missing.log")
    proc = subprocess.run([sys.executable, "-c", script, "report", missing], capture_output=True, env=env, cwd=WORKTREE)
    assert proc.returncode == 2 and proc.stdout == b""
    proc = subprocess.run([sys.executable, "-c", script, "report", "--format", "json", missing,
                           str(SAMPLES / "normal-boot.log")], capture_output=True, env=env, cwd=WORKTREE)
    assert proc.returncode == 0 and json.loads(proc.stdout)["boots"]
    proc = subprocess.run(f"{sys.executable} -m vflog report {missing} 2>&-", shell=True, capture_output=True,
                          env=env, cwd=WORKTREE)
    assert proc.returncode == 2 and proc.stdout == b""


def test_stdout_on_a_full_device_is_a_clean_error(tmp_path: Path) -> None:
    """stdout on /dev/full: `vflog: error: cannot write output: No space left on device`, exit 2, nothing else."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        proc = vflog_process("report", str(SAMPLES / "normal-boot.log"), stdout=full, stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.decode() == "vflog: error: cannot write output: No space left on device\n"


def _children(pid: int) -> set[int]:
    """Return the processes whose parent is *pid* (from /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[1] == str(pid):
                found.add(int(entry))
    return found


@pytest.mark.parametrize(("signum", "fmt"), [(signal.SIGTERM, "json"), (signal.SIGHUP, "table")])
def test_terminating_scan_ends_its_workers_and_removes_temporary_files(tmp_path: Path, signum: int, fmt: str) -> None:
    """SIGTERM/SIGHUP on `scan --jobs 2`: exit 128+signal, no worker left, no -o temp file or spool left."""
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    for index in range(40):
        (fleet / f"vm{index}.log").write_bytes((SAMPLES / "host-servicing.log").read_bytes() * 12)
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    proc = vflog_process("scan", "--jobs", "2", "-q", "--format", fmt, "-o", str(out / "fleet.out"), str(fleet),
                         env={"TMPDIR": str(temp)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)
        time.sleep(0.05)
    while not any(p.name.startswith("vflog-scan-") for p in temp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert proc.poll() is None, "the scan ended before it could be interrupted"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum and b"terminated by SIG" in err and b"Traceback" not in err
    time.sleep(0.2)
    assert workers and not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert [p.name for p in out.iterdir()] == []
    assert [p.name for p in temp.iterdir() if not p.name.endswith(".lark")] == []


def _wait_until_open(pid: int, path: Path, timeout: float = 60.0) -> None:
    """Waits until process pid holds path open (it is past start-up and following), then a little more."""
    deadline = time.monotonic() + timeout
    fds = Path(f"/proc/{pid}/fd")
    while time.monotonic() < deadline:
        try:
            if any(os.readlink(fd) == str(path) for fd in fds.iterdir()):
                break
        except OSError:
            pass
        time.sleep(0.05)
    time.sleep(0.5)


def test_sigterm_on_follow_prints_the_final_table(tmp_path: Path) -> None:
    """`vflog follow FILE` ends on SIGTERM as on Ctrl-C: the final table, no traceback."""
    log = tmp_path / "kern.log"
    log.write_bytes(BOOT)
    proc = vflog_process("follow", "--poll", "0.1", str(log), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_until_open(proc.pid, log)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert b"vflog report for" in out and b"enP53091s1np0" in out and b"Traceback" not in err
    assert proc.returncode == 0


def test_poll_zero_does_not_spin(tmp_path: Path) -> None:
    """`follow --poll 0` waits at least 0.05 s between looks: 1.5 s of following cost under 0.1 s of CPU."""
    log = tmp_path / "kern.log"
    log.write_bytes(BOOT)
    proc = vflog_process("follow", "--poll", "0", str(log), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_until_open(proc.pid, log)
    before = _cpu_seconds(proc.pid)
    time.sleep(1.5)
    spent = _cpu_seconds(proc.pid) - before
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert spent < 0.1


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time of *pid* so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
