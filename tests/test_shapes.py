"""One vocabulary across outputs: the same log gives the same JSON shapes through report, scan, follow and SARIF.

A scan record is the log's report (the fields and nesting of ``vflog report --format json``) plus the
scan's own fields; a finding is the same object in every output and names its NIC by ``nic`` (the
key) and ``nic_name`` (the interface); the old names stay as aliases for one release (README).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

import vflog
from vflog.check.result import finding_dict
from vflog.cli import main
from vflog.render import change_record

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
#: Samples whose findings, NICs and outages between them cover the report's fields.
LOGS = ["finding-driver-probe-failed.log", "finding-datapath-flapping.log", "host-servicing.log",
        "multi-nic-mana.log", "finding-kernel-trace.log", "finding-vf-not-readded.log"]
FINDING_KEYS = {"code", "severity", "nic", "nic_name", "line", "t", "message", "evidence", "evidence_text", "origin"}


def _run(*argv: str, stdin: bytes | None = None) -> str:
    """Return what ``vflog ARGV`` writes to stdout (reading *stdin* when given)."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        main(list(argv), {}, out, err)
    finally:
        sys.stdin = old
    return out.getvalue()


def _without_timelines(report: dict[str, Any]) -> dict[str, Any]:
    """Return a report's JSON with each NIC's timeline left out as a scan leaves it (counted in timeline_dropped)."""
    copy = json.loads(json.dumps(report))
    for boot in copy["boots"]:
        for nic in boot["nics"]:
            nic["timeline_dropped"] += len(nic["timeline"])
            nic["timeline"] = []
    return copy


def _two_boots(tmp_path: Path) -> Path:
    """Return a log of two boots: two samples one after the other."""
    path = tmp_path / "two-boots.log"
    first, second = SAMPLES / "host-servicing.log", SAMPLES / "finding-driver-probe-failed.log"
    path.write_bytes(first.read_bytes() + second.read_bytes())
    return path


def _archive(tmp_path: Path) -> Path:
    """Return a tarball holding a sample as var/log/kern.log (origins name archive!member:line)."""
    path = tmp_path / "vm.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(SAMPLES / "finding-vf-not-readded.log", arcname="var/log/kern.log")
    return path


@pytest.fixture(params=[*LOGS, "two boots", "archive"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One log given by path: a sample, a log of two boots, or a tarball."""
    if request.param == "two boots":
        return str(_two_boots(tmp_path))
    if request.param == "archive":
        return str(_archive(tmp_path))
    return str(SAMPLES / request.param)


def test_a_scan_record_is_the_report_of_the_same_log(log: str) -> None:
    """Every field of ``report --format json`` is in the log's scan record (JSON Lines and JSON) with the same
    value; only the NICs' timelines are left out, counted in timeline_dropped."""
    report = json.loads(_run("report", "--format", "json", log))
    (record,) = [json.loads(line) for line in _run("scan", "--jobs", "1", "--format", "jsonl", log).splitlines()]
    (document,) = json.loads(_run("scan", "--jobs", "1", "--format", "json", log))["files"]
    assert report["boots"] and report["boots"][0]["findings"] + report["boots"][-1]["nics"]
    want = _without_timelines(report)
    for got in (record, document):
        assert {key: got[key] for key in want} == want


def test_scan_records_keep_the_fields_of_schema_1_as_aliases(log: str) -> None:
    """A scan record still has ``boot_count`` (the old number ``boots``), ``nics`` (the last boot's NICs) and
    ``findings`` (flat, with ``boot`` and ``nic_name``), and says ``schema``: 2."""
    (record,) = [json.loads(line) for line in _run("scan", "--jobs", "1", "--format", "jsonl", log).splitlines()]
    assert record["schema"] == vflog.SCHEMA == 2 and record["boot_count"] == len(record["boots"])
    last = record["boots"][-1]
    assert [nic["key"] for nic in record["nics"]] == [nic["key"] for nic in last["nics"]]
    flat = [(f["boot"], f["code"], f["line"], f["nic"], f["nic_name"]) for f in record["findings"]]
    nested = [(boot["index"], f["code"], f["line"], f["nic"], f["nic_name"]) for boot in record["boots"]
              for f in boot["findings"]]
    assert flat == nested


def test_a_finding_has_the_same_keys_in_every_output(log: str) -> None:
    """A finding in report JSON, in a scan record, a follow record (without its ``type``), and as check writes it
    has exactly the same keys; SARIF's properties name the NIC by ``nic`` and ``nic_name`` too."""
    report = json.loads(_run("report", "--format", "json", log))
    (record,) = [json.loads(line) for line in _run("scan", "--jobs", "1", "--format", "jsonl", log).splitlines()]
    follow = [change_record(c) for c in vflog.follow(log) if isinstance(c, (vflog.Finding, vflog.Withdrawn))]
    sarif = json.loads(_run("scan", "--jobs", "1", "--format", "sarif", log))["runs"][0]["results"]
    keys = [set(f) for boot in report["boots"] + record["boots"] for f in boot["findings"]]
    keys += [set(r) - {"type"} for r in follow]
    keys += [set(finding_dict(f)) for f in vflog.analyze(log).findings]
    assert all(k == FINDING_KEYS for k in keys) and (keys or not vflog.analyze(log).findings)
    assert all({"nic", "nic_name"} <= set(r["properties"]) for r in sarif) and len(sarif) == len(record["findings"])


def test_every_finding_names_its_nic_by_key_and_interface(log: str) -> None:
    """A finding's ``nic`` is its NIC's key and ``nic_name`` that NIC's interface name, in report, scan, SARIF
    (``nicName`` stays as an alias) and CSV's findings column; a finding of no NIC has both null."""
    report = vflog.analyze(log)
    for boot in report.boots:
        names = {nic.key: nic.synthetic for nic in boot.nics}
        for finding in boot.findings:
            assert finding.nic_name == names.get(finding.nic or "")
    sarif = json.loads(_run("scan", "--jobs", "1", "--format", "sarif", log))["runs"][0]["results"]
    want = sorted((f.code, f.nic, f.nic_name) for f in report.findings)
    assert sorted((r["ruleId"], r["properties"]["nic"], r["properties"]["nic_name"]) for r in sarif) == want
    assert all(r["properties"]["nicName"] == r["properties"]["nic_name"] for r in sarif)
    (row,) = csv.DictReader(io.StringIO(_run("scan", "--jobs", "1", "--format", "csv", log)))
    assert sorted((f["code"], f["nic"], f["nic_name"]) for f in json.loads(row["findings"])) == want


def test_follow_findings_carry_origin_name_and_quotes_as_the_report_does(log: str) -> None:
    """A finding while following has the report's ``origin`` (input:line), ``nic_name`` and ``evidence_text``;
    the final report's findings are the report's (a time-based one keeps the message it fired with)."""
    report = vflog.analyze(log)
    changes = list(vflog.follow(log))
    final = changes[-1]
    assert isinstance(final, vflog.Report)
    fired = [c for c in changes if isinstance(c, vflog.Finding)]
    origins = {(f.code, f.line): f.origin for f in report.findings}
    for finding in fired:
        assert finding.origin is not None
        assert finding.origin == origins.get((finding.code, finding.line), finding.origin)
        assert finding.evidence_text and finding.line in {q.line for q in finding.evidence_text}
    where = [(f.code, f.line, f.nic, f.nic_name, f.origin, f.evidence_text) for f in final.findings]
    assert where == [(f.code, f.line, f.nic, f.nic_name, f.origin, f.evidence_text) for f in report.findings]
    named = {(f.code, f.line): f.nic_name for f in report.findings}
    assert all(f.nic_name == named[(f.code, f.line)] for f in fired if (f.code, f.line) in named and f.nic_name)


def test_follow_state_records_say_kind_and_nic_name(tmp_path: Path) -> None:
    """``follow --format jsonl`` state records name the event's ``kind`` and the NIC's ``nic_name`` as events and
    findings do; ``event`` and ``synthetic`` stay as aliases; the last record's report says ``schema``: 2."""
    text = (SAMPLES / "finding-vf-not-readded.log").read_bytes()
    records = [json.loads(line) for line in _run("follow", "--format", "jsonl", stdin=text).splitlines()]
    states = [r for r in records if r["type"] == "state"]
    assert states and all(r["kind"] == r["event"] and r["nic_name"] == r["synthetic"] == "eth0" for r in states)
    findings = [r for r in records if r["type"] == "finding"]
    assert findings and all(r["origin"] == f"<stdin>:{r['line']}" and r["nic_name"] == "eth0" for r in findings)
    assert records[-1]["type"] == "report" and records[-1]["report"]["schema"] == 2


def test_timeline_entries_say_kind_with_event_as_alias() -> None:
    """A timeline entry in report JSON names its event's ``kind`` (as ``vflog events`` does); ``event`` stays."""
    report = json.loads(_run("report", "--format", "json", str(SAMPLES / "host-servicing.log")))
    entries = [e for boot in report["boots"] for nic in boot["nics"] for e in nic["timeline"]]
    assert entries and all(e["kind"] == e["event"] for e in entries)
    events = [json.loads(line) for line in _run("events", str(SAMPLES / "host-servicing.log")).splitlines()]
    assert {e["kind"] for e in entries} <= {e["kind"] for e in events} | {"driver_bound"}


def test_a_scan_result_and_a_report_round_trip_through_json(log: str) -> None:
    """Report.from_dict and FileResult.from_dict rebuild what to_dict wrote, their reports included."""
    from vflog.fleet import analyze_one
    report = vflog.analyze(log)
    assert vflog.Report.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    result = analyze_one(log)
    again = vflog.FileResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result and again.report is not None and again.report.boots == result.report.boots
