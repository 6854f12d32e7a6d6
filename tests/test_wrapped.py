"""Wrapped lines are joined back (issue 14, "Tolerance by rule, not by case").

Mail and narrow terminals break a long line after 72-80 columns; the continuation line carries no
stamp or prefix of its own.  A driver line whose message stops short (inside the driver's printk
prefix, or a proper prefix of a message the grammar knows) is joined with the next line when that
line carries nothing of its own and the joined text is read; the event keeps the first line's
number (what ``grep -n`` shows).  The oracle is the verdict of the unwrapped log.
"""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vflog
from vflog import partial
from vflog import wrapped as wrapped_module
from vflog.input import Text
from vflog.input import text as input_text

from . import converters
from .test_mixed_formats import by_blocks, by_lines, contents, small_blocks

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SERVICING = (SAMPLES / "host-servicing.log").read_text()
PROBE_FAILED = (SAMPLES / "finding-driver-probe-failed.log").read_text()
GUID = "000d3af5-76bd-000d-3af5-76bd000d3af5"
#: The message start the anchor finds in a line (where a mail or terminal break is measured from).
_MESSAGE = re.compile(r"(?:hv_netvsc|hv_pci|hv_vmbus|mlx[45]_\w+|mana|pci(?:_bus)?|Linux version)[ :]")


def nic_verdicts(report: vflog.Report) -> tuple[object, ...]:
    """The per-NIC verdicts (state, data path, switches, VF) and the findings with their lines."""
    nics = tuple(
        (n.key, n.synthetic, n.state, n.datapath, n.switches_to_vf, n.switches_from_vf,
         None if n.vf is None else (n.vf.name, n.vf.pci, n.vf.driver))
        for boot in report.boots for n in boot.nics)
    return len(report.boots), nics, tuple(sorted((f.code, f.severity.value, f.nic) for f in report.findings))


def wrap_at(text: str, column: int, only: str = "") -> str:
    """Return *text* with every line longer than *column* (holding *only*) broken after *column* characters."""
    out = []
    for line in text.splitlines():
        if len(line) > column and only in line:
            out += [line[:column], line[column:]]
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def wrap_after(text: str, needle: str, cut: int) -> str:
    """Return *text* with each line holding *needle* broken *cut* characters after where *needle* starts."""
    out = []
    for line in text.splitlines():
        at = line.find(needle)
        if at >= 0 and at + cut < len(line):
            out += [line[:at + cut], line[at + cut:]]
        else:
            out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("column", [72, 74, 76, 78, 80])
@pytest.mark.parametrize("sample", ["host-servicing.log", "normal-boot.log", "multi-nic-mana.log",
                                    "finding-vf-driver-error.log", "finding-surprise-removal.log"])
def test_a_log_wrapped_after_72_to_80_columns_gives_the_unwrapped_verdict(sample: str, column: int) -> None:
    """Every long line broken after 72-80 columns: the same NICs, states, data paths, VFs and findings."""
    text = (SAMPLES / sample).read_text()
    wrapped = wrap_at(text, column)
    report = vflog.analyze_text(wrapped)
    assert nic_verdicts(report) == nic_verdicts(vflog.analyze_text(text))
    assert report.stats.events == vflog.analyze_text(text).stats.events
    assert report.stats.unrecognised == 0


@pytest.mark.parametrize("needle, cut", [
    ("Data path switched", len("Data path switched")),  # between words
    ("Data path switched", len("Data path swi")),  # inside a word
    ("VF slot", len("VF slot 1 ad")),  # inside the last word
    ("VF registering:", len("VF registering:")),  # before the name
    (GUID, 12),  # inside the GUID
    ("hv_netvsc ", len("hv_netvsc ") + len(GUID)),  # between GUID and interface
    ("mlx5_core cf63:00:02.0:", len("mlx5_core cf63:00:02.0:")),  # after the driver prefix
    ("mlx5_core cf63:00:02.0:", len("mlx5_core cf63:00:0")),  # inside the PCI address
    ("handle_hca_cap", len("handle_hca_cap:524:(p")),  # inside mlx5's func:line:(pid N)
    ("firmware version", len("firmware version: 14.")),  # inside a version
])
def test_a_break_at_any_point_of_a_driver_line_is_joined_back(needle: str, cut: int) -> None:
    """A break inside message words, after the driver prefix, inside the GUID or PCI address: the same events."""
    wrapped = wrap_after(SERVICING, needle, cut)
    assert wrapped != SERVICING
    report = vflog.analyze_text(wrapped)
    original = vflog.analyze_text(SERVICING)
    assert nic_verdicts(report) == nic_verdicts(original)
    assert (report.stats.events, report.stats.unrecognised) == (original.stats.events, 0)


@pytest.mark.parametrize("sample, needle, cut", [
    ("finding-netvsc-error.log", "eth0: unable to open slave", len("eth0")),  # before the ': ' of the prefix
    ("finding-vf-not-registered.log", "vf serial:1", len("vf serial:")),  # after a ':' the kernel glues
    ("finding-driver-probe-failed.log", "mlx5_core 468b:00:02.0", len("mlx5_core 468b:00:02.0")),  # before ": "
])
def test_a_break_where_the_line_had_no_space_is_joined_without_one(sample: str, needle: str, cut: int) -> None:
    """A break where the grammar reads the join both with and without a space (at a token boundary) is joined
    as the kernel prints it: the text the catalogue lists, else without a space before a closing mark; the
    verdict, the finding's severity and the event's whole message are those of the unwrapped line."""
    text = (SAMPLES / sample).read_text()
    wrapped = wrap_after(text, needle, cut)
    assert wrapped != text
    assert nic_verdicts(vflog.analyze_text(wrapped)) == nic_verdicts(vflog.analyze_text(text))
    messages = {routed.event.message for routed in vflog.events_text(wrapped)}
    assert messages == {routed.event.message for routed in vflog.events_text(text)}


@pytest.mark.parametrize("needle, cut", [
    ("switched to VF: enP53091s1np0", len("switched to VF: enP53091s1")),  # inside the VF's name
    ("VF registering: eth1", len("VF registering: eth")),  # inside the registered name
    ("firmware version: 14.25.8362", len("firmware version: 14.25.836")),  # inside a version
    ("firmware version: 14.25.8362", len("firmware version: 14.")),  # a version that does not read yet
])
def test_a_break_inside_the_last_name_of_a_whole_message_is_joined_back(needle: str, cut: int) -> None:
    """A terminal's break inside the last name, id or number of a line leaves a message that reads whole but
    wrong (``... switched to VF: enP53091s1``); the glued rest on the next row completes it: the same verdicts,
    events and messages, each event at its first row's line."""
    wrapped = wrap_after(SERVICING, needle, cut)
    assert wrapped != SERVICING
    report, original = vflog.analyze_text(wrapped), vflog.analyze_text(SERVICING)
    assert nic_verdicts(report) == nic_verdicts(original)
    assert (report.stats.events, report.stats.unrecognised) == (original.stats.events, 0)
    lines = wrapped.splitlines()
    events = [routed.event for routed in vflog.events_text(wrapped)]
    assert [e.message for e in events] == [routed.event.message for routed in vflog.events_text(SERVICING)]
    for event in events:
        if needle in event.message:
            assert lines[event.line - 1].endswith(needle[:cut]) and lines[event.line] == needle[cut:]


def test_a_break_inside_the_last_name_is_joined_in_syslog_lines() -> None:
    """The rest of a name cut by the wrap of a syslog line (``joined to eth`` / ``0``) is joined back too."""
    text = converters.TEXT_FORMATS["rsyslog_precise"](SERVICING)
    wrapped = wrap_after(text, "joined to eth0", len("joined to eth"))
    assert wrapped != text
    assert nic_verdicts(vflog.analyze_text(wrapped)) == nic_verdicts(vflog.analyze_text(text))
    assert {r.event.message for r in vflog.events_text(wrapped)} == {r.event.message for r in vflog.events_text(text)}


SWITCHED = f"[    8.090127] hv_netvsc {GUID} eth0: Data path switched to VF: enP53091s1np0"


@pytest.mark.parametrize("after", [
    "root@vm:~# lspci",  # a shell prompt and command
    "$",  # a bare prompt
    "cf63:00:02.0 Ethernet controller: Mellanox Technologies MT27710 Family [ConnectX-4 Lx Virtual Function]",
    "...",  # an elision mark
    "  np0",  # indented: a row of something else, not the rest of a cut name
    "(queues 8)",  # a tool's text with marks and spaces
])
def test_an_unstamped_line_of_something_else_does_not_extend_a_whole_message(after: str) -> None:
    """After a line that reads whole, an unstamped line that is not the glued rest of its last name (a prompt, an
    lspci line, an elision, an indented row) is not joined: the name stays as printed."""
    assert SWITCHED in SERVICING
    text = SERVICING.replace(SWITCHED, SWITCHED + "\n" + after, 1)
    switched = [r.event for r in vflog.events_text(text) if r.event.kind == "datapath_to_vf"]
    assert switched[0].fields["vf"] == "enP53091s1np0" and switched[0].message == SWITCHED[15:]
    assert nic_verdicts(vflog.analyze_text(text)) == nic_verdicts(vflog.analyze_text(SERVICING))


def test_a_line_shorter_than_the_narrowest_wrap_is_not_extended() -> None:
    """A line under 60 columns was not wrapped (terminals and mailers wrap at 72-80): an unstamped word after it
    is a line of its own, even when glued to the line's last name it would read."""
    short = "[8.09] hv_netvsc vmbus_1 eth0: Data path switched to VF: en"
    assert len(short) < wrapped_module.NARROWEST
    text = SERVICING.replace(SWITCHED, short + "\np0s2", 1)
    switched = [r.event for r in vflog.events_text(text) if r.event.kind == "datapath_to_vf"]
    assert switched[0].fields["vf"] == "en"


def test_the_joined_event_has_the_first_lines_number_and_the_whole_message() -> None:
    """The event of a joined line is at the first part's line (grep -n) and its message is the whole message."""
    wrapped = wrap_after(SERVICING, "Data path switched", len("Data path switched"))
    lines = wrapped.splitlines()
    switched = [routed.event for routed in vflog.events_text(wrapped) if routed.event.kind == "datapath_to_vf"]
    assert len(switched) == 4
    for event in switched:
        assert lines[event.line - 1].endswith("eth0: Data path switched")
        assert lines[event.line].lstrip().startswith("to VF: ")
        assert event.message == f"hv_netvsc {GUID} eth0: Data path switched to VF: enP53091s1np0"
        assert event.fields["vf"] == "enP53091s1np0"


@pytest.mark.parametrize("sample", ["finding-driver-probe-failed.log", "finding-vf-driver-error.log",
                                    "finding-surprise-removal.log", "finding-netvsc-error.log"])
def test_line_numbers_of_findings_are_those_of_the_first_part(sample: str) -> None:
    """Each driver line broken right after its printk prefix: every finding names the line number grep -n
    shows for the first part of the line that raised it, and quotes that line."""
    text = (SAMPLES / sample).read_text()
    wrapped = text
    for needle in ("mlx5_core ", "hv_netvsc ", "hv_pci ", "mana "):
        wrapped = "".join(_broken_after_prefix(line, needle) for line in wrapped.splitlines(keepends=True))
    assert wrapped.count("\n") > text.count("\n") + 10
    report = vflog.analyze_text(wrapped)
    original = vflog.analyze_text(text)
    assert nic_verdicts(report) == nic_verdicts(original)
    first, lines = text.splitlines(), wrapped.splitlines()
    assert len(report.findings) == len(original.findings) >= 1
    for finding, before in zip(sorted(report.findings, key=lambda f: (f.code, f.line)),
                               sorted(original.findings, key=lambda f: (f.code, f.line))):
        shown = lines[finding.line - 1]
        assert first[before.line - 1].startswith(shown) and shown != first[before.line - 1]
        assert any(quote.line == finding.line for quote in finding.evidence_text)


def _broken_after_prefix(line: str, driver: str) -> str:
    """Return *line* broken after the ``: `` that ends the printk prefix of *driver* (unchanged without one)."""
    at = line.find("] " + driver)
    end = line.find(": ", at) if at >= 0 else -1
    return line[:end + 1] + "\n" + line[end + 2:] if end >= 0 and line[end + 2:].strip() else line


def test_a_line_that_is_no_prefix_of_a_known_message_is_not_joined() -> None:
    """A driver line whose message cannot start a known one stays as it is: the next line is not joined to it."""
    line = f"[    3.918902] hv_netvsc {GUID} eth0: VF slot x"
    assert not partial.incomplete(line[15:])
    text = SERVICING.replace(f"[    3.918902] hv_netvsc {GUID} eth0: VF slot 1 added", line + "\nadded")
    report = vflog.analyze_text(text)
    assert [u.text for u in report.unrecognised] == [line]
    events = [routed.event for routed in vflog.events_text(text)]
    assert not any(event.message.endswith("x added") for event in events)
    assert sum(event.kind == "slot_added" for event in events) == \
        sum(routed.event.kind == "slot_added" for routed in vflog.events_text(SERVICING)) - 1


@pytest.mark.parametrize("continuation", [
    "[    3.918903] 1 added",  # dmesg stamp
    "Mar  1 18:54:12 myhost kernel: 1 added",  # syslog prefix
    "2026-03-01T18:54:12.123456+00:00 myhost kernel: 1 added",  # rsyslog / journal short-iso
    "",  # a blank line
    f"hv_netvsc {GUID} eth0: 1 added",  # a driver message of its own
])
def test_a_next_line_with_a_stamp_or_prefix_of_its_own_is_not_joined(continuation: str) -> None:
    """The line after a message cut short is not joined when it carries a stamp, a prefix or nothing."""
    first = f"[    3.918902] hv_netvsc {GUID} eth0: VF slot"
    assert partial.incomplete(first[15:])
    text = SERVICING.replace(f"[    3.918902] hv_netvsc {GUID} eth0: VF slot 1 added", first + "\n" + continuation)
    for report in (vflog.analyze_text(text), by_lines(text)):
        assert first in [u.text for u in report.unrecognised]
    assert "slot_added" not in {r.event.kind for r in vflog.events_text(text) if r.event.line in (55, 56)}


def test_a_held_line_at_the_end_of_the_input_is_read_alone() -> None:
    """A message cut short on the last line of an input is read as it is (nothing is lost at the end)."""
    first = f"[    3.918902] hv_netvsc {GUID} eth0: VF slot"
    report = vflog.analyze_text(SERVICING + first + "\n")
    assert report.unrecognised[-1].text == first
    assert report.stats.lines == SERVICING.count("\n") + 1


def test_a_line_is_never_continued_by_the_next_input() -> None:
    """A message cut short at the end of one input is read alone, even when the next input starts with an
    unstamped line that would complete it (inputs are separate files, not one wrapped line)."""
    first = f"[    3.918902] hv_netvsc {GUID} eth0: VF slot 1\n"
    report = vflog.analyze_files([Text(first), Text("added\n")])
    assert [u.text for u in report.unrecognised] == [first.rstrip()]
    assert report.stats.events == 0 and report.stats.lines == 2
    joined = vflog.analyze_files([Text(first + "added\n")])
    assert joined.stats.events == 1 and not joined.unrecognised


@pytest.mark.parametrize("fmt", ["syslog_rfc3164", "syslog_rfc3164_nohost", "journal_short_precise",
                                 "rsyslog_precise", "dmesg_ctime", "serial_console"])
@pytest.mark.parametrize("column", [72, 80])
def test_wrapped_syslog_and_journal_lines_are_joined_back(fmt: str, column: int) -> None:
    """Syslog, journal and other text forms wrapped after 72-80 columns (driver lines broken inside the
    message, where the driver's name is on the first part) give the unwrapped verdict."""
    text = converters.TEXT_FORMATS[fmt](SERVICING)
    out = []
    for line in text.splitlines():
        found = _MESSAGE.search(line)
        cut = max(column, found.start() + 20) if found else column
        out += [line[:cut], line[cut:]] if len(line) > cut else [line]
    wrapped = "\n".join(out) + "\n"
    assert wrapped.count("\n") > text.count("\n") + 40
    report = vflog.analyze_text(wrapped)
    original = vflog.analyze_text(text)
    assert nic_verdicts(report) == nic_verdicts(original)
    assert report.stats.events == original.stats.events


def _continuation_offsets(text: str) -> list[int]:
    """Return the byte offsets at which the continuation lines of the driver messages of *text* start."""
    offsets, position = [], 0
    lines = text.splitlines(keepends=True)
    for line, after in zip(lines, lines[1:]):
        position += len(line.encode())
        if partial.incomplete(line[15:].rstrip()) and not after.startswith("["):
            offsets.append(position)
    return offsets


@pytest.mark.parametrize("which", [0, 5, -1])
def test_a_block_boundary_between_the_parts_does_not_stop_the_join(which: int) -> None:
    """A wrapped line whose continuation starts the next block of the file reader is joined as line by line."""
    wrapped = wrap_at(SERVICING, 76)
    offset = _continuation_offsets(wrapped)[which]
    with mock.patch.object(input_text, "_FIRST_BLOCK", offset), mock.patch.object(input_text, "_BLOCK", 1 << 12):
        report = by_blocks(wrapped)
    assert nic_verdicts(report) == nic_verdicts(vflog.analyze_text(SERVICING))
    assert contents(report) == contents(by_lines(wrapped))


def test_tiny_blocks_read_wrapped_lines_as_line_by_line() -> None:
    """With blocks of a few lines (many boundaries), the block reader reads a wrapped log as the per-line reader."""
    wrapped = wrap_at(SERVICING * 3, 72)
    with small_blocks(first=512, size=97):
        report = by_blocks(wrapped)
    assert contents(report) == contents(by_lines(wrapped))
    assert nic_verdicts(report) == nic_verdicts(vflog.analyze_text(SERVICING * 3))


def test_a_wrapped_catalogue_message_after_the_prefix_keeps_its_finding() -> None:
    """A catalogued driver error broken right after its driver prefix still raises the driver's finding."""
    line = ("[   12.000000] mlx5_core cf63:00:02.0: mlx5_cmd_out_err:838:(pid 1): CREATE_TIR(0x912) op_mod(0x0) "
            "failed, status bad parameter(0x3), syndrome (0x3d2ec2), err(-22)")
    text = SERVICING.replace("[   11.733216] ", line + "\n[   11.733216] ", 1)
    wrapped = wrap_after(text, "mlx5_core cf63:00:02.0: mlx5_cmd", len("mlx5_core cf63:00:02.0:"))
    assert wrapped != text
    assert nic_verdicts(vflog.analyze_text(wrapped)) == nic_verdicts(vflog.analyze_text(text))
    assert "vf-driver-error" in {f.code for f in vflog.analyze_text(wrapped).findings}


@pytest.mark.parametrize("line", [
    "[   12.000000] mana 7870:00:00.0: HWC: Failed hw_channel req: 0x1",
    "[   12.000000] mlx5_core cf63:00:02.0: mlx5_cmd_out_err:838:(pid 1): CREATE_TIR(0x912) op_mod(0x0) failed, "
    "status bad parameter(0x3), syndrome (0x3d2ec2), err(-22)",
])
@pytest.mark.parametrize("share", [0.0, 0.3, 0.6, 0.9])
def test_a_wrapped_catalogued_error_keeps_its_severity(line: str, share: float) -> None:
    """A driver error the catalogue (or the grammar) knows, broken anywhere after the first word of its message,
    raises the driver's finding at the severity of the whole line, not the warning of an unknown failure."""
    column = 50 + round((len(line) - 52) * share)
    text = SERVICING.replace("[   11.733216] ", line + "\n[   11.733216] ", 1)
    wrapped = wrap_at(text, column, only=line[15:40])
    assert wrapped.count("\n") == text.count("\n") + 1
    original = vflog.analyze_text(text)
    assert nic_verdicts(vflog.analyze_text(wrapped)) == nic_verdicts(original)
    assert ("vf-driver-error", "error") in {(f.code, f.severity.value) for f in original.findings}


@pytest.mark.parametrize("width", [40, 60, 72, 80])
def test_a_line_wrapped_more_than_once_is_joined_back(width: int) -> None:
    """A long driver error cut into three or four rows (a narrow terminal) is one event at the first row's line."""
    line = ("[   12.000000] mlx5_core cf63:00:02.0: mlx5_cmd_out_err:838:(pid 1): CREATE_TIR(0x912) op_mod(0x0) failed, "
            "status bad parameter(0x3), syndrome (0x3d2ec2), err(-22)")
    text = SERVICING.replace("[   11.733216] ", line + "\n[   11.733216] ", 1)
    wrapped = text.replace(line, "\n".join(line[i:i + width] for i in range(0, len(line), width)))
    assert wrapped.count("\n") >= text.count("\n") + 2
    report, original = vflog.analyze_text(wrapped), vflog.analyze_text(text)
    assert nic_verdicts(report) == nic_verdicts(original)
    assert report.stats.unrecognised == 0
    error = next(f for f in report.findings if f.code == "vf-driver-error")
    assert wrapped.splitlines()[error.line - 1] == line[:width]


def test_a_wrapped_line_quoted_in_mail_is_joined_back() -> None:
    """A quoted log (``> `` before every line) wrapped by the mailer: the continuation's quote marks are taken
    off when the first part has the same ones, and the verdict is that of the log."""
    quoted = converters.TEXT_FORMATS["quoted"](SERVICING)
    wrapped = "".join(line[:74] + "\n> " + line[74:] if len(line) > 75 else line
                      for line in quoted.splitlines(keepends=True))
    assert wrapped.count("\n") > quoted.count("\n") + 40
    report = vflog.analyze_text(wrapped)
    assert nic_verdicts(report) == nic_verdicts(vflog.analyze_text(SERVICING))
    assert report.stats.events == vflog.analyze_text(SERVICING).stats.events


SAMPLE_TEXTS = {path.name: path.read_text() for path in sorted(SAMPLES.glob("*.log"))}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SAMPLE_TEXTS)), data=st.data())
def test_wrapping_every_line_at_random_columns_keeps_the_verdicts(name: str, data: st.DataObject) -> None:
    """Every line of a sample broken at its own random column >= 60 (the continuation unstamped): the same
    NIC verdicts and findings as the original, wherever the break falls, also inside the last name of a line
    that reads whole without it."""
    text = SAMPLE_TEXTS[name]
    out = []
    for line in text.splitlines():
        column = data.draw(st.integers(60, max(60, len(line))))
        out += [line[:column], line[column:]] if column < len(line) else [line]
    wrapped = "\n".join(out) + "\n"
    assert nic_verdicts(vflog.analyze_text(wrapped)) == nic_verdicts(vflog.analyze_text(text))


@pytest.mark.parametrize("sample", ["finding-association-wait.log", "finding-vf-not-registered.log"])
@pytest.mark.parametrize("width", [40, 60, 72])
def test_a_last_line_wrapped_into_several_rows_still_dates_the_end(sample: str, width: int) -> None:
    """The last line of a log (not a driver's) cut by a narrow terminal into three rows or more, the rows
    unstamped: the boot still ends at that line's time, so a finding that waits for the end is raised."""
    text = (SAMPLES / sample).read_text()
    *head, last = text.splitlines()
    rows = [last[i:i + width] for i in range(0, len(last), width)]
    assert len(rows) >= 3
    wrapped = "\n".join([*head, *rows]) + "\n"
    assert nic_verdicts(vflog.analyze_text(wrapped)) == nic_verdicts(vflog.analyze_text(text))
    assert vflog.analyze_text(wrapped).boots[-1].t_end == vflog.analyze_text(text).boots[-1].t_end


def wrap_mail(text: str, column: int) -> str:
    """Return *text* wrapped as a mailer does: each line broken at its last space before *column*, repeatedly."""
    out = []
    for line in text.splitlines():
        while len(line) > column and line.rfind(" ", 0, column + 1) > 0:
            at = line.rfind(" ", 0, column + 1)
            out.append(line[:at])
            line = line[at + 1:]
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("column", [60, 66, 72])
@pytest.mark.parametrize("fmt", ["dmesg", "syslog_rfc3164", "journal_short_precise"])
def test_a_break_that_cuts_the_message_start_is_joined_back(fmt: str, column: int) -> None:
    """A mailer's break between a driver's name and its device id (``hv_netvsc`` / ``<GUID> eth0: ...``), or
    between the syslog program and the driver: the row where the message starts has no message the anchor
    finds, yet the rows are joined back; the verdict is the unwrapped one, read line by line as by blocks."""
    text = converters.TEXT_FORMATS[fmt](SERVICING)
    wrapped = wrap_mail(text, column)
    assert "hv_netvsc\n" in wrapped or "kernel:\n" in wrapped
    assert nic_verdicts(vflog.analyze_text(wrapped)) == nic_verdicts(vflog.analyze_text(text))
    assert contents(by_blocks(wrapped)) == contents(by_lines(wrapped))


@pytest.mark.parametrize("column", [60, 65, 70, 75])
def test_a_user_space_line_cut_inside_its_key_words_is_joined_back(column: int) -> None:
    """networkd's ``Configuring with`` / ``DHCPv4 address`` cut by a terminal inside the words the anchor looks
    for (``Configu`` / ``ring with ...``): joined back, the VF is still seen managed by user space."""
    text = (SAMPLES / "finding-vf-managed-by-userspace.log").read_text()
    wrapped = wrap_at(text, column, only="systemd-networkd")
    assert wrapped != text
    report = vflog.analyze_text(wrapped)
    assert nic_verdicts(report) == nic_verdicts(vflog.analyze_text(text))
    assert "vf-managed-by-userspace" in {f.code for f in report.findings}
    assert contents(by_blocks(wrapped)) == contents(by_lines(wrapped))


def test_the_joined_message_start_keeps_the_first_rows_line_and_time() -> None:
    """A line whose message start was cut (``[..] hv_netvsc`` / ``<GUID> eth0: VF registering: eth1``) is one
    event at the first row's line, with its stamp; a time regression against the line before it is still seen."""
    text = (SAMPLES / "finding-time-regression.log").read_text()
    line = f"[    7.465085] hv_netvsc {GUID} eth0: VF registering: eth1"
    wrapped = text.replace(line, f"[    7.465085] hv_netvsc\n{GUID} eth0: VF registering:\neth1")
    assert wrapped != text
    rows = wrapped.splitlines()
    registering = [r.event for r in vflog.events_text(wrapped) if r.event.kind == "vf_registering"]
    assert [(rows[e.line - 1], e.t, e.message) for e in registering] == [("[    7.465085] hv_netvsc", 7.465085, line[15:])]
    assert nic_verdicts(vflog.analyze_text(wrapped)) == nic_verdicts(vflog.analyze_text(text))
    assert "time-regression" in {f.code for f in vflog.analyze_text(wrapped).findings}


@pytest.mark.parametrize("first, after", [
    ("[    3.9] hv_netvsc", f"{GUID} eth0: VF slot 1 added"),  # the id would have fit a row of 60 columns
    ("[    3.918900] user ran: dmesg | grep hv_netvsc", ""),  # a blank line between
    ("[    3.918900] user ran: dmesg | grep hv_netvsc", "[    3.918901] 1 added"),  # a stamped line
    ("[    3.918900] a line of something else that is long enough to fill a row", "mlx5_core"),  # no id after
    ("azureuser@vm:~$ lspci", "cf63:00:02.0 Ethernet controller: Mellanox Technologies MT27710 Family"),  # a shell
])
def test_a_next_line_that_does_not_complete_a_cut_message_start_is_not_joined(first: str, after: str) -> None:
    """After a line where no message starts, a line that is blank, stamped, or does not complete a message
    start with it (or would have fit on the first row) is read as its own line: no event comes of the two."""
    text = SERVICING.replace("[    3.918902] ", f"{first}\n{after}\n[    3.918902] ", 1)
    assert nic_verdicts(vflog.analyze_text(text)) == nic_verdicts(vflog.analyze_text(SERVICING))
    assert vflog.analyze_text(text).stats.events == vflog.analyze_text(SERVICING).stats.events


def wrap_rows(text: str, width: int) -> str:
    """Return *text* as a terminal of *width* columns shows it: every line cut into rows of *width* characters."""
    out = []
    for line in text.splitlines():
        out += [line[i:i + width] for i in range(0, len(line), width)] or [""]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("width", [60, 62, 64, 66, 68, 70])
@pytest.mark.parametrize("sample", ["host-servicing.log", "finding-vf-managed-by-userspace.log", "mlx4-old-kernel.log"])
def test_a_terminal_of_60_to_70_columns_gives_the_unwrapped_verdict(sample: str, width: int) -> None:
    """Every line of a log cut into rows by a narrow terminal (syslog lines into three rows, the last row the rest
    of a name a middle row ends in): the same NICs, states, data paths, VFs and findings as the log."""
    text = (SAMPLES / sample).read_text()
    if sample != "finding-vf-managed-by-userspace.log":
        text = converters.TEXT_FORMATS["syslog_rfc3164"](text)
    wrapped = wrap_rows(text, width)
    assert nic_verdicts(vflog.analyze_text(wrapped)) == nic_verdicts(vflog.analyze_text(text))


#: How a long line is wrapped: broken once after the column, cut into rows (a terminal), broken at spaces (mail).
WRAPS = {"once": wrap_at, "rows": wrap_rows, "mail": wrap_mail}


@pytest.mark.parametrize("style", sorted(WRAPS))
@pytest.mark.parametrize("sample", sorted(SAMPLE_TEXTS))
def test_every_sample_wrapped_at_60_to_80_columns_keeps_its_verdict(sample: str, style: str) -> None:
    """Each sample wrapped at 60, 66, 72, 76 and 80 columns, once, into a terminal's rows or at a mailer's
    spaces: the same NICs, states, data paths, VFs and findings as the sample."""
    text = SAMPLE_TEXTS[sample]
    expected = nic_verdicts(vflog.analyze_text(text))
    for column in (60, 66, 72, 76, 80):
        assert nic_verdicts(vflog.analyze_text(WRAPS[style](text, column))) == expected, column


def test_follow_reads_a_whole_line_at_once() -> None:
    """Following a live log, a line that reads whole gives its change as soon as it is fed, not when the next
    line comes (a live log is not wrapped: waiting for the rest of a name would hold the change back)."""
    from vflog.follow import Follower
    from vflog.report import StateChange

    follower = Follower()
    for line in SERVICING.splitlines():
        follower.feed(line)
        changes = [c for c in follower.changes() if isinstance(c, StateChange)]
        if "Data path switched to VF" in line:
            assert changes and changes[-1].after == "datapath-vf" and changes[-1].event.message == line[15:]
            return
    raise AssertionError("no data path switch in the sample")
