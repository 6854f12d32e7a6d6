"""Analyse one log of a fleet (a file, an archive, a rotated family or a URL) into its FileResult."""

from __future__ import annotations

import collections
import io
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import attrs

from ..analyze import analyze_files
from ..check import check_facts, gather_facts
from ..check.result import CheckResult, NicCheck
from ..check.tree import is_sosreport
from ..errors import VflogError
from ..config import Config
from ..report import EMPTY, BootReport, Finding, Report
from ..input import Limits, Selection
from .discover import url_job
from .results import (
    FINDINGS_LIMIT,
    MESSAGES_LIMIT,
    OUTAGES_LIMIT,
    FileResult,
    Lanes,
    LogJob,
    is_url,
)

# -- analysing one log -----------------------------------------------------------------


class _NamedBytes(io.BytesIO):
    """Bytes read through fsspec, named by their URL so reports and origins name the URL."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


def _local_job(path: str | os.PathLike[str]) -> LogJob:
    name = os.fspath(path)
    return LogJob(name, (name,), (os.path.abspath(name),))


def _job_of(path: LogJob | str | os.PathLike[str]) -> LogJob:
    if isinstance(path, LogJob):
        return path
    if is_url(path):
        return url_job(str(path))
    return _local_job(path)


def _renamer(job: LogJob):  # type: ignore[no-untyped-def]
    """Return a function that puts the display name back where the location was used as a name."""
    pairs = sorted(((loc, name) for loc, name in zip(job.locations, job.members) if loc != name),
                   key=lambda p: -len(p[0]))

    def rename(text: str | None) -> str | None:
        if text is None:
            return None
        for location, name in pairs:
            if text.startswith(location) and (len(text) == len(location) or text[len(location)] in ":!"):
                return name + text[len(location):]
        return text

    return rename


def _bounded(messages: Sequence[str]) -> tuple[str, ...]:
    if len(messages) <= MESSAGES_LIMIT:
        return tuple(messages)
    return tuple(messages[:MESSAGES_LIMIT]) + (f"... and {len(messages) - MESSAGES_LIMIT} more",)


def failed_result(job: LogJob, reason: str) -> FileResult:
    message = reason if reason.startswith(job.name) else f"{job.name}: {reason}"
    return FileResult(job.name, job.members, error=message, errors=(message,))


def _fetch(job: LogJob, limits: Limits) -> tuple[list[Any], list[str]]:
    """Read the members of a URL job through fsspec; return named byte streams and read errors."""
    streams: list[Any] = []
    errors: list[str] = []
    for name, location in zip(job.members, job.locations):
        try:
            with job.fs.open(location, "rb") as handle:
                data = handle.read(limits.max_bytes + 1)
        except FileNotFoundError:
            errors.append(f"{name}: no such file")
            continue
        except PermissionError:
            errors.append(f"{name}: permission denied")
            continue
        except Exception as exc:  # network, authentication, a missing filesystem package
            errors.append(f"{name}: cannot be read ({type(exc).__name__}: {exc})")
            continue
        if len(data) > limits.max_bytes:
            errors.append(f"{name}: is larger than {limits.max_bytes >> 20} MiB; stopped")
            continue
        streams.append(_NamedBytes(data, name))
    return streams, errors


def analyze_one(path: LogJob | str | os.PathLike[str], config: Config | None = None, *,
                selection: Selection = Selection(), limits: Limits = Limits()) -> FileResult:
    """Analyse one log (a file, an archive, a rotation family or a URL) and return its FileResult.

    Never raises: what cannot be read, and any internal failure, becomes ``FileResult.error``.
    """
    job = None
    try:
        job = _job_of(path)
        if job.error is not None:
            return failed_result(job, job.error)
        fetch_errors: list[str] = []
        if job.fs is not None:
            sources, fetch_errors = _fetch(job, limits)
        else:
            sources = [Path(location) for location in job.locations]
        report = analyze_files(sources, config=config, selection=selection, limits=limits) if sources else None
        return _with_check(job, _result(job, report, fetch_errors))
    except Exception as exc:  # the promise: one bad log never stops the batch
        if job is None:
            job = LogJob(os.fspath(path) if not isinstance(path, LogJob) else path.name, (), ())
        return failed_result(job, f"internal error while analysing ({type(exc).__name__}: {exc})")


def _result(job: LogJob, report: Report | None, fetch_errors: list[str]) -> FileResult:
    """Return the result of *job* read into *report*: the report under the job's names, slimmed (see _slim), and
    the lanes of its last boot (made before its timelines go)."""
    rename = _renamer(job)
    errors = list(fetch_errors) + [rename(e) or e for e in (report.errors if report else ())]
    if report is None or report.content == EMPTY:
        first = errors[0] if errors else f"{job.name}: is empty: nothing to analyse"
        if len(errors) > 1:
            first += f" (and {len(errors) - 1} more error(s))"
        return FileResult(job.name, job.members, error=first, errors=_bounded(errors or [first]))
    counts = collections.Counter((f.code, f.severity.value) for f in report.findings)
    slim, notes, dropped = _slim(report, rename)
    slim = attrs.evolve(slim, source=rename(slim.source) or job.name,
                        sources=tuple(rename(s) or s for s in slim.sources), errors=_bounded(errors),
                        notes=_bounded([rename(n) or n for n in report.notes] + notes),
                        inputs=tuple(attrs.evolve(i, name=rename(i.name) or i.name) for i in report.inputs))
    return FileResult.of_report(job.name, job.members, slim, findings_dropped=dropped,
                                counts=tuple(sorted((code, sev, n) for (code, sev), n in counts.items())),
                                lanes=Lanes.of(report.boots[-1]) if report.boots else None)


def _slim(report: Report, rename: Callable[[str | None], str | None]) -> tuple[Report, list[str], int]:
    """Return *report* small enough to stream, the notes on what was cut, and how many findings were.

    Timelines go (``timeline_dropped`` counts them), each NIC keeps its newest OUTAGES_LIMIT outages,
    the log keeps its FINDINGS_LIMIT worst findings, and origins name the files as the scan was given them.
    """
    notes: list[str] = []
    ranked = sorted(((f.severity.rank, i, j) for i, boot in enumerate(report.boots)
                     for j, f in enumerate(boot.findings)), key=lambda item: -item[0])
    kept = {(i, j) for _rank, i, j in ranked[:FINDINGS_LIMIT]}
    dropped = len(ranked) - len(kept)
    if dropped:
        notes.append(f"{dropped} finding(s) beyond {FINDINGS_LIMIT} per log are counted but not listed")
    boots = []
    for i, boot in enumerate(report.boots):
        findings = tuple(attrs.evolve(f, origin=rename(f.origin))
                         for j, f in enumerate(boot.findings) if (i, j) in kept)
        nics = []
        for nic in boot.nics:
            slim_nic = attrs.evolve(nic, timeline=(), timeline_dropped=nic.timeline_dropped + len(nic.timeline))
            if len(nic.outages) > OUTAGES_LIMIT:
                cut = len(nic.outages) - OUTAGES_LIMIT
                notes.append(f"{nic.synthetic or nic.key}: {cut} earlier outage(s) not listed")
                slim_nic = attrs.evolve(slim_nic, outages=nic.outages[-OUTAGES_LIMIT:])
            nics.append(slim_nic)
        boots.append(attrs.evolve(boot, nics=tuple(nics), findings=findings))
    return attrs.evolve(report, boots=tuple(boots)), notes, dropped


# -- a sosreport's present state ---------------------------------------------------------


def _with_check(job: LogJob, result: FileResult) -> FileResult:
    """Add a local sosreport's check (``vflog check --root``) to its analysed result: NIC verdicts, and findings
    joined to the last boot of its report (so to ``findings`` and ``counts`` too)."""
    report = result.report
    if job.fs is not None or len(job.locations) != 1 or report is None or not report.boots \
            or not is_sosreport(job.locations[0]):
        return result
    try:
        checked = check_facts(gather_facts(job.locations[0], interval=0))
    except VflogError as exc:
        notes = _bounded([*report.notes, f"{job.name}: present state not checked: {exc}"])
        return _rebuilt(result, attrs.evolve(report, notes=notes), result.counts, ())
    if not checked.nics:
        return result
    last = report.boots[-1]
    added = _check_findings(checked, last)
    counts = collections.Counter({(code, sev): n for code, sev, n in result.counts})
    counts.update((f.code, f.severity.value) for f in added)
    notes = _bounded([*report.notes, *(f"present state not read: {u}" for u in checked.unread)])
    boots = report.boots[:-1] + (attrs.evolve(last, findings=last.findings + added),)
    return _rebuilt(result, attrs.evolve(report, boots=boots, notes=notes),
                    tuple(sorted((code, sev, n) for (code, sev), n in counts.items())), checked.nics)


def _rebuilt(result: FileResult, report: Report, counts: tuple[tuple[str, str, int], ...],
             checks: tuple[NicCheck, ...]) -> FileResult:
    """Return *result* over *report* (its fields read again from it) with *counts* and *checks*."""
    return FileResult.of_report(result.path, result.members, report, counts=counts,
                                findings_dropped=result.findings_dropped, checks=checks, lanes=result.lanes)


def _check_findings(checked: CheckResult, boot: BootReport) -> tuple[Finding, ...]:
    """Return the check's present-state findings as *boot*'s (each naming its NIC's interface in ``nic_name``),
    less those the log already gave the NIC in that boot."""
    names = {nic.key: nic.synthetic or nic.vf for nic in checked.nics}
    names.update({nic.mac: nic.synthetic for nic in checked.nics if nic.mac and nic.synthetic})
    seen = {(f.code, f.nic_name) for f in boot.findings}
    added = []
    for finding in checked.state_findings:
        name = names.get(finding.nic or "")
        if (finding.code, name) not in seen:
            seen.add((finding.code, name))
            added.append(attrs.evolve(finding, nic_name=name))
    return tuple(added)
