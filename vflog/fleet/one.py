"""Analyse one log of a fleet (a file, an archive, a rotated family or a URL) into its FileResult."""

from __future__ import annotations

import collections
import io
import os
from pathlib import Path
from typing import Any, Sequence

import attrs

from ..analyze import analyze_files
from ..check import check_facts, gather_facts
from ..check.result import CheckResult
from ..check.tree import is_sosreport
from ..errors import VflogError
from ..config import Config
from ..report import EMPTY, Report
from ..input import Limits, Selection
from .discover import url_job
from .results import (
    FINDINGS_LIMIT,
    MESSAGES_LIMIT,
    OUTAGES_LIMIT,
    FileResult,
    Lanes,
    LogJob,
    ScanFinding,
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
    rename = _renamer(job)
    errors = list(fetch_errors) + [rename(e) or e for e in (report.errors if report else ())]
    if report is None or report.content == EMPTY:
        first = errors[0] if errors else f"{job.name}: is empty: nothing to analyse"
        if len(errors) > 1:
            first += f" (and {len(errors) - 1} more error(s))"
        return FileResult(job.name, job.members, error=first, errors=_bounded(errors or [first]))
    notes = [rename(n) or n for n in report.notes]
    findings: list[ScanFinding] = []
    for boot in report.boots:
        names = {nic.key: nic.synthetic for nic in boot.nics}
        for finding in boot.findings:
            slim = attrs.evolve(finding, evidence_text=(), origin=rename(finding.origin))
            findings.append(ScanFinding(boot.index, names.get(finding.nic or "", None), slim))
    counts = collections.Counter((f.finding.code, f.finding.severity.value) for f in findings)
    dropped = 0
    if len(findings) > FINDINGS_LIMIT:
        keep = sorted(range(len(findings)), key=lambda i: -findings[i].finding.severity.rank)[:FINDINGS_LIMIT]
        dropped = len(findings) - FINDINGS_LIMIT
        findings = [findings[i] for i in sorted(keep)]
        notes.append(f"{dropped} finding(s) beyond {FINDINGS_LIMIT} per log are counted but not listed")
    last = report.boots[-1] if report.boots else None
    nics = []
    for nic in last.nics if last else ():
        slim_nic = attrs.evolve(nic, timeline=(), timeline_dropped=0)  # timelines stay out of scan results
        if len(nic.outages) > OUTAGES_LIMIT:
            notes.append(f"{nic.synthetic or nic.key}: {len(nic.outages) - OUTAGES_LIMIT} earlier outage(s) not listed")
            slim_nic = attrs.evolve(slim_nic, outages=nic.outages[-OUTAGES_LIMIT:])
        nics.append(slim_nic)
    return FileResult(
        path=job.name, members=job.members, error=None, errors=_bounded(errors), notes=_bounded(notes),
        lines=report.stats.lines, events=report.stats.events, unrecognised=report.stats.unrecognised,
        boots=len(report.boots), nics=tuple(nics), findings=tuple(findings),
        counts=tuple(sorted((code, sev, n) for (code, sev), n in counts.items())), findings_dropped=dropped,
        content=report.content, lanes=Lanes.of(last) if last else None,
    )


# -- a sosreport's present state ---------------------------------------------------------


def _with_check(job: LogJob, result: FileResult) -> FileResult:
    """Add a local sosreport's check (``vflog check --root``) to its analysed result: NIC verdicts and findings."""
    if job.fs is not None or len(job.locations) != 1 or result.error is not None \
            or not is_sosreport(job.locations[0]):
        return result
    try:
        checked = check_facts(gather_facts(job.locations[0], interval=0))
    except VflogError as exc:
        return attrs.evolve(result, notes=_bounded([*result.notes, f"{job.name}: present state not checked: {exc}"]))
    if not checked.nics:
        return result
    added = _check_findings(checked, result)
    counts = collections.Counter({(code, sev): n for code, sev, n in result.counts})
    counts.update((f.finding.code, f.finding.severity.value) for f in added)
    notes = [*result.notes, *(f"present state not read: {u}" for u in checked.unread)]
    return attrs.evolve(result, findings=result.findings + added, checks=checked.nics, notes=_bounded(notes),
                        counts=tuple(sorted((code, sev, n) for (code, sev), n in counts.items())))


def _check_findings(checked: CheckResult, result: FileResult) -> tuple[ScanFinding, ...]:
    """Return the check's present-state findings as the last boot's, less those the log already gave the NIC."""
    names = {nic.key: nic.synthetic or nic.vf for nic in checked.nics}
    names.update({nic.mac: nic.synthetic for nic in checked.nics if nic.mac and nic.synthetic})
    seen = {(f.finding.code, f.nic_name) for f in result.findings if f.boot == result.boots - 1}
    added = []
    for finding in checked.state_findings:
        name = names.get(finding.nic or "")
        if (finding.code, name) not in seen:
            seen.add((finding.code, name))
            added.append(ScanFinding(max(result.boots - 1, 0), name, finding))
    return tuple(added)
