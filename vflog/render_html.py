"""Turn a Report into one self-contained HTML page: per boot an SVG timeline (one lane per NIC), the NIC
table and the findings with their evidence and explanations.

The page loads nothing from the network (inline CSS and SVG, no script), so it opens from an e-mail
attachment on an air-gapped laptop.  It is built by Jinja2 templates shipped inside the package, with
autoescaping on: every string from a log is text, never markup.
"""

from __future__ import annotations

from typing import Any

import attrs

from . import __version__
from .catalogue import CODES
from .render import PLAIN, by_severity, clean, verdict_line
from .render_timeline import BREAK_COLUMNS, PATH_WORDS, Axis, axis_of, label, ticks
from .report import PICTURE_PATHS, BootReport, Finding, NicReport, Report, path_spans, position

#: Geometry of a boot's SVG timeline, in SVG units.
SVG_WIDTH, LABEL_WIDTH, LANE_HEIGHT, LANE_GAP, AXIS_HEIGHT, TOP = 960.0, 130.0, 20.0, 30.0, 34.0, 20.0
#: How wide a compressed quiet stretch is drawn, in SVG units.
BREAK_WIDTH = 24.0
#: At most this many evidence lines are shown in a marker's hover text.
HOVER_LINES = 4


@attrs.frozen
class Band:
    """A stretch of a lane drawn in the colour of its data path."""

    x: float
    width: float
    path: str
    title: str


@attrs.frozen
class Marker:
    """A finding on a lane: where, its severity, its anchor and the hover text."""

    x: float
    severity: str
    anchor: str
    title: str


@attrs.frozen
class Outage:
    """A servicing outage drawn over a lane, with its duration."""

    x: float
    width: float
    text: str


@attrs.frozen
class Lane:
    """One NIC's lane: its key and name, where it stands, its bands, outages and markers."""

    key: str
    name: str
    y: float
    bands: tuple[Band, ...]
    outages: tuple[Outage, ...]
    markers: tuple[Marker, ...]


@attrs.frozen
class Tick:
    """A label on the time axis."""

    x: float
    text: str


@attrs.frozen
class Picture:
    """A boot's SVG timeline: its lanes, the VM's markers, breaks, axis ticks and height."""

    lanes: tuple[Lane, ...]
    vm_markers: tuple[Marker, ...]
    breaks: tuple[float, ...]
    ticks: tuple[Tick, ...]
    height: float
    axis_y: float


def _x(axis: Axis, at: float) -> float:
    """Return the SVG x of moment *at*."""
    return round(LABEL_WIDTH + axis.place(at, SVG_WIDTH - LABEL_WIDTH - 10, BREAK_WIDTH), 2)


def finding_anchor(boot: int, index: int) -> str:
    """Return the HTML id of the *index*-th finding of boot number *boot*."""
    return f"b{boot}-f{index}"


def anchor(boot: BootReport, index: int) -> str:
    """Return the HTML id of the *index*-th finding of a boot."""
    return finding_anchor(boot.index, index)


def _marker(boot: BootReport, axis: Axis, finding: Finding, index: int) -> Marker | None:
    """Return the marker of a finding, or None when it has no moment on the axis."""
    at = position(boot, finding.t, finding.line)
    if at is None:
        return None
    quotes = [f"{q.line}: {clean(q.text)}" for q in finding.evidence_text[:HOVER_LINES]]
    title = "\n".join([f"{finding.severity.value.upper()} {finding.code} (line {finding.line or '-'})",
                       clean(finding.message), *quotes])
    return Marker(_x(axis, at), finding.severity.value, anchor(boot, index), title)


def _lane(boot: BootReport, axis: Axis, nic: NicReport, y: float, markers: list[Marker]) -> Lane:
    """Return a NIC's lane: its data path bands, servicing outages and finding markers."""
    bands = []
    for span in path_spans(nic, boot):
        x0, x1 = _x(axis, span.start), _x(axis, span.end)
        bands.append(Band(x0, max(round(x1 - x0, 2), 0.5), span.path,
                          f"{PATH_WORDS[span.path]}: {label(boot, span.start)} .. {label(boot, span.end)}"))
    outages = []
    for outage in nic.outages:
        start = position(boot, outage.start_t, outage.start_line)
        end = position(boot, outage.end_t, outage.end_line) if outage.end_line else position(boot, boot.t_end,
                                                                                                 boot.end_line)
        if outage.vf_removed and start is not None and end is not None:
            x0, x1 = _x(axis, start), _x(axis, end)
            text = f"{outage.seconds:.0f} s" if outage.seconds is not None and outage.end_line else "open"
            outages.append(Outage(x0, max(round(x1 - x0, 2), 1.0), f"servicing outage {text}"))
    return Lane(nic.key, clean(nic.synthetic or nic.key), y, tuple(bands), tuple(outages), tuple(markers))


def picture(boot: BootReport) -> Picture:
    """Return the SVG timeline of a boot: one lane per NIC, the VM's findings, breaks and axis labels."""
    axis = axis_of(boot)
    markers: dict[str | None, list[Marker]] = {}
    for index, finding in enumerate(boot.findings):
        marker = _marker(boot, axis, finding, index)
        if marker is not None:
            markers.setdefault(finding.nic if any(n.key == finding.nic for n in boot.nics) else None, []).append(marker)
    lanes = tuple(_lane(boot, axis, nic, TOP + i * (LANE_HEIGHT + LANE_GAP), markers.get(nic.key, []))
                  for i, nic in enumerate(boot.nics))
    axis_y = TOP + len(lanes) * (LANE_HEIGHT + LANE_GAP) + (LANE_GAP if markers.get(None) else 0)
    layout = axis.layout(SVG_WIDTH - LABEL_WIDTH - 10, BREAK_WIDTH)
    breaks = tuple(round(LABEL_WIDTH + (left + right) / 2, 2) for piece, left, right in layout if piece.broken)
    labels, last = [], -1e9
    for offset, at in ticks(axis, SVG_WIDTH - LABEL_WIDTH - 10, BREAK_WIDTH, 140):
        if offset - last > 70:
            labels.append(Tick(round(LABEL_WIDTH + offset, 2), label(boot, at)))
            last = offset
    return Picture(lanes, tuple(markers.get(None, [])), breaks, tuple(labels), axis_y + AXIS_HEIGHT, axis_y)


def _nic_row(nic: NicReport) -> dict[str, str]:
    """Return the cells of a NIC's table row."""
    vf = nic.vf
    return {
        "name": clean(nic.synthetic or "-"), "key": clean(nic.key),
        "vf": clean(" <- ".join(reversed(vf.names))) if vf and vf.names else "-",
        "driver": clean(vf.driver) if vf and vf.driver else "-", "pci": clean(vf.pci) if vf and vf.pci else "-",
        "state": nic.state, "datapath": nic.datapath, "switches": f"{nic.switches_to_vf}/{nic.switches_from_vf}",
        "time_to_vf": "-" if nic.time_to_vf is None else f"{nic.time_to_vf:.1f} s",
        "outages": ", ".join(f"{o.seconds:.1f} s" if o.seconds is not None and o.end_line else "open"
                             for o in nic.outages if o.vf_removed) or "-",
    }


def _finding(boot: BootReport, finding: Finding, index: int, names: dict[str, str]) -> dict[str, Any]:
    """Return what the page shows of a finding: anchor, where, message, evidence and the catalogue's text."""
    code = CODES.get(finding.code)
    quoted = {q.line for q in finding.evidence_text}
    return {
        "anchor": anchor(boot, index), "severity": finding.severity.value, "code": finding.code,
        "where": names.get(finding.nic or "", clean(finding.nic or "VM")), "line": finding.line or "-",
        "origin": clean(finding.origin or ""), "message": clean(finding.message),
        "evidence": [(q.line, clean(q.text)) for q in finding.evidence_text],
        "more": [line for line in finding.evidence if line not in quoted],
        "summary": code.summary if code else "", "cause": code.cause if code else "", "check": code.check if code else "",
    }


def _boot(report: Report, boot: BootReport) -> dict[str, Any]:
    """Return what the page shows of a boot."""
    names = {nic.key: clean(nic.synthetic or nic.key) for nic in boot.nics}
    order = {id(f): i for i, f in enumerate(boot.findings)}
    start = label(boot, boot.t_start) if boot.t_start is not None else f"line {boot.start_line}"
    end = label(boot, boot.t_end) if boot.t_end is not None else f"line {boot.end_line}"
    return {
        "index": boot.index, "start_line": boot.start_line, "end_line": boot.end_line, "span": f"{start} .. {end}",
        "clock": boot.clock or "no timestamps: the axis is line numbers", "kernel": clean(boot.kernel or ""),
        "notes": [clean(n) for n in boot.notes],
        "verdicts": [verdict_line(nic, boot, PLAIN) for nic in boot.nics],
        "picture": picture(boot) if boot.nics or boot.findings else None,
        "nics": [_nic_row(nic) for nic in boot.nics],
        "findings": [_finding(boot, f, order[id(f)], names) for f in by_severity(boot.findings)],
    }


def environment() -> Any:
    """Return the Jinja2 environment of every vflog page: templates from the package directory (never the working
    directory), autoescaped, with the picture's legend words and geometry as globals (templates/picture.svg.j2)."""
    import jinja2  # imported here: only the HTML formats pay for it
    env = jinja2.Environment(loader=jinja2.PackageLoader("vflog", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(version=__version__, paths=PICTURE_PATHS, words=PATH_WORDS, svg_width=SVG_WIDTH,
                       label_width=LABEL_WIDTH, lane_height=LANE_HEIGHT, break_width=BREAK_WIDTH,
                       break_columns=BREAK_COLUMNS, top=TOP)
    return env


def render_html(report: Report) -> str:
    """Return the report as one self-contained HTML page (see the module)."""
    template = environment().get_template("report.html.j2")
    return template.render(
        source=clean(report.source), stats=report.stats, content=report.content,
        errors=[clean(e) for e in report.errors], notes=[clean(n) for n in report.notes],
        boots=[_boot(report, boot) for boot in report.boots],
    )
