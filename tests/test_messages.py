"""The message catalogue: every message our drivers print is recognised, and its kernel level judged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

from vflog import analyze_text as analyze
from vflog.catalogue import Severity
from vflog.drivers import DRIVERS, error_code, printed_by, read_prefix
from vflog.events import Level
from vflog.grammar import parse_message
from vflog.errors import ParseError
from vflog.machine import INPUTS
from vflog.messages import CATALOGUED, CONVERSION, Row, catalogue, driver_event, lookup
from vflog.report import Report
from vflog.rules import _KIND_CODES

ROOT = Path(__file__).resolve().parents[1]
HEALTHY = (ROOT / "samples" / "normal-boot.log").read_text(encoding="utf-8").splitlines()
#: The healthy boot's first switch of the data path to the VF; test lines go right after it.
SWITCH = next(i for i, line in enumerate(HEALTHY) if "Data path switched to VF" in line)
STAMP = "[    8.500000] "

#: The names the healthy boot's NIC goes by.
SYNTHETIC_GUID, SYNTHETIC, VF_PCI, VF_NAME = ("000d3af5-76bd-000d-3af5-76bd000d3af5", "eth0", "cf63:00:02.0",
                                              "enP53091s1np0")
HV_PCI_GUID = "e9ac9b28-cf63-4466-9ae3-4b849c3ee03b"
#: Macros that print on a netdev (``<driver> <device> <ifname>: ``); the health reporters' texts too.
NETDEV_MACROS = re.compile(r"^(?:netdev_|netif_|mlx5e_dbg|s?n?printf\(err_str\))")
#: Macros of mlx5 that add ``<func>:<line>:(pid <N>): `` after the device.
FUNCLINE_MACROS = re.compile(r"^(?:mlx5_core_(?!info\b)|fs_|qos_|mlx5e_rss_warn|mlx5_log)")
#: Macros whose format prints no message line of its own (the WARN/BUG family, hex dumps).
SKIPPED_MACROS = re.compile(r"^(?:WARN|BUG|RCU_|print_hex_dump|netdev_WARN)")
#: Plausible values for each conversion, by its last letters.
VALUES = {"d": "5", "i": "5", "u": "5", "x": "1f", "X": "1F", "o": "7", "c": "x", "s": "abc", "p": "00000000a1b2c3d4"}
POINTER_VALUES = (("M", "00:0d:3a:f5:76:bd"), ("I4", "10.0.0.4"), ("I6", "fe80::1"), ("U", SYNTHETIC_GUID),
                  ("R", "[mem 0xfe0000000-0xfe00fffff 64bit pref]"), ("e", "-EIO"), ("NF", "0x0"),
                  ("ad", "0x1000"), ("bl", "0-3"), ("h", "01 02"))


def _value(match: re.Match[str]) -> str:
    """Return a plausible value printed by one conversion."""
    if match["percent"]:
        return "%"
    pointer = match["pointer"]
    if pointer is not None:
        body = pointer.lstrip("*")[1:]
        return next((value for key, value in POINTER_VALUES if body.startswith(key)), VALUES["p"])
    value = VALUES[match["conv"]]
    return "0x" + value if "#" in (match["flags"] or "") else value


def _text(fmt: str) -> str:
    """Return the first line format string *fmt* prints with plausible values."""
    fmt = fmt.split("\\n", 1)[0]
    return CONVERSION.sub(_value, fmt).replace("\\t", "\t").replace('\\"', '"').replace("\\\\", "\\")


def render(row: Row) -> str:
    """Return the kernel message *row* prints, with the prefix its macro puts in front (kernel-formats.md §3)."""
    macro, driver = row.macro, row.driver.split("|")[0]
    text = _text(row.format)
    if driver == "vmbus":  # dev_* on a VMBus child device prints the bound driver's name
        return f"hv_netvsc {SYNTHETIC_GUID}: {text}"
    if driver == "hv_netvsc":
        if NETDEV_MACROS.match(macro):
            return f"hv_netvsc {SYNTHETIC_GUID} {SYNTHETIC}: {text}"
        return f"hv_netvsc {SYNTHETIC_GUID}: {text}" if macro.startswith("dev_") else f"hv_netvsc: {text}"
    if driver == "hv_vmbus":
        return f"hv_vmbus: {text}"
    if driver == "hv_pci":
        return f"hv_pci {HV_PCI_GUID}: {text}"
    if driver == "pci_bus":
        return f"pci_bus {VF_PCI.rsplit(':', 1)[0]}: {text}"
    if macro.startswith(("pr_", "printk")):
        return text if text.startswith(driver + ": ") else f"{driver}: {text}"
    if macro.startswith("en_"):
        return f"mlx4_en: {VF_NAME}: {text}"
    if NETDEV_MACROS.match(macro):
        return f"{driver} {VF_PCI} {VF_NAME}: {text}"
    if FUNCLINE_MACROS.match(macro):
        qos = "QoS: " if macro.startswith("qos_") else ""
        return f"{driver} {VF_PCI}: {row.function}:1234:(pid 321): {qos}{text}"
    return f"{driver} {VF_PCI}: {text}"


def scoped_rows(levels: tuple[str, ...]) -> Iterator[Row]:
    """Yield the catalogue's Linux rows of our drivers at *levels* that print a message line."""
    for row in catalogue().rows:
        if row.level in levels and row.driver != "(none)" and CONVERSION.sub("", row.format).strip() \
                and not SKIPPED_MACROS.match(row.macro):
            yield row


def _id(row: Row) -> str:
    return f"{row.driver.split('|')[0]}:{row.function}:{row.format[:40]}"


ERROR_ROWS = list(scoped_rows(("err", "warn")))
INFO_ROWS = list(scoped_rows(("info", "notice", "debug")))


def _analyse(line: str | None) -> Report:
    """Return the report of the healthy boot with *line* inserted after its first switch to the VF."""
    lines = list(HEALTHY)
    if line is not None:
        lines.insert(SWITCH + 1, STAMP + line)
    return analyze("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def baseline() -> tuple[str, str]:
    """The healthy boot's NIC state and data path, read once."""
    report = _analyse(None)
    (nic,) = report.boots[0].nics
    assert not report.boots[0].findings
    return nic.state, nic.datapath


def _grammar_kind(message: str) -> str | None:
    """Return the kind the hand-written grammar gives *message*, or None when it does not parse it."""
    try:
        return parse_message(message).kind
    except ParseError:
        return None


def _expected(row: Row, message: str) -> Severity:
    """Return the severity a line of *row* must be judged at: its level, or the highest level of the
    rows that print the very same text (the line cannot tell them apart)."""
    prefix = read_prefix(message)
    assert prefix is not None
    rows = [r for r in catalogue().rows if r.format == row.format and set(r.driver.split("|")) & set(row.driver.split("|"))]
    if prefix.funcline is not None:
        rows = [r for r in rows if r.function == row.function] or rows
    worst = max((r.severity for r in rows), key=lambda level: ("info", "warning", "error").index(level.value))
    return Severity(worst.value)


#: Kinds whose finding code is their own (switch-failed, isolated-vm, ...): their severity is the code's.
OWN_CODES = {"switch-failed", "driver-probe-failed", "isolated-vm", "surprise-removal", "udev-rename-failed"}


def _benign_by_grammar(kind: str | None) -> bool:
    """Return whether the hand-written grammar reads a line as a benign message of the story (not a fault
    kind, not a machine input): such readings are deliberate and keep their level."""
    return kind is not None and kind not in INPUTS and not kind.startswith(("err_", "warn_")) and kind != "probe_failed"


@pytest.mark.parametrize("row", ERROR_ROWS, ids=list(map(_id, ERROR_ROWS)))
def test_every_error_and_warning_of_the_catalogue_raises_the_drivers_finding(row: Row, baseline: tuple[str, str]) -> None:
    """Every err- and warn-level Linux row of our drivers, printed with its macro's prefix inside a healthy
    boot, raises the driver's finding at the row's severity, and the NIC's state and data path stay.

    Left out: rows of the catalogue's ``(none)`` driver (WARN*/BUG* texts that follow a cut-here line
    without a driver prefix, hex dumps, pr_* lines of files without a pr_fmt), rows whose format is
    empty or only conversions (WARN_ON, BUG_ON, the raw ``"%s"`` call sites of composed messages,
    whose texts are rows of their own); see test_row_counts.  Lifecycle lines that the grammar reads
    as machine inputs move the NIC by design: for them only the finding is checked.  Lines the
    grammar reads as benign messages of the story (``Disabling LRO``, ``log_max_qp``, mlx4's
    ``Sending reset``, the lines of a firmware health dump whose head line is the finding) keep the
    grammar's reading; for them nothing may change.
    """
    message = render(row)
    report = _analyse(message)
    line = SWITCH + 2
    findings = [f for f in report.boots[-1].findings if f.line == line or line in f.evidence]
    kind = _grammar_kind(message)
    nics = [n for n in report.boots[-1].nics if not n.key.startswith("pci:")]
    if _benign_by_grammar(kind):
        assert not [f for f in findings if f.severity is not Severity.INFO], (message, findings)
        assert [(n.state, n.datapath) for n in nics] == [baseline], message
        return
    expected = _expected(row, message)
    driver = read_prefix(message).driver  # type: ignore[union-attr]
    codes = {error_code(driver), error_code(printed_by(row.file))} - {None}
    assert any((f.code in codes and f.severity is expected) or f.code in OWN_CODES for f in findings), (message, findings)
    if kind not in INPUTS:
        assert [(n.state, n.datapath) for n in nics] == [baseline], message


def test_row_counts() -> None:
    """The parametrised tests cover the rows they say: of the 2,108 err/warn Linux rows, 1,862 are tested;
    the 246 left out are 243 rows of the ``(none)`` driver and 3 whose format is only conversions;
    42 of the tested rows are lines the grammar reads as benign."""
    errors = [r for r in catalogue().rows if r.level in ("err", "warn")]
    assert (len(catalogue().rows), len(errors), len(ERROR_ROWS)) == (2663, 2108, 1862)
    left_out = [r for r in errors if r not in ERROR_ROWS]
    assert sum(r.driver == "(none)" for r in left_out) == 243
    assert sum(_benign_by_grammar(_grammar_kind(render(r))) for r in ERROR_ROWS) == 42


@pytest.mark.parametrize("row", INFO_ROWS, ids=list(map(_id, INFO_ROWS)))
def test_info_rows_raise_nothing_above_info(row: Row, baseline: tuple[str, str]) -> None:
    """Each info, notice and debug row of our drivers (535) raises no finding above info when its line is
    inserted in a healthy boot, unless another row with the same text has a higher level; lifecycle
    lines are judged by the machine and the rules of their kind instead."""
    message = render(row)
    kind = _grammar_kind(message)
    if kind in INPUTS or kind in _KIND_CODES:
        return  # lifecycle lines are judged by the machine and the rules of their kind, not by a level
    report = _analyse(message)
    line = SWITCH + 2
    worst = max((f.severity.rank for f in report.boots[-1].findings if f.line == line or line in f.evidence), default=0)
    assert worst <= _expected(row, message).rank, message


def test_every_scoped_row_is_rendered_and_matched_to_a_row_of_its_level() -> None:
    """The catalogue matches every rendered err/warn row of our drivers (to itself or a row of the same text)."""
    missing = []
    for row in ERROR_ROWS:
        message = render(row)
        event = driver_event(message)
        if _grammar_kind(message) is None and (event is None or event.kind != CATALOGUED):
            missing.append(message)
    assert not missing, missing[:20]


def test_mlx5_firmware_command_failures_with_and_without_err() -> None:
    """mlx5's firmware-command failure is read in both forms: mlx5_cmd_check (4.19, 5.4) and
    mlx5_cmd_out_err (6.6+, with ``, err(%d)``), each an error in the function that printed it."""
    old = ("mlx5_core cf63:00:02.0: mlx5_cmd_check:772:(pid 2042): CREATE_MKEY(0x200) op_mod(0x0) failed, "
           "status bad resource state(0x9), syndrome (0x4a6e4c)")
    new = ("mlx5_core cf63:00:02.0: mlx5_cmd_out_err:838:(pid 1234): QUERY_VPORT_COUNTER(0x770) op_mod(0x0) failed, "
           "status bad parameter(0x3), syndrome (0x1b2c3d), err(-22)")
    for message, function in ((old, "mlx5_cmd_check"), (new, "mlx5_cmd_out_err")):
        event = driver_event(message)
        assert event is not None and event.kind == CATALOGUED and event.level is Level.ERROR
        assert event.get("function") == function and event.get("func") == function
        report = _analyse(message)
        (finding,) = report.boots[0].findings
        assert (finding.code, finding.severity) == ("vf-driver-error", Severity.ERROR)
        assert f"{function}(), kernel level err, in Linux" in finding.message  # what the driver was doing


def test_hv_pci_device_is_gone_is_judged() -> None:
    """hv_pci's ``The device is gone.`` (the vPCI channel rescinded under a pending request) no longer
    passes as healthy: it gives hv-pci-error, at error severity because the VF was in use (see
    tests/test_rules.py for the warning when it was not), and as the VF's removal while on the VF it is a
    surprise removal (error)."""
    report = _analyse(f"hv_pci {HV_PCI_GUID}: The device is gone.")
    codes = {(f.code, f.severity) for f in report.boots[0].findings}
    assert ("hv-pci-error", Severity.ERROR) in codes
    assert ("surprise-removal", Severity.ERROR) in codes


def test_unknown_failure_of_our_driver_is_a_warning_not_in_the_catalogue() -> None:
    """A driver line the catalogue does not know stays unrecognised (and listed), but when its words
    say something failed it raises the driver's finding at warning severity, marked as not catalogued."""
    message = f"mana {VF_PCI}: HWC queue 3 setup failed with a status nobody printed before"
    report = _analyse(message)
    assert report.stats.unrecognised == 1 and report.unrecognised[0].text.endswith(message)
    (finding,) = report.boots[0].findings
    assert (finding.code, finding.severity) == ("vf-driver-error", Severity.WARNING)
    assert "not in the catalogue" in finding.message


def test_unknown_benign_line_of_our_driver_stays_unrecognised_without_finding() -> None:
    """A driver line neither grammar nor catalogue knows, with no word of failure, is only counted unrecognised."""
    report = _analyse(f"mlx5_core {VF_PCI} {VF_NAME}: a chatty message from a newer kernel")
    assert report.stats.unrecognised == 1
    assert not report.boots[0].findings


def test_catalogued_lines_count_as_recognised_and_keep_their_row() -> None:
    """A line matched in the catalogue is a recognised event that carries the row's function, versions and notes."""
    message = f"mana {VF_PCI} {VF_NAME}: Failed to create WQ object: -5"
    event = driver_event(message)
    if event is None or event.kind != CATALOGUED:  # the exact text depends on the catalogue; take a real row
        row = next(r for r in ERROR_ROWS if r.driver == "mana" and r.macro == "netdev_err")
        message = render(row)
        event = driver_event(message)
    assert event is not None and event.kind == CATALOGUED
    assert {"function", "versions", "notes", "file", "catalogue_level"} <= set(event.fields)
    assert (event.driver, event.device, event.ifname) == ("mana", VF_PCI, VF_NAME)
    baseline_events = _analyse(None).stats.events
    report = _analyse(message)
    assert report.stats.events == baseline_events + 1 and report.stats.unrecognised == 0


@pytest.mark.parametrize("message, device, ifname", [
    (f"hv_netvsc uuid {SYNTHETIC}: VF slot 1 added", "uuid", SYNTHETIC),
    (f"hv_netvsc <GUID> {SYNTHETIC}: VF slot 1 added", "<GUID>", SYNTHETIC),
    (f"hv_netvsc XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX {SYNTHETIC}: VF slot 1 added",
     "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", SYNTHETIC),
    (f"hv_netvsc {SYNTHETIC_GUID.upper()} {SYNTHETIC}: VF slot 1 added", SYNTHETIC_GUID.upper(), SYNTHETIC),
    ("mlx5_core xxxx:00:02.0 enP1s1: Link up", "xxxx:00:02.0", "enP1s1"),
    ("mlx5_core cf63:00:02.0: QoS: anything", "cf63:00:02.0", None),
    (f"hv_netvsc {SYNTHETIC_GUID} (unnamed net_device) (uninitialized): anything", SYNTHETIC_GUID,
     "(unnamed net_device)"),
])
def test_prefix_level_reads_any_device_token(message: str, device: str, ifname: str | None) -> None:
    """The prefix level reads driver, device and interface whatever stands where the id should (redacted,
    upper-case) and whatever the message."""
    prefix = read_prefix(message)
    assert prefix is not None and (prefix.device, prefix.ifname) == (device, ifname)


def test_prefix_level_reads_mlx5_funcline_and_registration_state() -> None:
    """mlx5's ``func:line:(pid N)`` and a netdev's registration state are read off the prefix."""
    prefix = read_prefix("mlx5_core cf63:00:02.0: mlx5_cmd_out_err:838:(pid 1234): X(0x1) failed")
    assert prefix is not None and prefix.funcline == ("mlx5_cmd_out_err", 838, 1234) and prefix.message == "X(0x1) failed"
    prefix = read_prefix("mlx5_core 0000:00:02.0: 0000:00:02.0:mlx5_cmd_check:705:(pid 9): X(0x1) failed")
    assert prefix is not None and prefix.funcline == ("mlx5_cmd_check", 705, 9)  # before 4.19: name first
    prefix = read_prefix(f"hv_netvsc {SYNTHETIC_GUID} eth0 (unregistering): VF unregistering: eth1")
    assert prefix is not None and prefix.regstate == "(unregistering)" and prefix.ifname == "eth0"
    assert read_prefix("e1000 0000:00:03.0: something") is None


def test_registry_names_every_driver_the_rules_know() -> None:
    """The finding codes of the driver registry are the three driver error codes of the contract."""
    assert {d.error_code for d in DRIVERS.values()} == {"netvsc-error", "hv-pci-error", "vf-driver-error"}
    assert {d.name for d in DRIVERS.values()} >= {"hv_netvsc", "hv_pci", "mlx5_core", "mlx4_core", "mlx4_en", "mana"}


def test_lookup_is_indexed_not_a_scan() -> None:
    """A message is compared with the few formats of its driver and first word, not with every row."""
    cat = catalogue()
    assert len(cat.candidates("mlx5_core", "Failed to create a leaf node (class 001f), err = 5")) < 200
    assert lookup("hv_netvsc", "unable to open device (ret 5).") is not None


def _with_suffix(contains: str, suffix: str) -> str:
    """Return the healthy boot with *suffix* appended to every line that contains *contains*."""
    return "\n".join(line + suffix if contains in line else line for line in HEALTHY) + "\n"


def test_known_message_with_trailing_text_keeps_its_meaning() -> None:
    """A complete known message followed by extra text (a harness's annotation) is still that message:
    the healthy boot stays healthy and on the VF, and the extra text is kept in the event."""
    report = analyze(_with_suffix("Data path switched to VF", " (queues 8)"))
    (nic,) = report.boots[0].nics
    assert (nic.state, nic.datapath, report.stats.unrecognised) == ("datapath-vf", "vf", 0)
    assert not report.boots[0].findings
    event = driver_event(f"hv_netvsc {SYNTHETIC_GUID} eth0: Data path switched to VF: {VF_NAME} (queues 8)", 94)
    assert event is not None and event.kind == "datapath_to_vf" and event.get("trailing") == "(queues 8)"
    assert event.get("vf") == VF_NAME


def test_probe_failure_with_trailing_assertion_is_a_probe_failure() -> None:
    """A probe-failure line with a test assertion's text after it is read as the probe failure,
    not as an unknown line (which would leave the device without a driver)."""
    lines = [line for line in HEALTHY if "mlx5_core" not in line and "Data path" not in line
             and "VF registering" not in line]
    at = next(i for i, line in enumerate(lines) if "BAR 0: assigned" in line) + 1
    lines.insert(at, "[    7.128515] mlx5_core cf63:00:02.0: mlx5_init_one failed with error code -22 "
                     "AssertionError: expected the probe to succeed")
    report = analyze("\n".join(lines) + "\n")
    codes = {f.code for f in report.boots[0].findings}
    assert "driver-probe-failed" in codes and "device-without-driver" not in codes
    assert report.stats.unrecognised == 0


def test_unknown_text_after_a_partial_message_is_not_read_as_the_message() -> None:
    """Only a complete known message keeps its meaning: a line that stops matching inside a lifecycle message
    is not that message (here the catalogue's ``VF slot %d %s`` reads it, an info line)."""
    event = driver_event(f"hv_netvsc {SYNTHETIC_GUID} eth0: VF slot 1 was nothing", 70)
    assert event is not None and event.kind == CATALOGUED and event.level is Level.INFO
    assert driver_event("hv_netvsc: Waiting for nothing at all", 12) is None


@pytest.mark.parametrize("old, new, key", [
    (SYNTHETIC_GUID, "uuid", "uuid"),
    (SYNTHETIC_GUID, "<GUID>", "<GUID>"),
    (SYNTHETIC_GUID, "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"),
    (SYNTHETIC_GUID, SYNTHETIC_GUID.upper(), SYNTHETIC_GUID),
    ("cf63:00", "xxxx:00", SYNTHETIC_GUID),
    (HV_PCI_GUID, "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", SYNTHETIC_GUID),
])
def test_redacted_and_recased_ids_are_read(old: str, new: str, key: str) -> None:
    """A healthy boot whose netvsc GUID, hv_pci GUID or PCI address is redacted (``uuid``, ``<GUID>``,
    ``XXXXXXXX-...``, ``xxxx:00:02.0``) or upper-cased is still read whole: every line recognised, the NIC
    keyed by the id as written (GUIDs lower-cased), on the VF, with no finding."""
    text = "\n".join(line.replace(old, new) for line in HEALTHY) + "\n"
    report = analyze(text)
    (nic,) = report.boots[0].nics
    assert (nic.key, nic.state, nic.datapath) == (key, "datapath-vf", "vf")
    assert report.stats.unrecognised == 0 and report.stats.events == _analyse(None).stats.events
    assert not report.boots[0].findings
    if new.startswith("xxxx"):
        assert nic.vf is not None and nic.vf.pci == "xxxx:00:02.0"


def test_grammar_driver_terminals_are_the_registry() -> None:
    """The grammar's Linux driver terminals name exactly the drivers of the registry (one list of drivers)."""
    from vflog.grammar import grammar_text
    terminals = ("NETVSC", "HVPCI", "PCICORE", "PCIBUS", "VMBUS", "VFDRV", "MLX4EN")
    names: set[str] = set()
    for line in grammar_text().splitlines():
        name, _, body = line.partition(":")
        if name.strip() in terminals:
            names.update(re.findall(r'"([^"]+)"', body))
    assert names == set(DRIVERS)


def test_overlong_driver_line_is_not_matched_against_formats() -> None:
    """A driver line longer than the kernel can print is not compared with the formats (whose %s parts
    could backtrack for long): it stays unrecognised, quickly."""
    import time
    message = f"mlx5_core {VF_PCI}: " + "Failed to " + "a: b, " * 20000
    start = time.perf_counter()
    assert lookup("mlx5_core", message.split(": ", 1)[1]) is None
    assert time.perf_counter() - start < 0.5


def test_a_drivers_index_is_built_when_one_of_its_messages_is_looked_up() -> None:
    """Looking up a message of one driver reads only that driver's rows; the candidates are the same as when every
    driver's index was built first (one matcher per row, shared by the drivers that print it)."""
    from vflog.messages import Catalogue, _rows, catalogue_text
    rows = list(_rows(catalogue_text()))
    lazy, full = Catalogue(rows), Catalogue(rows)
    every = list(full.matchers())
    assert len(every) > len({id(m) for m in every})  # rows printed by several drivers share their matcher
    message = "unable to open device (ret 5)."
    assert [m.row for m in lazy.candidates("hv_netvsc", message)] == [m.row for m in full.candidates("hv_netvsc", message)]
    assert set(lazy._indexes) == {"hv_netvsc"}
    assert {found[0].row for found in lazy._read.values() if found} >= {m.row for m in lazy.candidates("hv_netvsc", message)}
    assert len(lazy._read) < len(rows) / 4
