"""The values a fleet scan produces: one small FileResult per log and a Summary that merges in any order."""

from __future__ import annotations

import collections
import re
from typing import Any, Mapping

import attrs

from ..catalogue import Severity
from ..check.result import NicCheck
from ..report import (
    AN_LINES,
    NO_AN_LINES,
    NO_VF_STATES,
    SCHEMA,
    STATE_PATHS,
    BootReport,
    Finding,
    NicReport,
    Report,
    TimelineEntry,
    has_times,
    position,
    worst_of,
)

ENGINES = ("process", "dask")
#: Per-log bounds that keep a FileResult small whatever the log holds (what is cut is counted).
FINDINGS_LIMIT = 500
MESSAGES_LIMIT = 50
OUTAGES_LIMIT = 50
#: At most this many timeline entries per NIC are kept for pictures (the first and last halves).
LANE_ENTRIES = 200

_DATAPATHS = ("vf", "synthetic", "unknown")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_WORST = ("error", "warning", "info", "none")


def is_url(path: object) -> bool:
    """Return whether *path* is an fsspec URL (``az://``, ``abfs://``, ``s3://``, ``file://`` ...)."""
    return isinstance(path, str) and bool(_URL.match(path))


# -- per-log values ---------------------------------------------------------------


@attrs.frozen
class LogJob:
    """One log to analyse: its name, the files it is read from (oldest first) and where they are.

    ``members`` are the names shown to people (as found: relative paths stay relative, URLs stay
    URLs); ``locations`` are what a worker opens (absolute paths, or paths inside ``fs``, an fsspec
    filesystem, for URLs).  ``error`` is set when discovery already knows the log cannot be read.
    """

    name: str
    members: tuple[str, ...]
    locations: tuple[str, ...]
    fs: Any = attrs.field(default=None, eq=False, repr=False)
    error: str | None = None


@attrs.frozen
class ScanFinding:
    """A finding of one log with its boot and its NIC's interface name (a record's deprecated flat ``findings``)."""

    boot: int
    nic_name: str | None
    finding: Finding

    def to_dict(self) -> dict[str, Any]:
        """Return the finding's fields as in ``vflog report --format json`` without ``evidence_text``, plus ``boot``
        and ``nic_name`` (the shape of schema 1, kept for one release)."""
        data = self.finding.to_dict()
        del data["evidence_text"]
        return {"boot": self.boot, **data, "nic_name": self.nic_name}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ScanFinding":
        """Rebuild a ScanFinding from :meth:`to_dict`."""
        return cls(data["boot"], data.get("nic_name"), Finding.from_dict(data))


def _drawn(entry: TimelineEntry) -> tuple[str | None, bool]:
    """Return what an entry does to the drawn data path: the path its state proves, and whether its VF is gone."""
    return STATE_PATHS.get(entry.state), entry.state in NO_VF_STATES


def _lane_entries(timeline: tuple[TimelineEntry, ...], boot: BootReport) -> tuple[TimelineEntry, ...]:
    """Return the entries of a timeline that shape the drawn data path (report.path_spans), at most LANE_ENTRIES.

    Entries without a place on the boot's axis are left out, and times are made non-decreasing as
    path_spans places them.  Then an entry whose state proves the same path, with the same "VF gone"
    trait, as the entry before it leaves the drawn path as it was, so it is left out, except the
    last (after which the NIC's verdict holds); past the bound the middle is left out.
    """
    timed, latest = has_times(boot), float("-inf")
    placed: list[TimelineEntry] = []
    for entry in timeline:
        at = position(boot, entry.t, entry.line)
        if at is not None:
            latest = max(latest, at)
            placed.append(TimelineEntry(entry.line, latest if timed else entry.t, "", entry.state))
    kept = [entry for index, entry in enumerate(placed)
            if index in (0, len(placed) - 1) or _drawn(placed[index - 1]) != _drawn(entry)]
    if len(kept) > LANE_ENTRIES:
        kept = kept[:LANE_ENTRIES // 2] + kept[-(LANE_ENTRIES // 2):]
    return tuple(kept)


@attrs.frozen
class Lanes:
    """What a picture of a log's last boot needs beyond the NICs: the boot's span and clock, and each NIC's
    timeline cut to the entries that change its drawn data path (see _lane_entries)."""

    boot: int
    start_line: int
    end_line: int
    t_start: float | None
    t_end: float | None
    clock: str | None
    timelines: tuple[tuple[str, tuple[TimelineEntry, ...]], ...] = ()

    @classmethod
    def of(cls, boot: BootReport) -> "Lanes":
        """Return the lanes of a boot."""
        return cls(boot.index, boot.start_line, boot.end_line, boot.t_start, boot.t_end, boot.clock,
                   tuple((nic.key, _lane_entries(nic.timeline, boot)) for nic in boot.nics))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: the boot's span and, per NIC key, its entries as ``[line, t, state]``."""
        return {"boot": self.boot, "start_line": self.start_line, "end_line": self.end_line,
                "t_start": self.t_start, "t_end": self.t_end, "clock": self.clock,
                "timelines": {key: [[e.line, e.t, e.state] for e in entries] for key, entries in self.timelines}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Lanes":
        """Rebuild Lanes from :meth:`to_dict`."""
        timelines = tuple((key, tuple(TimelineEntry(line, t, "", state) for line, t, state in entries))
                          for key, entries in data.get("timelines", {}).items())
        return cls(data["boot"], data["start_line"], data["end_line"], data.get("t_start"), data.get("t_end"),
                   data.get("clock"), timelines)


@attrs.frozen
class FileResult:
    """What one log concluded: its report (slimmed: no timelines) and the scan's own fields.

    ``report`` is the log's Report with its inputs named as the scan was given them (``origin``,
    ``source``, ``sources``), its NICs' timelines left out (``timeline_dropped`` counts them) and
    at most FINDINGS_LIMIT findings; None when nothing could be analysed (``error`` says why).  The
    other fields are what tables and summaries read: ``nics`` are the NICs of the log's last boot
    (their state is the "final data path"), ``findings`` those of every boot.  ``counts`` holds the
    number of findings per (code, severity) before any were cut, so summaries stay exact.  ``errors``
    lists every input error (a corrupt archive member, a truncated rotation) including ``error``.
    ``lanes`` keep what the timelines of the last boot draw (its data path changes) for the fleet
    page (:meth:`last_boot`); ``checks`` hold a sosreport's present state, whose findings the report's
    last boot holds too.  Build one from a report with :meth:`of_report`.
    """

    path: str
    members: tuple[str, ...] = ()
    error: str | None = None
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    lines: int = 0
    events: int = 0
    unrecognised: int = 0
    #: The number of boots (an int; ``boot_count`` is its name in JSON, where ``boots`` is the report's list).
    boots: int = 0
    nics: tuple[NicReport, ...] = ()
    findings: tuple[ScanFinding, ...] = ()
    counts: tuple[tuple[str, str, int], ...] = ()
    findings_dropped: int = 0
    #: What the log held (Report.content): ``an-lines``, ``no-an-lines`` or ``empty``.
    content: str = AN_LINES
    report: Report | None = None
    #: A sosreport's present state, per NIC (``vflog check``'s verdicts); its findings are among the last boot's.
    checks: tuple[NicCheck, ...] = ()
    #: The last boot's span and its NICs' data path changes, for pictures (None: no boot).
    lanes: Lanes | None = None

    @classmethod
    def of_report(cls, path: str, members: tuple[str, ...], report: Report, *,
                  counts: tuple[tuple[str, str, int], ...] | None = None, findings_dropped: int = 0,
                  checks: tuple[NicCheck, ...] = (), lanes: Lanes | None = None) -> "FileResult":
        """Return the result of a log analysed into *report* (already slimmed); the other fields are read from it.

        *counts* are the findings per (code, severity) before any were cut (default: those of the report);
        *checks* and *lanes* are kept as given (the slimmed report has no timelines to make lanes of).
        """
        last = report.boots[-1] if report.boots else None
        findings = tuple(ScanFinding(boot.index, f.nic_name, f) for boot in report.boots for f in boot.findings)
        if counts is None:
            tally = collections.Counter((f.code, f.severity.value) for f in report.findings)
            counts = tuple(sorted((code, sev, n) for (code, sev), n in tally.items()))
        return cls(path, members, error=None, errors=report.errors, notes=report.notes, lines=report.stats.lines,
                   events=report.stats.events, unrecognised=report.stats.unrecognised, boots=len(report.boots),
                   nics=last.nics if last else (), findings=findings, counts=counts,
                   findings_dropped=findings_dropped, content=report.content, report=report, checks=checks,
                   lanes=lanes)

    @property
    def boot_count(self) -> int:
        """Return the number of boots of the log."""
        return self.boots

    def last_boot(self) -> BootReport | None:
        """Return the log's last boot as the result holds it (its report's, each NIC's timeline being its data
        path changes from ``lanes``), for pictures; None when the result has no report boot or no lanes."""
        if self.report is None or not self.report.boots or self.lanes is None:
            return None
        last, timelines = self.report.boots[-1], dict(self.lanes.timelines)
        return attrs.evolve(last, nics=tuple(attrs.evolve(nic, timeline=timelines.get(nic.key, ()))
                                             for nic in last.nics))

    @property
    def status(self) -> str:
        """Return ``failed`` (nothing analysed), ``partial`` (read with errors) or ``ok``."""
        return "failed" if self.error is not None else "partial" if self.errors else "ok"

    @property
    def worst_severity(self) -> Severity | None:
        """Return the highest severity among the log's findings, or None."""
        return worst_of(Severity(sev) for _code, sev, n in self.counts if n)

    @property
    def worst(self) -> Severity | None:
        """Return :attr:`worst_severity` (the older name, kept as an alias)."""
        return self.worst_severity

    def count(self, severity: Severity | str | None = None) -> int:
        """Return the number of findings (of *severity*, or of any)."""
        wanted = None if severity is None else Severity(severity).value
        return sum(n for _code, sev, n in self.counts if wanted is None or sev == wanted)

    def report_dict(self) -> dict[str, Any]:
        """Return the report part of the record: ``vflog report --format json``'s fields for this log (no boots
        when there is no report: nothing could be analysed)."""
        if self.report is not None:
            return self.report.to_dict()
        stats = {"lines": self.lines, "events": self.events, "unrecognised": self.unrecognised}
        return {"source": self.path, "boots": [], "stats": stats,
                "sources": list(self.members), "errors": list(self.errors), "notes": list(self.notes), "inputs": [],
                "content": self.content, "schema": SCHEMA}

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: the log's report (as ``vflog report --format json``) plus the scan's fields.

        ``nics`` (the last boot's NICs, without timelines) and ``findings`` (flat, with ``boot`` and
        ``nic_name``, without ``evidence_text``) are the shape of schema 1, kept as deprecated aliases.
        """
        worst = self.worst_severity
        return {
            **self.report_dict(),
            "path": self.path,
            "members": list(self.members),
            "status": self.status,
            "error": self.error,
            "boot_count": self.boot_count,
            "worst": worst.value if worst else None,
            "counts": [{"code": c, "severity": s, "count": n} for c, s, n in self.counts],
            "findings_dropped": self.findings_dropped,
            "nics": [_nic_dict(nic) for nic in self.nics],
            "findings": [f.to_dict() for f in self.findings],
            **({"checks": [nic.to_dict() for nic in self.checks]} if self.checks else {}),
            "lanes": self.lanes.to_dict() if self.lanes is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FileResult":
        """Rebuild a FileResult from :meth:`to_dict` (derived fields such as ``status`` are ignored)."""
        counts = tuple((c["code"], c["severity"], c["count"]) for c in data.get("counts", ()))
        if data.get("error") is None:
            return cls.of_report(data["path"], tuple(data.get("members", ())), Report.from_dict(data), counts=counts,
                                 findings_dropped=data.get("findings_dropped", 0),
                                 checks=tuple(NicCheck.from_dict(n) for n in data.get("checks", ())),
                                 lanes=Lanes.from_dict(data["lanes"]) if data.get("lanes") else None)
        return cls(data["path"], tuple(data.get("members", ())), error=data["error"],
                   errors=tuple(data.get("errors", ())), notes=tuple(data.get("notes", ())), counts=counts,
                   findings_dropped=data.get("findings_dropped", 0), content=data.get("content", AN_LINES))


def _nic_dict(nic: NicReport) -> dict[str, Any]:
    return attrs.asdict(nic, filter=lambda a, v: a.name not in ("timeline", "timeline_dropped"))


# -- the summary ----------------------------------------------------------------------


def _pairs(counter: Mapping[Any, int]) -> tuple[Any, ...]:
    return tuple(sorted((k, v) for k, v in counter.items() if v))


@attrs.frozen
class Summary:
    """Counts over many logs.  ``a.merge(b)`` is associative and commutative; ``Summary()`` is its identity.

    ``codes`` holds ``(code, severity, findings, files)``; ``worst_files`` how many analysed logs
    have each worst severity (``none`` = no finding); ``datapaths`` the final data path of the NICs
    of each log's last boot.
    """

    files: int = 0
    failed: int = 0
    partial: int = 0
    silent: int = 0
    lines: int = 0
    events: int = 0
    unrecognised: int = 0
    boots: int = 0
    nics: int = 0
    findings: int = 0
    datapaths: tuple[tuple[str, int], ...] = ()
    worst_files: tuple[tuple[str, int], ...] = ()
    codes: tuple[tuple[str, str, int, int], ...] = ()

    @classmethod
    def of(cls, result: FileResult) -> "Summary":
        """Return the summary of one log."""
        failed = result.error is not None
        worst = result.worst_severity
        per_code = {(code, sev): n for code, sev, n in result.counts if n}
        return cls(
            files=1, failed=int(failed), partial=int(bool(result.errors) and not failed),
            silent=int(not failed and result.content == NO_AN_LINES),
            lines=result.lines, events=result.events, unrecognised=result.unrecognised, boots=result.boots,
            nics=len(result.nics), findings=sum(per_code.values()),
            datapaths=_pairs(collections.Counter(nic.datapath for nic in result.nics)),
            worst_files=(((worst.value if worst else "none"), 1),) if result.content == AN_LINES and not failed else (),
            codes=tuple(sorted((code, sev, n, 1) for (code, sev), n in per_code.items())),
        )

    def merge(self, other: "Summary") -> "Summary":
        """Return the summary of both (order does not matter)."""
        codes: dict[tuple[str, str], list[int]] = {}
        for code, sev, findings, files in self.codes + other.codes:
            entry = codes.setdefault((code, sev), [0, 0])
            entry[0] += findings
            entry[1] += files
        return Summary(
            files=self.files + other.files, failed=self.failed + other.failed,
            partial=self.partial + other.partial, silent=self.silent + other.silent,
            lines=self.lines + other.lines, events=self.events + other.events,
            unrecognised=self.unrecognised + other.unrecognised, boots=self.boots + other.boots,
            nics=self.nics + other.nics, findings=self.findings + other.findings,
            datapaths=_pairs(collections.Counter(dict(self.datapaths)) + collections.Counter(dict(other.datapaths))),
            worst_files=_pairs(collections.Counter(dict(self.worst_files)) + collections.Counter(dict(other.worst_files))),
            codes=tuple(sorted((code, sev, f, n) for (code, sev), (f, n) in codes.items())),
        )

    __add__ = merge

    @property
    def analysed(self) -> int:
        """Return the number of logs from which at least something could be analysed."""
        return self.files - self.failed

    @property
    def worst_severity(self) -> Severity | None:
        """Return the highest severity of any finding, or None."""
        return worst_of(Severity(sev) for _c, sev, n, _f in self.codes if n)

    def worst(self) -> Severity | None:
        """Return :attr:`worst_severity` (the older name, a method as Report's; kept as an alias)."""
        return self.worst_severity

    def fails(self, fail_on: str) -> bool:
        """Return whether a finding reaches *fail_on* (``error``, ``warning``, ``info``; ``never`` is never)."""
        if fail_on == "never":
            return False
        worst = self.worst_severity
        return worst is not None and worst.rank >= Severity(fail_on).rank

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the summary."""
        worst = self.worst_severity
        return {
            "files": self.files, "analysed": self.analysed, "failed": self.failed, "partial": self.partial,
            "without_driver_lines": self.silent,
            "lines": self.lines, "events": self.events, "unrecognised": self.unrecognised,
            "boots": self.boots, "nics": self.nics, "findings": self.findings,
            "worst": worst.value if worst else None,
            "datapaths": {name: dict(self.datapaths).get(name, 0) for name in
                          sorted(set(_DATAPATHS) | set(dict(self.datapaths)), key=_datapath_order)},
            "files_by_worst": {name: dict(self.worst_files).get(name, 0) for name in _WORST},
            "codes": [{"code": c, "severity": s, "findings": f, "files": n} for c, s, f, n in self.codes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Summary":
        """Rebuild a Summary from :meth:`to_dict`."""
        return cls(
            files=data["files"], failed=data["failed"], partial=data["partial"],
            silent=data["without_driver_lines"], lines=data["lines"], events=data["events"],
            unrecognised=data["unrecognised"], boots=data["boots"], nics=data["nics"], findings=data["findings"],
            datapaths=_pairs(data["datapaths"]), worst_files=_pairs(data["files_by_worst"]),
            codes=tuple(sorted((c["code"], c["severity"], c["findings"], c["files"]) for c in data["codes"])),
        )


def _datapath_order(name: str) -> tuple[int, str]:
    return (_DATAPATHS.index(name) if name in _DATAPATHS else len(_DATAPATHS), name)
