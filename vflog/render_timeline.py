"""Draw each boot's NICs as lanes over time: the data path in block characters, findings as marks, a time axis.

Long quiet stretches (no event of any NIC and no finding) are compressed to a short visible break, so a
ten-second start-up and a servicing event hours later both get room.  The axis is shared with the HTML
page (render_html), which draws the same pieces as SVG.
"""

from __future__ import annotations

import datetime
import itertools
from typing import Iterable, Sequence

import attrs

from .catalogue import Severity
from .render import PLAIN, SEVERITY_COLOURS, Display, by_severity, clean
from .report import PICTURE_PATHS, BootReport, NicReport, Report, boot_span, has_times, path_spans, position

#: A stretch is quiet enough to compress when it is longer than this share of the time still drawn to scale.
QUIET_SHARE = 0.4
#: ... and longer than this many seconds (or, in a boot without timestamps, lines): a few quiet seconds stay to scale.
MIN_QUIET_SECONDS, MIN_QUIET_LINES = 5.0, 50.0
#: At most this many breaks per boot.
MAX_BREAKS = 4
#: How many columns a break takes.
BREAK_COLUMNS = 3

#: Characters of each data path: Unicode block characters, and their ASCII stand-ins (--ascii).
BLOCKS = {"vf": "█", "synthetic": "▒", "no-vf": "░", "unknown": "·"}
ASCII_BLOCKS = {"vf": "#", "synthetic": "=", "no-vf": "-", "unknown": "."}
#: Words of each data path in the legend.
PATH_WORDS = {"vf": "on VF", "synthetic": "synthetic", "no-vf": "no VF", "unknown": "unknown"}
#: Colour of each data path on a terminal.
PATH_COLOURS = {"vf": "green", "synthetic": "yellow", "no-vf": "red", "unknown": "dim"}
#: The mark of a finding under a lane, by severity.
MARKS = {Severity.ERROR: "E", Severity.WARNING: "W", Severity.INFO: "i"}


@attrs.frozen
class Piece:
    """A stretch of the axis: from *start* to *end* (seconds or lines), drawn to scale or as a break."""

    start: float
    end: float
    broken: bool


@attrs.frozen
class Axis:
    """Where each moment of a boot goes on a line of *columns* cells (or any length): pieces to scale and breaks."""

    pieces: tuple[Piece, ...]

    @property
    def scaled(self) -> float:
        """Return the length of the pieces drawn to scale."""
        return sum(p.end - p.start for p in self.pieces if not p.broken) or 1.0

    def layout(self, length: float, gap: float) -> list[tuple[Piece, float, float]]:
        """Return each piece with where it starts and ends on a line of *length*, each break *gap* long."""
        breaks = sum(p.broken for p in self.pieces)
        room = max(length - breaks * gap, 1.0)
        out, here = [], 0.0
        for piece in self.pieces:
            size = gap if piece.broken else (piece.end - piece.start) / self.scaled * room
            out.append((piece, here, here + size))
            here += size
        return out

    def place(self, at: float, length: float, gap: float) -> float:
        """Return where moment *at* stands on a line of *length* (a moment inside a break goes to its middle)."""
        for piece, left, right in self.layout(length, gap):
            if at <= piece.end:
                if piece.broken:
                    return (left + right) / 2
                share = (at - piece.start) / (piece.end - piece.start) if piece.end > piece.start else 0.0
                return left + max(share, 0.0) * (right - left)
        return length

    def moment(self, offset: float, length: float, gap: float) -> tuple[float, bool]:
        """Return the moment drawn at *offset* of a line of *length*, and whether it lies in a break."""
        for piece, left, right in self.layout(length, gap):
            if offset < right:
                share = (offset - left) / (right - left) if right > left else 0.0
                return piece.start + share * (piece.end - piece.start), piece.broken
        return self.pieces[-1].end, False


def ticks(axis: Axis, length: float, gap: float, spacing: float) -> list[tuple[float, float]]:
    """Return where to label the axis on a line of *length*: (offset, moment) at the start of each stretch
    drawn to scale and about every *spacing* inside it, and at the end when the last stretch is to scale."""
    out: list[tuple[float, float]] = []
    for piece, left, right in axis.layout(length, gap):
        if piece.broken:
            continue
        steps = max(int((right - left) // spacing), 1)
        out.extend((left + k * (right - left) / steps, piece.start + k * (piece.end - piece.start) / steps)
                   for k in range(steps))
    if not axis.pieces[-1].broken:
        out.append((length, axis.pieces[-1].end))
    return out


def moments(boot: BootReport) -> list[float]:
    """Return every moment of the boot worth room on the axis: NIC timeline entries and findings."""
    found = [position(boot, e.t, e.line) for nic in boot.nics for e in nic.timeline]
    found += [position(boot, f.t, f.line) for f in boot.findings]
    return [m for m in found if m is not None]


def axis_of(boot: BootReport) -> Axis:
    """Return the boot's axis: quiet stretches longer than QUIET_SHARE of what is drawn to scale and than
    MIN_QUIET_SECONDS (MIN_QUIET_LINES) become breaks (the longest first, at most MAX_BREAKS)."""
    start, end = boot_span(boot)
    least = MIN_QUIET_SECONDS if has_times(boot) else MIN_QUIET_LINES
    points = sorted({start, end, *(min(max(m, start), end) for m in moments(boot))})
    gaps = list(zip(points, points[1:]))
    broken: set[int] = set()
    while len(broken) < MAX_BREAKS:
        scaled = sum(b - a for i, (a, b) in enumerate(gaps) if i not in broken)
        candidates = [i for i in range(len(gaps)) if i not in broken]
        if not candidates:
            break
        longest = max(candidates, key=lambda i: gaps[i][1] - gaps[i][0])
        quiet = gaps[longest][1] - gaps[longest][0]
        if quiet <= QUIET_SHARE * scaled or quiet < least:
            break
        broken.add(longest)
    pieces: list[Piece] = []
    for index, (a, b) in enumerate(gaps):
        is_break = index in broken
        if pieces and not is_break and not pieces[-1].broken:
            pieces[-1] = Piece(pieces[-1].start, b, False)
        else:
            pieces.append(Piece(a, b, is_break))
    return Axis(tuple(pieces) or (Piece(start, end, False),))


def label(boot: BootReport, at: float) -> str:
    """Return a short label of a moment: seconds since boot, a wall-clock time, or a line number."""
    if not has_times(boot):
        return f"line {int(at)}"
    if boot.clock == "wall":
        when = datetime.datetime.fromtimestamp(at, datetime.timezone.utc)
        return when.strftime("%H:%M:%S")
    if at < 60:
        return f"{at:.1f}s"
    if at < 3600:
        return f"{int(at // 60)}m{int(at % 60):02d}s"
    return f"{int(at // 3600)}h{int(at % 3600 // 60):02d}m"


def _path_at(spans: Sequence, at: float) -> str:
    """Return the data path of the span holding moment *at*."""
    for span in spans:
        if at < span.end:
            return span.path
    return spans[-1].path if spans else "unknown"


def _lane(nic: NicReport, boot: BootReport, axis: Axis, width: int, display: Display, blocks: dict[str, str]) -> str:
    """Return the cells of a NIC's lane: each cell the data path at its middle moment, a break's middle cell
    a break mark; on a colour display each run of one data path is painted once."""
    spans = path_spans(nic, boot)
    breaker = ":" if blocks is ASCII_BLOCKS else "┊"
    middles = {int((left + right) / 2) for piece, left, right in axis.layout(width, BREAK_COLUMNS) if piece.broken}
    cells = []
    for column in range(width):
        path = _path_at(spans, axis.moment(column + 0.5, width, BREAK_COLUMNS)[0])
        cells.append((breaker if column in middles else blocks[path], path))
    return "".join(display.paint("".join(char for char, _path in run), PATH_COLOURS[path]) if display.color
                   else "".join(char for char, _path in run)
                   for path, run in ((path, list(run)) for path, run in itertools.groupby(cells, key=lambda c: c[1])))


def _marks(boot: BootReport, nic_key: str | None, axis: Axis, width: int, display: Display) -> str:
    """Return the marks row of a NIC (or of the VM, *nic_key* None): each finding's severity letter at its
    moment, the worst one where several meet."""
    cells: list[Severity | None] = [None] * width
    for finding in boot.findings:
        if finding.nic != nic_key:
            continue
        at = position(boot, finding.t, finding.line)
        if at is None:
            continue
        column = min(int(axis.place(at, width, BREAK_COLUMNS)), width - 1)
        here = cells[column]
        if here is None or finding.severity.rank > here.rank:
            cells[column] = finding.severity
    return "".join(" " if s is None else display.paint(MARKS[s], SEVERITY_COLOURS[s]) for s in cells).rstrip()


def _axis_rows(boot: BootReport, axis: Axis, width: int, ascii_only: bool) -> list[str]:
    """Return the axis line (breaks shown as ``≈``) and a line of labels: the moment at the start of each
    stretch drawn to scale, and the end when the last stretch is drawn to scale, where they do not overlap."""
    rule, wave, tick = ("-", "~", "+") if ascii_only else ("─", "≈", "┼")
    cells = [wave if axis.moment(c + 0.5, width, BREAK_COLUMNS)[1] else rule for c in range(width)]
    labels = [" "] * width
    taken = -2
    marks = [(label(boot, at), min(int(offset), width - len(label(boot, at))))
             for offset, at in ticks(axis, width, BREAK_COLUMNS, 20)]
    for text, column in marks:
        if column <= taken + 1 or column + len(text) > width:
            continue
        cells[column if column < width - len(text) else width - 1] = tick
        labels[column:column + len(text)] = text
        taken = column + len(text)
    return ["".join(cells), "".join(labels).rstrip()]


def legend(display: Display, blocks: dict[str, str]) -> str:
    """Return the legend line: each data path's character and name, and the finding marks."""
    paths = "  ".join(f"{display.paint(blocks[p], PATH_COLOURS[p]) if display.color else blocks[p]} {PATH_WORDS[p]}"
                      for p in PICTURE_PATHS)
    return f"{paths}   marks: E error, W warning, i info"


def _finding_keys(boot: BootReport, names: dict[str, str], display: Display, limit: int = 12) -> list[str]:
    """Return one short line per finding of the boot (worst first), at most *limit*, then how many more."""
    ordered = by_severity(boot.findings)
    out = []
    for finding in ordered[:limit]:
        where = names.get(finding.nic or "", finding.nic or "VM")
        at = position(boot, finding.t, finding.line)
        when = f", {label(boot, at)}" if at is not None and has_times(boot) else ""
        mark = display.paint(MARKS[finding.severity], SEVERITY_COLOURS[finding.severity])
        out.append(display.cut(f"  {mark} {clean(where)}: {finding.code} (line {finding.line or '-'}{when})"))
    if len(ordered) > limit:
        out.append(f"  ... {len(ordered) - limit} more finding(s): see vflog report")
    return out


def render_boot(boot: BootReport, display: Display = PLAIN, ascii_only: bool = False) -> list[str]:
    """Return the lines of one boot's picture: a lane and a marks row per NIC, the time axis, and the findings."""
    blocks = ASCII_BLOCKS if ascii_only else BLOCKS
    names = {nic.key: clean(nic.synthetic or nic.key) for nic in boot.nics}
    name_width = min(max([len(n) for n in names.values()] + [2]), 12)
    width = max((display.width or 80) - name_width - 2, 20)
    axis = axis_of(boot)
    out = []
    for nic in boot.nics:
        name = names[nic.key][:name_width]
        out.append(f"{name:{name_width}}  {_lane(nic, boot, axis, width, display, blocks)}")
        marks = _marks(boot, nic.key, axis, width, display)
        if marks:
            out.append(f"{'':{name_width}}  {marks}")
    vm_marks = _marks(boot, None, axis, width, display)
    if vm_marks:
        out.append(f"{'VM':{name_width}}  {vm_marks}")
    out.extend(f"{'':{name_width}}  {row}" for row in _axis_rows(boot, axis, width, ascii_only))
    out.extend(_finding_keys(boot, names, display))
    return out


def render_timeline(report: Report, display: Display = PLAIN, *, ascii_only: bool = False) -> str:
    """Return the timeline picture of every boot that has NICs or findings, with a legend; fits the display's
    width (80 columns when it has none)."""
    display = attrs.evolve(display, width=display.width or 80, ascii=display.ascii or ascii_only)
    blocks = ASCII_BLOCKS if ascii_only else BLOCKS
    out = [display.cut(f"vflog timeline for {clean(report.source)}"), legend(display, blocks)]
    drawn = [boot for boot in report.boots if boot.nics or boot.findings]
    if not drawn:
        out.append("")
        out.append("No Accelerated Networking NIC in this log: nothing to draw.")
    for boot in drawn:
        start, end = boot_span(boot)
        clock = f"{label(boot, start)} .. {label(boot, end)}, {boot.clock} clock" if has_times(boot) \
            else "no timestamps: the axis is line numbers"
        out.append("")
        out.append(display.cut(f"Boot {boot.index} (lines {boot.start_line}-{boot.end_line}, {clock})"))
        out.extend(render_boot(boot, display, ascii_only))
    return "\n".join(out) + "\n"


def breaks(axis: Axis) -> Iterable[Piece]:
    """Return the compressed stretches of an axis."""
    return (piece for piece in axis.pieces if piece.broken)
