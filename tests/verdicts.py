"""A compact, stable summary of a Report, used by the golden-file tests."""

from __future__ import annotations

from typing import Any

import vflog


def finding(found: vflog.Finding) -> dict[str, Any]:
    """Return a finding's code, severity, NIC, line, message and evidence lines with their quoted text."""
    quotes = {quote.line: quote.text for quote in found.evidence_text}
    return {
        "code": found.code,
        "severity": found.severity.value,
        "nic": found.nic,
        "line": found.line,
        "message": found.message,
        "evidence": [[number, quotes.get(number)] for number in found.evidence],
    }


def verdict(report: vflog.Report) -> dict[str, Any]:
    """Return per boot the NIC verdicts and the findings (code, severity, NIC, line, message, quoted evidence)."""
    return {
        "unrecognised": report.stats.unrecognised,
        "boots": [
            {
                "nics": [
                    {
                        "key": nic.key,
                        "synthetic": nic.synthetic,
                        "state": nic.state,
                        "datapath": nic.datapath,
                        "vf": None if nic.vf is None else [nic.vf.name, nic.vf.pci, nic.vf.driver, nic.vf.device_id],
                        "switches": [nic.switches_to_vf, nic.switches_from_vf],
                    }
                    for nic in boot.nics
                ],
                "findings": [finding(f) for f in boot.findings],
            }
            for boot in report.boots
        ],
    }
