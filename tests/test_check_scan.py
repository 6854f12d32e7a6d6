"""``vflog scan`` over sosreports (directories and tarballs): each one log, with its present state checked."""

from __future__ import annotations

import io
import json
from pathlib import Path

import attrs

from vflog.cli import main
from vflog.fleet import discover

from .check_trees import DMESG_VF, Vm, sos_tree, tarball

#: A whole boot with the NIC and no VF line, going on past the thresholds (the log's no-accelerated-networking).
DMESG_NO_VF = """[    0.000000] Linux version 5.15.0-1057-azure (buildd@lcy02-amd64-033) (gcc 11.4.0) #65-Ubuntu SMP
[    4.081811] hv_vmbus: registering driver hv_netvsc
[    4.433301] hv_netvsc 000d3a6f-1b2c-4d5e-8f90-a1b2c3d4e5f6 eth0: renamed from eth0
[  100.000000] systemd[1]: Started foo.
"""


def _run(*argv: str) -> tuple[int, str, str]:
    """Run vflog with *argv*; return its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), env={}, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def _fleet(root: Path) -> Path:
    """Write a fleet: a sosreport directory (ip-on-vf), a sosreport tarball (vf-not-bonded) and a plain log."""
    fleet = root / "fleet"
    sos_tree(fleet / "sosreport-vm1-2026-12-02-aaaaaaa", Vm(vf_addresses=("10.0.0.5/24",)))
    tarball(sos_tree(root / "vm2", Vm(enslaved=False)), fleet / "sosreport-vm2-2026-12-02-bbbbbbb.tar.xz")
    (fleet / "kern.log").write_text(DMESG_VF, encoding="utf-8")
    return fleet


def _records(text: str) -> dict[str, dict[str, object]]:
    """Return the JSON Lines records of a scan by the last part of their path."""
    return {Path(str(r["path"])).name: r for r in map(json.loads, text.splitlines())}


def test_a_sosreport_directory_is_one_log(tmp_path: Path) -> None:
    """A sosreport directory among the scanned paths (given or found below one) is one log, not one per file."""
    fleet = _fleet(tmp_path)
    names = [Path(job.name).name for job in discover([fleet]).jobs]
    assert sorted(names) == ["kern.log", "sosreport-vm1-2026-12-02-aaaaaaa", "sosreport-vm2-2026-12-02-bbbbbbb.tar.xz"]
    (job,) = discover([fleet / "sosreport-vm1-2026-12-02-aaaaaaa"]).jobs
    assert job.name.endswith("sosreport-vm1-2026-12-02-aaaaaaa")


def test_scan_jsonl_carries_the_sosreports_checks(tmp_path: Path) -> None:
    """Each sosreport's record has its NIC verdicts (``checks``) and the check's findings among ``findings``/``counts``."""
    status, out, err = _run("scan", "-j", "1", "--format", "jsonl", str(_fleet(tmp_path)))
    assert status == 1, err
    records = _records(out)
    directory, archive = records["sosreport-vm1-2026-12-02-aaaaaaa"], records["sosreport-vm2-2026-12-02-bbbbbbb.tar.xz"]
    assert [(n["synthetic"], n["on_vf"], n["vf_addresses"]) for n in directory["checks"]] == [
        ("eth0", True, ["10.0.0.5/24"])]
    assert [(f["code"], f["nic_name"], f["line"]) for f in directory["findings"]] == [("ip-on-vf", "eth0", None)]
    assert directory["counts"] == [{"code": "ip-on-vf", "severity": "error", "count": 1}]
    assert [n["on_vf"] for n in archive["checks"]] == [False]
    assert [f["code"] for f in archive["findings"]] == ["vf-not-bonded"]
    assert "checks" not in records["kern.log"] and records["kern.log"]["findings"] == []


def test_scan_exit_status_counts_check_findings(tmp_path: Path) -> None:
    """--fail-on judges the check's findings too: a warning-only sosreport exits 0, and 1 with --fail-on warning."""
    tarball(sos_tree(tmp_path / "vm", Vm(nm_running=True)), tmp_path / "sosreport-vm3.tar.xz")
    assert _run("scan", "-j", "1", "-q", str(tmp_path / "sosreport-vm3.tar.xz"))[0] == 0
    status, out, _ = _run("scan", "-j", "1", "-q", "--fail-on", "warning", str(tmp_path / "sosreport-vm3.tar.xz"))
    assert status == 1 and "vf-managed-by-userspace" in out
    assert _run("scan", "-j", "1", "-q", "--fail-on", "never", str(_fleet(tmp_path)))[0] == 0


def test_scan_table_and_json_show_the_present_state(tmp_path: Path) -> None:
    """The table's data path cell adds the present state; the JSON document keeps ``checks`` through its spool."""
    fleet = _fleet(tmp_path)
    status, out, _ = _run("scan", "-j", "1", "-q", "--top", "0", str(fleet))
    assert status == 1 and "eth0: vf; now eth0: on VF" in out and "now eth0: not on VF" in out
    assert "ip-on-vf" in out and "vf-not-bonded" in out
    status, out, _ = _run("scan", "-j", "1", "-q", "--format", "json", str(fleet))
    files = {Path(f["path"]).name: f for f in json.loads(out)["files"]}
    assert files["sosreport-vm1-2026-12-02-aaaaaaa"]["checks"][0]["verdict"].startswith("on the VF")


def test_scan_does_not_repeat_what_the_log_found(tmp_path: Path) -> None:
    """A present-state finding the log already gave the same NIC (no-accelerated-networking) is listed once."""
    sos_tree(tmp_path / "sosreport-vm4", Vm(vf=False, vf_pci=False, dmesg=DMESG_NO_VF))
    status, out, err = _run("scan", "-j", "1", "--format", "jsonl", "--fail-on", "info", str(tmp_path / "sosreport-vm4"))
    (record,) = _records(out).values()
    assert status == 1, err
    assert [(f["code"], f["nic_name"]) for f in record["findings"]] == [("no-accelerated-networking", "eth0")]
    assert record["checks"][0]["on_vf"] is False


def test_check_findings_are_the_last_boots_in_the_records_report(tmp_path: Path) -> None:
    """A sosreport's present-state findings are its report's last boot's too (``line`` null, ``nic_name`` set,
    the same keys as the log's findings), the record round-trips with its ``checks`` and ``lanes``, and
    ``last_boot()`` (the fleet page's) holds them."""
    from vflog.fleet import FileResult, analyze_one
    from vflog.report import Finding
    path = sos_tree(tmp_path / "sosreport-vm5", Vm(vf_addresses=("10.0.0.5/24",)))
    result = analyze_one(str(path))
    record = json.loads(json.dumps(result.to_dict()))
    (finding,) = [f for f in record["boots"][-1]["findings"] if f["code"] == "ip-on-vf"]
    assert finding["line"] is None and finding["nic_name"] == "eth0"
    assert set(finding) == {field.name for field in attrs.fields(Finding)}
    assert record["checks"] and record["lanes"] and record["lanes"]["boot"] == record["boots"][-1]["index"]
    again = FileResult.from_dict(record)
    assert again == result and again.checks == result.checks and again.lanes == result.lanes
    boot = again.last_boot()
    assert boot is not None and any(f.code == "ip-on-vf" and f.nic_name == "eth0" for f in boot.findings)
