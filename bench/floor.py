#!/usr/bin/env python3
"""What the benchmark inputs cost in this CPython before vflog does any work of its own.

    python bench/floor.py [--data DIR] [--repeat N]

For each input of bench/run.py it times, in this process, the passes over the text that any
pure-Python reader of that input has to make (read, decode, count the line ends, one regex
search for candidate lines), then the searches vflog makes on top, and for the storm the
thinnest per-line loop a Python design could have.  The figures are floors: a target whose
lines/s is above what the floor allows cannot be met by code that makes these passes.

Run it from the repository root after ``python bench/run.py --generate`` (same inputs).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from vflog import framing  # noqa: E402  (the very patterns vflog searches with)

BLOCK = 1 << 17  # vflog's block size after the first block


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


def passes(path: str, pattern: re.Pattern[str], repeat: int) -> tuple[float, int, list[str]]:
    """Return the seconds to read and decode *path*, count its line ends and search it with
    *pattern*; its number of lines; and its blocks."""
    texts = blocks(path)
    lines = sum(text.count("\n") for text in texts)
    seconds = best(repeat, lambda: read_decode(path)) + \
        best(repeat, lambda: timed(lambda text: text.count("\n"), texts)) + \
        best(repeat, lambda: timed(pattern.findall, texts))
    return seconds, lines, texts


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
    paths = {name: os.path.join(args.data, name) for name in ("dmesg-1m.log", "journal-1m.json", "storm-200k.log")}
    missing = [p for p in paths.values() if not os.path.exists(p)]
    if missing:
        print(f"floor: missing inputs {', '.join(missing)}: run python bench/run.py --generate first", file=sys.stderr)
        return 2
    dmesg_pattern = framing.LAYOUT_PATTERNS["dmesg"][0]
    message_pattern = framing._JSON_PATTERNS['"MESSAGE"']
    rows = []

    floor, lines, texts = passes(paths["dmesg-1m.log"], dmesg_pattern, args.repeat)
    rows.append(("dmesg-1m: read, decode, count, dmesg candidate regex", floor, lines, 1_500_000))

    floor, lines, texts = passes(paths["journal-1m.json"], message_pattern, args.repeat)
    rows.append(("journal: read, decode, count, MESSAGE regex", floor, lines, 1_000_000))
    raw = [text.encode("utf-8") for text in texts]  # the same passes over bytes: no decoding at all
    raw_pattern = re.compile(message_pattern.pattern.encode())
    floor_bytes = best(args.repeat, lambda: read_only(paths["journal-1m.json"])) + \
        best(args.repeat, lambda: timed(lambda b: b.count(b"\n"), raw)) + \
        best(args.repeat, lambda: timed(lambda b: raw_pattern.findall(b), raw))
    rows.append(("journal: the same over bytes (read, count, regex; no decoding)", floor_bytes, lines, 1_000_000))
    del raw
    extra = best(args.repeat, lambda: timed(lambda t: '"msg"' in t, texts)) + \
        best(args.repeat, lambda: timed(lambda t: [t.find(w) for w in framing._USERSPACE_WORDS], texts))
    rows.append(("journal: + the msg key and user-space words vflog also searches", floor + extra, lines, 1_000_000))
    del texts

    with open(paths["storm-200k.log"], encoding="utf-8") as handle:
        storm = handle.read().splitlines()
    floor = best(args.repeat, lambda: storm_loop(storm))
    rows.append(("storm: thinnest per-line Python loop (no correlation, rules)", floor, len(storm), 100_000))

    pycache = os.path.join(args.data, "pycache")  # next to the inputs, as bench/run.py keeps it
    try:
        process(STARTUP, pycache)  # the first run writes the bytecode cache and the parser cache
        start_up = best(max(args.repeat, 5), lambda: process(STARTUP, pycache))
    except subprocess.CalledProcessError as exc:
        print(f"floor: the start-up command failed (exit status {exc.returncode}): {' '.join(STARTUP)}", file=sys.stderr)
        return 2
    print(f"start-up: python, vflog's imports and its cached parser: {start_up:.3f} s (best of {max(args.repeat, 5)})\n")
    print(f"{'passes':66s} {'seconds':>8s} {'+start-up':>10s} {'lines/s':>10s} {'target':>10s}  left for vflog's own work")
    for label, seconds, lines, target in rows:
        total = seconds + start_up
        left = lines / target - total
        print(f"{label:66s} {seconds:8.3f} {total:10.3f} {lines / total:10,.0f} {target:10,d}  "
              + (f"{left:.3f} s" if left > 0 else "none: the target is out of reach"))
    return 0


#: A process that starts Python, imports vflog and loads the cached parser, and stops.
STARTUP = [sys.executable, "-c", "import vflog.cli, vflog.grammar; vflog.grammar.parser()"]


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
