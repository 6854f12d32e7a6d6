"""Every log format gives the same verdict for the same kernel messages (issue: read every log)."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
import gzip
import bz2
import lzma
from pathlib import Path

import pytest

import vflog
from vflog.formats import Reader

from . import converters

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
BOOT = (SAMPLES / "normal-boot.log").read_text()
SERVICING = (SAMPLES / "host-servicing.log").read_text()
USERSPACE = (SAMPLES / "finding-vf-managed-by-userspace.log").read_text()
PROBE = (SAMPLES / "finding-vf-not-readded.log").read_text()


def _userspace_dmesg() -> str:
    """The userspace sample with its journal prefix turned back into plain dmesg lines."""
    return "".join(line.replace(" vm-web-01 kernel: ", " ").replace(" vm-web-01 ", " ") + "\n"
                   for line in USERSPACE.splitlines())


def verdict(report: vflog.Report) -> tuple[object, ...]:
    """The NIC verdicts and the findings, without line numbers (which differ between formats)."""
    nics = tuple(
        (n.key, n.synthetic, n.state, n.datapath, n.switches_to_vf, n.switches_from_vf,
         None if n.vf is None else (n.vf.name, n.vf.pci, n.vf.driver, n.vf.device_id))
        for boot in report.boots for n in boot.nics)
    findings = tuple(sorted({(f.code, f.severity.value, f.nic) for f in report.findings}))
    return len(report.boots), nics, findings


CASES = {"boot": BOOT, "servicing": SERVICING, "not-readded": PROBE}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", sorted(converters.TEXT_FORMATS))
def test_every_text_format_gives_the_same_verdict(fmt: str, case: str) -> None:
    """The seed's boot and servicing logs in each format give the verdict of the plain dmesg."""
    text = CASES[case]
    expected = verdict(vflog.analyze_text(text))
    rendered = converters.TEXT_FORMATS[fmt](text)
    got = verdict(vflog.analyze_text(rendered))
    if fmt == "no_timestamps":  # without time, a missing re-add cannot be judged: incomplete instead
        expected = (expected[0], expected[1], tuple(
            ("incomplete", "info", nic) if code == "vf-not-readded" else (code, sev, nic)
            for code, sev, nic in expected[2]))
    assert got == expected
    assert vflog.analyze_text(rendered).stats.unrecognised == 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_journal_export_gives_the_same_verdict(case: str) -> None:
    """journalctl -o export (binary-safe fields included) reads like the dmesg it came from."""
    text = CASES[case]
    assert verdict(vflog.analyze(converters.journal_export(text))) == verdict(vflog.analyze_text(text))


@pytest.mark.parametrize("fmt", ["journal_json", "journal_json_bytes", "journal_short_monotonic", "syslog_rfc5424",
                                 "rsyslog_precise"])
def test_userspace_lines_in_journal_and_syslog_form(fmt: str) -> None:
    """systemd-networkd configuring the VF is seen in journal and syslog renderings too."""
    rendered = converters.TEXT_FORMATS[fmt](_userspace_dmesg())
    codes = {f.code for f in vflog.analyze_text(rendered).findings}
    assert "vf-managed-by-userspace" in codes


def test_wall_clock_only_format_says_which_clock() -> None:
    """Formats with wall-clock time only report the wall clock; monotonic formats the monotonic one."""
    assert vflog.analyze_text(converters.journal_short_iso(BOOT)).boots[0].clock == "wall"
    assert vflog.analyze_text(converters.journal_json(BOOT)).boots[0].clock == "monotonic"
    assert vflog.analyze_text(converters.no_timestamps(BOOT)).boots[0].clock is None


def test_time_zone_is_never_guessed() -> None:
    """A wall time without offset is read in --tz (UTC by default); an offset in the text wins."""
    line = "Sep 03 05:08:01 vm kernel: hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added\n"
    utc = vflog.analyze_text(line).boots[0].t_start
    berlin = vflog.analyze_text(line, config=vflog.Config(tz="Europe/Berlin")).boots[0].t_start
    assert utc - berlin == 7200
    offset = "2026-09-03T05:08:01+02:00 vm kernel: hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added\n"
    assert vflog.analyze_text(offset, config=vflog.Config(tz="America/New_York")).boots[0].t_start == 1788404881.0


def test_three_boots_in_one_file() -> None:
    """A file with three boots (serial console across reboots) reports three boots."""
    console = converters.serial_console(BOOT) * 3
    assert len(vflog.analyze_text(console).boots) == 3
    journal = "".join(converters.journal_short(BOOT) + "-- Reboot --\n" for _ in range(3))
    no_banner = "\n".join(l for l in journal.splitlines() if "Linux version" not in l) + "\n"
    assert len(vflog.analyze_text(no_banner).boots) == 3


def test_journal_boot_ids_split_boots() -> None:
    """journalctl -o json without -b: a new _BOOT_ID starts a new boot."""
    first = converters.journal_json(BOOT)
    second = first.replace(converters.BOOT_ID, "0" * 32)
    no_banner = "\n".join(l for l in (first + second).splitlines() if "Linux version" not in l) + "\n"
    report = vflog.analyze_text(no_banner)
    assert len(report.boots) == 2
    assert all(b.nics[0].datapath == "vf" for b in report.boots)


def test_rotated_files_give_one_continuous_story(tmp_path: Path) -> None:
    """The same lines split across kern.log.1 and kern.log read as one story, oldest first."""
    lines = converters.syslog_rfc3164(SERVICING).splitlines(keepends=True)
    cut = next(i for i, l in enumerate(lines) if "Data path switched from VF" in l and "Sep 03 07" in l)
    logs = tmp_path / "var" / "log"
    logs.mkdir(parents=True)
    (logs / "kern.log.1").write_text("".join(lines[:cut + 1]))
    (logs / "kern.log").write_text("".join(lines[cut + 1:]))
    (logs / "syslog").write_text("unrelated\n")
    whole = verdict(vflog.analyze_text(converters.syslog_rfc3164(SERVICING)))
    assert verdict(vflog.analyze(tmp_path)) == whole
    assert verdict(vflog.analyze_files([str(logs / "kern.log.1"), str(logs / "kern.log")])) == whole
    outages = vflog.analyze(tmp_path).boots[0].nics[0].outages
    assert [round(o.seconds or 0) for o in outages if o.vf_removed] == [65]


def _tar(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_sosreport_tarball_picks_the_kernel_logs(tmp_path: Path) -> None:
    """A sosreport .tar.xz: var/log/messages* are read (rotated oldest first), other files skipped."""
    text = converters.syslog_rfc3164(SERVICING)
    half = len(text.splitlines()) // 2
    old, new = "\n".join(text.splitlines()[:half]) + "\n", "\n".join(text.splitlines()[half:]) + "\n"
    members = {
        "sosreport-vm-2026/var/log/messages": new.encode(),
        "sosreport-vm-2026/var/log/messages-20260901": gzip.compress(old.encode()),
        "sosreport-vm-2026/sos_commands/kernel/dmesg": converters.dmesg(BOOT).encode(),
        "sosreport-vm-2026/etc/hosts": b"127.0.0.1 localhost\n",
    }
    path = tmp_path / "sosreport-vm-2026.tar.xz"
    path.write_bytes(_tar(members, "w:xz"))
    report = vflog.analyze(path)
    assert verdict(report) == verdict(vflog.analyze_text(text))
    assert report.sources == ("%s!sosreport-vm-2026/var/log/messages-20260901" % path,
                              "%s!sosreport-vm-2026/var/log/messages" % path)
    assert report.notes and "skipped" in report.notes[0]


def test_waagent_logs_zip(tmp_path: Path) -> None:
    """A WALinuxAgent logs.zip: the syslog inside is read, the agent's own log is not."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("var/log/waagent.log", "2026-09-03T05:08:01.000000Z INFO Daemon Azure Linux Agent\n")
        archive.writestr("var/log/syslog", converters.rsyslog_precise(SERVICING))
    path = tmp_path / "logs.zip"
    path.write_bytes(buffer.getvalue())
    assert verdict(vflog.analyze(path)) == verdict(vflog.analyze_text(SERVICING))


def test_corrupt_member_does_not_stop_the_others(tmp_path: Path) -> None:
    """A damaged member gives a per-member error; the rotated set's other files are analysed."""
    good = converters.syslog_rfc3164(BOOT).encode()
    damaged = gzip.compress(good)[:200]
    members = {"var/log/kern.log.2.gz": damaged, "var/log/kern.log.1": b"", "var/log/kern.log": good}
    path = tmp_path / "logs.tgz"
    path.write_bytes(_tar(members))
    report = vflog.analyze_files([str(path)])
    assert len(report.errors) == 1 and "kern.log.2.gz" in report.errors[0]
    assert report.boots[0].nics[0].datapath == "vf"


def test_truncated_gz_is_a_clear_error_and_other_files_go_on(tmp_path: Path) -> None:
    """A truncated .gz names itself in an error; the next file is still read."""
    cut = tmp_path / "dmesg.1.gz"
    packed = gzip.compress(BOOT.encode())
    cut.write_bytes(packed[: len(packed) // 2])
    report = vflog.analyze_files([str(cut), str(SAMPLES / "host-servicing.log")])
    assert "dmesg.1.gz" in report.errors[0] and "truncated" in report.errors[0]
    assert report.boots[-1].nics[0].datapath == "vf"


@pytest.mark.parametrize("pack", [gzip.compress, bz2.compress, lzma.compress], ids=["gz", "bz2", "xz"])
def test_compression_is_detected_by_content(tmp_path: Path, pack) -> None:
    """A compressed log without a telling name is still read."""
    path = tmp_path / "capture"
    path.write_bytes(pack(BOOT.encode()))
    assert verdict(vflog.analyze(path)) == verdict(vflog.analyze_text(BOOT))


def test_zstd_is_read(tmp_path: Path) -> None:
    """zstd (.zst) input is read through the zstandard package."""
    zstandard = pytest.importorskip("zstandard")
    path = tmp_path / "kern.log.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(BOOT.encode()))
    assert verdict(vflog.analyze(path)) == verdict(vflog.analyze_text(BOOT))


def test_reader_decodes_kmsg_continuations_and_markers() -> None:
    """kmsg continuation lines and journal markers are metadata, not log content."""
    reader = Reader()
    records = [r for i, line in enumerate([
        "6,339,5140900,-;hv_vmbus: registering driver hv_netvsc", " SUBSYSTEM=vmbus",
        "-- Boot 5ba2e3b7c0a94f8c9d1e2f3a4b5c6d7e --"], 1) for r in reader.feed(i, line)]
    assert records[0].text == "hv_vmbus: registering driver hv_netvsc" and records[0].stamp.t == 5.1409
    assert records[1].filler and records[2].boot_id == "5ba2e3b7c0a94f8c9d1e2f3a4b5c6d7e"


def _no_constants(name: str) -> object:
    raise AssertionError(f"not strict JSON: {name}")


_GUID = "000d3af5-76bd-000d-3af5-76bd000d3af5"
_HOSTILE = [
    f"[    1.000000] hv_netvsc {_GUID} eth0: VF slot 1 added",
    f"[nan] hv_netvsc {_GUID} eth0: VF registering: eth1",
    "[inf] mlx5_core 0001:00:02.0 eth1: joined to eth0",
    "[1e308] mlx5_core 0001:00:02.0 eth1: Link up",
    f"[1_000.5] hv_netvsc {_GUID} eth0: Data path switched to VF: eth1",
    f"[-5.0] hv_netvsc {_GUID} eth0: Data path switched from VF: eth1",
    f"[  +{'9' * 400}.0] hv_netvsc {_GUID} eth0: Data path switched to VF: eth1",
    f"6,1,{'9' * 30},-;hv_netvsc {_GUID} eth0: Data path switched from VF: eth1",
    f"6,2,{'9' * 5000},-;hv_netvsc {_GUID} eth0: Data path switched to VF: eth1",
    '{"time": NaN, "msg": "hv_netvsc %s eth0: Data path switched from VF: eth1"}' % _GUID,
    '{"time": 1e400, "msg": "hv_netvsc %s eth0: Data path switched to VF: eth1"}' % _GUID,
    '{"time_usec": true, "msg": "hv_netvsc %s eth0: Data path switched from VF: eth1"}' % _GUID,
    '{"__MONOTONIC_TIMESTAMP": "%s", "MESSAGE": "hv_netvsc %s eth0: Data path switched to VF: eth1"}' % ("1" * 5000, _GUID),
    '{"_SOURCE_MONOTONIC_TIMESTAMP": "\u00b2", "MESSAGE": "hv_netvsc %s eth0: Data path switched from VF: eth1"}' % _GUID,
]


@pytest.mark.parametrize("read", [lambda text: vflog.analyze(text.encode()), lambda text: vflog.analyze(iter(text.splitlines()))],
                         ids=["blocks", "lines"])
def test_hostile_timestamps_give_no_time_and_strict_json(read) -> None:
    """[nan], [inf], [1e308], [1_000.5], [-5.0], huge kmsg and delta stamps, NaN/Infinity/huge JSON times:
    no time for those lines, and the JSON report stays strictly valid."""
    report = read("\n".join(_HOSTILE) + "\n")
    json.loads(json.dumps(report.to_dict()), parse_constant=_no_constants)
    timeline = report.boots[0].nics[0].timeline
    assert len(timeline) == len(_HOSTILE)
    assert [entry.t for entry in timeline if entry.line != 1] == [None] * (len(timeline) - 1)
