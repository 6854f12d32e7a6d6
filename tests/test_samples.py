"""Every shipped sample gives the verdict it was written to show."""

from __future__ import annotations

from pathlib import Path

import pytest

import vflog
from vflog.catalogue import CODES, STATE_CODES, Severity

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

#: Sample -> finding codes at warning or error.
EXPECTED = {
    "normal-boot.log": set(),
    "host-servicing.log": set(),
    "multi-nic-mana.log": set(),
    "mlx4-old-kernel.log": set(),
    "finding-slot-without-device.log": {"slot-without-device"},
    "finding-device-without-driver.log": {"device-without-driver"},
    "finding-driver-probe-failed.log": {"driver-probe-failed", "vf-driver-error"},  # + mlx5 "Waiting for FW" (warn)
    "finding-vf-not-registered.log": {"vf-not-registered"},  # "no netdev found for vf serial" is a notice
    "finding-datapath-not-switched.log": {"datapath-not-switched"},
    "finding-ends-on-synthetic.log": {"ends-on-synthetic"},
    "finding-datapath-flapping.log": {"datapath-flapping"},
    "finding-switch-failed.log": {"switch-failed"},
    "finding-vf-not-readded.log": {"vf-not-readded"},
    "finding-long-outage.log": {"long-outage"},
    "finding-unexpected-event.log": {"unexpected-event"},
    "finding-surprise-removal.log": {"surprise-removal"},
    "finding-pci-domain-collision.log": {"pci-domain-collision"},
    "finding-driver-changed.log": set(),
    "finding-association-wait.log": {"association-wait"},
    "finding-vf-driver-error.log": {"vf-driver-error"},
    "finding-hv-pci-error.log": {"hv-pci-error", "slot-without-device"},
    "finding-netvsc-error.log": {"netvsc-error"},
    "finding-isolated-vm.log": {"isolated-vm"},
    "finding-vf-temp-name.log": {"vf-temp-name"},
    "finding-udev-rename-failed.log": {"udev-rename-failed"},
    "finding-kernel-trace.log": {"kernel-trace"},
    "finding-time-regression.log": {"time-regression"},
    "finding-incomplete.log": set(),
    "finding-vf-managed-by-userspace.log": {"vf-managed-by-userspace"},
    "freebsd-hn.log": set(),
    "finding-no-accelerated-networking.log": set(),  # info only
}

#: Sample -> the final data path of every NIC, by synthetic name.
DATAPATHS = {
    "normal-boot.log": {"eth0": "vf"},
    "host-servicing.log": {"eth0": "vf"},
    "multi-nic-mana.log": {"eth0": "vf", "eth1": "vf"},
    "mlx4-old-kernel.log": {"eth0": "vf", "eth1": "vf"},
    "finding-vf-not-readded.log": {"eth0": "synthetic"},
    "finding-ends-on-synthetic.log": {"eth0": "synthetic"},
    "finding-datapath-flapping.log": {"eth0": "vf"},
    "freebsd-hn.log": {"hn0": "vf"},
    "finding-no-accelerated-networking.log": {"eth0": "synthetic", "eth1": "synthetic"},
}


def _codes(report: vflog.Report, minimum: Severity = Severity.WARNING) -> set[str]:
    return {f.code for f in report.findings if f.severity.rank >= minimum.rank}


def test_every_sample_has_an_expectation() -> None:
    """No sample is shipped without a test of its verdict."""
    assert {p.name for p in SAMPLES.glob("*.log")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_findings(name: str) -> None:
    """The sample produces exactly its expected warning and error codes, and no unrecognised line."""
    report = vflog.analyze(SAMPLES / name)
    assert _codes(report) == EXPECTED[name]
    assert report.stats.unrecognised == 0


def test_every_code_that_a_log_can_show_has_a_sample() -> None:
    """Each finding code a kernel log can show has its own sample file that produces it (check fixtures cover the rest)."""
    for code in set(CODES) - STATE_CODES:
        report = vflog.analyze(SAMPLES / f"finding-{code}.log")
        assert code in _codes(report, Severity.INFO), code


@pytest.mark.parametrize("name", sorted(DATAPATHS))
def test_sample_final_datapath(name: str) -> None:
    """NICs end on the data path the sample describes."""
    report = vflog.analyze(SAMPLES / name)
    final = {nic.synthetic: nic.datapath for nic in report.boots[-1].nics}
    assert final == DATAPATHS[name]


def test_host_servicing_outage_is_measured() -> None:
    """The seed's servicing outage (switch from VF 8160.91 -> to VF 8226.27) is about 65 s."""
    nic = vflog.analyze(SAMPLES / "host-servicing.log").boots[0].nics[0]
    removed = [o for o in nic.outages if o.vf_removed]
    assert len(removed) == 1 and removed[0].seconds == pytest.approx(65.356, abs=0.01)
    assert nic.time_to_vf == pytest.approx(8.090127 - 3.918902, abs=1e-6)
    assert [v.driver for v in nic.previous_vfs] == ["mlx5_core"]


def test_mana_nics_pair_by_netvsc() -> None:
    """Each MANA VF belongs to the NIC netvsc paired it with."""
    report = vflog.analyze(SAMPLES / "multi-nic-mana.log")
    pairs = {nic.synthetic: (nic.vf.name, nic.vf.pci, nic.vf.driver) for nic in report.boots[0].nics}
    assert pairs == {"eth0": ("enP30832s1", "7870:00:00.0", "mana"), "eth1": ("enP23820s2", "5d0c:00:00.0", "mana")}
