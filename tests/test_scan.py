"""Tests of ``vflog scan``: many logs in parallel, one small result each, a summary that merges in any order."""

from __future__ import annotations

import importlib

import argparse
import collections
import csv
import functools
import gzip
import io
import json
import lzma
import multiprocessing
import os
import pickle
import random
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

import vflog
from vflog import cli
from vflog.catalogue import CODES
from vflog.errors import UsageError
from vflog.output import OutputError
from vflog.cli.scan import Progress, add_scan_parser, scan_command
from vflog.report import NicReport
from vflog.fleet import FileResult, LogJob, Summary, analyze_one, discover, scan, summarize

scan_module = importlib.import_module("vflog.fleet.one")  # where one log is analysed (patched to inject crashes)
from vflog.input import Selection

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def _text(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def build_fleet(root: Path) -> tuple[list[list[Path]], dict[str, str]]:
    """Write a directory of logs; return the files of each log (oldest first) and the broken ones by status."""
    root.mkdir()
    logs: list[list[Path]] = []
    broken: dict[str, str] = {}

    def add(path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        logs.append([path])
        return path

    for name in ("normal-boot.log", "host-servicing.log", "multi-nic-mana.log"):
        add(root / name, _text(name))
    for name in ("finding-driver-probe-failed.log", "finding-long-outage.log", "finding-vf-temp-name.log"):
        add(root / "gz" / (name + ".gz"), gzip.compress(_text(name), mtime=0))
    add(root / "surprise.log.xz", lzma.compress(_text("finding-surprise-removal.log")))
    rotated = root / "vm7" / "var" / "log"
    rotated.mkdir(parents=True)
    family = [rotated / "kern.log.2.gz", rotated / "kern.log.1", rotated / "kern.log"]
    family[0].write_bytes(gzip.compress(_text("normal-boot.log"), mtime=0))
    family[1].write_bytes(_text("finding-ends-on-synthetic.log"))
    family[2].write_bytes(_text("finding-vf-not-readded.log"))
    logs.append(family)
    sos = root / "sosreport-vm8.tar.gz"
    _tar(sos, {"sosreport-vm8/var/log/syslog": _text("finding-switch-failed.log"),
               "sosreport-vm8/etc/hostname": b"vm8\n"})
    logs.append([sos])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("var/log/messages", _text("finding-netvsc-error.log"))
    add(root / "vm9-logs.zip", buffer.getvalue())
    noise = random.Random(7)
    packed = gzip.compress(_text("normal-boot.log"), mtime=0)
    broken[str(add(root / "damaged.log.gz", packed[:20] + bytes(noise.randrange(256) for _ in range(400))))] = "failed"
    broken[str(add(root / "truncated.log.gz", packed[: len(packed) // 2]))] = "partial"
    broken[str(add(root / "broken.zip", b"PK\x03\x04" + bytes(noise.randrange(256) for _ in range(300))))] = "failed"
    no_log = root / "no-kernel-log.tar"
    _tar(no_log, {"etc/fstab": b"/dev/sda1 / ext4 defaults 0 1\n"})
    logs.append([no_log])
    broken[str(no_log)] = "failed"
    add(root / "garbage.bin", bytes(noise.randrange(256) for _ in range(4000)))
    if not ROOT_USER:
        locked = add(root / "locked.log", _text("normal-boot.log"))
        locked.chmod(0)
        broken[str(locked)] = "failed"
    return logs, broken


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[Path]], dict[str, str]]:
    root = tmp_path_factory.mktemp("scan") / "fleet"
    logs, broken = build_fleet(root)
    return root, logs, broken


def parser() -> argparse.ArgumentParser:
    top = cli.Parser(prog="vflog")
    add_scan_parser(top.add_subparsers(dest="command"))
    return top


def run(*argv: str) -> tuple[int, str, str]:
    """Run the scan handler with a Namespace built by its own parser; return status, stdout, stderr."""
    args = parser().parse_args(["scan", *argv])
    out, err = io.StringIO(), io.StringIO()
    status = scan_command(args, out, err)
    return int(status), out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def scanned(fleet: tuple[Path, list[list[Path]], dict[str, str]]) -> tuple[str, str, list[FileResult]]:
    """The fleet scanned once with --jobs 1 and once with --jobs 2 (JSON), and its results."""
    root = str(fleet[0])
    one = run("--jobs", "1", "--format", "json", root)
    two = run("--jobs", "2", "--format", "json", root)
    assert one[0] == two[0] == cli.ExitStatus.FINDINGS, one[2]
    return one[1], two[1], [FileResult.from_dict(f) for f in json.loads(one[1])["files"]]


# -- what one log is ----------------------------------------------------------------------------


def test_discovery_makes_one_log_per_file_archive_and_rotation_family(fleet) -> None:
    root, logs, _ = fleet
    found = discover([str(root)])
    assert sorted(job.members for job in found.jobs) == sorted(tuple(str(p) for p in members) for members in logs)
    family = next(job for job in found.jobs if len(job.members) > 1)
    assert [Path(m).name for m in family.members] == ["kern.log.2.gz", "kern.log.1", "kern.log"]  # oldest first
    assert family.name.endswith("kern.log")
    apart = discover([str(root)], group_rotations=False)
    assert len(apart.jobs) == len(found.jobs) + 2


def test_exclude_filters_directory_walks_and_symlinks_are_handled(fleet, tmp_path: Path) -> None:
    root, logs, _ = fleet
    found = discover([str(root)], selection=Selection(exclude=("*.bin", "gz/*")))
    names = {Path(job.name).name for job in found.jobs}
    assert "garbage.bin" not in names and not names & {p.name for p in (root / "gz").iterdir()}
    assert len(found.jobs) == len(logs) - 4
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "real.log").write_bytes(_text("normal-boot.log"))
    (linked / "alias.log").symlink_to(linked / "real.log")  # the same file twice: read once
    (linked / "dangling.log").symlink_to(tmp_path / "gone.log")
    (linked / "loop").symlink_to(linked, target_is_directory=True)  # never followed
    found = discover([str(linked)])
    assert len(found.jobs) == 1
    assert any("dangling symlink" in note for note in found.notes)
    assert any("directory symlink" in note for note in found.notes)


def test_a_file_given_twice_is_read_once_and_missing_paths_fail(fleet, tmp_path: Path) -> None:
    root, _, _ = fleet
    one = root / "normal-boot.log"
    found = discover([str(one), str(root / "." / "normal-boot.log"), str(tmp_path / "nope.log"),
                      str(tmp_path / "none-*.log")])
    assert [job.name for job in found.jobs][0] == str(one)
    assert len(found.jobs) == 3
    results = {r.path: r for r in scan(found.jobs, jobs=1)}
    assert results[str(tmp_path / "nope.log")].error.endswith("no such file")
    assert "no file matches" in results[str(tmp_path / "none-*.log")].error


# -- correctness against the single-file analysis ---------------------------------------------------


def test_every_corrupt_file_is_reported_by_name(fleet) -> None:
    root, logs, broken = fleet
    status, out, err = run("--format", "jsonl", "--jobs", "2", str(root))
    assert status == cli.ExitStatus.FINDINGS
    records = {r["path"]: r for r in map(json.loads, out.splitlines())}
    assert len(records) == len(logs)
    for name, state in broken.items():
        assert records[name]["status"] == state, name
        assert records[name]["errors"] and records[name]["errors"][0].startswith(name)
        assert f"vflog: {name}: " in err
    garbage = records[str(root / "garbage.bin")]  # random bytes are not a text log
    assert garbage["status"] == "failed" and "not a text log" in garbage["errors"][0]
    assert all(line.startswith("vflog: ") for line in err.splitlines())


def test_summary_counts_equal_the_sum_of_per_file_reports(fleet, scanned) -> None:
    root, logs, broken = fleet
    summary = json.loads(scanned[0])["summary"]
    want: collections.Counter[str] = collections.Counter()
    for members in logs:
        want.update(f.code for f in vflog.analyze_files(members).findings)
    got: collections.Counter[str] = collections.Counter()
    for entry in summary["codes"]:
        got[entry["code"]] += entry["findings"]
    assert got == want and sum(want.values()) == summary["findings"] > 0
    assert summary["files"] == len(logs)
    reports = [vflog.analyze_files(members) for members in logs]
    assert summary["failed"] == sum(1 for r in reports if r.errors and not r.stats.lines)
    assert summary["partial"] == sum(1 for r in reports if r.errors and r.stats.lines)
    assert summary["lines"] == sum(r.stats.lines for r in reports)
    assert summary["failed"] >= sum(1 for state in broken.values() if state == "failed")


def test_jobs_one_and_two_give_the_same_json(scanned) -> None:
    one, two, _ = scanned
    assert one == two


def test_records_carry_the_report_json_nic_and_finding_fields(tmp_path: Path) -> None:
    path = tmp_path / "probe.log"
    path.write_bytes(_text("finding-driver-probe-failed.log"))
    report = vflog.analyze(path).to_dict()
    record = analyze_one(str(path)).to_dict()
    nic_keys = set(report["boots"][0]["nics"][0]) - {"timeline", "timeline_dropped"}
    assert set(record["nics"][0]) == nic_keys
    finding_keys = set(report["boots"][0]["findings"][0]) - {"evidence_text"}
    assert set(record["findings"][0]) == finding_keys | {"boot", "nic_name"}
    assert record["findings"][0]["origin"] == f"{path}:88"
    assert record["nics"][0]["datapath"] == "synthetic"


# -- formats ---------------------------------------------------------------------------------------------


def test_csv_has_one_row_per_file_with_json_nics_and_findings(fleet) -> None:
    root, logs, broken = fleet
    status, out, _ = run("--format", "csv", "--jobs", "2", str(root))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(logs) and status == cli.ExitStatus.FINDINGS
    by_path = {row["path"]: row for row in rows}
    for name, state in broken.items():
        assert by_path[name]["status"] == state and name in by_path[name]["error" if state == "failed" else "errors"]
    probe = by_path[str(root / "gz" / "finding-driver-probe-failed.log.gz")]
    assert json.loads(probe["nics"])[0]["datapath"] == "synthetic"
    assert {f["code"] for f in json.loads(probe["findings"])} == {"driver-probe-failed", "incomplete", "vf-driver-error"}
    assert probe["worst"] == "error" and probe["findings_error"] == "1"


def test_sarif_is_2_1_0_with_rules_and_located_results(fleet, tmp_path: Path) -> None:
    root, _, broken = fleet
    out = tmp_path / "scan.sarif"
    status, stdout, _ = run("--format", "sarif", "--jobs", "2", "--output", str(out), str(root))
    assert status == cli.ExitStatus.FINDINGS and stdout == ""
    doc = json.loads(out.read_text())
    assert doc["version"] == "2.1.0" and "sarif-2.1.0" in doc["$schema"]
    run_ = doc["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(CODES)
    assert rules[0]["shortDescription"]["text"] == CODES[rules[0]["id"]].summary
    results = run_["results"]
    assert results and all(r["ruleId"] in CODES and rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    for result in results:
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] and physical["region"]["startLine"] >= 1
    probe = next(r for r in results if r["ruleId"] == "driver-probe-failed")
    location = probe["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == Path(root / "gz" / "finding-driver-probe-failed.log.gz").as_uri()
    line = location["region"]["startLine"]
    assert "firmware version: 65535" in _text("finding-driver-probe-failed.log").decode().splitlines()[line - 1]
    switch = next(r for r in results if r["ruleId"] == "switch-failed")  # inside the sosreport
    assert switch["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("sosreport-vm8.tar.gz")
    assert "sosreport-vm8/var/log/syslog" in switch["locations"][0]["message"]["text"]
    readded = next(r for r in results if r["ruleId"] == "vf-not-readded")  # the newest file of the family
    assert readded["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("/vm7/var/log/kern.log")
    notified = {n["message"]["text"].split(": ")[0] for n in run_["invocations"][0]["toolExecutionNotifications"]}
    assert notified >= set(broken)


def test_table_lists_summary_worst_files_first_and_input_errors(fleet) -> None:
    root, logs, broken = fleet
    status, out, _ = run("--jobs", "2", "--top", "5", str(root))
    assert status == cli.ExitStatus.FINDINGS
    assert f"vflog scan: {len(logs)} files" in out
    assert "driver-probe-failed" in out and "files, worst first" in out.lower()
    listed = out.split("Files, worst first")[1].splitlines()
    assert any("unreadable" in line for line in listed[3:5])  # unreadable files lead the list
    assert f"{len(logs) - 5} more file(s) not listed" in out
    errors = out.split("Input errors:")[1]
    assert all(name in errors for name in broken)


def test_output_file_is_written_atomically(fleet, tmp_path: Path) -> None:
    root, _, _ = fleet
    target = tmp_path / "out" / "scan.jsonl"
    target.parent.mkdir()
    status, stdout, _ = run("--format", "jsonl", "-o", str(target), str(root / "gz"))
    assert status == cli.ExitStatus.FINDINGS and stdout == ""
    assert len(target.read_text().splitlines()) == 3
    assert [p.name for p in target.parent.iterdir()] == ["scan.jsonl"]
    with pytest.raises(OutputError):
        run("-o", str(tmp_path / "missing-dir" / "x.json"), str(root / "gz"))


# -- exit statuses ----------------------------------------------------------------------------------------


def test_exit_statuses(fleet, tmp_path: Path) -> None:
    root, _, _ = fleet
    clean = tmp_path / "clean"
    clean.mkdir()
    for name in ("normal-boot.log", "host-servicing.log"):
        (clean / name).write_bytes(_text(name))
    assert run(str(clean))[0] == cli.ExitStatus.OK
    assert run(str(root))[0] == cli.ExitStatus.FINDINGS
    assert run("--fail-on", "never", str(root))[0] == cli.ExitStatus.OK
    warning = root / "gz" / "finding-long-outage.log.gz"
    assert run(str(warning))[0] == cli.ExitStatus.OK
    assert run("--fail-on", "warning", str(warning))[0] == cli.ExitStatus.FINDINGS
    (tmp_path / "incomplete.log").write_bytes(_text("finding-incomplete.log"))
    assert run("--fail-on", "warning", str(tmp_path / "incomplete.log"))[0] == cli.ExitStatus.OK
    assert run("--fail-on", "info", str(tmp_path / "incomplete.log"))[0] == cli.ExitStatus.FINDINGS
    # a file that cannot be read is reported but does not fail the batch; only nothing analysed does
    status, _, err = run(str(clean), str(root / "damaged.log.gz"))
    assert status == cli.ExitStatus.OK and "damaged.log.gz" in err
    status, _, err = run(str(root / "damaged.log.gz"), str(root / "broken.zip"), str(tmp_path / "missing.log"))
    assert status == cli.ExitStatus.ERROR and "none of the 3 files could be analysed" in err
    (tmp_path / "empty").mkdir()
    assert run(str(tmp_path / "empty"))[0] == cli.ExitStatus.ERROR


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--engine", "process", "--scheduler", "tcp://127.0.0.1:1"],
                                  ["--top", "-1"], ["--threshold", "nope=1"], ["--format", "xml"], ["-"]])
def test_usage_errors(argv: list[str], fleet) -> None:
    with pytest.raises(UsageError):
        run(*argv, str(fleet[0]))


def test_wired_into_the_command_line(fleet) -> None:
    """`vflog scan` is a sub-command: JSON lines per file, exit status 1 on findings, 2 on a usage error."""
    assert "scan" in cli.COMMANDS
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["scan", "--format", "jsonl", str(fleet[0] / "gz")], {}, out, err) == cli.ExitStatus.FINDINGS
    assert len(out.getvalue().splitlines()) == 3
    assert cli.main(["scan", "--jobs", "0", str(fleet[0])], {}, io.StringIO(), err) == cli.ExitStatus.ERROR


# -- the values: small, picklable, JSON round trip, associative merge -----------------------------------------


def test_file_results_pickle_and_round_trip_through_json(scanned) -> None:
    results = scanned[2]
    assert len(results) > 10
    for result in results:
        assert pickle.loads(pickle.dumps(result)) == result
        assert FileResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    total = functools.reduce(Summary.merge, map(Summary.of, results), Summary())
    assert Summary.from_dict(json.loads(json.dumps(total.to_dict()))) == total
    assert total.to_dict() == json.loads(scanned[0])["summary"]


_SEVERITY = st.sampled_from(["error", "warning", "info"])
_NIC = st.sampled_from(["vf", "synthetic", "unknown"]).map(lambda datapath: NicReport(
    key="k", synthetic="eth0", synthetic_names=("eth0",), vmbus_id=None, slot=None, vf=None, state="unknown",
    datapath=datapath, switches_to_vf=0, switches_from_vf=0, time_to_vf=None, outages=(), timeline=()))


@st.composite
def file_results(draw: st.DrawFn) -> FileResult:
    if draw(st.integers(0, 5)) == 0:
        return FileResult("x", ("x",), error="x: cannot be read", errors=("x: cannot be read",))
    counts = draw(st.dictionaries(st.tuples(st.sampled_from(sorted(CODES)), _SEVERITY), st.integers(1, 9), max_size=4))
    return FileResult(
        "x", ("x",), errors=("x: truncated",) if draw(st.booleans()) else (),
        lines=draw(st.integers(0, 10**6)), events=draw(st.integers(0, 10**4)), unrecognised=draw(st.integers(0, 9)),
        boots=draw(st.integers(0, 4)), nics=tuple(draw(st.lists(_NIC, max_size=3))),
        counts=tuple(sorted((code, sev, n) for (code, sev), n in counts.items())))


@given(file_results(), file_results(), file_results())
def test_summary_merge_is_associative_and_commutative(a: FileResult, b: FileResult, c: FileResult) -> None:
    x, y, z = Summary.of(a), Summary.of(b), Summary.of(c)
    assert x.merge(y).merge(z) == x.merge(y.merge(z))
    assert x.merge(y) == y.merge(x)
    assert Summary().merge(x) == x == x.merge(Summary())


@given(st.lists(file_results(), max_size=12), st.randoms(use_true_random=False))
def test_any_reduction_order_gives_the_same_summary(results: list[FileResult], rnd: random.Random) -> None:
    parts = [Summary.of(r) for r in results]
    in_order = functools.reduce(Summary.merge, parts, Summary())
    shuffled = parts[:]
    rnd.shuffle(shuffled)
    while len(shuffled) > 1:  # a random tree, as a cluster would combine partial results
        i = rnd.randrange(len(shuffled) - 1)
        shuffled[i:i + 2] = [shuffled[i].merge(shuffled[i + 1])]
    assert (shuffled[0] if shuffled else Summary()) == in_order
    assert in_order.files == len(results)
    assert in_order.findings == sum(r.count() for r in results if r.error is None)


def test_per_log_bounds_keep_counts_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "probe.log"
    path.write_bytes(_text("finding-driver-probe-failed.log"))
    monkeypatch.setattr(scan_module, "FINDINGS_LIMIT", 1)
    result = analyze_one(str(path))
    assert len(result.findings) == 1 and result.findings[0].finding.code == "driver-probe-failed"
    assert result.findings_dropped == 2 and result.count() == 3 and Summary.of(result).findings == 3


def test_results_of_cut_timelines_and_outages_still_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "flap.log"
    path.write_bytes(_text("finding-datapath-flapping.log"))
    monkeypatch.setattr(scan_module, "OUTAGES_LIMIT", 1)
    result = analyze_one(str(path), vflog.Config(timeline_limit=4))
    assert len(result.nics[0].outages) == 1 and any("outage(s) not listed" in note for note in result.notes)
    assert FileResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_analyze_one_never_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(scan_module, "analyze_files", explode)
    result = analyze_one(str(tmp_path / "x.log"))
    assert result.status == "failed" and "internal error" in result.error and "boom" in result.error


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork to inject the crash")
def test_a_worker_that_dies_is_reported_and_the_batch_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(14):  # more logs than the pool keeps in flight, so it refills after each crash
        (tmp_path / f"vm{index:02d}.log").write_bytes(_text("normal-boot.log"))
    (tmp_path / "crash.log").write_bytes(_text("normal-boot.log"))
    (tmp_path / "vm09-crash.log").write_bytes(_text("normal-boot.log"))
    real = scan_module.analyze_files

    def dying(sources: list[Path], **kwargs: object) -> vflog.Report:
        if any("crash" in str(s) for s in sources):
            os._exit(3)  # as the OOM killer would
        return real(sources, **kwargs)

    monkeypatch.setattr(scan_module, "analyze_files", dying)
    results = {Path(r.path).name: r for r in scan([str(tmp_path)], jobs=2, mp_context=multiprocessing.get_context("fork"))}
    assert len(results) == 16
    assert "worker process died" in results["crash.log"].error
    assert "worker process died" in results["vm09-crash.log"].error
    assert all(r.status == "ok" and r.nics for name, r in results.items() if "crash" not in name)


# -- progress ------------------------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_off_a_terminal_and_shows_on_one(fleet) -> None:
    _, _, err = run("--jobs", "2", str(fleet[0]))
    assert all(line.startswith("vflog: ") for line in err.splitlines())  # errors only, no bar
    pytest.importorskip("tqdm")
    terminal = _Terminal()
    progress = Progress(3, terminal, enabled=True)
    progress.update(FileResult("a", lines=500, counts=(("incomplete", "info", 2),)))
    assert terminal.getvalue().strip() == ""  # not within the first moment
    time.sleep(0.6)
    progress.update(FileResult("b", lines=500))
    progress.close()
    shown = terminal.getvalue()
    assert "2/3" in shown and "lines/s" in shown and "2 findings" in shown
    quiet = _Terminal()
    Progress(3, quiet, enabled=False).update(FileResult("a"))
    assert quiet.getvalue() == ""


# -- fsspec URLs and Dask ---------------------------------------------------------------------------------


def _by_code(results: list[FileResult]) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for result in results:
        for code, _sev, n in result.counts:
            counts[code] += n
    return counts


def test_fsspec_urls_are_listed_and_read_with_fsspec(fleet, scanned) -> None:
    pytest.importorskip("fsspec")
    root, logs, broken = fleet
    url = Path(root).as_uri()
    results = list(scan([url], jobs=2))
    assert len(results) == len(logs)
    assert all(r.path.startswith("file://") for r in results)
    assert _by_code(results) == _by_code(scanned[2])
    failed = {r.path: r.status for r in results if r.status != "ok"}
    assert failed == {Path(r.path).as_uri(): r.status for r in scanned[2] if r.status != "ok"}
    assert set(failed) >= {Path(name).as_uri() for name in broken}
    sos = next(r for r in results if r.path.endswith("sosreport-vm8.tar.gz"))
    assert sos.findings[0].finding.origin.startswith(sos.path + "!sosreport-vm8/var/log/syslog:")
    globbed = list(scan([url + "/gz/*.gz"], jobs=1))
    assert sorted(Path(r.path).name for r in globbed) == sorted(p.name for p in (root / "gz").iterdir())


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        yield cluster, client


def test_dask_local_cluster_gives_the_process_pool_json(fleet, scanned) -> None:
    """The default Dask engine (a LocalCluster of 2 single-threaded worker processes) gives the same JSON."""
    pytest.importorskip("distributed")
    status, out, err = run("--engine", "dask", "--jobs", "2", "--format", "json", str(fleet[0]))
    assert status == cli.ExitStatus.FINDINGS, err
    assert out == scanned[0]


def test_dask_scheduler_address_and_cluster_side_reduction(fleet, scanned, dask_cluster) -> None:
    cluster, client = dask_cluster
    status, out, _ = run("--scheduler", cluster.scheduler_address, "--format", "json", str(fleet[0]))
    assert status == cli.ExitStatus.FINDINGS and out == scanned[0]
    expected = functools.reduce(Summary.merge, map(Summary.of, scanned[2]), Summary())
    assert summarize([str(fleet[0])], engine="dask", scheduler=client) == expected
    assert summarize([str(fleet[0])], jobs=2) == expected


def test_scan_is_lazy_and_validates_its_arguments(fleet) -> None:
    with pytest.raises(UsageError):
        scan([str(fleet[0])], engine="spark")
    with pytest.raises(UsageError):
        scan([str(fleet[0])], jobs=0)
    job = LogJob("x", ("x",), ("x",), error="x: known bad")
    assert next(iter(scan([job], jobs=1))).error == "x: known bad"


def test_empty_and_no_an_files_are_counted_apart_from_healthy_ones(tmp_path: Path) -> None:
    """An empty file cannot be analysed (failed); a file without AN lines is 'no-an-lines', never 'without findings'."""
    (tmp_path / "empty.log").write_bytes(b"")
    (tmp_path / "other.log").write_text("[    1.000000] EXT4-fs (sda1): mounted filesystem\n")
    (tmp_path / "normal.log").write_bytes(_text("normal-boot.log"))
    results = {Path(r.path).name: r for r in scan([str(tmp_path)], jobs=1)}
    assert results["empty.log"].status == "failed" and "is empty" in (results["empty.log"].error or "")
    assert results["other.log"].content == "no-an-lines" and results["normal.log"].content == "an-lines"
    summary = functools.reduce(Summary.merge, map(Summary.of, results.values()), Summary())
    assert (summary.failed, summary.silent, dict(summary.worst_files)) == (1, 1, {"none": 1})
    assert FileResult.from_dict(results["other.log"].to_dict()).content == "no-an-lines"
