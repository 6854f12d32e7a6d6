#!/usr/bin/env python3
"""What the benchmark inputs cost in this CPython before vflog does any work of its own.

    python bench/floor.py [--data DIR] [--repeat N]

For each input that bench/run.py judges by its ratio to grep it times `grep -cE` as run.py does,
and, in this process, the passes over the text that any pure-Python reader of that input has to
make (read, decode, count the line ends, vflog's own search for candidate lines); it adds the
start-up of a process that imports vflog and loads its cached parser, and says how much of the
8x-grep budget is left on one core and, ideally split, on two.  It prints the bound that the
--jobs target puts on the serial part of a run, and for the storm the thinnest per-line loop a
Python design could have.  The figures are floors: a target they already miss cannot be met by
code that makes these passes.

Run it from the repository root after ``python bench/run.py --generate`` (same inputs).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import tempfile
from typing import IO, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from vflog import framing  # noqa: E402  (the very search vflog makes)

BLOCK = 1 << 17  # vflog's block size after the first block
#: bench/run.py's baseline pattern: the drivers' names, as a grep user would search for them.
GREP_PATTERN = r"hv_netvsc|hv_pci|hv_vmbus|mlx[45]_|mana|pci"
#: The inputs bench/run.py judges by their ratio to grep, with the layout vflog searches them as.
GREP_CASES = {"dmesg-1m.log": "dmesg", "syslog-1m.log": "syslog", "lookalike-1m.log": "dmesg",
              "journal-1m.json": "json", "lookalike-journal-1m.json": "json"}
T_GREP_RATIO = 8.0
T_JOBS_SPEEDUP = 1.6
T_STORM_LPS = 100_000
#: With serial time A and parallel work P: T1 = A + P, T2 >= A + P/2.  T1 >= 1.6 T2 needs P >= 3 A,
#: and T2 <= 8 g then needs A + 1.5 A <= 8 g, i.e. A <= 3.2 g.
JOBS_SERIAL_BOUND = T_GREP_RATIO / (1 + (T_JOBS_SPEEDUP - 1) / (2 - T_JOBS_SPEEDUP))


def blocks(path: str) -> list[str]:
    """Return the file as decoded blocks cut at line ends (read once, to warm the page cache)."""
    out, rest = [], b""
    with open(path, "rb") as handle:
        while True:
            data = handle.read(BLOCK)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            out.append(data[:cut].decode("utf-8", "replace"))
            rest = data[cut:]
    if rest:
        out.append(rest.decode("utf-8", "replace"))
    return out


def read_decode(path: str) -> float:
    """Return the seconds to read *path* in vflog's blocks and decode each."""
    start = time.perf_counter()
    with open(path, "rb") as handle:
        while True:
            data = handle.read(BLOCK)
            if not data:
                break
            data.decode("utf-8", "replace")
    return time.perf_counter() - start


def read_only(path: str) -> float:
    """Return the seconds to read *path* in vflog's blocks."""
    start = time.perf_counter()
    with open(path, "rb") as handle:
        while handle.read(BLOCK):
            pass
    return time.perf_counter() - start


def timed(work: Callable[[str], object], texts: list[str]) -> float:
    """Return the seconds *work* takes over every block."""
    start = time.perf_counter()
    for text in texts:
        work(text)
    return time.perf_counter() - start


def best(repeat: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeat))


def passes(path: str, kind: str, repeat: int) -> tuple[float, int]:
    """Return the seconds to read and decode *path*, count its line ends and run vflog's own
    candidate search (layout *kind*) over it, and its number of lines."""
    texts = blocks(path)
    lines = sum(text.count("\n") for text in texts)
    seconds = best(repeat, lambda: read_decode(path)) + \
        best(repeat, lambda: timed(lambda text: text.count("\n"), texts)) + \
        best(repeat, lambda: timed(lambda text: framing.candidates(text, kind), texts))
    return seconds, lines


def grep_seconds(path: str, repeat: int) -> float:
    """Return the best wall seconds of `grep -cE` with the drivers' pattern on *path*, as bench/run.py runs it."""
    with tempfile.TemporaryFile() as out:  # not /dev/null: GNU grep stops at the first match then
        return best(repeat, lambda: _wall(["grep", "-c", "-E", GREP_PATTERN, path], out))


def _wall(command: list[str], out: IO[bytes]) -> float:
    """Return the wall seconds of one run of *command* (its exit status 1, no match, is fine)."""
    start = time.perf_counter()
    subprocess.run(command, stdout=out, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def storm_loop(lines: list[str]) -> float:
    """Return the seconds of the thinnest per-line loop: cut the stamp, look the message up in a
    cache, take one table transition and keep one tuple per line."""
    known: dict[str, tuple[str, str]] = {}
    table = {"a": {"x": "a"}}
    kept: list[tuple[int, float, str]] = []
    start = time.perf_counter()
    state = "a"
    for number, line in enumerate(lines):
        close = line.find("] ")
        message = line[close + 2:]
        parsed = known.get(message)
        if parsed is None:
            parsed = known[message] = (message.split(" ", 1)[0], "x")
        t = float(line[1:close])
        state = table[state].get(parsed[1], state)
        kept.append((number, t, state))
        if len(kept) > 1000:
            kept.clear()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="/tmp/vflog-bench", help="directory of the inputs")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pass; the best is kept")
    args = parser.parse_args(argv)
    paths = {name: os.path.join(args.data, name) for name in [*GREP_CASES, "storm-200k.log"]}
    missing = [p for p in paths.values() if not os.path.exists(p)]
    if missing:
        print(f"floor: missing inputs {', '.join(missing)}: run python bench/run.py --generate first", file=sys.stderr)
        return 2
    pycache = os.path.join(args.data, "pycache")  # next to the inputs, as bench/run.py keeps it
    try:
        process(STARTUP, pycache)  # the first run writes the bytecode cache and the parser cache
        start_up = best(max(args.repeat, 5), lambda: process(STARTUP, pycache))
    except subprocess.CalledProcessError as exc:
        print(f"floor: the start-up command failed (exit status {exc.returncode}): {' '.join(STARTUP)}", file=sys.stderr)
        return 2
    print(f"start-up S: python, vflog's imports and its cached parser: {start_up:.3f} s (best of {max(args.repeat, 5)})\n")
    header = ["input", "grep g", "8 g", "passes", "S + passes", "S + passes/2", "left (2 cores)", "A <= 3.2 g"]
    rows = []
    for name, kind in GREP_CASES.items():
        g = grep_seconds(paths[name], args.repeat)
        floor, _lines = passes(paths[name], kind, args.repeat)
        ideal = start_up + floor / 2
        left = T_GREP_RATIO * g - ideal
        rows.append([name, f"{g:.3f}", f"{T_GREP_RATIO * g:.3f}", f"{floor:.3f}", f"{start_up + floor:.3f}",
                     f"{ideal:.3f}", f"{left:.3f} s" if left > 0 else "none", f"{JOBS_SERIAL_BOUND * g:.3f}"])
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(f"\n--jobs 2 >= {T_JOBS_SPEEDUP}x faster than --jobs 1 and <= {T_GREP_RATIO:g}x grep at once needs the serial")
    print(f"part A (start-up + all the parent alone does) <= {JOBS_SERIAL_BOUND:.1f} g: S alone is {start_up:.3f} s.")

    with open(paths["storm-200k.log"], encoding="utf-8") as handle:
        storm = handle.read().splitlines()
    floor_storm = best(args.repeat, lambda: storm_loop(storm))
    total = floor_storm + start_up
    print(f"\nstorm: thinnest per-line Python loop {floor_storm:.3f} s, + S {total:.3f} s = {len(storm) / total:,.0f} lines/s; "
          f"the target {T_STORM_LPS:,} lines/s leaves {len(storm) / T_STORM_LPS - total:.3f} s for vflog's own work")
    return 0


#: A process that starts Python, imports vflog and loads the cached parser, and stops as the command does.
STARTUP = [sys.executable, "-c", "import vflog.cli, vflog.grammar; vflog.grammar.parser(); vflog.cli.leave(0)"]


def process(command: list[str], pycache: str) -> float:
    """Return the wall seconds of one run of *command* from the repository root, its bytecode
    cached in *pycache*."""
    env = dict(os.environ)  # like bench/run.py: the checkout's vflog, bytecode cached as an install's
    env["PYTHONPATH"] = os.path.dirname(HERE) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=os.path.dirname(HERE), env=env)
    return time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
