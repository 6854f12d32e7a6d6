"""The sub-command check: the VM's present state (or a sosreport's) judged with its kernel log."""

from __future__ import annotations

import argparse
import json
import math
from typing import IO, TYPE_CHECKING, Any, Sequence

from ..catalogue import Severity
from ..errors import UsageError, VflogError
from ..output import output_to
from ..render import clean, pretty_json
from .options import HELP, ExitStatus

if TYPE_CHECKING:
    from ..check.result import CheckResult

# The check machinery (vflog.check's gather, judge, save and renderer) is imported inside the functions that
# use it: a report of a plain log never loads it, so start-up does not pay for it.


def add_check_parser(sub: Any) -> None:
    """Add ``vflog check`` to the sub-command parsers *sub*."""
    ch = sub.add_parser("check", help=HELP["check"])
    ch.add_argument("--root", metavar="DIR", help="read a sosreport (directory or tarball) or a saved tree instead "
                                                   "of the live system")
    ch.add_argument("--interval", type=_interval, default=2.0, metavar="SECONDS",
                    help="seconds between the two counter samples on the live system (default 2)")
    ch.add_argument("--format", choices=("table", "json"), default="table")
    ch.add_argument("--fail-on", choices=("error", "warning", "info", "never"), default="error",
                    help="exit 1 when a finding has at least this severity (default: error)")
    ch.add_argument("--output", "-o", metavar="FILE", help="write the result to FILE (atomically) instead of stdout")
    ch.add_argument("--save", metavar="FILE.tar.gz", help="also write the gathered facts as a tarball that "
                                                          "--root reads back")
    ch.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)


def _interval(text: str) -> float:
    """Parse the seconds between samples: a finite number from 0 to 3600."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--interval needs a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 3600:
        raise UsageError(f"--interval must be between 0 and 3600 seconds, not {text!r}")
    return value


def check_command(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """Gather, judge and print; exit 0, 1 when a finding reaches --fail-on, 2 when nothing could be read."""
    from ..check import check_facts, gather_facts
    from ..check.save import save
    from ..render_check import render_check_json, render_check_table
    facts = gather_facts(args.root, interval=args.interval)
    if args.save:
        save(facts, args.save)
    result = check_facts(facts)
    if not result.readable:
        for unread in result.unread:
            print(f"vflog: error: {clean(unread)}", file=stderr)
        print(f"vflog: error: {clean(result.source)}: nothing could be read", file=stderr)
        return ExitStatus.ERROR
    text = render_check_json(result) if args.format == "json" else render_check_table(result)
    with output_to(args.output, stdout) as out:
        out.write(text)
    return checks_status([result], args.fail_on)


def sosreport_checks(files: Sequence[str]) -> list[CheckResult]:
    """Return the check of every sosreport among *files* whose command outputs show a network interface."""
    from ..check.sosreport import is_sosreport
    sosreports = [name for name in files if name != "-" and is_sosreport(name)]
    if not sosreports:
        return []
    from ..check import check_facts, gather_facts  # the check machinery loads only for a sosreport
    results = []
    for name in sosreports:
        try:
            result = check_facts(gather_facts(name, interval=0))
        except VflogError:
            continue  # the report already says what could not be read
        if result.nics:
            results.append(result)
    return results


def with_checks(text: str, checks: Sequence[CheckResult], form: str) -> str:
    """Return the report's *text* with the sosreports' checks: a ``checks`` list in JSON, tables appended."""
    if not checks:
        return text
    if form == "json":
        document = json.loads(text)
        document["checks"] = [result.to_dict() for result in checks]
        return pretty_json(document) + "\n"
    from ..render_check import render_check_table
    return text + "".join("\n" + render_check_table(result) for result in checks)


def checks_status(checks: Sequence[CheckResult], fail_on: str) -> int:
    """Return 1 when a finding of *checks* reaches --fail-on, else 0."""
    if fail_on == "never":
        return ExitStatus.OK
    bar = Severity(fail_on).rank
    return ExitStatus.FINDINGS if any(f.severity.rank >= bar for c in checks for f in c.findings) else ExitStatus.OK
