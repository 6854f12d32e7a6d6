"""Turn a fleet scan into one self-contained HTML page (``vflog scan --format html``): counts per finding
code, then the worst files first, each with a small SVG lane per NIC of its last boot, then a compact row
for every other file, and what each finding code means.

Every file is reachable by anchor: ``#file-N``, N its rank, worst first (1 is the worst file); a
finding of a file is ``#file-N-bB-fI``; a code's explanation is ``#code-CODE``.  The page is bounded
for thousands of files: only the worst *full* files get a section (lanes, NICs, findings), with at
most LANES_SHOWN lanes and FINDINGS_SHOWN findings each; the others get one row.  It reuses the
report page's picture (render_html.picture, templates/picture.*.j2), so the lanes have the same
colours and gap compression; autoescaped like it, so every string from a log is text.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable, Iterator

import attrs

from .catalogue import CODES, Severity
from .fleet.results import FileResult, ScanFinding, Summary
from .render import clean
from .render_html import Picture, environment, finding_anchor, picture
from .report import BootReport

#: How many of the worst files get a full section by default (``--top N`` changes it; 0: every file).
FULL_SECTIONS = 200
#: At most this many NIC lanes and findings are shown in a file's section (the rest are counted).
LANES_SHOWN, FINDINGS_SHOWN = 16, 20
#: At most this many finding codes are named in a summarised file's row, and this many characters of a name.
CODES_IN_ROW, NAME_CHARS = 6, 300
#: A scan of 3,000 small logs (a boot and a NIC or two each) gives a page smaller than this (tested).
SMALL_FLEET_BYTES = 2_000_000


def file_anchor(rank: int) -> str:
    """Return the HTML id of the file at *rank* (1: the worst file)."""
    return f"file-{rank}"


def code_anchor(code: str) -> str:
    """Return the HTML id of a finding code's explanation."""
    return f"code-{code}"


def _cut(text: str) -> str:
    """Return *text* with control characters escaped, cut to NAME_CHARS with a marker."""
    text = clean(text)
    return text if len(text) <= NAME_CHARS else text[:NAME_CHARS - 1] + "…"


def _codes(summary: Summary) -> list[dict[str, Any]]:
    """Return the rows of the code table: the worst severity first, then the most files."""
    rows = sorted(summary.codes, key=lambda c: (-Severity(c[1]).rank, -c[3], -c[2], c[0]))
    return [{"code": code, "severity": sev, "findings": findings, "files": files, "anchor": code_anchor(code),
             "summary": CODES[code].summary if code in CODES else ""} for code, sev, findings, files in rows]


def _explained(summary: Summary) -> list[dict[str, str]]:
    """Return what each finding code of the scan means (vflog explain), in code order."""
    codes = sorted({code for code, _sev, _f, _n in summary.codes if code in CODES})
    return [{"code": code, "anchor": code_anchor(code), "severity": CODES[code].severity.value,
             "summary": CODES[code].summary, "cause": CODES[code].cause, "check": CODES[code].check}
            for code in codes]


def _on_lanes(boot: BootReport | None) -> Callable[[ScanFinding], bool]:
    """Return whether a finding gets a marker in the picture of *boot* (cut to LANES_SHOWN lanes): it is of that
    boot and of a drawn NIC, or of the VM (no NIC, or one the boot does not have)."""
    drawn = {nic.key for nic in boot.nics[:LANES_SHOWN]} if boot else set()
    every = {nic.key for nic in boot.nics} if boot else set()
    return lambda item: (boot is not None and item.boot == boot.index
                         and (item.finding.nic in drawn or item.finding.nic not in every))


def _shown(result: FileResult, on_lanes: Callable[[ScanFinding], bool]) -> list[tuple[ScanFinding, str]]:
    """Return the findings a section lists (the worst FINDINGS_SHOWN) with their anchors: those with a marker
    first, numbered in log order as the picture numbers them, then the others."""
    ranked = sorted(range(len(result.findings)), key=lambda i: (-result.findings[i].finding.severity.rank, i))
    chosen = sorted((result.findings[i] for i in sorted(ranked[:FINDINGS_SHOWN])), key=lambda item: not on_lanes(item))
    counters: dict[int, itertools.count[int]] = {}
    return [(item, finding_anchor(item.boot, next(counters.setdefault(item.boot, itertools.count()))))
            for item in chosen]


def _picture(boot: BootReport | None, shown: list[tuple[ScanFinding, str]],
             on_lanes: Callable[[ScanFinding], bool]) -> tuple[Picture | None, int]:
    """Return the last boot's picture (at most LANES_SHOWN lanes, markers for the shown findings on them) and
    how many NICs were not drawn; (None, 0) when there is nothing to draw."""
    if boot is None or not (boot.nics or boot.findings):
        return None, 0
    nics = boot.nics[:LANES_SHOWN]
    findings = tuple(item.finding for item, _anchor in shown if on_lanes(item))
    return picture(attrs.evolve(boot, nics=nics, findings=findings)), len(boot.nics) - len(nics)


def _nic(nic: Any) -> dict[str, str]:
    """Return the cells of a NIC's row in a file's section."""
    vf = nic.vf
    return {
        "name": clean(nic.synthetic or "-"), "key": clean(nic.key), "datapath": nic.datapath, "state": nic.state,
        "vf": clean(vf.name) if vf and vf.name else "-", "driver": clean(vf.driver) if vf and vf.driver else "-",
        "outages": str(sum(1 for o in nic.outages if o.vf_removed)),
    }


def _facts(result: FileResult) -> dict[str, Any]:
    """Return what both a section and a row show of a file: rank-independent names, counts and worst severity."""
    worst = result.worst
    return {
        "name": _cut(result.path), "status": result.status, "worst": worst.value if worst else "none",
        "rotated": max(len(result.members) - 1, 0), "lines": result.lines, "boots": result.boots,
        "nics": len(result.nics), "findings": result.count(), "content": result.content,
        "error": _cut(result.error) if result.error else "",
        "datapaths": ", ".join(f"{clean(n.synthetic or n.key)}: {n.datapath}" for n in result.nics[:LANES_SHOWN])
                     + (f", … {len(result.nics) - LANES_SHOWN} more" if len(result.nics) > LANES_SHOWN else ""),
    }


def _section(rank: int, result: FileResult) -> dict[str, Any]:
    """Return a file's full section: facts, errors and notes, the lanes of its last boot, NICs and findings."""
    prefix = file_anchor(rank) + "-"
    boot = result.last_boot()
    on_lanes = _on_lanes(boot)
    shown = _shown(result, on_lanes)
    pic, undrawn = _picture(boot, shown, on_lanes)
    names = {nic.key: clean(nic.synthetic or nic.key) for nic in result.nics}
    return {
        **_facts(result), "anchor": file_anchor(rank), "rank": rank, "prefix": prefix, "picture": pic,
        "undrawn": undrawn, "errors": [clean(e) for e in result.errors[:5]], "more_errors": max(len(result.errors) - 5, 0),
        "notes": [clean(n) for n in result.notes[:5]], "more_notes": max(len(result.notes) - 5, 0),
        "nic_rows": [_nic(nic) for nic in result.nics[:LANES_SHOWN]],
        "shown": [_finding(item, prefix + tail, names) for item, tail in
                  sorted(shown, key=lambda pair: (-pair[0].finding.severity.rank, pair[0].finding.line or 0))],
        "unlisted": result.count() - len(shown),
    }


def _finding(item: ScanFinding, anchor: str, names: dict[str, str]) -> dict[str, Any]:
    """Return what a section shows of a finding: anchor, severity, code, where and the message."""
    finding = item.finding
    nic = finding.nic or ""
    where = clean(item.nic_name) if item.nic_name else names.get(nic, clean(nic) if nic else "VM")
    return {"anchor": anchor, "severity": finding.severity.value, "code": finding.code,
            "code_anchor": code_anchor(finding.code), "boot": item.boot, "where": where,
            "line": finding.line or "-", "origin": clean(finding.origin or ""), "message": clean(finding.message)}


def _row(rank: int, result: FileResult) -> dict[str, Any]:
    """Return a summarised file's one row: facts and its codes, the worst first (at most CODES_IN_ROW)."""
    ranked = sorted(result.counts, key=lambda c: (-Severity(c[1]).rank, c[0]))
    codes = [(code, sev, n, code_anchor(code)) for code, sev, n in ranked[:CODES_IN_ROW]]
    return {**_facts(result), "anchor": file_anchor(rank), "rank": rank, "codes": codes,
            "more_codes": max(len(ranked) - CODES_IN_ROW, 0)}


def render_fleet_html(summary: Summary, results: Iterable[FileResult], *, total: int,
                      full: int = FULL_SECTIONS) -> Iterator[str]:
    """Yield the fleet page in pieces: *results* come worst first (*total* of them); the first *full* get a
    section (0: every one), the rest a row.  Memory stays flat: each result is rendered as it is read."""
    full = total if full <= 0 else min(full, total)
    ordered = iter(results)
    sections = (_section(rank, result) for rank, result in enumerate(itertools.islice(ordered, full), start=1))
    rows = (_row(rank, result) for rank, result in enumerate(ordered, start=full + 1))
    worst = summary.worst()
    template = environment().get_template("fleet.html.j2")
    yield from template.generate(
        summary=summary.to_dict(), worst=worst.value if worst else "none", codes=_codes(summary),
        explained=_explained(summary), sections=sections, rows=rows, total=total, full=full,
        summarised=total - full, severities=[s.value for s in sorted(Severity, key=lambda s: -s.rank)],
    )
