"""Render a check's result (``vflog check``) as a table for people or as JSON for programs."""

from __future__ import annotations

from typing import Any

from .catalogue import CODES
from .check.result import CheckResult, NicCheck
from .render import clean, pretty_json


def render_check_json(result: CheckResult) -> str:
    """Return the check as one JSON document (the documented contract)."""
    return pretty_json(result.to_dict()) + "\n"


def render_check_table(result: CheckResult) -> str:
    """Return the check for people: per NIC the verdict line first, then its details; then the findings and notes."""
    lines = [f"vflog check: {clean(result.source)} ({result.kind}); kernel {clean(result.kernel or '?')}; "
             f"{clean(result.distribution or 'distribution unknown')}; {result.samples} counter sample(s)"
             + (f"; cloud-init {clean(result.cloud_init)}" if result.cloud_init else "")
             + (f"; kernel log from {clean(result.kernel_log)}" if result.kernel_log else "")]
    for nic in result.nics:
        lines.append("")
        lines.extend(_nic_lines(nic))
    lines.append("")
    lines.append("Findings:" if result.findings else "Findings: none")
    for finding in result.findings:
        where = f" [{clean(finding.nic)}]" if finding.nic else ""
        origin = f" ({clean(finding.origin)})" if finding.origin else ""
        summary = CODES[finding.code].summary if finding.code in CODES else ""
        lines.append(f"  {finding.severity.value:<7} {finding.code}{where}: {clean(finding.message)}{origin}")
        if summary:
            lines.append(f"          {summary}")
    for note in result.notes:
        lines.append(f"note: {clean(note)}")
    for unread in result.unread:
        lines.append(f"not read: {clean(unread)}")
    return "\n".join(lines) + "\n"


def _nic_lines(nic: NicCheck) -> list[str]:
    """Return the lines of one NIC: verdict, then identity, VF, addresses, counters and the log's data path."""
    mark = {True: "ON VF", False: "NOT ON VF", None: "UNKNOWN"}[nic.on_vf]
    lines = [f"{clean(nic.key)}: {mark}: {clean(nic.verdict)}"]
    fields: list[tuple[str, Any]] = [
        ("synthetic", nic.synthetic), ("mac", nic.mac), ("vf", nic.vf), ("vf driver", nic.vf_driver),
        ("pci", nic.pci), ("model", nic.model), ("master", nic.master),
        ("addresses", ", ".join(nic.addresses) or None), ("vf addresses", ", ".join(nic.vf_addresses) or None),
        ("log data path", nic.log_datapath), ("log state", nic.log_state)]
    lines.extend(f"  {name:<14} {clean(str(value))}" for name, value in fields if value is not None)
    for counter in nic.counters:
        change = f" ({counter.change:+d})" if counter.first != counter.last else ""
        lines.append(f"  {counter.name:<14} {counter.last}{change}")
    return lines
