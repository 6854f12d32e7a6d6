"""Render scan results for people (tables) and programs (JSON, JSON Lines, CSV, SARIF).

Memory stays flat with the number of logs: JSON Lines and CSV records are written as each log
finishes (in completion order); the formats that need an order (the table, worst files first;
JSON and SARIF, by path, so every engine and every --jobs gives the same document) keep the
per-log results in a temporary SQLite file, not in memory.
"""

from __future__ import annotations

import abc
import csv
import json
import os
import sqlite3
import tempfile
import textwrap
import time
import urllib.parse
from pathlib import Path
from typing import IO, Any, Iterator

from . import __version__
from .catalogue import CODES, Severity
from .fleet.results import FileResult, Summary, is_url
from .render import PLAIN, Display, clean, displayable_tree, pretty_json

__all__ = ["FORMATS", "Spool", "displayable", "plural", "render_sarif", "render_summary", "render_table", "writer_for"]

FORMATS = ("table", "json", "jsonl", "csv", "sarif", "html")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_RANK = {"error": 2, "warning": 1, "info": 0}


# -- keeping results on disk ------------------------------------------------------------------


class Spool:
    """Per-log results in a temporary SQLite file, read back in a stable order."""

    _ORDERS = {
        "path": "path, data",
        "worst": "failed DESC, worst DESC, errors DESC, warnings DESC, total DESC, path, data",
    }

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="vflog-scan-")
        self._db = sqlite3.connect(os.path.join(self._dir.name, "results.sqlite"))
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE results (path TEXT, failed INT, worst INT, errors INT, warnings INT, "
                         "total INT, problem INT, data TEXT)")
        self.count = 0

    def add(self, result: FileResult) -> None:
        """Keep one result."""
        worst = result.worst_severity
        self._db.execute("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (result.path, int(result.error is not None), _RANK[worst.value] if worst else -1,
                          result.count(Severity.ERROR), result.count(Severity.WARNING), result.count(),
                          int(bool(result.errors)), json.dumps(result.to_dict())))
        self.count += 1

    def texts(self, order: str = "path", *, problems: bool = False, limit: int | None = None) -> Iterator[str]:
        """Yield the JSON text of the results in *order* (``path`` or ``worst``), optionally only those with errors."""
        query = f"SELECT data FROM results {'WHERE problem' if problems else ''} ORDER BY {self._ORDERS[order]}"
        if limit:
            query += f" LIMIT {int(limit)}"
        for (data,) in self._db.execute(query):
            yield data

    def results(self, order: str = "path", *, problems: bool = False, limit: int | None = None) -> Iterator[FileResult]:
        """Yield the results in *order*."""
        for data in self.texts(order, problems=problems, limit=limit):
            yield FileResult.from_dict(json.loads(data))

    def close(self) -> None:
        """Delete the temporary file."""
        self._db.close()
        self._dir.cleanup()


# -- text for people ---------------------------------------------------------------------------------


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def render_summary(summary: Summary, display: Display = PLAIN) -> str:
    """Return the summary: what was read, where the NICs ended, and a table of finding codes; lines
    longer than the display's width are wrapped with an indent."""
    datapaths = dict(summary.datapaths)
    worst = dict(summary.worst_files)
    lines = [
        f"vflog scan: {plural(summary.files, 'file')}: {summary.analysed:,} analysed, "
        f"{summary.failed:,} could not be read, {summary.partial:,} read only in part",
        f"  {plural(summary.lines, 'line')}, {plural(summary.events, 'driver event')}, "
        f"{summary.unrecognised:,} unrecognised driver line(s), {plural(summary.boots, 'boot')}",
        f"  NICs at the end of each file's last boot: {summary.nics:,} "
        f"({datapaths.get('vf', 0):,} on the VF, {datapaths.get('synthetic', 0):,} on the synthetic path, "
        f"{datapaths.get('unknown', 0):,} unknown)",
        f"  files by worst finding: {worst.get('error', 0):,} error, {worst.get('warning', 0):,} warning, "
        f"{worst.get('info', 0):,} info, {worst.get('none', 0):,} without findings; "
        f"{summary.silent:,} without any Accelerated Networking line (no verdict)",
        "",
    ]
    if display.width:
        lines = [part for line in lines
                 for part in (textwrap.wrap(line, display.width, subsequent_indent="    ") or [line])]
    if summary.codes:
        rows = sorted(summary.codes, key=lambda c: (-_RANK.get(c[1], -1), -c[3], -c[2], c[0]))
        lines.append(_tabulate()([[code, sev, f"{findings:,}", f"{files:,}"] for code, sev, findings, files in rows],
                                       headers=["code", "severity", "findings", "files"], tablefmt="simple",
                                       colalign=("left", "left", "right", "right")))
    else:
        lines.append("Findings: none")
    return "\n".join(lines) + "\n"


def _findings_cell(result: FileResult) -> str:
    if result.error is not None:
        return "cannot be read (see input errors)"
    ranked = sorted(result.counts, key=lambda c: (-_RANK.get(c[1], -1), c[0]))
    text = ", ".join(code if n == 1 else f"{code} ({n})" for code, _sev, n in ranked) or "-"
    if result.errors:
        text += "; read only in part"
    return text


def _file_row(result: FileResult) -> list[str]:
    worst = result.worst_severity
    if result.error is not None:
        return [clean(result.path), "unreadable", "-", "-", "-", _findings_cell(result)]
    datapaths = ", ".join(f"{clean(nic.synthetic or nic.key)}: {nic.datapath}" for nic in result.nics) or "-"
    if result.checks:  # a sosreport's present state (vflog check)
        datapaths += "; now " + ", ".join(f"{clean(nic.synthetic or nic.vf or nic.key)}: {_NOW[nic.on_vf]}"
                                          for nic in result.checks)
    name = clean(result.path) + (f" (+{len(result.members) - 1} rotated)" if len(result.members) > 1 else "")
    return [name, worst.value if worst else "-", str(result.boots), str(len(result.nics)), datapaths,
            _findings_cell(result)]


_NOW = {True: "on VF", False: "not on VF", None: "unknown"}
_FILE_HEADERS = ["file", "worst", "boots", "NICs", "final data path", "findings"]


def _files_table(rows: list[list[str]], display: Display) -> str:
    """Return the table of files; when it is wider than the display, one stacked block per file instead."""
    table = _tabulate()(rows, headers=_FILE_HEADERS, tablefmt="simple")
    if display.fits(table):
        return table
    label = max(map(len, _FILE_HEADERS[1:]))
    return "\n\n".join("\n".join([display.cut(row[0]), *(display.cut(f"  {header:{label}}  {value}")
                                                          for header, value in zip(_FILE_HEADERS[1:], row[1:]))])
                       for row in rows)


def render_table(summary: Summary, spool: Spool, *, top: int = 50, display: Display = PLAIN) -> Iterator[str]:
    """Yield the human report: the summary, the worst files first (stacked when the table would not fit
    the display's width), then every input error."""
    yield render_summary(summary, display)
    shown = spool.count if not top else min(top, spool.count)
    if spool.count:
        yield "\n" + (f"Files, worst first ({shown:,} of {spool.count:,}):\n" if shown < spool.count
                      else "Files, worst first:\n")
        rows = [_file_row(r) for r in spool.results("worst", limit=shown)]
        yield _files_table(rows, display) + "\n"
        if shown < spool.count:
            yield f"  ... {spool.count - shown:,} more file(s) not listed (--top 0 lists them all)\n"
    if summary.failed or summary.partial:
        yield "\nInput errors:\n"
        for result in spool.results("path", problems=True):
            for error in result.errors:
                yield display.cut(f"  {clean(error)}") + "\n"


# -- SARIF -------------------------------------------------------------------------------------------------


def _artifact(name: str) -> dict[str, str]:
    """Return the SARIF artifactLocation of a file name: URLs as they are, paths as file URIs."""
    if is_url(name):
        return {"uri": name}
    if os.path.isabs(name):
        return {"uri": Path(name).as_uri()}
    return {"uri": urllib.parse.quote(name.replace(os.sep, "/")), "uriBaseId": "SRCROOT"}


def _where(result: FileResult, origin: str | None) -> tuple[str, str | None, int | None]:
    """Split a finding's origin (``file:line``, ``archive!member:line``) into (file, member, line)."""
    if not origin:
        return result.path, None, None
    head, _, tail = origin.rpartition(":")
    if not head or not tail.isdigit():
        return result.path, None, None
    for member in sorted(result.members, key=len, reverse=True):
        if head == member:
            return member, None, int(tail)
        if head.startswith(member + "!"):
            return member, head[len(member) + 1:], int(tail)
    return result.path, None, int(tail)


def _rule(code: Any) -> dict[str, Any]:
    return {
        "id": code.code,
        "name": "".join(part.capitalize() for part in code.code.split("-")),
        "shortDescription": {"text": code.summary},
        "fullDescription": {"text": f"{code.summary} Likely cause: {code.cause}"},
        "help": {"text": f"{code.summary}\nWhy it happens: {code.cause}\nWhat to check: {code.check}",
                 "markdown": f"{code.summary}\n\n**Why it happens:** {code.cause}\n\n**What to check:** {code.check}"},
        "defaultConfiguration": {"level": _LEVEL[code.severity.value]},
        "properties": {"severity": code.severity.value, "tags": ["accelerated-networking", "sr-iov"]},
    }


def _sarif_results(result: FileResult, rule_index: dict[str, int]) -> Iterator[dict[str, Any]]:
    for item in result.findings:
        finding = item.finding
        file, member, line = _where(result, finding.origin)
        physical: dict[str, Any] = {"artifactLocation": _artifact(file)}
        if line:
            physical["region"] = {"startLine": line}
        location: dict[str, Any] = {"physicalLocation": physical}
        if member:
            location["message"] = {"text": f"line {line} of archive member {member}"}
        record: dict[str, Any] = {
            "ruleId": finding.code,
            "level": _LEVEL.get(finding.severity.value, "none"),
            "message": {"text": finding.message},
            "locations": [location],
            "properties": {"log": result.path, "boot": item.boot, "nic": finding.nic, "nic_name": item.nic_name,
                           "nicName": item.nic_name,  # deprecated alias of nic_name (schema 1), kept for one release
                           "t": finding.t, "origin": finding.origin, "member": member,
                           "evidence": list(finding.evidence)},
        }
        if finding.code in rule_index:
            record["ruleIndex"] = rule_index[finding.code]
        yield record


def render_sarif(summary: Summary, spool: Spool) -> Iterator[str]:
    """Yield a SARIF 2.1.0 log: rules are the finding codes, results are located at file and line."""
    rules = [_rule(code) for code in CODES.values()]
    rule_index = {rule["id"]: index for index, rule in enumerate(rules)}
    head = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "vflog", "version": __version__, "semanticVersion": __version__,
                                "rules": rules}},
            "originalUriBaseIds": {"SRCROOT": {"uri": Path.cwd().as_uri().rstrip("/") + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": [],
        }],
    }
    text = pretty_json(head)
    before, _, after = text.rpartition('"results": []')
    yield before + '"results": ['
    first = True
    for result in spool.results("path"):
        for record in _sarif_results(result, rule_index):
            yield ("\n" if first else ",\n") + json.dumps(record)
            first = False
    invocation = json.dumps({"executionSuccessful": summary.analysed > 0,
                             "properties": {"summary": summary.to_dict()}, "toolExecutionNotifications": []})
    opening, _, tail = invocation.rpartition("[]")
    yield "\n      ],\n      \"invocations\": [" + opening + "["
    first = True
    for result in spool.results("path", problems=True):  # inputs that could not be read (fully)
        for error in result.errors:
            notification = {"level": "error" if result.error is not None else "warning", "message": {"text": error},
                            "locations": [{"physicalLocation": {"artifactLocation": _artifact(result.path)}}]}
            yield ("\n" if first else ",\n") + json.dumps(notification)
            first = False
    yield "]" + tail + "]" + after.rstrip() + "\n"


# -- writers: one per format ------------------------------------------------------------------------------------


class _Writer(abc.ABC):
    """Takes results as they finish; writes the output at the right moments."""

    def __init__(self, out: IO[str], top: int | None = None, display: Display = PLAIN) -> None:
        self.out = out
        self.top = top
        self.display = display
        self._flushed = time.monotonic()

    def _flush_now_and_then(self) -> None:
        """Let a reader of a pipe see records as they come, without a system call per record."""
        now = time.monotonic()
        if now - self._flushed >= 0.2:
            self.out.flush()
            self._flushed = now

    @abc.abstractmethod
    def add(self, result: FileResult) -> None:
        """Take the result of one log."""

    def finish(self, summary: Summary) -> None:
        pass

    def close(self) -> None:
        pass


class _JsonLines(_Writer):
    def add(self, result: FileResult) -> None:
        self.out.write(json.dumps(result.to_dict()) + "\n")
        self._flush_now_and_then()


CSV_FIELDS = ("path", "status", "worst", "boots", "nic_count", "datapaths", "codes", "findings_error",
              "findings_warning", "findings_info", "lines", "events", "unrecognised", "error",
              "members", "errors", "nics", "findings")


class _Csv(_Writer):
    def __init__(self, out: IO[str], top: int | None = None, display: Display = PLAIN) -> None:
        super().__init__(out, top, display)
        self.writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        self.writer.writeheader()

    def add(self, result: FileResult) -> None:
        data = result.to_dict()
        worst = result.worst_severity
        self.writer.writerow({
            "path": result.path, "status": result.status, "worst": worst.value if worst else "",
            "boots": result.boots, "nic_count": len(result.nics),
            "datapaths": " ".join(f"{nic.synthetic or nic.key}={nic.datapath}" for nic in result.nics),
            "codes": " ".join(f"{code}={n}" for code, _sev, n in result.counts),
            "findings_error": result.count("error"), "findings_warning": result.count("warning"),
            "findings_info": result.count("info"), "lines": result.lines, "events": result.events,
            "unrecognised": result.unrecognised, "error": result.error or "",
            "members": json.dumps(data["members"]), "errors": json.dumps(data["errors"]),
            "nics": json.dumps(data["nics"]), "findings": json.dumps(data["findings"]),
        })
        self._flush_now_and_then()


class _Spooled(_Writer):
    def __init__(self, out: IO[str], top: int | None = None, display: Display = PLAIN) -> None:
        super().__init__(out, top, display)
        self.spool = Spool()

    def add(self, result: FileResult) -> None:
        self.spool.add(result)

    def close(self) -> None:
        self.spool.close()


class _Table(_Spooled):
    def finish(self, summary: Summary) -> None:
        for chunk in render_table(summary, self.spool, top=50 if self.top is None else self.top, display=self.display):
            self.out.write(chunk)


class _Json(_Spooled):
    def finish(self, summary: Summary) -> None:
        summary_text = pretty_json(summary.to_dict()).replace("\n", "\n  ")
        self.out.write('{\n  "summary": ' + summary_text + ',\n  "files": [')
        for index, text in enumerate(self.spool.texts("path")):
            pretty = pretty_json(json.loads(text)).replace("\n", "\n    ")
            self.out.write(("\n    " if index == 0 else ",\n    ") + pretty)
        self.out.write(("\n  " if self.spool.count else "") + "]\n}\n")


class _Sarif(_Spooled):
    def finish(self, summary: Summary) -> None:
        for chunk in render_sarif(summary, self.spool):
            self.out.write(chunk)


class _Html(_Spooled):
    def finish(self, summary: Summary) -> None:
        from .render_fleet_html import FULL_SECTIONS, render_fleet_html  # only the page pays for Jinja2
        full = FULL_SECTIONS if self.top is None else self.top
        for chunk in render_fleet_html(summary, self.spool.results("worst"), total=self.spool.count, full=full):
            self.out.write(chunk)


_WRITERS: dict[str, type[_Writer]] = {"table": _Table, "json": _Json, "jsonl": _JsonLines, "csv": _Csv, "sarif": _Sarif,
                                      "html": _Html}


def writer_for(fmt: str, out: IO[str], *, top: int | None = None, display: Display = PLAIN) -> _Writer:
    """Return the writer of format *fmt* (one of FORMATS) writing to *out*; human text obeys *display*; *top* is
    how many of the worst files the table lists (default 50) or the page gives a section (default 200); 0: all."""
    return _WRITERS[fmt](out, top, display)


# -- progress ----------------------------------------------------------------------------------------


# -- the command -------------------------------------------------------------------------------------------------


def displayable(result: FileResult) -> FileResult:
    """Return *result* with file names that are not UTF-8 shown escaped (``x\\xff.log``), so every format can hold it."""
    data = result.to_dict()
    return FileResult.from_dict(displayable_tree(data)) if "\\ud" in json.dumps(data) else result


def _tabulate():  # type: ignore[no-untyped-def]
    """Return tabulate's function, imported only when a table is drawn."""
    import tabulate
    return tabulate.tabulate
