"""The command line: parse arguments, call one library function, hand the result to a renderer."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import enum
import io
import math
import os
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import IO, Callable, Iterator, Mapping, Sequence, cast

from . import __version__
from .analyze import analyze_files, events
from .catalogue import CODES, Severity
from .config import Config
from .sources import Limits, Selection, Source
from .errors import InputError, UsageError, VflogError
from .follow import Follower, LineSplitter, Segment, Tail, read_lines
from .output import Guarded, OutputError, Unfailing, output_to
from .render import (change_record, clean, render_change, render_code, render_codes, render_events, render_json,
                     render_table, to_json)
from .report import EMPTY, Report

COMMANDS = ("report", "events", "explain", "follow", "scan")
#: The shortest pause between looks at a followed file (``--poll 0`` means this, not a busy loop).
MIN_POLL = 0.05
#: Signals that end vflog the way Ctrl-C does (workers stopped, temporary files removed).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class ExitStatus(enum.IntEnum):
    """Exit statuses of the vflog command (a documented contract); SIGTERM and SIGHUP exit 128 + the signal (143, 129)."""

    OK = 0
    FINDINGS = 1
    ERROR = 2
    INTERRUPTED = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C (every cleanup runs), then exit 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        """Return the signal's name (``SIGTERM``)."""
        return signal.Signals(self.signum).name


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
    parser.add_argument("--max-ratio", type=_ratio, default=Limits().max_ratio, metavar="N",
                        help="stop an input that expands more than N times its compressed size (default 200)")
    parser.add_argument("--max-depth", type=_count, default=Limits().max_depth, metavar="N",
                        help="archives nested deeper than N are skipped (default 3)")


def _size(text: str) -> int:
    """Parse 4G, 500M, 64K or a plain number of bytes (finite, not negative)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().rstrip("B")
    try:
        size = int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if size < 0:
        raise argparse.ArgumentTypeError(f"a size cannot be negative: {text!r}")
    return size


def _number(text: str) -> float:
    """Parse a finite number that is not negative (NaN, infinities and negative values are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"needs a finite number that is not negative, not {text!r}")
    return value


def _ratio(text: str) -> float:
    """Parse a finite expansion ratio greater than zero."""
    value = _number(text)
    if value == 0:
        raise argparse.ArgumentTypeError("needs a ratio greater than 0")
    return value


def _count(text: str) -> int:
    """Parse a whole number that is not negative."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative: {text!r}")
    return value


def _poll(text: str) -> float:
    """Parse --poll seconds: finite and not negative; below MIN_POLL (0 included) means MIN_POLL."""
    return max(_number(text), MIN_POLL)


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

    ev = sub.add_parser("events", help="one JSON object per recognised line (JSON Lines), printed as the log is read")
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
    fo.add_argument("--poll", type=_poll, default=0.5,
                    help=f"seconds between looks at a growing file (default 0.5; at least {MIN_POLL})")
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
    """Insert ``report`` when the first argument is not a command (so ``dmesg | vflog`` works).

    A first argument that is no file but close to a command's name is a typo, not a log: UsageError.
    """
    args = list(argv)
    for index, arg in enumerate(args):
        if arg in ("-h", "--help", "--version"):
            return args
        if arg == "--traceback":
            continue
        if arg in COMMANDS:
            return args
        _refuse_typo(arg)
        return args[:index] + ["report"] + args[index:]
    return args + ["report"]


def _refuse_typo(arg: str) -> None:
    """Raise UsageError when *arg* is not an existing file and looks like a misspelt command."""
    if arg.startswith("-") or os.path.lexists(arg):
        return
    close = difflib.get_close_matches(arg, COMMANDS, n=1)
    if close:
        raise UsageError(f"unknown command {arg!r} (did you mean {close[0]!r}?)")


def _paths(files: Sequence[str]) -> list[Source]:
    """Return the FILE arguments as paths (never log text); ``-`` or none is standard input."""
    return [name if name == "-" else Path(name) for name in files] or ["-"]


def _stdin_is_terminal(files: list[str]) -> bool:
    """Return whether vflog would wait for a log typed at the terminal (no file, stdin a tty)."""
    return (not files or files == ["-"]) and sys.stdin is not None and sys.stdin.isatty()


def _report(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    if _stdin_is_terminal(args.files):
        raise UsageError("no log given: pipe one in (dmesg | vflog) or name a file (vflog report kern.log)")
    config, selection, limits = _settings(args)
    report = analyze_files(_paths(args.files), config=config, selection=selection, limits=limits)
    _print_errors(report.errors, stderr)
    if report.errors and not report.stats.lines:
        return ExitStatus.ERROR
    if report.content == EMPTY:  # nothing to analyse is not healthy (e.g. `dmesg | vflog` without permission)
        print(f"vflog: error: {clean(report.source)}: is empty: nothing to analyse", file=stderr)
        return ExitStatus.ERROR
    render = render_json if args.format == "json" else render_table
    text = render(report, show_unrecognised=args.show_unrecognised)
    with output_to(args.output, stdout) as out:
        out.write(text)
    return _status(report, args.fail_on)


def _print_errors(errors: Sequence[str], stderr: IO[str]) -> None:
    """Print each input error as one ``vflog: error: ...`` line."""
    for error in errors:
        print(f"vflog: error: {clean(error)}", file=stderr)


def _events(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """Print each event as it is attributed (JSON Lines); then the input errors; exit 2 when nothing was read.

    Standard input is read as data arrives and what was printed is flushed before each wait for
    more, so ``dmesg -w | vflog events`` prints each event as its line comes.
    """
    config, selection, limits = _settings(args)
    sources = [cast(Source, _ArrivingStdin.of(stdout)) if source == "-" else source  # read like any byte stream
               for source in _paths(args.files)]
    stream = events(sources, config=config, selection=selection, limits=limits)
    for line in render_events(stream):
        stdout.write(line)
    _print_errors(stream.errors, stderr)
    if not stream.lines and not stream.errors:
        print(f"vflog: error: {clean(', '.join(stream.names) or '<input>')}: is empty: nothing to analyse", file=stderr)
    return ExitStatus.ERROR if not stream.lines else ExitStatus.OK


class _ArrivingStdin:
    """Standard input as a byte stream whose reads return what has arrived (no wait for a full block).

    *before_wait* (flushing the output) runs before each read that may wait for more input.
    """

    name = "<stdin>"

    def __init__(self, buffer: io.BufferedReader, before_wait: Callable[[], None]) -> None:
        self._buffer = buffer
        self._before_wait = before_wait

    @classmethod
    def of(cls, stdout: IO[str]) -> "_ArrivingStdin | str":
        """Return the arriving standard input, or ``-`` when stdin cannot be read that way (no peek/read1)."""
        buffer = getattr(sys.stdin, "buffer", None)
        if not (hasattr(buffer, "read1") and hasattr(buffer, "peek")):
            return "-"
        return cls(buffer, stdout.flush)  # type: ignore[arg-type]

    def read(self, size: int = -1) -> bytes:
        """Return up to *size* bytes that have arrived, waiting only when none has (all of it for -1)."""
        if size == 0:
            return b""
        self._before_wait()
        return self._buffer.read1(size) if size > 0 else self._buffer.read()

    def peek(self, size: int = 0) -> bytes:
        """Return bytes ahead without consuming them."""
        self._before_wait()
        return self._buffer.peek(size)


def _follow(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    config = Config(tz=args.tz).with_settings(_thresholds(args.threshold))
    config.tzinfo()
    name = "<stdin>" if args.file == "-" else args.file
    follower = Follower(config, name)
    jsonl = args.format == "jsonl"
    interrupted = False
    splitter = LineSplitter()
    items: Tail | Iterator[str] = read_lines(sys.stdin.buffer, splitter=splitter) if args.file == "-" \
        else Tail(Path(args.file), poll=args.poll)
    try:
        for item in items:
            if isinstance(item, Segment):
                follower.begin(item.name)
                if item.reason in ("rotated", "truncated"):
                    print(f"vflog: note: {clean(name)} was {item.reason}; reading {clean(item.name)} from its start, "
                          f"line numbers go on", file=stderr)
                continue
            follower.feed(item)
            _print_changes(follower.changes(), jsonl, stdout)
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM or SIGHUP (Terminated)
        interrupted = True
    except (BrokenPipeError, OutputError, InputError):
        raise
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except OSError as exc:
        raise InputError(name, exc.strerror or str(exc)) from None
    report = follower.finish(items.notes() if isinstance(items, Tail) else splitter.notes(name))
    _print_changes(follower.changes(), jsonl, stdout)
    if jsonl:
        stdout.write(to_json({"type": "report", "interrupted": interrupted, "report": report.to_dict()}) + "\n")
    else:
        stdout.write(render_table(report))
    stdout.flush()
    return _status(report, args.fail_on)


def _print_changes(changes: list, jsonl: bool, stdout: IO[str]) -> None:
    for change in changes:
        stdout.write(to_json(change_record(change)) + "\n" if jsonl else render_change(change))
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
    """Run vflog with *argv*; the one place where errors become messages and exit statuses.

    Without *stdout* and *stderr* it runs on the process's own streams: a closed standard
    descriptor is first taken by /dev/null (so no file vflog opens becomes fd 0-2), and output
    that cannot be written is an error, not an interpreter complaint at exit.  Messages that
    cannot be written to stderr are dropped; they never cost the results on stdout.  SIGTERM and
    SIGHUP unwind like Ctrl-C (workers stopped, temporary files removed), then exit 128 + signal.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if env is None else env
    own = stdout is None and stderr is None
    if own:
        _standard_descriptors()
    out = Guarded(stdout or sys.stdout or _Closed())
    err = Unfailing(stderr or sys.stderr or _Closed())
    show_traceback = "--traceback" in argv or bool(env.get("VFLOG_TRACEBACK"))
    try:
        with _unwinding_signals():
            argv = _with_default_command(argv)
            full = "scan" in argv or any(a in ("-h", "--help") for a in argv[:1])
            args = build_parser(full).parse_args(argv)
            status = int(_HANDLERS[args.command](args, out, err))  # type: ignore[arg-type]
            out.flush()
            return status
    except SystemExit as exc:  # --help and --version
        return _flushed(out, own, int(exc.code or 0))
    except UsageError as exc:
        print(f"vflog: usage error: {clean(str(exc))}", file=err)
        return ExitStatus.ERROR
    except OutputError as exc:
        if own and exc.target is None:
            _silence_stdout()
        print(f"vflog: error: {clean(str(exc))}", file=err)
        return ExitStatus.ERROR
    except VflogError as exc:
        print(f"vflog: error: {clean(str(exc))}", file=err)
        return ExitStatus.ERROR
    except Terminated as exc:
        print(f"vflog: terminated by {exc.name}", file=err)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("vflog: interrupted", file=err)
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        if own:
            _silence_stdout()
        return ExitStatus.OK
    except Exception as exc:  # the single error boundary: never a bare traceback
        if show_traceback:
            traceback.print_exc(file=err)
        print(f"vflog: internal error: {type(exc).__name__}: {clean(str(exc))} (run with --traceback for details)",
              file=err)
        return ExitStatus.ERROR


def _flushed(out: Guarded, own: bool, status: int) -> int:
    """Flush what --help or --version printed; return *status*, or 2 when it cannot be written."""
    try:
        out.flush()
    except (OutputError, BrokenPipeError):
        if own:
            _silence_stdout()
        return ExitStatus.ERROR
    return status


class _Closed(io.TextIOBase):
    """Stands for a standard stream that was closed when vflog started: writing to it fails."""

    def write(self, text: str) -> int:  # type: ignore[override]
        """Fail as a closed descriptor does."""
        raise OSError(9, "standard stream is closed")


def _standard_descriptors() -> None:
    """Put /dev/null on any of fd 0, 1, 2 that is closed, and a sink on ``sys.stderr`` when it is None."""
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != descriptor:
                os.dup2(opened, descriptor)
                os.close(opened)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")


@contextlib.contextmanager
def _unwinding_signals() -> Iterator[None]:
    """Within the block, the first SIGTERM or SIGHUP raises Terminated (later ones wait for the cleanup).

    A signal that was ignored when vflog started (``nohup``) stays ignored; outside the main
    thread nothing changes.
    """
    fired: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if not fired:
            fired.append(signum)
            raise Terminated(signum)

    previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}
    try:
        for stop in STOP_SIGNALS:
            if signal.getsignal(stop) is not signal.SIG_IGN:
                previous[stop] = signal.signal(stop, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)  # type: ignore[arg-type]


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush after a closed pipe stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
