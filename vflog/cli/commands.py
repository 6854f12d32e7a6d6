"""The sub-commands report, events, follow and explain: each one library call handed to a renderer."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence, cast

from ..analyze import analyze_files, events
from ..catalogue import CODES, Severity
from ..config import Config
from ..errors import InputError, UsageError
from ..follow import Follower, LineSplitter, Segment, Tail, read_lines
from ..output import OutputError, output_to
from ..render import (
    change_record,
    clean,
    render_change,
    render_code,
    render_codes,
    render_events,
    render_json,
    render_table,
    to_json,
)
from ..report import EMPTY, Report
from ..input import Source
from .check import checks_status, sosreport_checks, with_checks
from .options import ExitStatus, display_for, settings, thresholds


def _paths(files: Sequence[str]) -> list[Source]:
    """Return the FILE arguments as paths (never log text); ``-`` or none is standard input."""
    return [name if name == "-" else Path(name) for name in files] or ["-"]


def _stdin_is_terminal(files: list[str]) -> bool:
    """Return whether vflog would wait for a log typed at the terminal (no file, stdin a tty)."""
    return (not files or files == ["-"]) and sys.stdin is not None and sys.stdin.isatty()


def _analysed(args: argparse.Namespace, stderr: IO[str], command: str = "report") -> Report | None:
    """Return the report of the FILE arguments, or None (the errors printed) when there is nothing to analyse."""
    if _stdin_is_terminal(args.files):
        raise UsageError(f"no log given: pipe one in (dmesg | vflog {command}) or name a file (vflog {command} kern.log)")
    config, selection, limits = settings(args)
    report = analyze_files(_paths(args.files), config=config, selection=selection, limits=limits,
                           jobs=getattr(args, "jobs", 1))
    _print_errors(report.errors, stderr)
    if report.errors and not report.stats.lines:
        return None
    if report.content == EMPTY:  # nothing to analyse is not healthy (e.g. `dmesg | vflog` without permission)
        print(f"vflog: error: {clean(report.source)}: is empty: nothing to analyse", file=stderr)
        return None
    return report


def report_command(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """Analyse the log, render it (table, JSON or HTML; a sosreport's checks added) and exit by --fail-on."""
    report = _analysed(args, stderr)
    if report is None:
        return ExitStatus.ERROR
    checks = sosreport_checks(args.files)
    if args.format == "json":
        text = render_json(report, show_unrecognised=args.show_unrecognised)
    elif args.format == "html":
        from ..render_html import render_html  # imported here: only the page pays for Jinja2
        text = render_html(report)
    else:
        display = display_for(args, stdout, _env(args), to_file=args.output not in (None, "-"))
        text = render_table(report, show_unrecognised=args.show_unrecognised, display=display)
    if args.format != "html":  # the page has no place for the sosreport's checks yet
        text = with_checks(text, checks, args.format)
    with output_to(args.output, stdout) as out:
        out.write(text)
    return max(_status(report, args.fail_on), checks_status(checks, args.fail_on))


def timeline_command(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """Draw each boot's NICs as lanes over time (see render_timeline); exit as report does."""
    from ..render_timeline import render_timeline
    report = _analysed(args, stderr, "timeline")
    if report is None:
        return ExitStatus.ERROR
    display = display_for(args, stdout, _env(args))
    stdout.write(render_timeline(report, display, ascii_only=args.ascii))
    return _status(report, args.fail_on)


def _env(args: argparse.Namespace) -> dict[str, str]:
    """Return the environment main() ran with (empty when a handler is called without one)."""
    return dict(getattr(args, "env", None) or {})


def _print_errors(errors: Sequence[str], stderr: IO[str]) -> None:
    """Print each input error as one ``vflog: error: ...`` line."""
    for error in errors:
        print(f"vflog: error: {clean(error)}", file=stderr)


def events_command(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """Print each event as it is attributed (JSON Lines); then the input errors; exit 2 when nothing was read.

    Standard input is read as data arrives and what was printed is flushed before each wait for
    more, so ``dmesg -w | vflog events`` prints each event as its line comes.
    """
    config, selection, limits = settings(args)
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


def follow_command(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """Print each change of a live log as it happens, then the report of the whole log (the same at-a-glance
    lines and width-aware table as ``vflog report``, coloured by --color); exit as report does."""
    config = Config(tz=args.tz).with_settings(thresholds(args.threshold))
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
        display = display_for(args, stdout, _env(args))
        stdout.write(render_table(report, display=display))
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


def explain_command(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    if not args.code:
        stdout.write(render_codes(display_for(args, stdout, _env(args))))
        return ExitStatus.OK
    code = CODES.get(args.code)
    if code is None:
        raise UsageError(f"unknown finding code {args.code!r}; run 'vflog explain' for the list")
    stdout.write(render_code(code, display_for(args, stdout, _env(args))))
    return ExitStatus.OK
