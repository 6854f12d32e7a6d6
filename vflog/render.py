"""Turn a Report (or events) into text for people or programs; the only module that knows tabulate.

Longer than 400 lines because the text report's sections (at a glance, NIC table, stacked layout,
findings) share one display's width, colour and cutting rules, and the JSON writer beside them is small.
"""

from __future__ import annotations

import datetime
import json
import re
import textwrap
from typing import Any, Iterable

import attrs

from .catalogue import CODES, Code, Severity
from .clock import NO_YEAR
from .report import NO_AN_LINES, BootReport, Finding, NicReport, Report, RoutedEvent, StateChange, Withdrawn

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean(text: str) -> str:
    """Return *text* as one line with control characters (newlines too), escape sequences and bidi overrides
    made visible and harmless.

    Bytes of a file name that are not UTF-8 (carried as lone surrogates) are shown as ``\\xff``.
    """
    return _CONTROL.sub(lambda m: "\\u%04x" % ord(m.group(0)) if ord(m.group(0)) > 0xff else "\\x%02x" % ord(m.group(0)),
                        displayable(text))


def displayable(text: str) -> str:
    """Return *text* with each byte that was not UTF-8 (a lone surrogate, as os.fsdecode makes) shown as ``\\xNN``."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(lambda m: "\\x%02x" % (ord(m.group(0)) - 0xdc00) if 0xdc80 <= ord(m.group(0)) <= 0xdcff
                          else "\\u%04x" % ord(m.group(0)), text)


def displayable_tree(value: Any) -> Any:
    """Return a JSON-ready *value* with every string (keys too) passed through :func:`displayable`."""
    if isinstance(value, str):
        return displayable(value)
    if isinstance(value, dict):
        return {displayable_tree(k): displayable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [displayable_tree(item) for item in value]
    return value


def to_json(value: Any, **options: Any) -> str:
    """Return *value* as JSON (as json.dumps) in which no string holds a lone surrogate (see :func:`displayable`)."""
    text = json.dumps(value, **options)
    return json.dumps(displayable_tree(value), **options) if "\\ud" in text else text


@attrs.frozen
class Display:
    """How human text is shown: the width in columns (None: no limit) and whether ANSI colours are used.

    The command line decides both (terminal, ``--color``, ``NO_COLOR``, ``COLUMNS``); renderers only obey.
    """

    width: int | None = None
    color: bool = False
    #: Only ASCII characters of vflog's own (a cut ends with ``...`` instead of ``…``).
    ascii: bool = False

    def fits(self, text: str) -> bool:
        """Return whether every line of *text* fits the width."""
        return self.width is None or all(len(line) <= self.width for line in text.splitlines())

    def cut(self, line: str) -> str:
        """Return *line* cut to the width, ending with ``…`` (``...`` when ascii) when something was cut."""
        if self.width is None or len(line) <= self.width:
            return line
        marker = "..." if self.ascii else "…"
        return line[:max(self.width - len(marker), 1)] + marker

    def wrap(self, line: str) -> str:
        """Return *line* wrapped to the width (continuations indented four spaces more than the line)."""
        if self.width is None or len(line) <= self.width:
            return line
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        return "\n".join(textwrap.wrap(line, max(self.width, len(indent) + 20), subsequent_indent=indent,
                                        break_on_hyphens=False, break_long_words=True)) or line

    def paint(self, text: str, colour: str) -> str:
        """Return *text* in the ANSI *colour* (a name of COLOURS) when colours are on, else *text* itself."""
        return f"\x1b[{COLOURS[colour]}m{text}\x1b[0m" if self.color else text


#: ANSI SGR codes of the colours vflog uses.
COLOURS = {"red": "31", "green": "32", "yellow": "33", "cyan": "36", "bold": "1", "dim": "2"}
#: The colour of each severity.
SEVERITY_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
#: The mark and colour of each data path in the verdict lines.
PATH_MARKS = {"vf": ("✔", "green"), "synthetic": ("✘", "red"), "unknown": ("?", "yellow")}
PLAIN = Display()


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    """Return *findings* ordered by severity (worst first), then by line."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.line if f.line is not None else 0))


def _time(t: float | None, clock: str | None) -> str:
    if t is None:
        return "-"
    if clock == "wall":
        when = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
        return when.strftime("%b %d %H:%M:%S") if when.year == NO_YEAR else when.strftime("%Y-%m-%d %H:%M:%S")
    return f"{t:.6f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _nic_row(nic: NicReport) -> list[str]:
    vf = nic.vf
    names = " <- ".join(reversed(vf.names)) if vf and vf.names else "-"
    return [
        clean(nic.synthetic or "-"),
        clean(nic.key),
        clean(names),
        vf.driver if vf and vf.driver else "-",
        vf.pci if vf and vf.pci else "-",
        nic.state,
        nic.datapath,
        f"{nic.switches_to_vf}/{nic.switches_from_vf}",
        _seconds(nic.time_to_vf),
        ", ".join(_seconds(o.seconds) if o.end_line else "open" for o in nic.outages if o.vf_removed) or "-",
    ]


def _finding_block(finding: Finding, boot: BootReport, nics: dict[str, NicReport], display: Display = PLAIN) -> list[str]:
    """Return the lines of one finding: head, message (wrapped to the width) and evidence (cut to the width)."""
    nic = nics.get(finding.nic or "")
    where = nic.synthetic or nic.key if nic else (finding.nic or "VM")
    severity = display.paint(f"{finding.severity.value.upper():7}", SEVERITY_COLOURS[finding.severity])
    head = f"  {finding.severity.value.upper():7} {finding.code:22} {clean(where)}  line {finding.line or '-'}"
    if finding.t is not None:
        head += f"  t={_time(finding.t, boot.clock)}"
    head = display.wrap(head)
    head = head[:2] + severity + head[9:]
    message = clean(finding.message)
    wrapped = textwrap.wrap(message, display.width - 10) if display.width and display.width > 30 else [message]
    lines = [head, *(f"          {part}" for part in wrapped)]
    shown = finding.evidence_text[:8]
    for quote in shown:
        lines.append(display.cut(f"          | {quote.line:>6}: {clean(quote.text)}"))
    quoted = {quote.line for quote in shown}
    rest = [line for line in finding.evidence if line not in quoted]
    if rest:
        more = ", ".join(map(str, rest[:20])) + (", ..." if len(rest) > 20 else "")
        lines.append(display.wrap(f"          | ... {len(rest)} more evidence line(s): {more}"))
    return lines


def _lower_first(text: str) -> str:
    """Return a catalogue sentence as a clause: first letter lower case, no final full stop."""
    return (text[:1].lower() + text[1:]).rstrip(".")


def _vf_clause(nic: NicReport, boot: BootReport) -> str:
    """Return what a NIC on the VF runs on and since when, with its servicing outages."""
    vf = nic.vf
    text = "on VF"
    if vf and vf.name:
        text += f" {clean(vf.name)}"
    if vf and vf.driver:
        text += f" ({clean(vf.driver)})"
    switches = [e for e in nic.timeline if e.event == "datapath_to_vf" and e.t is not None]
    if switches:
        since = switches[-1].t
        text += f" since {since:.1f} s" if boot.clock != "wall" else f" since {_time(since, boot.clock)}"
    removed = [o for o in nic.outages if o.vf_removed]
    if len(removed) == 1:
        text += f", 1 servicing outage of {_seconds(removed[0].seconds) if removed[0].end_line else 'open'}"
    elif removed:
        longest = max((o.seconds or 0.0 for o in removed), default=0.0)
        text += f", {len(removed)} servicing outages (longest {longest:.1f} s)"
    return text


def _why_clause(nic: NicReport, boot: BootReport) -> str:
    """Return why a NIC is not on the VF: its worst finding's meaning, code and line."""
    own = by_severity(f for f in boot.findings if f.nic == nic.key)
    if not own:
        return "no finding explains it" if nic.datapath == "synthetic" else "the log proves nothing either way"
    worst = own[0]
    code = CODES.get(worst.code)
    meaning = _lower_first(code.summary) if code else clean(worst.message)
    return f"{meaning} ({worst.code}, line {worst.line or '-'})"


def verdict_line(nic: NicReport, boot: BootReport, display: Display = PLAIN, name_width: int = 0) -> str:
    """Return the verdict of a NIC: its name, a mark for its data path, and on the VF since when or why
    not (``unknown`` when the log proves nothing, see README "What the report promises"); one line,
    wrapped with a hanging indent where it does not fit the display's width."""
    mark, colour = PATH_MARKS.get(nic.datapath, ("?", "yellow"))
    name = clean(nic.synthetic or nic.key)
    if nic.datapath == "vf":
        clause = _vf_clause(nic, boot)
        worry = [f for f in by_severity(f for f in boot.findings if f.nic == nic.key) if f.severity != Severity.INFO]
        if worry:
            clause += f"; {worry[0].severity.value}: {worry[0].code} (line {worry[0].line or '-'})"
            clause += f" and {len(worry) - 1} more" if len(worry) > 1 else ""
    else:
        clause = f"{nic.datapath}: {_why_clause(nic, boot)}"
    head = len(f"{name:{name_width}}  ")
    line = f"{name:{name_width}}  {mark} {clause}"
    if display.width is not None and len(line) > display.width:
        line = "\n".join(textwrap.wrap(line, max(display.width, head + 20), subsequent_indent=" " * (head + 2),
                                        break_on_hyphens=False))
    return line[:head] + display.paint(line[head:head + 1], colour) + line[head + 1:]


#: A cell that tabulate prints as it is, left-aligned: printable ASCII without spaces at its edges (so no
#: colour codes, wide characters or line breaks, which tabulate measures and splits its own way).
_PLAIN_CELL = re.compile(r"[!-~](?:[ -~]*[!-~])?")


def _plain(cell: str) -> bool:
    """Return whether *cell* is plain text to tabulate: printable ASCII without edge spaces that does not read
    as a number (thousands commas included) or a boolean, which tabulate would align right or reformat."""
    if _PLAIN_CELL.fullmatch(cell) is None or cell in ("True", "False"):
        return False
    for text in (cell, cell.replace(",", "")):
        try:
            float(text)
        except ValueError:
            continue
        return False
    return True


def simple_table(rows: list[list[str]], headers: list[str]) -> str:
    """Return *rows* under *headers* as tabulate's "simple" format prints text cells (never read as numbers, so a
    NIC named ``1e5`` stays ``1e5``): drawn here when every cell is plain text (left-aligned columns two spaces
    apart, each at least its header and two wide), by tabulate (imported only then, as it costs start-up time)
    for anything else."""
    if rows and all(len(row) == len(headers) for row in rows) and all(map(_plain, headers)) \
            and all(_plain(cell) for row in rows for cell in row):
        widths = [max(len(header) + 2, *(len(row[i]) for row in rows)) for i, header in enumerate(headers)]
        lines = [headers, ["-" * width for width in widths], *rows]
        return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)
    import tabulate
    table: str = tabulate.tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)
    return table


_NIC_HEADERS = ["NIC", "VMBus id", "VF (names)", "driver", "PCI", "state", "data path",
                "to/from VF", "time to VF", "servicing outages"]


def _nic_table(nics: Iterable[NicReport], display: Display) -> str:
    """Return the NIC table; when it is wider than the display, one stacked block per NIC instead."""
    rows = [_nic_row(n) for n in nics]
    table = simple_table(rows, _NIC_HEADERS)
    if display.fits(table):
        return table
    label = max(map(len, _NIC_HEADERS[1:]))
    blocks = []
    for row in rows:
        block = [display.cut(f"{row[0]}")]
        block.extend(display.cut(f"  {header:{label}}  {value}") for header, value in zip(_NIC_HEADERS[1:], row[1:]))
        blocks.append("\n".join(block))
    return "\n\n".join(blocks)


def render_table(report: Report, *, show_unrecognised: bool = False, display: Display = PLAIN) -> str:
    """Return the human report: an at-a-glance verdict line per NIC, then per boot a NIC table (stacked
    when it would not fit the display's width) and the findings, worst first, with their evidence."""
    out: list[str] = [display.wrap(f"vflog report for {clean(report.source)}: {report.stats.lines} lines, "
                                   f"{report.stats.events} recognised, {report.stats.unrecognised} unrecognised")]
    for error in report.errors:
        out.append(display.wrap(f"input error: {clean(error)}"))
    for note in report.notes:
        out.append(display.wrap(f"note: {clean(note)}"))
    if report.content == NO_AN_LINES:
        out.append("")
        if report.stats.events:
            out.append(display.wrap(f"No Accelerated Networking NIC: {report.stats.events} line(s) of these drivers "
                                    "were read, but none names a synthetic NIC or its VF (vPCI devices such as GPUs "
                                    "or disks are not NICs)."))
        else:
            out.append(display.wrap(f"No Accelerated Networking lines: none of the {report.stats.lines} lines comes "
                                    "from hv_netvsc, hv_pci, mlx4, mlx5 or mana."))
        out.append(display.wrap("This can mean Accelerated Networking is off for this VM (or its size does not support "
                                "it), its drivers are not loaded, or the input is not a kernel log. No verdict is given."))
        return "\n".join(out) + "\n"
    out.extend(_at_a_glance(report, display))
    for boot in report.boots:
        span = f"{_time(boot.t_start, boot.clock)} .. {_time(boot.t_end, boot.clock)}"
        clock = f" ({boot.clock} clock)" if boot.clock else " (no timestamps)"
        kernel = f", kernel {clean(boot.kernel)}" if boot.kernel else ""
        out.append("")
        out.append(display.wrap(f"Boot {boot.index}: lines {boot.start_line}-{boot.end_line}, {span}{clock}{kernel}"))
        if boot.nics:
            out.append(_nic_table(boot.nics, display))
        else:
            out.append("  no virtual NIC with Accelerated Networking lines in this boot")
        nics = {n.key: n for n in boot.nics}
        for note in boot.notes:
            out.append(display.wrap(f"note: {clean(note)}"))
        if boot.findings:
            out.append("Findings:")
            for finding in by_severity(boot.findings):
                out.extend(_finding_block(finding, boot, nics, display))
        else:
            out.append("Findings: none")
    if show_unrecognised and report.unrecognised:
        out.append("")
        out.append(f"Unrecognised driver lines ({report.stats.unrecognised}):")
        out.extend(display.cut(f"  {u.line:>6}: {clean(u.text)}") for u in report.unrecognised)
    elif report.stats.unrecognised:
        out.append("")
        out.append(f"{report.stats.unrecognised} driver line(s) not recognised; list them with --show-unrecognised")
    return "\n".join(out) + "\n"


def _at_a_glance(report: Report, display: Display) -> list[str]:
    """Return the "At a glance" section: one verdict line per NIC of each boot (the boot named when there are several)."""
    boots = [boot for boot in report.boots if boot.nics]
    if not boots:
        return []
    out = ["", display.paint("At a glance", "bold")]
    for boot in boots:
        if len(report.boots) > 1:
            out.append(f"Boot {boot.index}:")
        width = max(len(clean(n.synthetic or n.key)) for n in boot.nics)
        out.extend(verdict_line(n, boot, display, width) for n in boot.nics)
    return out


#: JSON of a value on one line, by the C encoder (json.dumps with an indent runs in pure Python).
_encode = json.JSONEncoder(separators=(", ", ": ")).encode


def _one_line(value: Any) -> str:
    """Return *value* as one line of JSON, names that are not UTF-8 shown escaped (see :func:`displayable`)."""
    text = _encode(value)
    return _encode(displayable_tree(value)) if "\\ud" in text else text


def _key(key: Any) -> str:
    """Return an object key as JSON; the encoder itself turns keys that are not strings into strings."""
    return _one_line(key) if isinstance(key, str) else _one_line({key: 0})[1:-len(": 0}")]


def _nested(value: Any) -> bool:
    return bool(value) and isinstance(value, (dict, list, tuple))


def pretty_json(value: Any, depth: int = 0) -> str:
    """Return *value* as JSON, indented two spaces per level, with each object or array that
    holds no non-empty object or array on one line (a timeline entry, a list of evidence lines)."""
    if isinstance(value, dict) and any(map(_nested, value.values())):
        items = [f"{_key(key)}: {pretty_json(item, depth + 1)}" for key, item in value.items()]
    elif isinstance(value, (list, tuple)) and any(map(_nested, value)):
        items = [pretty_json(item, depth + 1) for item in value]
    else:
        return _one_line(value)
    pad = "\n" + "  " * (depth + 1)
    open_, close = "{}" if isinstance(value, dict) else "[]"
    return open_ + pad + ("," + pad).join(items) + "\n" + "  " * depth + close


def render_json(report: Report, *, show_unrecognised: bool = False) -> str:
    """Return the report as one JSON document (the documented contract)."""
    return pretty_json(report.to_dict(unrecognised=show_unrecognised)) + "\n"


def event_record(routed: RoutedEvent) -> dict[str, Any]:
    """Return the JSON Lines record of one routed event."""
    event = routed.event
    return {
        "line": event.line,
        "t": event.t,
        "boot": routed.boot,
        "kind": event.kind,
        "level": event.level.value,
        "driver": event.driver,
        "device": event.device,
        "ifname": event.ifname,
        "nic": routed.nic,
        "fields": dict(event.fields),
        "message": event.message,
    }


def render_events(routed: Iterable[RoutedEvent]) -> Iterable[str]:
    """Yield one JSON line per routed event."""
    for item in routed:
        yield json.dumps(event_record(item)) + "\n"


def render_code(code: Code, display: Display = PLAIN) -> str:
    """Return the explanation of one finding code, each paragraph wrapped to the display's width."""
    paragraphs = [f"{code.code} ({code.severity.value})", code.summary, f"Why it happens: {code.cause}",
                  f"What to check: {code.check}"]
    if display.width:
        paragraphs = ["\n".join(textwrap.wrap(p, display.width)) or p for p in paragraphs]
    return "\n\n".join(paragraphs) + "\n"


def render_codes(display: Display = PLAIN) -> str:
    """Return the list of every finding code with its summary, meanings wrapped to the display's width."""
    rows = [[c.code, c.severity.value, c.summary] for c in CODES.values()]
    table = simple_table(rows, ["code", "severity", "meaning"])
    if not display.fits(table) and display.width:
        import tabulate
        room = max(display.width - table.splitlines()[0].index("meaning"), 20)
        table = tabulate.tabulate(rows, headers=["code", "severity", "meaning"], tablefmt="simple",
                                  maxcolwidths=[None, None, room], disable_numparse=True)
    return table + "\n"


def change_record(change: object) -> dict[str, Any]:
    """Return the JSON Lines record of one follow-mode change: a state record names the NIC and the event's kind
    as the report does (``nic``, ``nic_name``, ``kind``; ``synthetic`` and ``event`` are deprecated aliases), a
    finding or withdrawn record holds the finding exactly as the report's JSON does."""
    if isinstance(change, StateChange):
        event = change.event
        return {"type": "state", "boot": change.boot, "nic": change.nic, "nic_name": change.synthetic,
                "synthetic": change.synthetic, "line": event.line, "t": event.t, "kind": event.kind,
                "event": event.kind, "from": change.before, "to": change.after}
    if isinstance(change, Withdrawn):
        return {"type": "withdrawn", **change.finding.to_dict()}
    assert isinstance(change, Finding)
    return {"type": "finding", **change.to_dict()}


def render_change(change: object) -> str:
    """Return one human line for a follow-mode change."""
    if isinstance(change, StateChange):
        event = change.event
        when = "-" if event.t is None else f"{event.t:.6f}"
        return (f"[{when}] {clean(change.synthetic or change.nic)}: {change.before} -> {change.after} "
                f"({event.kind}, line {event.line})\n")
    if isinstance(change, Withdrawn):
        finding = change.finding
        return f"resolved {finding.code} {clean(finding.nic or '')}: the NIC moved on (line {finding.line})\n"
    finding = change  # type: ignore[assignment]
    when = "-" if finding.t is None else f"{finding.t:.6f}"  # type: ignore[attr-defined]
    return (f"[{when}] {finding.severity.value.upper()} {finding.code}: {clean(finding.message)} "  # type: ignore[attr-defined]
            f"(line {finding.line})\n")  # type: ignore[attr-defined]
