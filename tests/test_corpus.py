"""Real logs (tests/corpus/real, each with its human reading in .meta.md) are golden inputs: their verdicts match that reading."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import vflog
from vflog.catalogue import Severity

from .verdicts import verdict

REAL = Path(__file__).resolve().parent / "corpus" / "real"
GOLDEN = Path(__file__).parent / "golden" / "corpus"
LOGS = sorted(REAL.glob("*.log"))

# Known misses on real logs (see each file's .meta.md): file name -> test -> reason. Strict: a fix makes the test XPASS and fail.
XFAIL: dict[str, dict[str, str]] = {
    "32-oracle-linux-85-ofed-devlink-warning.log": {
        "recognised": "MLNX_OFED-only mlx5 message (panic handler) is in no upstream catalogue row: unrecognised by design",
    },
    "34-wsl-13491-netvsc-open-channel-enodev.log": {
        "recognised": "the excerpt's last line is cut after the device id: no message to recognise",
    },
    "37-azure-docs-100444-redacted-uuid-servicing.log": {
        "recognised": "the excerpt's last line is cut after the redacted device id: no message to recognise",
    },
    "43-wsl-14070-fence-glued-netvsc-enodev.log": {
        "recognised": "the excerpt's last line is cut inside the message ('unable to'): no message to recognise",
    },
    "48-eve-ng-notes-4.9-serial-hv-pci-irq-failed-mlx4-gpf.log": {
        "golden": "a vPCI bus with no device line is not tied to the only NIC although a trace shows the VF driver "
                  "(mlx4_init_one) crashing on that bus's interrupt (hv_irq_unmask): hv_pci errors stay VM-level and "
                  "the NIC stays unknown instead of probe-failed / synthetic",
    },
    "52-freebsd13-hyperv-notes-whole-boot-hn0-no-vf.log": {
        "golden": "a whole boot from FreeBSD's copyright banner with a synthetic NIC and no VF ends in unknown/incomplete; "
                  "the absence of any vPCI offer across the whole VMBus enumeration is real: synthetic",
    },
}


def _logs(test: str) -> list[object]:
    """Return the corpus logs as parameters, each known miss of this test marked strict xfail with its reason."""
    return [
        pytest.param(path, marks=pytest.mark.xfail(reason=XFAIL[path.name][test], strict=True))
        if test in XFAIL.get(path.name, {})
        else path
        for path in LOGS
    ]


def _nics(report: vflog.Report, boot: int = -1) -> dict[str, vflog.NicReport]:
    return {nic.key: nic for nic in report.boots[boot].nics}


def _codes(report: vflog.Report) -> set[str]:
    return {f.code for f in report.findings if f.severity.rank >= Severity.WARNING.rank}


def test_corpus_is_present() -> None:
    """The real-log corpus ships with the tests (no ../shared needed)."""
    assert len(LOGS) >= 8


def test_every_corpus_log_has_its_reading() -> None:
    """Each real log has a .meta.md with its human reading, and every XFAIL entry names a shipped log."""
    assert all(path.with_suffix(".meta.md").is_file() for path in LOGS)
    assert set(XFAIL) <= {path.name for path in LOGS}


def _golden(path: Path) -> object:
    """Return the reviewed golden verdict of a log, or None when it has none yet."""
    golden = GOLDEN / (path.stem + ".json")
    return json.loads(golden.read_text()) if golden.is_file() else None


def _propose(path: Path, got: object) -> str:
    """Write the output next to the golden as `<name>.json.new` for a person to review, and say so."""
    proposal = GOLDEN / (path.stem + ".json.new")
    proposal.parent.mkdir(parents=True, exist_ok=True)
    proposal.write_text(json.dumps(got, indent=1) + "\n")
    return (f"{path.name}: output differs from the golden; review {proposal} "
            f"(git diff --no-index {proposal.with_suffix('')} {proposal}) and move it over the golden if it is right")


def _as_expected(got: dict[str, Any], expected: object) -> dict[str, Any]:
    """Return the output with each finding cut to the keys its expected finding holds (a known miss's golden omits messages)."""
    if not isinstance(expected, dict) or len(expected.get("boots", ())) != len(got["boots"]):
        return got
    boots = []
    for boot, wanted in zip(got["boots"], expected["boots"]):
        keys = [set(finding) for finding in wanted["findings"]] + [set()] * len(boot["findings"])
        found = [{k: v for k, v in f.items() if k in held} if held else f for f, held in zip(boot["findings"], keys)]
        boots.append({**boot, "findings": found})
    return {**got, "boots": boots}


@pytest.mark.parametrize("path", _logs("golden"), ids=lambda p: p.name)
def test_golden_verdict(path: Path) -> None:
    """The NIC verdicts and findings (messages and quoted evidence too) equal the reviewed golden file.

    VFLOG_REGEN=1 never rewrites a golden: on a difference it writes `<name>.json.new` beside it and the test
    still fails, so a person reviews the change and moves the file. A known miss's golden holds the expected
    verdict written by hand: no proposal, and its findings may leave out message and evidence (compared without them).
    """
    got = verdict(vflog.analyze(path))
    expected = _golden(path)
    if "golden" in XFAIL.get(path.name, {}):
        got = _as_expected(got, expected)
    elif got != expected and os.environ.get("VFLOG_REGEN"):
        pytest.fail(_propose(path, got))
    assert got == expected


@pytest.mark.parametrize("path", _logs("recognised"), ids=lambda p: p.name)
def test_every_driver_line_is_recognised(path: Path) -> None:
    """No line of these drivers in a real excerpt is left unrecognised."""
    report = vflog.analyze(path)
    assert report.stats.unrecognised == 0, report.unrecognised


def test_01_mlx4_servicing_reinit() -> None:
    """LIS mlx4 VF reset: switched from VF, unregistered, mlx4 re-initialises the same function; no error."""
    report = vflog.analyze(REAL / "01-lis-next-556-mlx4-vf-reset.log")
    nic = _nics(report)["000d3a96-8b21-000d-3a96-8b21000d3a96"]
    assert nic.synthetic == "eth0" and nic.datapath == "synthetic"
    assert nic.vf.pci == "0001:00:02.0" and nic.vf.driver == "mlx4_core"
    assert "enP1p0s2" in nic.previous_vfs[0].names
    assert _codes(report) == set()


def test_03_fast_add_remove_three_runs() -> None:
    """Run 1 (a boot of its own: time restarts) is a probe failure on a removed VF; runs 2-3 end removed."""
    report = vflog.analyze(REAL / "03-linux-pci-hv-fast-add-remove-fw-timeout.log")
    assert len(report.boots) == 2
    first = report.boots[0]
    assert [f.code for f in first.findings if f.severity is Severity.ERROR] == ["driver-probe-failed"]
    probe = next(f for f in first.findings if f.code == "driver-probe-failed")
    assert 21 in probe.evidence and 29 in probe.evidence
    last = _nics(report)["818fe754-b912-4445-af51-1f584812e3c9"]
    assert last.datapath == "synthetic" and last.switches_to_vf == 0
    assert last.vf.names == ("eth1", "enP18059s1") and last.vf.pci == "468b:00:02.0"


def test_05_codespaces_ctime_flap_is_normal() -> None:
    """One to/from/to flap at boot inside a foreign prefix and dmesg --ctime: normal, ends on VF."""
    report = vflog.analyze(REAL / "05-codespaces-dmesg-ctime-flap.log")
    nic = _nics(report)["70a8a5b1-d7ce-70a8-a5b1-d7ce70a8a5b1"]
    assert (nic.datapath, nic.vf.name, nic.vf.pci) == ("vf", "enP43566s1", "aa2e:00:02.0")
    assert report.boots[0].clock == "wall"
    assert report.findings == ()


def test_08_rename6_and_two_nics_withdrawn() -> None:
    """Two NICs lose their VFs within a second; eth1's VF carries the temporary name rename6."""
    report = vflog.analyze(REAL / "08-walinuxagent-2129-rename6-vf-removed.log")
    nics = _nics(report)
    assert {n.synthetic: n.datapath for n in nics.values()} == {"eth0": "synthetic", "eth1": "synthetic"}
    assert nics["00224804-122d-0022-4804-122d00224804"].vf.names == ("rename6",)
    assert _codes(report) == {"vf-temp-name"}


def test_12_gpu_and_virtio_are_not_vfs() -> None:
    """hv_pci buses with a GPU (1414:008e) and virtio (1af4:1049) never become VFs or NICs."""
    report = vflog.analyze(REAL / "12-wsl-9377-hv-pci-gpu-virtiofs.log")
    assert report.boots[0].nics == () and report.findings == ()
    assert report.stats.events == 16


def test_16_mana_pairs_by_netvsc_not_by_pci() -> None:
    """Four MANA VFs share 7870:00:00.0; each pairs with the NIC netvsc names (eth1<->vf_eth2)."""
    report = vflog.analyze(REAL / "16-vyos-5338-mana-multinic-vf-eth.log")
    pairs = {n.key[-4:]: (n.synthetic, n.vf.name, n.datapath) for n in report.boots[0].nics}
    assert pairs == {
        "fb7b": ("eth0", "vf_eth0", "synthetic"),
        "fe82": ("eth1", "vf_eth2", "vf"),
        "f537": ("eth2", "vf_eth1", "vf"),
        "ffa5": ("eth3", "vf_eth3", "vf"),
    }
    assert all(n.vf.pci == "7870:00:00.0" and n.vf.driver == "mana" for n in report.boots[0].nics)
    assert _codes(report) == set()


def test_22_filtered_log_proves_no_absence() -> None:
    """An egrep'd log (only VF registering lines) yields incomplete, not datapath-not-switched."""
    report = vflog.analyze(REAL / "22-vmware-sdwan-edge-multinic-eth-hv.log")
    nics = _nics(report)
    assert len(nics) == 4
    assert nics["000d3a92-2178-000d-3a92-2178000d3a92"].synthetic_names == ("eth3", "eth3-hv")
    assert _codes(report) == set()
    assert {f.code for f in report.findings} == {"incomplete"}


def test_28_old_kernel_vmbus_names() -> None:
    """4.4 kernel: vmbus_N devices, joined before VF registering, VF up, mlx4 Link Up; eth1 on VF."""
    report = vflog.analyze(REAL / "28-hyperv-4.4.113-ofed-vmbus_N-vf-up.log")
    nics = _nics(report)
    assert nics["vmbus_16"].datapath == "vf" and nics["vmbus_16"].vf.name == "enP2p0s2"
    assert nics["vmbus_15"].vf is None
    assert report.findings == ()


def test_regen_proposes_a_new_golden_and_still_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """VFLOG_REGEN=1 leaves a differing golden as it is, writes `<name>.json.new` with the output and fails the test."""
    path = next(p for p in LOGS if p.name.startswith("03-"))
    stale = tmp_path / (path.stem + ".json")
    stale.write_text('{"stale": true}\n')
    monkeypatch.setattr(sys.modules[__name__], "GOLDEN", tmp_path)
    monkeypatch.setenv("VFLOG_REGEN", "1")
    with pytest.raises(pytest.fail.Exception, match="review"):
        test_golden_verdict(path)
    assert stale.read_text() == '{"stale": true}\n'
    assert json.loads((tmp_path / (path.stem + ".json.new")).read_text()) == verdict(vflog.analyze(path))


def test_golden_findings_hold_messages_and_quoted_evidence() -> None:
    """Every reviewed golden (known misses aside) gives each finding its message and every evidence line its quote."""
    for path in LOGS:
        if "golden" in XFAIL.get(path.name, {}):
            continue
        golden = json.loads((GOLDEN / (path.stem + ".json")).read_text())
        for finding in (f for boot in golden["boots"] for f in boot["findings"]):
            assert finding["message"] and finding["evidence"], (path.name, finding)
            assert all(isinstance(text, str) for _, text in finding["evidence"]), (path.name, finding)
