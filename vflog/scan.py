"""Scan many kernel logs at once: one small result per log, and a summary that merges in any order.

A *log* is the unit of work and is never split between workers: a regular file (compressed or
not), an archive (a sosreport, a WALinuxAgent ``logs.zip``: vflog reads the kernel logs inside
it), or a family of rotated siblings in one directory (``kern.log.2.gz``, ``kern.log.1``,
``kern.log``), which is one story read oldest first.

``scan`` yields a :class:`FileResult` per log as each finishes, from a local process pool or from
Dask.  A FileResult is small (no timelines, no evidence texts), picklable and JSON-serialisable;
:class:`Summary` values merge associatively and commutatively with ``Summary()`` as identity, so
any engine can reduce them in any order and memory stays flat with the number of logs.
"""

from __future__ import annotations

import collections
import concurrent.futures as futures
import fnmatch
import functools
import gc
import glob as globbing
import importlib.util
import io
import logging
import multiprocessing
import os
import re
import signal
import stat
import sys
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator, Mapping, Sequence

import attrs

from .analyze import analyze_files
from .catalogue import Severity
from .config import Config
from .errors import InputError, UsageError
from .report import AN_LINES, EMPTY, NO_AN_LINES, Finding, NicReport, OutageReport, Quote, Report, VfReport
from .sources import FAMILIES, Limits, Selection, rotation_key

__all__ = ["ENGINES", "Discovery", "check_engine", "FileResult", "LogJob", "ScanFinding", "Summary", "analyze_one",
           "default_jobs", "discover", "is_url", "scan", "summarize"]

ENGINES = ("process", "dask")
#: Per-log bounds that keep a FileResult small whatever the log holds (what is cut is counted).
FINDINGS_LIMIT = 500
MESSAGES_LIMIT = 50
OUTAGES_LIMIT = 50

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_MAGIC = re.compile(r"[*?[]")
_DATAPATHS = ("vf", "synthetic", "unknown")
_WORST = ("error", "warning", "info", "none")


def is_url(path: object) -> bool:
    """Return whether *path* is an fsspec URL (``az://``, ``abfs://``, ``s3://``, ``file://`` ...)."""
    return isinstance(path, str) and bool(_URL.match(path))


def default_jobs() -> int:
    """Return the number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


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
    """A finding of one log, without its evidence texts, with its boot and the NIC's interface name."""

    boot: int
    nic_name: str | None
    finding: Finding

    def to_dict(self) -> dict[str, Any]:
        """Return the finding's fields as in ``vflog report --format json``, plus ``boot`` and ``nic_name``."""
        data = attrs.asdict(self.finding, filter=lambda a, v: a.name != "evidence_text",
                            value_serializer=_serialize)
        return {"boot": self.boot, "nic_name": self.nic_name, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ScanFinding":
        """Rebuild a ScanFinding from :meth:`to_dict`."""
        known = {f.name for f in attrs.fields(Finding)}
        fields = {k: v for k, v in data.items() if k in known}
        fields["severity"] = Severity(fields["severity"])
        fields["evidence"] = tuple(fields.get("evidence", ()))
        fields["evidence_text"] = tuple(Quote(**q) for q in fields.get("evidence_text", ()))
        return cls(data["boot"], data.get("nic_name"), Finding(**fields))


@attrs.frozen
class FileResult:
    """What one log concluded, small enough to stream: counts, the final NICs and the findings.

    ``nics`` are the NICs of the log's last boot (their state is the "final data path"); findings
    come from every boot.  ``counts`` holds the number of findings per (code, severity) before any
    were cut by the per-log bound, so summaries stay exact.  ``error`` is set when nothing at all
    could be analysed; ``errors`` lists every input error (a corrupt archive member, a truncated
    rotation) including that one.
    """

    path: str
    members: tuple[str, ...] = ()
    error: str | None = None
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    lines: int = 0
    events: int = 0
    unrecognised: int = 0
    boots: int = 0
    nics: tuple[NicReport, ...] = ()
    findings: tuple[ScanFinding, ...] = ()
    counts: tuple[tuple[str, str, int], ...] = ()
    findings_dropped: int = 0
    #: What the log held (Report.content): ``an-lines``, ``no-an-lines`` or ``empty``.
    content: str = AN_LINES

    @property
    def status(self) -> str:
        """Return ``failed`` (nothing analysed), ``partial`` (read with errors) or ``ok``."""
        return "failed" if self.error is not None else "partial" if self.errors else "ok"

    @property
    def worst(self) -> Severity | None:
        """Return the highest severity among the log's findings, or None."""
        ranked = sorted((Severity(sev) for _code, sev, n in self.counts if n), key=lambda s: s.rank)
        return ranked[-1] if ranked else None

    def count(self, severity: Severity | str | None = None) -> int:
        """Return the number of findings (of *severity*, or of any)."""
        wanted = None if severity is None else Severity(severity).value
        return sum(n for _code, sev, n in self.counts if wanted is None or sev == wanted)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: one record per log (NIC and finding fields as in ``vflog report``)."""
        worst = self.worst
        return {
            "path": self.path,
            "members": list(self.members),
            "status": self.status,
            "error": self.error,
            "errors": list(self.errors),
            "notes": list(self.notes),
            "stats": {"lines": self.lines, "events": self.events, "unrecognised": self.unrecognised},
            "boots": self.boots,
            "worst": worst.value if worst else None,
            "counts": [{"code": c, "severity": s, "count": n} for c, s, n in self.counts],
            "nics": [_nic_dict(nic) for nic in self.nics],
            "findings": [f.to_dict() for f in self.findings],
            "findings_dropped": self.findings_dropped,
            "content": self.content,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FileResult":
        """Rebuild a FileResult from :meth:`to_dict` (derived fields such as ``status`` are ignored)."""
        stats = data.get("stats", {})
        return cls(
            path=data["path"], members=tuple(data.get("members", ())), error=data.get("error"),
            errors=tuple(data.get("errors", ())), notes=tuple(data.get("notes", ())),
            lines=stats.get("lines", 0), events=stats.get("events", 0), unrecognised=stats.get("unrecognised", 0),
            boots=data.get("boots", 0), nics=tuple(_nic_from_dict(n) for n in data.get("nics", ())),
            findings=tuple(ScanFinding.from_dict(f) for f in data.get("findings", ())),
            counts=tuple((c["code"], c["severity"], c["count"]) for c in data.get("counts", ())),
            findings_dropped=data.get("findings_dropped", 0), content=data.get("content", AN_LINES),
        )


def _serialize(instance: Any, attribute: Any, value: Any) -> Any:
    if isinstance(value, Severity):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def _nic_dict(nic: NicReport) -> dict[str, Any]:
    return attrs.asdict(nic, filter=lambda a, v: a.name not in ("timeline", "timeline_dropped"))


def _vf_from_dict(data: Mapping[str, Any] | None) -> VfReport | None:
    if data is None:
        return None
    return VfReport(**{**data, "names": tuple(data.get("names", ()))})


def _nic_from_dict(data: Mapping[str, Any]) -> NicReport:
    known = {f.name for f in attrs.fields(NicReport)}
    fields = {k: v for k, v in data.items() if k in known}
    fields["synthetic_names"] = tuple(fields.get("synthetic_names", ()))
    fields["vf"] = _vf_from_dict(fields.get("vf"))
    fields["previous_vfs"] = tuple(_vf_from_dict(v) for v in fields.get("previous_vfs", ()))
    fields["outages"] = tuple(OutageReport(**o) for o in fields.get("outages", ()))
    fields["timeline"] = ()
    return NicReport(**fields)


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
        worst = result.worst
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

    def worst(self) -> Severity | None:
        """Return the highest severity of any finding, or None."""
        ranked = sorted((Severity(sev) for _c, sev, n, _f in self.codes if n), key=lambda s: s.rank)
        return ranked[-1] if ranked else None

    def fails(self, fail_on: str) -> bool:
        """Return whether a finding reaches *fail_on* (``error``, ``warning``, ``info``; ``never`` is never)."""
        if fail_on == "never":
            return False
        worst = self.worst()
        return worst is not None and worst.rank >= Severity(fail_on).rank

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the summary."""
        worst = self.worst()
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
        return _url_job(str(path))
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


def _failed(job: LogJob, reason: str) -> FileResult:
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
            return _failed(job, job.error)
        fetch_errors: list[str] = []
        if job.fs is not None:
            sources, fetch_errors = _fetch(job, limits)
        else:
            sources = [Path(location) for location in job.locations]
        report = analyze_files(sources, config=config, selection=selection, limits=limits) if sources else None
        return _result(job, report, fetch_errors)
    except Exception as exc:  # the promise: one bad log never stops the batch
        if job is None:
            job = LogJob(os.fspath(path) if not isinstance(path, LogJob) else path.name, (), ())
        return _failed(job, f"internal error while analysing ({type(exc).__name__}: {exc})")


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
        content=report.content,
    )


# -- finding the logs ---------------------------------------------------------------------


@attrs.frozen
class Discovery:
    """The logs found under the given paths, in order, and notes about what was left out."""

    jobs: tuple[LogJob, ...]
    notes: tuple[str, ...] = ()


@attrs.frozen
class _Found:
    name: str
    location: str
    group: tuple[str, str] | None  # (directory, rotation stem) when it belongs to a kernel-log family
    order: tuple[Any, ...]
    fs: Any = attrs.field(default=None, eq=False)


def _family_stem(name: str) -> str | None:
    """Return the rotation stem of *name* when that stem is a kernel-log family (kern.log, messages ...)."""
    stem = rotation_key(name)[0].rsplit("/", 1)[-1]
    for _family, patterns in FAMILIES:
        if any(fnmatch.fnmatch(stem, pattern) for pattern in patterns):
            return stem
    return None


def _chosen(relative: str, selection: Selection) -> bool:
    base = PurePosixPath(relative).name
    if any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(base, p) for p in selection.exclude):
        return False
    return not selection.include or any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(base, p)
                                        for p in selection.include)


def _walk(root: str, selection: Selection, notes: list[str],
          skipped: collections.Counter[str] | None = None) -> Iterator[str]:
    """Yield the regular files under *root* (sorted; file symlinks followed, directory symlinks not).

    What is left out is counted in *skipped* by reason, and noted (except what --exclude left out).
    """
    skipped = collections.Counter() if skipped is None else skipped
    failures: list[str] = []
    for directory, dirs, files in os.walk(root, onerror=lambda exc: failures.append(f"{exc.filename}: {exc.strerror}")):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            if not _chosen(relative, selection):
                skipped["excluded"] += 1
                continue
            try:
                mode = os.stat(path).st_mode
            except OSError:
                skipped["dangling symlink"] += 1
                continue
            if not stat.S_ISREG(mode):
                skipped["special file (FIFO, socket, device)"] += 1
                continue
            yield path
        for name in dirs:
            if os.path.islink(os.path.join(directory, name)):
                skipped["directory symlink (not followed)"] += 1
    for kind, count in sorted(skipped.items()):
        if kind != "excluded":
            notes.append(f"{root}: skipped {count} entr{'y' if count == 1 else 'ies'}: {kind}")
    notes.extend(f"cannot list {failure}" for failure in failures)


def _url_job(url: str) -> LogJob:
    """Return the job of one fsspec URL, or a failed one when fsspec or the filesystem is missing."""
    try:
        import fsspec.core
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        return LogJob(url, (url,), (url,), error=f"{url}: reading URLs needs fsspec and the filesystem's "
                                                 f"package (pip install fsspec adlfs|s3fs): {exc}")
    except Exception as exc:
        return LogJob(url, (url,), (url,), error=f"{url}: cannot be opened ({type(exc).__name__}: {exc})")
    return LogJob(url, (url,), (path,), fs=fs)


def _discover_url(url: str, selection: Selection, notes: list[str]) -> Iterator[tuple[str, str, Any] | LogJob]:
    """Yield (url, path inside fs, fs) for each file an fsspec URL, directory or glob names."""
    try:
        import fsspec.core
        fs, root = fsspec.core.url_to_fs(url)
    except ImportError:
        yield _url_job(url)
        return
    except Exception as exc:
        yield LogJob(url, (url,), (url,), error=f"{url}: cannot be opened ({type(exc).__name__}: {exc})")
        return
    try:
        if _MAGIC.search(root):
            matches = sorted(fs.glob(root))
            if not matches:
                yield LogJob(url, (url,), (root,), error=f"{url}: no file matches this pattern")
                return
        else:
            matches = [root]
        for match in matches:
            if fs.isdir(match):
                files = sorted(fs.find(match))
                chosen = [f for f in files if _chosen(f[len(match):].lstrip("/"), selection)]
                if not files:
                    yield LogJob(fs.unstrip_protocol(match), (url,), (match,), error=f"{url}: directory holds no files")
                for path in chosen:
                    yield (fs.unstrip_protocol(path), path, fs)
            else:
                yield (url if match == root else fs.unstrip_protocol(match), match, fs)
    except Exception as exc:  # authentication, network
        yield LogJob(url, (url,), (root,), error=f"{url}: cannot be listed ({type(exc).__name__}: {exc})")


def discover(paths: Iterable[LogJob | str | os.PathLike[str]], *, selection: Selection = Selection(),
             group_rotations: bool = True) -> Discovery:
    """Find the logs that *paths* (files, directories, globs, archives, fsspec URLs) hold.

    Every regular file under a directory is one log; so is an archive; rotated siblings of a
    kernel-log family in one directory (``kern.log.1`` + ``kern.log``, ``messages-20260901`` +
    ``messages``) are one log read oldest first (unless *group_rotations* is false).  A file
    reached twice is read once.  *selection*'s include/exclude globs filter the files found
    inside directories (and, at analysis time, archive members).  A path that does not exist or
    a glob that matches nothing becomes a log that failed, so it is counted and reported.
    """
    notes: list[str] = []
    found: list[_Found | LogJob] = []
    seen: set[tuple[int, int]] = set()

    def add_local(name: str) -> None:
        try:
            info = os.stat(name)
            identity = (info.st_dev, info.st_ino)
            if identity in seen:
                return
            seen.add(identity)
        except OSError:
            pass  # missing: analysing it reports why
        directory = os.path.dirname(os.path.abspath(name))
        stem = _family_stem(name) if group_rotations else None
        found.append(_Found(name, os.path.abspath(name), (directory, stem) if stem else None,
                            rotation_key(name)[1:]))

    for raw in paths:
        if isinstance(raw, LogJob):
            found.append(raw)
            continue
        path = os.fspath(raw)
        if is_url(path):
            for item in _discover_url(path, selection, notes):
                if isinstance(item, LogJob):
                    found.append(item)
                    continue
                url, location, fs = item
                stem = _family_stem(url) if group_rotations else None
                directory = url.rsplit("/", 1)[0]
                found.append(_Found(url, location, (directory, stem) if stem else None, rotation_key(url)[1:], fs))
            continue
        if os.path.isdir(path):
            skipped: collections.Counter[str] = collections.Counter()
            files = 0
            for file in _walk(path, selection, notes, skipped):
                files += 1
                add_local(file)
            if not files and not skipped:
                found.append(LogJob(path, (path,), (os.path.abspath(path),), error=f"{path}: directory holds no files"))
            continue
        if not os.path.lexists(path) and _MAGIC.search(path):
            matches = sorted(globbing.glob(path, recursive=True), key=rotation_key)
            if not matches:
                found.append(LogJob(path, (path,), (path,), error=f"{path}: no file matches this pattern"))
            for match in matches:
                if os.path.isdir(match):
                    for file in _walk(match, selection, notes):
                        add_local(file)
                else:
                    add_local(match)
            continue
        add_local(path)
    return Discovery(tuple(_group(found)), tuple(notes))


def _group(found: list[_Found | LogJob]) -> Iterator[LogJob]:
    """Turn found files into jobs, one per file or per rotation family, at the first member's place."""
    groups: dict[tuple[str, str], list[_Found]] = {}
    for item in found:
        if isinstance(item, _Found) and item.group is not None:
            groups.setdefault(item.group, []).append(item)
    emitted: set[tuple[str, str]] = set()
    for item in found:
        if isinstance(item, LogJob):
            yield item
        elif item.group is None:
            yield _job_from([item])
        elif item.group not in emitted:
            emitted.add(item.group)
            yield _job_from(sorted(groups[item.group], key=lambda f: f.order))


def _job_from(members: list[_Found]) -> LogJob:
    return LogJob(members[-1].name, tuple(m.name for m in members), tuple(m.location for m in members),
                  fs=members[0].fs)


# -- running the jobs ---------------------------------------------------------------------------


def _mp_context() -> Any:
    """Fork when it is safe (no other thread in this process), else a fork server or spawn."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _pool(workers: int, context: Any) -> futures.ProcessPoolExecutor:
    """Return a process pool whose workers end on SIGTERM and SIGHUP (see :func:`_worker_signals`)."""
    return futures.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_signals)


def _worker_signals() -> None:
    """In a worker: SIGTERM and SIGHUP end the process, as by default (a handler inherited from the parent is dropped)."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if callable(signal.getsignal(signum)):
            signal.signal(signum, signal.SIG_DFL)


def _stop(executor: futures.ProcessPoolExecutor) -> None:
    """Shut *executor* down now: cancel the waiting tasks and end its worker processes (none outlives vflog)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


def _isolated(job: LogJob, run: functools.partial, context: Any) -> FileResult:
    """Run one job alone in a fresh worker, after a worker died: it either works or is reported."""
    single = _pool(1, context)
    try:
        return _outcome(job, single.submit(run, job))
    except BaseException:  # interrupted or terminated while it runs: the worker ends too
        _stop(single)
        raise
    finally:
        single.shutdown(wait=True)


def _outcome(job: LogJob, future: futures.Future[FileResult]) -> FileResult:
    """Return the result of *future*, or a failed result naming why the worker gave none."""
    try:
        return future.result()
    except BrokenProcessPool:
        return _failed(job, "the worker process died while reading it (killed? out of memory?)")
    except Exception as exc:
        return _failed(job, f"worker failed ({type(exc).__name__}: {exc})")


def _pool_results(work: list[LogJob], workers: int, run: functools.partial, context: Any) -> Iterator[FileResult]:
    """Run the jobs on a process pool, one log per task, at most a few tasks per worker in flight.

    A worker that dies (killed, out of memory) breaks the pool and every task in flight with it:
    those logs are run again one by one in a fresh process (so the culprit is named and the others
    are analysed), then the pool is restarted and the batch goes on.
    """
    context = context or _mp_context()
    queue = iter(work)
    window = workers * 4
    pending: dict[futures.Future[FileResult], LogJob] = {}
    deferred: list[LogJob] = []  # taken from the queue but refused by a pool that had just broken
    frozen = context.get_start_method() == "fork" and not gc.get_freeze_count()
    if frozen:
        gc.freeze()  # forked workers' collections then leave the inherited objects (and their pages) alone
    executor = _pool(workers, context)
    clean_exit = False
    restarts_without_progress = 0
    try:
        def fill() -> None:
            while len(pending) < window:
                job = deferred.pop() if deferred else next(queue, None)
                if job is None:
                    return
                try:
                    pending[executor.submit(run, job)] = job
                except BrokenProcessPool:
                    deferred.append(job)
                    return

        fill()
        while pending or deferred:
            lost: list[LogJob] = []
            if pending:
                done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        lost.append(job)
                        continue
                    except Exception as exc:
                        result = _failed(job, f"worker failed ({type(exc).__name__}: {exc})")
                    restarts_without_progress = 0
                    yield result
            if lost or (deferred and not pending):
                lost.extend(pending.values())
                pending.clear()
                executor.shutdown(wait=False, cancel_futures=True)
                for job in lost:
                    yield _isolated(job, run, context)
                restarts_without_progress = 0 if lost else restarts_without_progress + 1
                if restarts_without_progress > 3:  # the pool cannot even start: report what is left
                    for job in deferred + list(queue):
                        yield _failed(job, "no worker process could be started")
                    deferred.clear()
                    break
                executor = _pool(workers, context)
            fill()
        clean_exit = True
    finally:
        if clean_exit:
            executor.shutdown(wait=True)
        else:  # interrupted, terminated, or the caller stopped reading: no worker may outlive this
            _stop(executor)
        if frozen:
            gc.unfreeze()


def _dask_client(scheduler: Any, workers: int) -> tuple[Any, list[Any]]:
    """Return a distributed Client for *scheduler* and the objects to close afterwards."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
        return client, [client, cluster]
    if isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(scheduler, f"no Dask scheduler can be reached there ({exc})") from None
        return client, [client]
    return scheduler, []  # a Client (or anything with submit) the caller owns


def _dask_results(work: list[LogJob], workers: int, run: functools.partial, scheduler: Any) -> Iterator[FileResult]:
    """Map the per-log function with Dask futures, as results finish, with a bounded number in flight."""
    from distributed import as_completed

    client, owned = _dask_client(scheduler, workers)
    pending: dict[str, LogJob] = {}
    try:
        try:
            threads = sum(client.nthreads().values())
        except Exception:
            threads = workers
        window = max(4 * workers, 4 * threads, 8)
        queue = iter(work)
        stream = as_completed()

        def fill() -> None:
            while len(pending) < window:
                job = next(queue, None)
                if job is None:
                    return
                future = client.submit(run, job, pure=False)
                pending[future.key] = job
                stream.add(future)

        fill()
        for future in stream:
            job = pending.pop(future.key)
            try:
                result = future.result()
            except Exception as exc:  # KilledWorker, a lost worker, a deserialisation problem
                result = _failed(job, f"Dask task failed ({type(exc).__name__}: {exc})")
            future.release()
            yield result
            fill()
    finally:
        for item in owned:
            try:
                item.close()
            except Exception:
                pass


def check_engine(engine: str, jobs: int | None) -> int:
    """Return the number of workers for *jobs* (None: every core); raise UsageError for a bad engine or count."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    workers = default_jobs() if jobs is None else jobs
    if not isinstance(workers, int) or workers < 1:
        raise UsageError(f"--jobs needs a whole number of at least 1, not {jobs!r}")
    if engine == "dask":
        try:
            found = importlib.util.find_spec("distributed") is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError("--engine dask needs dask.distributed: pip install 'vflog[dask]'")
    return workers


def scan(paths: Iterable[LogJob | str | os.PathLike[str]], *, jobs: int | None = None, config: Config | None = None,
         selection: Selection = Selection(), limits: Limits = Limits(), engine: str = "process",
         scheduler: Any = None, group_rotations: bool = True, mp_context: Any = None) -> Iterator[FileResult]:
    """Analyse every log that *paths* hold, each on its own, in parallel; yield results as they finish.

    *paths* are files, directories, globs, archives and fsspec URLs (or LogJobs from :func:`discover`).
    ``engine="process"`` runs *jobs* worker processes (default: every core; 1 runs in this process);
    ``engine="dask"`` maps the same per-log function on Dask: a LocalCluster of *jobs* single-threaded
    worker processes, or the scheduler at address *scheduler* (``tcp://...``), or a given
    ``distributed.Client``.  Results come in completion order; raise UsageError for bad arguments.
    """
    workers = check_engine(engine, jobs)
    work = list(discover(paths, selection=selection, group_rotations=group_rotations).jobs)
    run = functools.partial(analyze_one, config=config or Config(), selection=selection, limits=limits)
    return _results(work, workers, run, engine, scheduler, mp_context)


def _results(work: list[LogJob], workers: int, run: functools.partial, engine: str, scheduler: Any,
             mp_context: Any) -> Iterator[FileResult]:
    if not work:
        return
    if engine == "dask":
        yield from _dask_results(work, workers, run, scheduler)
    elif workers == 1 or len(work) == 1:
        for job in work:
            yield run(job)
    else:
        yield from _pool_results(work, min(workers, len(work)), run, mp_context)


def summarize(paths: Iterable[LogJob | str | os.PathLike[str]], *, jobs: int | None = None,
              config: Config | None = None, selection: Selection = Selection(), limits: Limits = Limits(),
              engine: str = "process", scheduler: Any = None, group_rotations: bool = True) -> Summary:
    """Return only the Summary of every log; with Dask the reduction runs on the cluster (a bag fold)."""
    workers = check_engine(engine, jobs)
    work = list(discover(paths, selection=selection, group_rotations=group_rotations).jobs)
    run = functools.partial(analyze_one, config=config or Config(), selection=selection, limits=limits)
    if engine != "dask" or not work:
        return functools.reduce(Summary.merge, map(Summary.of, _results(work, workers, run, engine, scheduler, None)),
                                Summary())
    import dask.bag

    client, owned = _dask_client(scheduler, workers)
    try:
        bag = dask.bag.from_sequence(work, partition_size=1).map(run).map(Summary.of)
        total = bag.fold(Summary.merge, Summary.merge, initial=Summary())
        return total.compute(scheduler=client)  # type: ignore[no-any-return]
    finally:
        for item in owned:
            item.close()

