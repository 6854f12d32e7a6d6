"""Turn a Report (or events) into text for people or programs; the only module that knows tabulate."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any, Iterable

from .catalogue import CODES, Code
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


def _finding_block(finding: Finding, boot: BootReport, nics: dict[str, NicReport]) -> list[str]:
    nic = nics.get(finding.nic or "")
    where = nic.synthetic or nic.key if nic else (finding.nic or "VM")
    head = f"  {finding.severity.value.upper():7} {finding.code:22} {clean(where)}  line {finding.line or '-'}"
    if finding.t is not None:
        head += f"  t={_time(finding.t, boot.clock)}"
    lines = [head, f"          {clean(finding.message)}"]
    shown = finding.evidence_text[:8]
    for quote in shown:
        lines.append(f"          | {quote.line:>6}: {clean(quote.text)}")
    quoted = {quote.line for quote in shown}
    rest = [line for line in finding.evidence if line not in quoted]
    if rest:
        more = ", ".join(map(str, rest[:20])) + (", ..." if len(rest) > 20 else "")
        lines.append(f"          | ... {len(rest)} more evidence line(s): {more}")
    return lines


def render_table(report: Report, *, show_unrecognised: bool = False) -> str:
    """Return the human report: per boot a NIC table and the findings with their evidence."""
    import tabulate  # imported here: machine formats and start-up do not pay for it
    out: list[str] = [f"vflog report for {clean(report.source)}: {report.stats.lines} lines, "
                      f"{report.stats.events} recognised, {report.stats.unrecognised} unrecognised"]
    for error in report.errors:
        out.append(f"input error: {clean(error)}")
    for note in report.notes:
        out.append(f"note: {clean(note)}")
    if report.content == NO_AN_LINES:
        out.append("")
        if report.stats.events:
            out.append(f"No Accelerated Networking NIC: {report.stats.events} line(s) of these drivers were read, but "
                       "none names a synthetic NIC or its VF (vPCI devices such as GPUs or disks are not NICs).")
        else:
            out.append(f"No Accelerated Networking lines: none of the {report.stats.lines} lines comes from hv_netvsc, "
                       "hv_pci, mlx4, mlx5 or mana.")
        out.append("This can mean Accelerated Networking is off for this VM (or its size does not support it), its "
                   "drivers are not loaded, or the input is not a kernel log. No verdict is given.")
        return "\n".join(out) + "\n"
    for boot in report.boots:
        span = f"{_time(boot.t_start, boot.clock)} .. {_time(boot.t_end, boot.clock)}"
        clock = f" ({boot.clock} clock)" if boot.clock else " (no timestamps)"
        kernel = f", kernel {clean(boot.kernel)}" if boot.kernel else ""
        out.append("")
        out.append(f"Boot {boot.index}: lines {boot.start_line}-{boot.end_line}, {span}{clock}{kernel}")
        if boot.nics:
            headers = ["NIC", "VMBus id", "VF (names)", "driver", "PCI", "state", "data path",
                       "to/from VF", "time to VF", "servicing outages"]
            out.append(tabulate.tabulate([_nic_row(n) for n in boot.nics], headers=headers, tablefmt="simple"))
        else:
            out.append("  no virtual NIC with Accelerated Networking lines in this boot")
        nics = {n.key: n for n in boot.nics}
        for note in boot.notes:
            out.append(f"note: {clean(note)}")
        if boot.findings:
            out.append("Findings:")
            for finding in boot.findings:
                out.extend(_finding_block(finding, boot, nics))
        else:
            out.append("Findings: none")
    if show_unrecognised and report.unrecognised:
        out.append("")
        out.append(f"Unrecognised driver lines ({report.stats.unrecognised}):")
        out.extend(f"  {u.line:>6}: {clean(u.text)}" for u in report.unrecognised)
    elif report.stats.unrecognised:
        out.append("")
        out.append(f"{report.stats.unrecognised} driver line(s) not recognised; list them with --show-unrecognised")
    return "\n".join(out) + "\n"


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


def render_code(code: Code) -> str:
    """Return the explanation of one finding code."""
    return (f"{code.code} ({code.severity.value})\n\n{code.summary}\n\n"
            f"Why it happens: {code.cause}\n\nWhat to check: {code.check}\n")


def render_codes() -> str:
    """Return the list of every finding code with its summary."""
    import tabulate
    rows = [[c.code, c.severity.value, c.summary] for c in CODES.values()]
    return tabulate.tabulate(rows, headers=["code", "severity", "meaning"], tablefmt="simple") + "\n"


def change_record(change: object) -> dict[str, Any]:
    """Return the JSON Lines record of one follow-mode change."""
    if isinstance(change, StateChange):
        event = change.event
        return {"type": "state", "boot": change.boot, "nic": change.nic, "synthetic": change.synthetic,
                "line": event.line, "t": event.t, "event": event.kind, "from": change.before, "to": change.after}
    if isinstance(change, Withdrawn):
        return {"type": "withdrawn", **_finding_dict(change.finding)}
    return {"type": "finding", **_finding_dict(change)}  # type: ignore[arg-type]


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return {"code": finding.code, "severity": finding.severity.value, "nic": finding.nic, "line": finding.line,
            "t": finding.t, "message": finding.message, "evidence": list(finding.evidence), "origin": finding.origin}


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
