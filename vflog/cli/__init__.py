"""The command line: parse arguments, call one library function, hand the result to a renderer.

``main(argv, env) -> int`` is the single place where errors become messages and exit statuses.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import os
import signal
import sys
import threading
import traceback
from types import FrameType
from typing import IO, Any, Callable, Collection, Iterator, Mapping, NoReturn, Sequence

from .. import __version__
from ..errors import UsageError, VflogError
from ..output import Guarded, OutputError, Unfailing
from ..render import clean
from .check import add_check_parser, check_command
from .commands import events_command, explain_command, follow_command, report_command, timeline_command
from .options import HELP, MIN_POLL, ExitStatus, Parser, display_options, input_options, jobs_option, poll_seconds

__all__ = ["COMMANDS", "ExitStatus", "Parser", "Terminated", "build_parser", "main", "run"]

COMMANDS = ("report", "events", "explain", "follow", "scan", "check", "timeline")


#: Signals that end vflog the way Ctrl-C does (workers stopped, temporary files removed).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C (every cleanup runs), then exit 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        """Return the signal's name (``SIGTERM``)."""
        return signal.Signals(self.signum).name


def build_parser(full: bool = True, only: Collection[str] | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of the vflog command.

    The options of the sub-commands in *only* are defined (all of them when it is None); the others are listed
    with their one-line help alone (main() defines just the command it runs).  Without *full*, scan is only
    listed too: its options load its machinery (process pools, SQLite, Dask).
    """
    parser = Parser(prog="vflog", description="Explain Azure Accelerated Networking (SR-IOV VF) events in a Linux kernel log.")
    parser.add_argument("--version", action="version", version=f"vflog {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show a Python traceback on internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in HELP:
        if (only is None or name in only) and (full or name != "scan"):
            _DEFINE[name](sub)
        else:
            sub.add_parser(name, help=HELP[name])
    return parser


def _report_parser(sub: Any) -> None:
    """Add ``vflog report`` to the sub-command parsers *sub*."""
    report = sub.add_parser("report", help=HELP["report"])
    report.add_argument("files", nargs="*", metavar="FILE", help="log files read as one log, in order; '-' or none for stdin")
    report.add_argument("--format", choices=("table", "json", "html"), default="table",
                        help="table for people, json for programs, html: one self-contained page with timelines")
    report.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default="error",
                        help="exit 1 when a finding has at least this severity (default: error)")
    report.add_argument("--show-unrecognised", action="store_true", help="list driver lines the grammar does not know")
    report.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    report.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE",
                        help="change a threshold, e.g. readd_max=600 (see README)")
    input_options(report)
    jobs_option(report)
    display_options(report)
    report.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _events_parser(sub: Any) -> None:
    """Add ``vflog events`` to the sub-command parsers *sub*."""
    ev = sub.add_parser("events", help=HELP["events"])
    ev.add_argument("files", nargs="*", metavar="FILE")
    ev.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE", help=argparse.SUPPRESS)
    input_options(ev)
    ev.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _follow_parser(sub: Any) -> None:
    """Add ``vflog follow`` to the sub-command parsers *sub*."""
    fo = sub.add_parser("follow", help=HELP["follow"])
    fo.add_argument("file", nargs="?", default="-", metavar="FILE", help="a growing file to follow, or '-' (default)")
    fo.add_argument("--format", choices=("text", "jsonl"), default="text")
    fo.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default="error")
    fo.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE", help=argparse.SUPPRESS)
    fo.add_argument("--tz", default="UTC", metavar="ZONE")
    fo.add_argument("--poll", type=poll_seconds, default=0.5,
                    help=f"seconds between looks at a growing file (default 0.5; at least {MIN_POLL})")
    display_options(fo)
    fo.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _timeline_parser(sub: Any) -> None:
    """Add ``vflog timeline`` to the sub-command parsers *sub*."""
    tl = sub.add_parser("timeline", help=HELP["timeline"])
    tl.add_argument("files", nargs="*", metavar="FILE", help="log files read as one log, in order; '-' or none for stdin")
    tl.add_argument("--ascii", action="store_true", help="draw with ASCII characters only (no block characters)")
    tl.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default="error",
                    help="exit 1 when a finding has at least this severity (default: error)")
    tl.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE", help=argparse.SUPPRESS)
    input_options(tl)
    display_options(tl)
    tl.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _explain_parser(sub: Any) -> None:
    """Add ``vflog explain`` to the sub-command parsers *sub*."""
    ex = sub.add_parser("explain", help=HELP["explain"])
    ex.add_argument("code", nargs="?", help="a finding code; without one, list them all")
    display_options(ex)
    ex.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _scan_parser(sub: Any) -> None:
    """Add ``vflog scan`` to the sub-command parsers *sub* (this loads the scan machinery)."""
    from .scan import add_scan_parser
    add_scan_parser(sub)


#: How each sub-command's options are defined, by name.
_DEFINE: dict[str, Callable[[Any], object]] = {
    "report": _report_parser, "events": _events_parser, "follow": _follow_parser, "timeline": _timeline_parser,
    "explain": _explain_parser, "check": add_check_parser, "scan": _scan_parser}


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
    import difflib  # only for an argument that is neither an option nor a file
    close = difflib.get_close_matches(arg, COMMANDS, n=1)
    if close:
        raise UsageError(f"unknown command {arg!r} (did you mean {close[0]!r}?)")


def _scan(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from .scan import scan_command
    return scan_command(args, stdout, stderr)


_HANDLERS = {"report": report_command, "events": events_command, "explain": explain_command, "follow": follow_command,
             "scan": _scan, "check": check_command, "timeline": timeline_command}


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
            args = build_parser(only=[arg for arg in argv if arg in COMMANDS][:1]).parse_args(argv)
            args.env = env  # the handlers read COLUMNS and NO_COLOR from here, never from os.environ
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


def run() -> NoReturn:
    """Console-script entry point: run main, then leave (see leave)."""
    leave(main())


def leave(status: int) -> NoReturn:
    """End the process with *status*: when no other thread runs, the exit handlers run, the standard streams
    are flushed and the process ends at once, without freeing its objects one by one (about 30 ms of a
    short run; the system frees them all); while another thread runs, a normal exit that waits for it."""
    if threading.active_count() > 1:
        sys.exit(status)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed, gone or a broken pipe
            stream.flush()
    os._exit(status)
