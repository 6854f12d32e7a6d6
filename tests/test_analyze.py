"""Tests of the library entry points and of the pipeline's boot and NIC handling."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

import vflog
from vflog.analyze import Analyzer

from . import converters

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
GUID = "000d3af5-76bd-000d-3af5-76bd000d3af5"
BOOT = (SAMPLES / "normal-boot.log").read_text()


def _summary(report: vflog.Report) -> list[tuple[str | None, str]]:
    return [(nic.synthetic, nic.datapath) for boot in report.boots for nic in boot.nics]


def test_analyze_accepts_every_kind_of_source(tmp_path: Path) -> None:
    """A path, a str path, text (analyze_text), bytes, a text stream, a binary stream, lines and .gz give one verdict."""
    path = tmp_path / "boot.log"
    path.write_text(BOOT)
    packed = tmp_path / "boot.log.gz"
    packed.write_bytes(gzip.compress(BOOT.encode()))
    sources = [path, str(path), BOOT.encode(), bytearray(BOOT.encode()), memoryview(BOOT.encode()), io.StringIO(BOOT), io.BytesIO(BOOT.encode()),
               BOOT.splitlines(), packed, tmp_path / "boot.weird-name"]
    (tmp_path / "boot.weird-name").write_bytes(gzip.compress(BOOT.encode()))
    verdicts = {str(_summary(vflog.analyze(source))) for source in sources}
    verdicts.add(str(_summary(vflog.analyze_text(BOOT))))
    assert verdicts == {str([("eth0", "vf")])}


def test_unreadable_path_raises_input_error(tmp_path: Path) -> None:
    """A missing file is an InputError, which is also an OSError."""
    with pytest.raises(vflog.InputError) as info:
        vflog.analyze(tmp_path / "nope.log")
    assert isinstance(info.value, OSError)


def test_truncated_gzip_is_an_input_error_after_what_was_read(tmp_path: Path) -> None:
    """A truncated .gz yields a clear error naming the file; lines before the damage still count."""
    packed = gzip.compress(BOOT.encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(packed[: len(packed) // 2])
    report = vflog.analyze_files([str(path)])
    assert report.errors and "cut.log.gz" in report.errors[0]
    assert report.stats.lines > 0


def test_linux_version_and_time_going_back_start_new_boots() -> None:
    """Three boots in one file (two Linux version lines and a clock reset) are reported separately."""
    no_banner = "\n".join(line for line in BOOT.splitlines() if "Linux version" not in line)
    report = vflog.analyze_text(BOOT + BOOT + no_banner)
    assert len(report.boots) == 3
    assert [b.index for b in report.boots] == [0, 1, 2]
    assert all(_summary_boot == [("eth0", "vf")] for _summary_boot in
               ([(n.synthetic, n.datapath) for n in b.nics] for b in report.boots))
    assert report.boots[1].kernel == report.boots[0].kernel == "5.15.0-1057-azure"


def test_partial_log_starting_mid_life_has_no_unexpected_event() -> None:
    """A tail that starts with a switch back from the VF is not out of order."""
    text = (f"[8160.9] hv_netvsc {GUID} eth0: Data path switched from VF: enP53091s1np0\n"
            f"[8160.91] hv_netvsc {GUID} eth0: VF unregistering: enP53091s1np0\n"
            f"[8162.0] hv_netvsc {GUID} eth0: VF slot 1 removed\n")
    report = vflog.analyze_text(text)
    assert [f.code for f in report.findings] == ["incomplete"]
    assert report.boots[0].nics[0].state == "vf-removed"


def test_veth_rename_is_not_a_vf_rename() -> None:
    """A rename line without driver and PCI prefix (docker veth) never touches a NIC."""
    text = BOOT + "[   30.0] eth0: renamed from vethf9a5043\n"
    nic = vflog.analyze_text(text).boots[0].nics[0]
    assert "vethf9a5043" not in nic.vf.names and nic.synthetic == "eth0"


def test_non_nic_pci_devices_never_become_vfs() -> None:
    """GPU, virtio and NVMe functions on hv_pci buses are not VFs and create no NIC."""
    text = "".join(
        f"[ 0.{i}] hv_pci 1{i}4bfba2-6b19-4280-9ecb-1d72e843736b: PCI host bridge to bus {dom}:00\n"
        f"[ 0.{i}1] pci {dom}:00:00.0: [{ids}] type 00 class {cls}\n"
        for i, (dom, ids, cls) in enumerate([("6b19", "1414:008e", "0x030200"),
                                             ("baf8", "1af4:1049", "0x010000"),
                                             ("c05b", "1414:b111", "0x010802")]))
    report = vflog.analyze_text(text)
    assert report.boots[0].nics == () and report.findings == ()


def test_events_carry_boot_and_nic() -> None:
    """vflog.events yields each recognised line with its boot and NIC key, in line order."""
    routed = list(vflog.events(SAMPLES / "normal-boot.log"))
    assert [r.event.line for r in routed] == sorted(r.event.line for r in routed)
    register = next(r for r in routed if r.event.kind == "vf_registering")
    firmware = next(r for r in routed if r.event.kind == "driver_init")
    assert register.nic == firmware.nic == GUID
    assert all(r.boot == 0 for r in routed)


def test_report_to_dict_is_json_ready() -> None:
    """to_dict gives plain JSON types with severities as strings."""
    import json
    data = vflog.analyze(SAMPLES / "finding-switch-failed.log").to_dict()
    text = json.dumps(data)
    assert '"severity": "error"' in text and data["boots"][0]["findings"][0]["code"] == "switch-failed"


def test_timeline_is_bounded_and_says_so() -> None:
    """A NIC's timeline keeps its first and last entries and counts what it cut."""
    flaps = "".join(f"[{100 + i}.0] hv_netvsc {GUID} eth0: Data path switched {'from' if i % 2 == 0 else 'to'} VF: eth1\n"
                    for i in range(400))
    report = vflog.analyze_text(BOOT + flaps, config=vflog.Config(timeline_limit=50))
    nic = report.boots[0].nics[0]
    assert len(nic.timeline) == 50 and nic.timeline_dropped > 300
    assert nic.timeline[-1].line == report.stats.lines


def test_public_api_is_curated() -> None:
    """Every name in __all__ exists and the package is typed."""
    for name in vflog.__all__:
        assert hasattr(vflog, name), name
    assert (Path(vflog.__file__).parent / "py.typed").exists()


@pytest.mark.parametrize("sample", ["normal-boot.log", "host-servicing.log", "multi-nic-mana.log",
                                    "finding-kernel-trace.log", "finding-udev-rename-failed.log"])
@pytest.mark.parametrize("fmt", ["dmesg", "journal_short_monotonic", "syslog_rfc3164", "journal_json", "dmesg_json"])
def test_block_search_gives_the_per_line_verdict(sample: str, fmt: str) -> None:
    """Reading whole blocks (only candidate lines parsed) reports exactly what reading every line does."""
    text = converters.TEXT_FORMATS[fmt]((SAMPLES / sample).read_text()) if fmt != "dmesg" \
        else (SAMPLES / sample).read_text()
    by_block, by_line = Analyzer(), Analyzer()
    for analyzer in (by_block, by_line):
        analyzer.start_input("log", 1)
    by_block.feed_block(1, text)
    assert by_block._block_path.layout == {"dmesg": "dmesg", "journal_json": "json", "dmesg_json": "json"}.get(fmt, "syslog")  # the fast path ran
    for number, line in enumerate(text.splitlines(), 1):
        by_line.feed(number, line)
    assert by_block.finish().to_dict(unrecognised=True) == by_line.finish().to_dict(unrecognised=True)


def test_nothing_to_analyse_is_not_healthy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An empty input is 'empty'; text without any AN line is 'no-an-lines' and the table says so, with no all-clear."""
    from vflog.render import render_table
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert vflog.analyze(empty).content == "empty"
    other = tmp_path / "other.log"
    other.write_text("[    1.000000] EXT4-fs (sda1): mounted filesystem\n[    2.0] systemd[1]: Started Journal.\n")
    report = vflog.analyze(other)
    assert report.content == "no-an-lines" and report.to_dict()["content"] == "no-an-lines"
    table = render_table(report)
    assert "No Accelerated Networking lines: none of the 2 lines" in table and "Findings: none" not in table
    assert vflog.analyze(SAMPLES / "normal-boot.log").content == "an-lines"
