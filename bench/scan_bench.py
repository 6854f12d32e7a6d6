"""Benchmark ``vflog scan``: a directory of generated logs, --jobs 1 against --jobs 2.

Generates (deterministically, from samples/) a directory of N logs in a temporary directory:
the sample boots concatenated 2-6 to a log, each boot's clock stretched a little, written in one
of several formats (dmesg, dmesg -r, dmesg -T, syslog, rsyslog high precision, journalctl
short-monotonic), some compressed (gzip, xz, bzip2), some as rotated kern.log families, some
inside sosreport-like tarballs or WALinuxAgent-like zips, and a few corrupt (damaged gzip,
truncated xz, garbage zip).  Then it runs ``vflog scan --format jsonl`` in a fresh process with
--jobs 1 and --jobs 2 (best of --repeat runs each) and checks that:

* the scan finishes and reports every corrupt file by name (stderr and its JSON Lines record),
* its per-code counts equal the sum over ``vflog.analyze_files`` run on each log on its own,
* --jobs 2 is at least --min-speedup (1.7) times faster than --jobs 1.

Usage: python bench/scan_bench.py [--count 1000] [--repeat 3] [--boots 2 6] [--keep DIR]
"""

from __future__ import annotations

import argparse
import bz2
import collections
import datetime
import gzip
import io
import json
import lzma
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vflog  # noqa: E402

SAMPLES = ROOT / "samples"
_LINE = re.compile(r"^\[\s*(\d+\.\d+)\] (.*)$")
EPOCH = datetime.datetime(2026, 3, 1, 0, 0, 0, tzinfo=datetime.timezone.utc)

#: Run the scan command in a fresh interpreter, through vflog.cli once "scan" is wired in, else directly.
DRIVER = """
import sys
from vflog import cli
if "scan" in getattr(cli, "COMMANDS", ()):
    sys.exit(cli.main(sys.argv[1:]))
from vflog.cli.scan import add_scan_parser, scan_command
parser = cli.Parser(prog="vflog")
add_scan_parser(parser.add_subparsers(dest="command"))
sys.exit(scan_command(parser.parse_args(sys.argv[1:]), sys.stdout, sys.stderr))
"""


def _entries(text: str) -> list[tuple[float, str]]:
    return [(float(m[1]), m[2]) for m in map(_LINE.match, text.splitlines()) if m]


def _render(boots: list[tuple[datetime.datetime, float, list[tuple[float, str]]]], fmt: str, host: str) -> str:
    """Write boots (wall time of t=0, clock stretch, entries) in format *fmt*."""
    out = []
    for start, stretch, entries in boots:
        for t, message in entries:
            t = round(t * stretch, 6)
            wall = start + datetime.timedelta(seconds=t)
            if fmt == "dmesg":
                out.append(f"[{t:12.6f}] {message}")
            elif fmt == "dmesg-r":
                out.append(f"<6>[{t:12.6f}] {message}")
            elif fmt == "ctime":
                out.append(f"[{wall.strftime('%a %b')} {wall.day:2d} {wall.strftime('%H:%M:%S %Y')}] {message}")
            elif fmt == "syslog":
                out.append(f"{wall.strftime('%b')} {wall.day:2d} {wall.strftime('%H:%M:%S')} {host} kernel: "
                           f"[{t:12.6f}] {message}")
            elif fmt == "rsyslog":
                out.append(f"{wall.isoformat(timespec='microseconds')} {host} kernel: [{t:12.6f}] {message}")
            else:  # journalctl -o short-monotonic
                out.append(f"[{t:12.6f}] {host} kernel: {message}")
    return "\n".join(out) + "\n"


FORMATS = ("dmesg", "dmesg-r", "ctime", "syslog", "rsyslog", "short-monotonic")


def _compress(data: bytes, kind: str) -> bytes:
    if kind == "gz":
        return gzip.compress(data, mtime=0)
    if kind == "xz":
        return lzma.compress(data)
    if kind == "bz2":
        return bz2.compress(data)
    return data


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2026, 3, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def generate(root: Path, count: int, seed: int = 1, per_log: tuple[int, int] = (2, 6)) -> tuple[list[list[Path]], list[Path]]:
    """Write *count* logs under *root*; return the files of each log (oldest first) and the corrupt files."""
    rng = random.Random(seed)
    samples = [_entries(p.read_text()) for p in sorted(SAMPLES.glob("*.log"))]
    samples = [s for s in samples if s]
    logs: list[list[Path]] = []
    corrupt: list[Path] = []
    for index in range(count):
        host = f"vm-{index:04d}"
        start = EPOCH + datetime.timedelta(hours=rng.randrange(0, 24 * 150), seconds=rng.randrange(3600))
        boots = []
        for _ in range(rng.randint(*per_log)):
            boots.append((start, rng.uniform(0.9, 1.1), rng.choice(samples)))
            start += datetime.timedelta(hours=rng.uniform(1, 240))
        text = _render(boots, rng.choice(FORMATS), host).encode()
        roll = rng.random()
        if index % 100 == 7:  # corrupt: damaged gzip, truncated xz, garbage zip (1 in 100)
            kind = (index // 100) % 3
            packed = gzip.compress(text, mtime=0)
            path, data = [(root / f"{host}.log.gz", packed[:20] + bytes(rng.randrange(256) for _ in range(400))),
                          (root / f"{host}.log.xz", lzma.compress(text)[:300]),
                          (root / f"{host}-logs.zip", b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(300)))][kind]
            path.write_bytes(data)
            corrupt.append(path)
            logs.append([path])
        elif roll < 0.05:  # a copy of /var/log with a rotated kern.log family
            directory = root / host / "var" / "log"
            directory.mkdir(parents=True)
            lines = text.splitlines(keepends=True)
            cut = len(lines) // 2
            older, newer = directory / "kern.log.1.gz", directory / "kern.log"
            older.write_bytes(gzip.compress(b"".join(lines[:cut]), mtime=0))
            newer.write_bytes(b"".join(lines[cut:]))
            logs.append([older, newer])
        elif roll < 0.08:
            path = root / f"sosreport-{host}.tar.xz"
            path.write_bytes(_tar({f"sosreport-{host}/var/log/messages": text,
                                   f"sosreport-{host}/etc/hostname": host.encode()}))
            logs.append([path])
        elif roll < 0.10:
            path = root / f"{host}-waagent-logs.zip"
            path.write_bytes(_zip({"var/log/syslog": text, "var/log/waagent.log": b"2026-03-01 INFO agent\n"}))
            logs.append([path])
        else:
            kind = rng.choices(["", "gz", "xz", "bz2"], weights=[55, 30, 10, 5])[0]
            path = root / f"{host}.log{'.' + kind if kind else ''}"
            path.write_bytes(_compress(text, kind))
            logs.append([path])
    return logs, corrupt


def run_scan(root: Path, jobs: int, output: Path) -> tuple[float, float, int, str]:
    """Run ``vflog scan`` in a fresh interpreter; return wall seconds, CPU seconds, exit status and stderr."""
    argv = ["scan", str(root), "--format", "jsonl", "--jobs", str(jobs), "--quiet", "--output", str(output)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", DRIVER, *argv], capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode, done.stderr


def _cpu_busy(seconds: float = 1.0) -> float | None:
    """Return the fraction of all CPUs busy over *seconds* (from /proc/stat), or None where unknown."""
    def sample() -> tuple[int, int] | None:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    first = sample()
    time.sleep(seconds)
    second = sample()
    if first is None or second is None or second[0] == first[0]:
        return None
    return 1 - (second[1] - first[1]) / (second[0] - first[0])


def wait_idle(max_wait: float, threshold: float = 0.1) -> bool:
    """Wait (at most *max_wait* seconds) until other work uses under *threshold* of the CPUs; return whether it did."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = _cpu_busy()
        if busy is None or busy < threshold:
            return True
        if time.monotonic() > deadline:
            print(f"    (machine still {busy:.0%} busy with other work after waiting {max_wait:.0f} s)")
            return False
        time.sleep(2)


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def calibrate() -> float:
    """Return how much faster 2 processes run a pure CPU loop than 1, right now (2.0 on 2 idle cores)."""
    import multiprocessing

    work = [1_500_000] * 8
    started = time.perf_counter()
    for n in work:
        _burn(n)
    one = time.perf_counter() - started
    with multiprocessing.get_context("fork").Pool(2) as pool:
        started = time.perf_counter()
        pool.map(_burn, work, chunksize=1)
        two = time.perf_counter() - started
    return one / two


def expected_counts(logs: list[list[Path]]) -> collections.Counter[str]:
    """Return the findings per code of every log analysed on its own with vflog.analyze_files."""
    counts: collections.Counter[str] = collections.Counter()
    for members in logs:
        report = vflog.analyze_files(members)
        counts.update(f.code for f in report.findings)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-speedup", type=float, default=1.7)
    parser.add_argument("--boots", type=int, nargs=2, default=(2, 6), metavar=("MIN", "MAX"),
                        help="sample boots concatenated per log (default 2 6: about 100-700 lines a log)")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    parser.add_argument("--max-wait", type=float, default=300, metavar="S",
                        help="before each timed run, wait up to S seconds for other work to leave the CPUs idle")
    args = parser.parse_args()
    temp = None if args.keep else tempfile.mkdtemp(prefix="vflog-bench-")
    base = Path(args.keep or temp)  # type: ignore[arg-type]
    root = base / "fleet"
    try:
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        started = time.perf_counter()
        logs, corrupt = generate(root, args.count, args.seed, tuple(args.boots))
        files = sum(1 for p in root.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(f"generated {len(logs)} logs ({files} files, {size / 1e6:.1f} MB on disk, {len(corrupt)} corrupt) "
              f"in {time.perf_counter() - started:.1f} s under {root}")
        print(f"cores: {os.cpu_count()}, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

        wait_idle(args.max_wait)
        print(f"machine check: 2 processes run a pure CPU loop {calibrate():.2f}x faster than 1 right now "
              f"(2.00 on two idle cores; less means other work holds a core)")

        timings: dict[int, list[float]] = {1: [], 2: []}
        cpu: dict[int, list[float]] = {1: [], 2: []}
        failures: list[str] = []
        for round_ in range(args.repeat):
            for jobs in (1, 2):
                output = base / f"scan-j{jobs}.jsonl"
                idle = wait_idle(args.max_wait)
                seconds, cpu_seconds, status, stderr = run_scan(root, jobs, output)
                if not idle:
                    print("    (timed while other work was running)")
                timings[jobs].append(seconds)
                cpu[jobs].append(cpu_seconds)
                print(f"  round {round_ + 1}: --jobs {jobs}: {seconds:6.2f} s wall, {cpu_seconds:6.2f} s CPU, "
                      f"exit {status}")
                if status not in (0, 1):
                    failures.append(f"--jobs {jobs} exited {status}: {stderr[-2000:]}")
                    continue
                records = [json.loads(line) for line in output.read_text().splitlines()]
                if len(records) != len(logs):
                    failures.append(f"--jobs {jobs}: {len(records)} records for {len(logs)} logs")
                by_path = {r["path"]: r for r in records}
                for path in corrupt:
                    name = str(path)
                    record = by_path.get(name)
                    if name not in stderr or record is None or record["status"] == "ok":
                        failures.append(f"--jobs {jobs}: corrupt file {name} not reported")
                if round_ == 0:
                    got: collections.Counter[str] = collections.Counter()
                    for record in records:
                        for item in record["counts"]:
                            got[item["code"]] += item["count"]
                    want = expected_counts(logs)
                    if got != want:
                        failures.append(f"--jobs {jobs}: per-code counts differ from the per-file reports: "
                                        f"scan {dict(got)} vs analyze {dict(want)}")
                    else:
                        print(f"    per-code counts equal the per-file reports: {sum(got.values())} findings, "
                              f"{len(got)} codes")
        best1, best2 = min(timings[1]), min(timings[2])
        speedup = best1 / best2
        print(f"best of {args.repeat}: --jobs 1 {best1:.2f} s, --jobs 2 {best2:.2f} s, speedup {speedup:.2f}x "
              f"(required >= {args.min_speedup}x); {len(logs) / best2:.0f} logs/s with 2 jobs")
        print(f"CPU time (best): --jobs 1 {min(cpu[1]):.2f} s, --jobs 2 {min(cpu[2]):.2f} s "
              f"(parallel overhead {min(cpu[2]) / min(cpu[1]) - 1:+.1%})")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if speedup < args.min_speedup:
            failures.append(f"speedup {speedup:.2f}x is below {args.min_speedup}x")
        for failure in failures:
            print("FAIL:", failure)
        print("OK" if not failures else f"{len(failures)} check(s) failed")
        return 0 if not failures else 1
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
