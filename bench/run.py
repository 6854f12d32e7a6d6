#!/usr/bin/env python3
"""vflog speed benchmark: wall time as ratios to grep (and start-up to Python's imports), peak RSS, correctness.

    python bench/run.py [--data DIR] [--generate] [--big] [--repeat N] [--strict]

Run it from the repository root (or with PYTHONPATH pointing at it): it measures the checkout's
vflog, ``sys.executable -m vflog``, never an installed copy.  Every command runs as its own
subprocess; its wall time is taken around the process (or the whole pipeline), its peak RSS is
what GNU time (``/usr/bin/time -f %M``) reports for that very process.  The targets are ratios to
baselines measured in the same run (absolute figures move by +-30 % on shared machines); lines/s
are printed for information.  See bench/README.md.

Exit status: 0 when every correctness check passed, 1 when one failed (speed targets only print
FAIL, unless --strict), 2 when the inputs are missing or a command could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from typing import IO, Any, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_DATA = "/tmp/vflog-bench"
GREP_PATTERN = r"hv_netvsc|hv_pci|hv_vmbus|mlx[45]_|mana|pci"
VFLOG = [sys.executable, "-m", "vflog"]

#: Files of one run: (case name, file, file the expected results are in).
FILES = [
    ("dmesg-1m", "dmesg-1m.log", "dmesg-1m.expected.json"),
    ("dmesg-1m.gz", "dmesg-1m.log.gz", "dmesg-1m.log.gz.expected.json"),
    ("journal-1m", "journal-1m.json", "journal-1m.expected.json"),
    ("syslog-1m", "syslog-1m.log", "syslog-1m.expected.json"),
    ("lookalike-1m", "lookalike-1m.log", "lookalike-1m.expected.json"),
    ("lookalike-journal-1m", "lookalike-journal-1m.json", "lookalike-journal-1m.expected.json"),
    ("storm-200k", "storm-200k.log", "storm-200k.expected.json"),
]
BIG = ("dmesg-1g", "dmesg-1g.log", "dmesg-1g.expected.json")
#: Cases of the optional --jobs comparison (when `vflog report --help` lists --jobs).
JOBS_CASES = ("dmesg-1m", "journal-1m")

# Targets of the issue "Speed, re-set": ratios measured side by side in one run.
T_GREP_RATIO = 8.0          # vflog time / `grep -cE` time on the same file (.gz: / `zcat | grep -cE`)
T_STORM_LPS = 100_000       # the storm: lines/s
T_STARTUP_RATIO = 2.0       # vflog start-up / `python -c "import lark, attrs"`
T_RSS_MB = 60.0             # peak RSS of every vflog process
T_JOBS_SPEEDUP = 1.6        # `--jobs 1` time / `--jobs 2` time
#: Cases whose own target is not the grep ratio (it is printed for information).
RATIO_INFO = frozenset({"storm-200k"})


class Measured:
    """The best of N runs of one command or pipeline."""

    def __init__(self, label: str, seconds: float, rss_mb: float, status: list[int], stderr: str,
                 runs: list[float]) -> None:
        self.label = label
        self.seconds = seconds
        self.rss_mb = rss_mb          # peak RSS of the process that matters (vflog, grep, zcat)
        self.status = status
        self.stderr = stderr
        self.runs = runs


PYCACHE: str | None = None  # set by main(): bytecode cache of the measured vflog, outside the repository


def _env() -> dict[str, str]:
    """Environment of the measured commands: the checkout's vflog first, bytecode cached like an install."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if PYCACHE:
        # An installed vflog starts from cached bytecode; PYTHONDONTWRITEBYTECODE would make every
        # start compile all modules.  The cache goes into the data directory, never into the repo.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = PYCACHE
    return env


TIME = shutil.which("time", path="/usr/bin:/bin") or None


def _rss_mb(path: str) -> float:
    """Peak RSS (MB) that GNU time wrote into *path* (``%M``, KiB); its last line, after any status line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
        return int(lines[-1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return float("nan")


def run_pipeline(cmds: Sequence[Sequence[str]], stdout: IO[bytes] | int) -> tuple[float, list[int], list[float], str]:
    """Run *cmds* as a pipeline (cmd0 | cmd1 | ...); return wall seconds, exit statuses, peak RSS (MB) each, stderr.

    Peak RSS comes from GNU time (``/usr/bin/time -f %M``) wrapped around each command: the
    ``ru_maxrss`` that ``os.wait4`` gives for a child of this Python process also counts this
    process's own memory (vfork/exec keeps the parent's high-water mark), GNU time's small fork
    does not.  Without GNU time, ``os.wait4`` is used and the figures are only upper bounds.
    """
    env = _env()
    procs: list[subprocess.Popen[bytes]] = []
    errs = [tempfile.TemporaryFile() for _ in cmds]
    rss_files = []
    t0 = time.perf_counter()
    prev: IO[bytes] | None = None
    for i, cmd in enumerate(cmds):
        last = i == len(cmds) - 1
        argv = list(cmd)
        if TIME:
            fd, rss_path = tempfile.mkstemp(prefix="vflog-bench-rss-")
            os.close(fd)
            rss_files.append(rss_path)
            argv = [TIME, "-f", "%M", "-o", rss_path] + argv
        p = subprocess.Popen(argv, stdin=prev if prev is not None else subprocess.DEVNULL,
                             stdout=stdout if last else subprocess.PIPE, stderr=errs[i], env=env, cwd=REPO)
        if prev is not None:
            prev.close()  # the child holds it now: the producer gets SIGPIPE if the consumer stops
        prev = p.stdout
        procs.append(p)
    statuses, rss = [], []
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        statuses.append(p.returncode)
        rss.append(usage.ru_maxrss / 1024.0)  # Linux: KiB; an upper bound, see above
    seconds = time.perf_counter() - t0
    if TIME:
        rss = [_rss_mb(path) for path in rss_files]
        for path in rss_files:
            os.unlink(path)
    text = []
    for f in errs:
        f.seek(0)
        text.append(f.read().decode("utf-8", "replace"))
        f.close()
    return seconds, statuses, rss, "".join(text)


def measure(label: str, cmds: Sequence[Sequence[str]], repeat: int, which: int = -1,
            keep: str | None = None, devnull: bool = True) -> Measured:
    """Best wall time of *repeat* runs and peak RSS of process *which* (max over the runs).

    stdout goes to /dev/null, except: the first run's into *keep* when given, and every run's into
    a temporary file when *devnull* is false (GNU grep stops at the first match when its output is
    /dev/null, which would measure nothing).
    """
    best, peak, runs = float("inf"), 0.0, []
    statuses: list[int] = []
    stderr = ""
    for i in range(repeat):
        if (keep is not None and i == 0) or not devnull:
            with (open(keep, "wb") if keep is not None and i == 0 else tempfile.TemporaryFile()) as out:
                seconds, statuses, rss, stderr = run_pipeline(cmds, out)
        else:
            with open(os.devnull, "wb") as out:
                seconds, statuses, rss, stderr = run_pipeline(cmds, out)
        runs.append(seconds)
        best = min(best, seconds)
        peak = max(peak, rss[which])
    return Measured(label, best, peak, statuses, stderr, runs)


def warm(path: str) -> None:
    """Read *path* once so that every command finds it in the page cache."""
    with open(path, "rb") as f:
        while f.read(16 << 20):
            pass


def count_lines(path: str) -> int:
    n = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(16 << 20)
            if not block:
                return n
            n += block.count(b"\n")


# ---------------------------------------------------------------------------- correctness
def check_report(case: str, path: str, expected: dict[str, Any], status: int) -> list[str]:
    """Compare vflog's JSON report in *path* with what the generator intended; return the mismatches."""
    problems: list[str] = []
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError) as exc:
        return [f"{case}: the JSON report could not be read: {exc}"]
    if status not in (0, 1):
        problems.append(f"{case}: vflog exited with status {status}")
    lines = report.get("stats", {}).get("lines")
    if lines != expected["lines"]:
        problems.append(f"{case}: stats.lines is {lines}, the input has {expected['lines']} lines")
    boots = report.get("boots") or []
    if len(boots) != expected["boots"]:
        starts = ", ".join(f"boot {b['index']} lines {b['start_line']}-{b['end_line']}" for b in boots[:6])
        problems.append(f"{case}: {len(boots)} boot(s) reported, expected {expected['boots']} ({starts})")
    for boot in boots:
        for finding in boot.get("findings", []):
            if finding.get("severity") == "error":
                ev = finding.get("evidence_text") or []
                quote = f" | line {ev[0]['line']}: {ev[0]['text']}" if ev else ""
                problems.append(f"{case}: error finding {finding['code']} on {finding.get('nic')} at line "
                                f"{finding.get('line')}: {finding.get('message')}{quote}")
    if not boots:
        return problems + [f"{case}: no boot in the report"]
    nics = {n["key"]: n for n in boots[-1].get("nics", [])}
    for key, want in expected["nics"].items():
        got = nics.get(key)
        if got is None:
            problems.append(f"{case}: NIC {want['synthetic']} ({key}) missing from the last boot")
            continue
        name = f"{want['synthetic']} ({want['driver']}, {key})"
        if got.get("datapath") != want["datapath"]:
            problems.append(f"{case}: {name} ends on datapath {got.get('datapath')!r} (state {got.get('state')}), "
                            f"expected {want['datapath']!r}")
        outages = got.get("outages") or []
        # the report keeps only the newest outages; servicing_cycles counts all of them
        done = got.get("servicing_cycles",
                       sum(1 for o in outages if o.get("vf_removed") and o.get("end_line") is not None))
        if done != want["servicing_cycles"]:
            open_ = sum(1 for o in outages if o.get("vf_removed") and o.get("end_line") is None)
            flaps = sum(1 for o in outages if not o.get("vf_removed"))
            problems.append(f"{case}: {name} has {done} completed servicing outage(s), expected "
                            f"{want['servicing_cycles']} (also {open_} open, {flaps} without VF removal; "
                            f"{len(outages)} outage entries in all)")
    for key, got in nics.items():
        if key not in expected["nics"]:
            vf = got.get("vf") or {}
            problems.append(f"{case}: unexpected NIC {key} (synthetic {got.get('synthetic')}, VF pci "
                            f"{vf.get('pci')}, state {got.get('state')}): events not tied to their NIC")
    return problems


def report_notes(path: str) -> list[str]:
    """Non-error findings and notes of a report, for information."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError):
        return []
    out = []
    stats = report.get("stats", {})
    if stats.get("unrecognised"):
        out.append(f"{stats['unrecognised']} unrecognised driver line(s)")
    counts: dict[str, int] = {}
    for boot in report.get("boots", []):
        for finding in boot.get("findings", []):
            if finding.get("severity") != "error":
                code = f"{finding['severity']} {finding['code']}"
                counts[code] = counts.get(code, 0) + 1
        for note in boot.get("notes", []) or []:
            out.append(f"note: {note}")
    out += [f"{n} x {code}" for code, n in sorted(counts.items())]
    out += [f"note: {n}" for n in report.get("notes", [])]
    out += [f"error: {e}" for e in report.get("errors", [])]
    return out


# ---------------------------------------------------------------------------- table
def _fmt_rate(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    return f"{x / 1e3:.0f}k" if x >= 1e4 else f"{x:.0f}"


def table(rows: list[list[str]], header: list[str], right: frozenset[int] = frozenset()) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


#: Columns of the table of cases; "x base" is the ratio to the baseline of the case (grep, or the start-up imports).
HEADER = ["case", "lines", "seconds", "lines/s", "MB/s", "x base", "peak RSS MB", "marks"]


def has_jobs() -> bool:
    """Return whether the measured vflog's `report` takes --jobs (its help lists it)."""
    try:
        done = subprocess.run(VFLOG + ["report", "--help"], capture_output=True, text=True, env=_env(), cwd=REPO,
                              timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--jobs" in done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"directory of the inputs (default {DEFAULT_DATA})")
    parser.add_argument("--generate", action="store_true", help="(re)generate the inputs first")
    parser.add_argument("--big", action="store_true", help="also measure the ~1 GB file (peak RSS check)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per command; the best time is kept")
    parser.add_argument("--startup-repeat", type=int, default=5, help="runs of the start-up cases (best kept)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a speed target fails too")
    parser.add_argument("--seed", type=int, default=None, help="seed for --generate")
    args = parser.parse_args(argv)
    data = os.path.abspath(args.data)
    if data.startswith(REPO + os.sep):
        parser.error("the benchmark data must not live in the repository")
    files = FILES + ([BIG] if args.big else [])

    missing = [f for _, f, e in files for f in (f, e) if not os.path.exists(os.path.join(data, f))]
    if args.generate or missing:
        if missing and not args.generate:
            print(f"inputs missing in {data} ({', '.join(missing[:3])}...): generating them", file=sys.stderr)
        cmd = [sys.executable, os.path.join(HERE, "generate.py"), "--out", data]
        if args.big:
            cmd.append("--big")
        if args.seed is not None:
            cmd += ["--seed", str(args.seed)]
        t0 = time.perf_counter()
        if subprocess.call(cmd) != 0:
            print("generation failed", file=sys.stderr)
            return 2
        print(f"generated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    outdir = os.path.join(data, "out")
    os.makedirs(outdir, exist_ok=True)
    global PYCACHE
    PYCACHE = os.path.join(data, "pycache")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?") \
        if os.path.exists("/proc/cpuinfo") else platform.processor()
    print(f"vflog benchmark: {REPO}, data {data}")
    print(f"machine: {cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()}; "
          f"{subprocess.run(['grep', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}; "
          f"LC_ALL={os.environ.get('LC_ALL', '')} LANG={os.environ.get('LANG', '')}; best of {args.repeat}")
    print("peak RSS: " + ("GNU time %M of each process" if TIME else
                          "os.wait4 ru_maxrss (GNU time not found: upper bounds, they include this script's memory)"))
    print(flush=True)

    rows: list[list[str]] = []
    targets: list[tuple[str, str, str]] = []
    problems: list[str] = []
    infos: list[str] = []
    failed_to_run: list[str] = []
    vflog_rss: dict[str, float] = {}
    measured: dict[str, Measured] = {}

    def row(label: str, m: Measured, lines: int | None, nbytes: int | None, base: Measured | None = None,
            marks: str = "") -> None:
        lps = lines / m.seconds if lines else None
        mbs = nbytes / m.seconds / 1e6 if nbytes else None
        ratio = f"{m.seconds / base.seconds:.1f}x" if base is not None and base.seconds > 0 else "-"
        rows.append([label, f"{lines:,}" if lines else "-", f"{m.seconds:.3f}", _fmt_rate(lps),
                     f"{mbs:.1f}" if mbs is not None else "-", ratio, f"{m.rss_mb:.1f}", marks])

    def progress(text: str) -> None:
        print(f"  ... {text}", file=sys.stderr, flush=True)

    def ran(m: Measured, ok: tuple[int, ...] = (0,)) -> Measured:
        if any(s not in ok for s in m.status):
            failed_to_run.append(f"{m.label}: exit status {m.status}\n{m.stderr.strip()[-2000:]}")
        return m

    def mark(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    def rss_mark(case: str, m: Measured) -> str:
        vflog_rss[case] = m.rss_mb
        return mark(m.rss_mb <= T_RSS_MB)

    for case, name, exp_name in files:
        path = os.path.join(data, name)
        with open(os.path.join(data, exp_name), encoding="utf-8") as f:
            expected = json.load(f)
        lines, nbytes = int(expected["lines"]), int(expected["bytes"])
        warm(path)
        gz = name.endswith(".gz")
        progress(f"{case}: grep")
        if gz:
            grep = ran(measure(f"zcat | grep {case}", [["zcat", path], ["grep", "-c", "-E", GREP_PATTERN]],
                               args.repeat, devnull=False), ok=(0, 1))
            zcat = ran(measure(f"zcat {case}", [["zcat", path]], args.repeat))
        else:
            grep = ran(measure(f"grep {case}", [["grep", "-c", "-E", GREP_PATTERN, path]], args.repeat,
                               devnull=False), ok=(0, 1))
        progress(f"{case}: vflog")
        out = os.path.join(outdir, f"{case}.json")
        vf = ran(measure(f"vflog {case}", [VFLOG + ["report", path, "--format", "json"]], args.repeat, keep=out),
                 ok=(0, 1))
        measured[case] = vf
        problems += check_report(case, out, expected, vf.status[-1])
        infos += [f"{case}: {n}" for n in report_notes(out)]
        lps = lines / vf.seconds
        ratio = vf.seconds / grep.seconds
        grep_label = "zcat | grep -c -E" if gz else "grep -c -E"
        row(f"{grep_label} {name}", grep, lines, nbytes)
        if gz:
            row(f"zcat {name} > /dev/null", zcat, lines, nbytes)
        marks = [f"{'info' if case in RATIO_INFO else mark(ratio <= T_GREP_RATIO)} x grep"]
        if case in RATIO_INFO:
            targets.append((f"{case}: x grep (information; its target is lines/s)", f"{ratio:.1f}x", "-"))
        else:
            targets.append((f"{case} <= {T_GREP_RATIO:.0f}x {grep_label}", f"{ratio:.1f}x", mark(ratio <= T_GREP_RATIO)))
        if case == "storm-200k":
            marks.append(f"{mark(lps >= T_STORM_LPS)} l/s")
            targets.append((f"storm-200k >= {_fmt_rate(T_STORM_LPS)} lines/s", _fmt_rate(lps) + " lines/s",
                            mark(lps >= T_STORM_LPS)))
        marks.append(f"{rss_mark(case, vf)} RSS")
        row(f"vflog report {name}", vf, lines, nbytes, grep, " ".join(marks))
        if gz:
            progress(f"{case}: zcat | vflog")
            out_pipe = os.path.join(outdir, f"{case}-zcat-pipe.json")
            pipe = ran(measure(f"zcat | vflog {case}", [["zcat", path], VFLOG + ["report", "-", "--format", "json"]],
                               args.repeat, keep=out_pipe), ok=(0, 1))
            problems += check_report(f"{case} (zcat | vflog)", out_pipe, expected, pipe.status[-1])
            row(f"zcat {name} | vflog report -", pipe, lines, nbytes, grep,
                f"info x grep {rss_mark(f'{case} (zcat | vflog)', pipe)} RSS")
        rows.append([""] * len(HEADER))

    # --jobs N of one big file, when this vflog has it
    if has_jobs():
        for case in JOBS_CASES:
            name, exp_name = next((f, e) for c, f, e in files if c == case)
            path = os.path.join(data, name)
            with open(os.path.join(data, exp_name), encoding="utf-8") as f:
                expected = json.load(f)
            lines, nbytes = int(expected["lines"]), int(expected["bytes"])
            timed: dict[int, Measured] = {}
            for jobs in (1, 2):
                progress(f"{case}: vflog --jobs {jobs}")
                out = os.path.join(outdir, f"{case}-jobs{jobs}.json")
                m = timed[jobs] = ran(measure(f"vflog --jobs {jobs} {case}",
                                              [VFLOG + ["report", path, "--format", "json", "--jobs", str(jobs)]],
                                              args.repeat, keep=out), ok=(0, 1))
                problems += check_report(f"{case} (--jobs {jobs})", out, expected, m.status[-1])
                row(f"vflog report --jobs {jobs} {name}", m, lines, nbytes, None,
                    f"{rss_mark(f'{case} (--jobs {jobs})', m)} RSS")
            speedup = timed[1].seconds / timed[2].seconds
            targets.append((f"{case}: --jobs 2 >= {T_JOBS_SPEEDUP}x faster than --jobs 1", f"{speedup:.2f}x",
                            mark(speedup >= T_JOBS_SPEEDUP)))
        rows.append([""] * len(HEADER))
    else:
        targets.append((f"--jobs 2 >= {T_JOBS_SPEEDUP}x faster than --jobs 1", "vflog report has no --jobs", "NOT RUN"))

    # start-up
    progress("start-up")
    n = max(1, args.startup_repeat)
    py = ran(measure("python -c pass", [[sys.executable, "-c", "pass"]], n))
    imports = ran(measure("python -c 'import lark, attrs'", [[sys.executable, "-c", "import lark, attrs"]], n))
    sample = os.path.join(REPO, "samples", "normal-boot.log")
    st = ran(measure("vflog report normal-boot.log", [VFLOG + ["report", sample]], n), ok=(0, 1))
    sample_lines = count_lines(sample)
    startup_ratio = st.seconds / imports.seconds
    row("python -c pass", py, None, None)
    row("python -c 'import lark, attrs'", imports, None, None)
    row("vflog report samples/normal-boot.log", st, sample_lines, os.path.getsize(sample), imports,
        f"{mark(startup_ratio <= T_STARTUP_RATIO)} start-up {rss_mark('start-up', st)} RSS")
    targets.append((f"start-up <= {T_STARTUP_RATIO:.0f}x python -c 'import lark, attrs' (best of {n})",
                    f"{startup_ratio:.2f}x ({st.seconds:.3f} s vs {imports.seconds:.3f} s)",
                    mark(startup_ratio <= T_STARTUP_RATIO)))

    # peak RSS
    worst = max(vflog_rss, key=vflog_rss.__getitem__)
    targets.append((f"peak RSS <= {T_RSS_MB:.0f} MB, every vflog process", f"{vflog_rss[worst]:.1f} MB ({worst})",
                    mark(vflog_rss[worst] <= T_RSS_MB)))

    while rows and not any(rows[-1]):
        rows.pop()
    print(table(rows, HEADER, frozenset({1, 2, 3, 4, 5, 6})))
    print()
    print(table([list(t) for t in targets], ["target (issue \"Speed, re-set\")", "measured", "result"]))
    print()
    if failed_to_run:
        print("COMMANDS THAT FAILED:")
        for text in failed_to_run:
            print("  " + text.replace("\n", "\n    "))
        print()
    if infos:
        print("information (warnings, info findings, notes; not checked):")
        for text in infos:
            print(f"  {text}")
        print()
    if problems:
        print(f"CORRECTNESS: FAIL ({len(problems)} mismatch(es); JSON reports in {outdir})")
        for text in problems:
            print(f"  - {text}")
    else:
        print(f"CORRECTNESS: PASS (final data path and completed servicing outages of every NIC as generated, "
              f"no error findings; JSON reports in {outdir})")
    speed_failed = any(r.startswith("FAIL") for _, _, r in targets)
    if failed_to_run:
        return 2
    if problems:
        return 1
    if args.strict and speed_failed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
