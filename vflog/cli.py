"""The command line: parse arguments, call one library function, hand the result to a renderer."""

from __future__ import annotations

import argparse
import enum
import io
import json
import os
import sys
import traceback
from pathlib import Path
from typing import IO, Mapping, Sequence

from . import __version__
from .analyze import analyze_files, events
from .catalogue import CODES, Severity
from .config import Config
from .sources import Limits, Selection
from .errors import InputError, UsageError, VflogError
from .follow import Follower, tail
from .render import (change_record, clean, render_change, render_code, render_codes, render_events, render_json,
                     render_table)
from .report import Report

COMMANDS = ("report", "events", "explain", "follow", "scan")


class ExitStatus(enum.IntEnum):
    """Exit statuses of the vflog command (a documented contract)."""

    OK = 0
    FINDINGS = 1
    ERROR = 2
    INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see vflog --help)")


def _thresholds(values: list[str]) -> dict[str, str]:
    settings = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep:
            raise UsageError(f"--threshold needs NAME=VALUE, not {value!r}")
        settings[name.strip()] = number.strip()
    return settings


def _input_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that say how inputs are read."""
    parser.add_argument("--include", action="append", default=[], metavar="GLOB",
                        help="in directories and archives, read the members matching GLOB (default: the kernel logs)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="in directories and archives, never read members matching GLOB")
    parser.add_argument("--tz", default="UTC", metavar="ZONE",
                        help="time zone of wall-clock times that carry no offset (default: UTC)")
    parser.add_argument("--max-bytes", type=_size, default=Limits().max_bytes, metavar="SIZE",
                        help="stop decompressing an input beyond SIZE (e.g. 4G, 500M; default 4G)")
    parser.add_argument("--max-ratio", type=float, default=Limits().max_ratio, metavar="N",
                        help="stop an input that expands more than N times its compressed size (default 200)")
    parser.add_argument("--max-depth", type=int, default=Limits().max_depth, metavar="N",
                        help="archives nested deeper than N are skipped (default 3)")


def _size(text: str) -> int:
    """Parse 4G, 500M, 64K or a plain number of bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().rstrip("B")
    try:
        return int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None


def _settings(args: argparse.Namespace) -> tuple[Config, Selection, Limits]:
    """Return the analysis settings, the member selection and the input limits the options ask for."""
    config = Config(tz=args.tz).with_settings(_thresholds(args.threshold))
    config.tzinfo()
    limits = Limits(max_bytes=args.max_bytes, max_ratio=args.max_ratio, max_depth=args.max_depth)
    return config, Selection(tuple(args.include), tuple(args.exclude)), limits


def build_parser(full: bool = True) -> argparse.ArgumentParser:
    """Return the argument parser of the vflog command."""
    parser = _Parser(prog="vflog", description="Explain Azure Accelerated Networking (SR-IOV VF) events in a Linux kernel log.")
    parser.add_argument("--version", action="version", version=f"vflog {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show a Python traceback on internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    report = sub.add_parser("report", help="per-NIC verdicts and findings (the default command)")
    report.add_argument("files", nargs="*", metavar="FILE", help="log files read as one log, in order; '-' or none for stdin")
    report.add_argument("--format", choices=("table", "json"), default="table")
    report.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default="error",
                        help="exit 1 when a finding has at least this severity (default: error)")
    report.add_argument("--show-unrecognised", action="store_true", help="list driver lines the grammar does not know")
    report.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    report.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE",
                        help="change a threshold, e.g. readd_max=600 (see README)")
    _input_options(report)
    report.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)

    ev = sub.add_parser("events", help="one JSON object per recognised line (JSON Lines)")
    ev.add_argument("files", nargs="*", metavar="FILE")
    ev.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE", help=argparse.SUPPRESS)
    _input_options(ev)
    ev.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)

    fo = sub.add_parser("follow", help="watch a live log (dmesg -w, journalctl -kf) and print each change")
    fo.add_argument("file", nargs="?", default="-", metavar="FILE", help="a growing file to follow, or '-' (default)")
    fo.add_argument("--format", choices=("text", "jsonl"), default="text")
    fo.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default="error")
    fo.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE", help=argparse.SUPPRESS)
    fo.add_argument("--tz", default="UTC", metavar="ZONE")
    fo.add_argument("--poll", type=float, default=0.5, help="seconds between looks at a growing file")
    fo.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)

    ex = sub.add_parser("explain", help="what a finding code means, why it happens, what to check")
    ex.add_argument("code", nargs="?", help="a finding code; without one, list them all")
    ex.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    if full:  # the scan machinery (process pools, SQLite, Dask) is only loaded when needed
        from .render_scan import add_scan_parser
        add_scan_parser(sub)
    else:
        sub.add_parser("scan", help="analyse many logs in parallel and summarise them (fleet)")
    return parser


def _with_default_command(argv: Sequence[str]) -> list[str]:
    """Insert ``report`` when the first argument is not a command (so ``dmesg | vflog`` works)."""
    args = list(argv)
    for index, arg in enumerate(args):
        if arg in ("-h", "--help", "--version"):
            return args
        if arg == "--traceback":
            continue
        if arg in COMMANDS:
            return args
        return args[:index] + ["report"] + args[index:]
    return args + ["report"]


def _stdin_is_terminal(files: list[str]) -> bool:
    """Return whether vflog would wait for a log typed at the terminal (no file, stdin a tty)."""
    return (not files or files == ["-"]) and sys.stdin is not None and sys.stdin.isatty()


def _report(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    if _stdin_is_terminal(args.files):
        raise UsageError("no log given: pipe one in (dmesg | vflog) or name a file (vflog report kern.log)")
    config, selection, limits = _settings(args)
    report = analyze_files(args.files or ["-"], config=config, selection=selection, limits=limits)
    for error in report.errors:
        print(f"vflog: {clean(error)}", file=stderr)
    if report.errors and not report.stats.lines:
        return ExitStatus.ERROR
    render = render_json if args.format == "json" else render_table
    _write(render(report, show_unrecognised=args.show_unrecognised), args.output, stdout)
    return _status(report, args.fail_on)


def _write(text: str, output: str | None, stdout: IO[str]) -> None:
    """Write *text* to stdout, or atomically to *output* (a temporary file renamed into place)."""
    if not output or output == "-":
        stdout.write(text)
        return
    target = Path(output)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise InputError(output, f"cannot be written ({exc.strerror or exc})") from None


def _events(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    config, selection, limits = _settings(args)
    for line in render_events(events(args.files or ["-"], config=config, selection=selection, limits=limits)):
        stdout.write(line)
    return ExitStatus.OK


def _follow(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    config = Config(tz=args.tz).with_settings(_thresholds(args.threshold))
    config.tzinfo()
    name = "<stdin>" if args.file == "-" else args.file
    follower = Follower(config, name)
    jsonl = args.format == "jsonl"
    interrupted = False
    try:
        lines = (io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline=None)
                 if args.file == "-" else tail(Path(args.file), poll=args.poll))
        for line in lines:
            follower.feed(line)
            _print_changes(follower.changes(), jsonl, stdout)
    except KeyboardInterrupt:
        interrupted = True
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise InputError(name, exc.strerror or str(exc)) from None
    report = follower.finish()
    _print_changes(follower.changes(), jsonl, stdout)
    if jsonl:
        stdout.write(json.dumps({"type": "report", "interrupted": interrupted, "report": report.to_dict()}) + "\n")
    else:
        stdout.write(render_table(report))
    stdout.flush()
    return _status(report, args.fail_on)


def _print_changes(changes: list, jsonl: bool, stdout: IO[str]) -> None:
    for change in changes:
        stdout.write(json.dumps(change_record(change)) + "\n" if jsonl else render_change(change))
        stdout.flush()


def _status(report: Report, fail_on: str) -> int:
    """Return the exit status for *report* under the --fail-on threshold."""
    if fail_on == "never":
        return ExitStatus.OK
    threshold = Severity(fail_on).rank
    return ExitStatus.FINDINGS if any(f.severity.rank >= threshold for f in report.findings) else ExitStatus.OK


def _explain(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    if not args.code:
        stdout.write(render_codes())
        return ExitStatus.OK
    code = CODES.get(args.code)
    if code is None:
        raise UsageError(f"unknown finding code {args.code!r}; run 'vflog explain' for the list")
    stdout.write(render_code(code))
    return ExitStatus.OK


def _scan(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from .render_scan import scan_command
    return scan_command(args, stdout, stderr)


_HANDLERS = {"report": _report, "events": _events, "explain": _explain, "follow": _follow, "scan": _scan}


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
         stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Run vflog with *argv*; the one place where errors become messages and exit statuses."""
    argv = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if env is None else env
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    show_traceback = "--traceback" in argv or bool(env.get("VFLOG_TRACEBACK"))
    try:
        argv = _with_default_command(argv)
        full = "scan" in argv or any(a in ("-h", "--help") for a in argv[:1])
        args = build_parser(full).parse_args(argv)
        return int(_HANDLERS[args.command](args, stdout, stderr))
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    except UsageError as exc:
        print(f"vflog: usage error: {clean(str(exc))}", file=stderr)
        return ExitStatus.ERROR
    except VflogError as exc:
        print(f"vflog: error: {clean(str(exc))}", file=stderr)
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        print("vflog: interrupted", file=stderr)
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return ExitStatus.OK
    except Exception as exc:  # the single error boundary: never a bare traceback
        if show_traceback:
            traceback.print_exc(file=stderr)
        print(f"vflog: internal error: {type(exc).__name__}: {clean(str(exc))} (run with --traceback for details)",
              file=stderr)
        return ExitStatus.ERROR


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush after a closed pipe stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
