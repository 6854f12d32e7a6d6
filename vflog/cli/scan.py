"""The scan sub-command: find the logs, analyse them in parallel, show progress, write the chosen format."""

from __future__ import annotations

import argparse
import time
from typing import IO, Any

from ..errors import UsageError
from ..fleet import (
    ENGINES,
    FileResult,
    Summary,
    check_engine,
    default_jobs,
    discover,
    scan,
)
from ..output import output_to
from ..render import clean
from ..render_scan import FORMATS, displayable, plural, writer_for
from .options import HELP, ExitStatus, display_for, display_options, input_options, settings


class Progress:
    """A progress bar on a terminal (files done, lines/s, findings so far); nothing otherwise.

    Uses tqdm when it is installed, shown only once the run lasts longer than half a second; without
    tqdm, or when disabled, it prints nothing.  ``write`` prints a message without garbling the bar.
    """

    def __init__(self, total: int, stream: IO[str], enabled: bool) -> None:
        self._stream = stream
        self._bar: Any = None
        self._start = time.monotonic()
        self.lines = 0
        self.findings = 0
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                class _Bar(tqdm):  # type: ignore[misc,valid-type]
                    monitor_interval = 0  # no monitor thread: the worker pool can still fork safely

                self._bar = _Bar(total=total, file=stream, unit="file", delay=0.5, leave=False, dynamic_ncols=True,
                                 mininterval=0.2, smoothing=0.05)

    def update(self, result: FileResult) -> None:
        """Count one finished log."""
        self.lines += result.lines
        self.findings += result.count()
        if self._bar is not None:
            rate = self.lines / max(time.monotonic() - self._start, 1e-6)
            self._bar.set_postfix_str(f"{rate:,.0f} lines/s, {self.findings:,} findings", refresh=False)
            self._bar.update(1)

    def write(self, text: str) -> None:
        """Print one message line."""
        if self._bar is not None:
            self._bar.write(text, file=self._stream)
        else:
            print(text, file=self._stream)

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def add_scan_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``scan`` subcommand on an argparse subparsers object and return its parser."""
    
    parser = subparsers.add_parser(
        "scan", help=HELP["scan"],
        description="Analyse every log under PATH... independently, in parallel, and summarise the findings. "
                    "Each file is one log; an archive (sosreport, logs.zip) is one log; rotated siblings "
                    "(kern.log.1 + kern.log) in one directory are one log.")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="files, directories (recursive), globs, archives or fsspec URLs (az://, s3://, file://)")
    parser.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help=f"worker processes (default: every core, {default_jobs()} here; 1 runs in this process)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table for people; html, one self-contained page; json, jsonl (one record per file), "
                             "csv, sarif for programs")
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    parser.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default="error",
                        help="exit 1 when any file has a finding of at least this severity (default: error)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no notes (errors still print)")
    parser.add_argument("--top", type=int, default=None, metavar="N",
                        help="table: list the N worst files (default 50); html: give the N worst files a section "
                             "with lanes (default 200), the others one row; 0: every file")
    parser.add_argument("--no-group-rotations", action="store_true",
                        help="read rotated siblings (kern.log.1, kern.log) as separate logs")
    parser.add_argument("--engine", choices=ENGINES, default=None,
                        help="process (default): a local process pool; dask: dask.distributed (vflog[dask])")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a dask.distributed scheduler (tcp://host:8786); implies --engine dask "
                             "(default with --engine dask: a local cluster of --jobs workers)")
    parser.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE",
                        help="change a threshold, e.g. readd_max=600 (see README)")
    input_options(parser)
    display_options(parser)
    parser.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    return parser


def scan_command(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """Run ``vflog scan``: find the logs, analyse them in parallel, write the chosen format, return the status."""

    config, selection, limits = settings(args)
    engine = args.engine or ("dask" if args.scheduler else "process")
    if args.scheduler and engine != "dask":
        raise UsageError("--scheduler needs --engine dask")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs needs a number of at least 1, not {args.jobs}")
    if args.top is not None and args.top < 0:
        raise UsageError("--top cannot be negative")
    if "-" in args.paths:
        raise UsageError("scan reads files, directories and URLs, not standard input (use 'vflog report -')")
    check_engine(engine, args.jobs)
    found = discover(args.paths, selection=selection, group_rotations=not args.no_group_rotations)
    if not args.quiet:
        for note in found.notes:
            print(f"vflog: note: {clean(note)}", file=stderr)
    if not found.jobs:
        print(f"vflog: nothing to scan in {', '.join(clean(p) for p in args.paths)}", file=stderr)
        return ExitStatus.ERROR
    results = scan(found.jobs, jobs=args.jobs, config=config, selection=selection, limits=limits,
                   engine=engine, scheduler=args.scheduler)
    summary = Summary()
    progress = Progress(len(found.jobs), stderr, enabled=not args.quiet and _is_terminal(stderr))
    with output_to(args.output, stdout) as out:
        display = display_for(args, stdout, dict(getattr(args, "env", None) or {}),
                              to_file=args.output not in (None, "-"))
        writer = writer_for(args.format, out, top=args.top, display=display)
        try:
            try:
                for result in map(displayable, results):
                    summary = summary.merge(Summary.of(result))
                    for error in result.errors:
                        progress.write(f"vflog: {clean(error)}")
                    writer.add(result)
                    progress.update(result)
            finally:
                progress.close()
                results.close()  # type: ignore[attr-defined]
            writer.finish(summary)
        finally:
            writer.close()
    if not summary.analysed:
        print(f"vflog: none of the {plural(summary.files, 'file')} could be analysed", file=stderr)
        return ExitStatus.ERROR
    return ExitStatus.FINDINGS if summary.fails(args.fail_on) else ExitStatus.OK
