"""The values a check produces: per-NIC verdicts, counters and findings (what render_check renders)."""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from ..report import Finding


@attrs.frozen
class CounterSample:
    """One counter of a NIC: its first and last sample (equal with one sample) and its change."""

    name: str
    first: int
    last: int

    @property
    def change(self) -> int:
        """Return how much the counter grew between the first and last sample."""
        return self.last - self.first


@attrs.frozen
class NicCheck:
    """One synthetic NIC (or a VF no synthetic NIC claims) as it is now, with its verdict."""

    key: str
    verdict: str
    on_vf: bool | None
    synthetic: str | None
    mac: str | None
    vmbus_id: str | None
    vf: str | None = None
    vf_driver: str | None = None
    pci: str | None = None
    model: str | None = None
    master: str | None = None
    addresses: tuple[str, ...] = ()
    vf_addresses: tuple[str, ...] = ()
    counters: tuple[CounterSample, ...] = ()
    log_datapath: str | None = None
    log_state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the NIC as the JSON contract's object."""
        record = attrs.asdict(self, recurse=False)
        record["addresses"] = list(self.addresses)
        record["vf_addresses"] = list(self.vf_addresses)
        record["counters"] = [{"name": c.name, "first": c.first, "last": c.last, "change": c.change}
                              for c in self.counters]
        return record

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "NicCheck":
        """Rebuild a NicCheck from :meth:`to_dict` (unknown keys are ignored)."""
        known = {f.name for f in attrs.fields(cls)}
        fields = {k: v for k, v in data.items() if k in known}
        fields["addresses"] = tuple(fields.get("addresses", ()))
        fields["vf_addresses"] = tuple(fields.get("vf_addresses", ()))
        fields["counters"] = tuple(CounterSample(c["name"], c["first"], c["last"]) for c in fields.get("counters", ()))
        return cls(**fields)


@attrs.frozen
class CheckResult:
    """The whole check: where the facts came from, the system, each NIC and the findings."""

    source: str
    kind: str
    kernel: str | None
    distribution: str | None
    samples: int
    interval: float
    nics: tuple[NicCheck, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    unread: tuple[str, ...] = ()
    kernel_log: str | None = None
    cloud_init: str | None = None

    @property
    def readable(self) -> bool:
        """Return whether any fact at all was read (a kernel, an interface or a kernel log)."""
        return bool(self.kernel or self.nics or self.kernel_log or self.distribution)

    @property
    def state_findings(self) -> tuple[Finding, ...]:
        """Return the findings of the present state, without those the kernel log gave (which name their log)."""
        return tuple(f for f in self.findings if f.origin is None and f.line is None)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as the documented JSON contract of ``vflog check --format json``."""
        return {
            "source": self.source, "kind": self.kind, "kernel": self.kernel, "distribution": self.distribution,
            "samples": self.samples, "interval": self.interval, "kernel_log": self.kernel_log,
            "cloud_init": self.cloud_init,
            "nics": [nic.to_dict() for nic in self.nics],
            "findings": [finding_dict(f) for f in self.findings],
            "notes": list(self.notes), "unread": list(self.unread),
        }


def finding_dict(finding: Finding) -> dict[str, Any]:
    """Return a finding as the same JSON object ``vflog report`` gives it."""
    record = attrs.asdict(finding, recurse=True)
    record["severity"] = finding.severity.value
    record["evidence"] = list(finding.evidence)
    record["evidence_text"] = [dict(q) for q in record["evidence_text"]]
    return record
