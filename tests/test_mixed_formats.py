"""A log whose format changes part-way loses no line (issue "Every byte accounted for").

The block reader (Analyzer.feed_block) may choose a fast layout from the first block, but every
later block is checked: lines that do not fit the layout go through the per-line path.  The
oracles are the verdict of the whole story in one format, and the per-line reader (the same text
fed line by line), whose report must be identical, line numbers included.
"""

from __future__ import annotations

import importlib
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import vflog
from vflog import framing
from vflog.input import text as input_text

from . import converters
from .strategies import GeneratedLog, valid_logs

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SERVICING = (SAMPLES / "host-servicing.log").read_text()

#: The formats a part of the log may be in (text formats whose lines stand alone, one clock each).
FORMATS = ("dmesg", "dmesg_caller", "dmesg_raw", "dmesg_decode", "dmesg_ctime", "dmesg_delta",
           "journal_short_precise", "journal_short_monotonic", "journal_short_iso_precise",
           "syslog_rfc3164", "syslog_rfc3164_nohost", "syslog_rfc5424", "rsyslog_precise",
           "kmsg", "journal_json", "journal_json_bytes", "dmesg_json_pretty", "serial_console", "no_timestamps")
#: Wall clocks that cannot meet in one story: syslog's RFC 3164 stamps carry no year (read as 2000).
_NO_YEAR = frozenset({"journal_short_precise", "syslog_rfc3164", "syslog_rfc3164_nohost"})
_WITH_YEAR = frozenset({"dmesg_ctime", "journal_short_iso_precise", "syslog_rfc5424"})
_BOOT_ID_FIELD = re.compile(r'"_BOOT_ID": "[0-9a-f]+", ')


def render(fmt: str, text: str) -> str:
    """Return the dmesg lines *text* in format *fmt* (journal boot ids left out: a new id starts a new boot)."""
    return _BOOT_ID_FIELD.sub("", converters.TEXT_FORMATS[fmt](text))


def verdict(report: vflog.Report) -> tuple[object, ...]:
    """The per-NIC verdicts (state, data path, switches, VF) and the finding codes."""
    nics = tuple(
        (n.key, n.synthetic, n.state, n.datapath, n.switches_to_vf, n.switches_from_vf,
         None if n.vf is None else (n.vf.name, n.vf.pci, n.vf.driver))
        for boot in report.boots for n in boot.nics)
    return len(report.boots), nics, tuple(sorted({(f.code, f.nic) for f in report.findings}))


def contents(report: vflog.Report) -> dict[str, Any]:
    """The whole report as JSON data, without the input names (which differ between the two readers) and
    the count of unrelated lines repeated verbatim (the block reader compares only the lines it reads)."""
    data = report.to_dict()
    for key in ("source", "sources", "inputs"):
        data.pop(key)
    for part in (data, *data["boots"]):
        part["notes"] = [note for note in part.get("notes", ()) if "repeated verbatim" not in note]
    for boot in data["boots"]:
        boot["findings"] = [{**finding, "origin": None} for finding in boot["findings"]]
    return data


@contextmanager
def small_blocks(first: int = 4096, size: int = 2048) -> Iterator[None]:
    """Read inputs in small blocks, so that a short log spans many blocks and a layout is chosen early."""
    with mock.patch.object(input_text, "_FIRST_BLOCK", first), mock.patch.object(input_text, "_BLOCK", size):
        yield


def by_blocks(text: str) -> vflog.Report:
    """Analyse *text* as a file is read: in blocks (the fast layouts apply)."""
    return vflog.analyze(text.encode())


def by_lines(text: str) -> vflog.Report:
    """Analyse *text* line by line (the per-line path only)."""
    return vflog.analyze(iter(text.splitlines()))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(log=valid_logs(max_nics=2, max_cycles=2), first=st.sampled_from(FORMATS), second=st.sampled_from(FORMATS),
       cut=st.floats(0.0, 1.0))
def test_format_change_part_way_gives_the_verdict_of_the_whole(log: GeneratedLog, first: str, second: str,
                                                               cut: float) -> None:
    """Part 1 in one format and part 2 in another give the verdict of the whole story, with true line numbers."""
    assume({first, second} & _NO_YEAR == set() or {first, second} & _WITH_YEAR == set())
    lines = log.text.splitlines(keepends=True)
    split = round(cut * len(lines))
    mixed = render(first, "".join(lines[:split])) + render(second, "".join(lines[split:]))
    whole = vflog.analyze_text(log.text)
    with small_blocks():
        report = by_blocks(mixed)
    assert verdict(report) == verdict(whole)
    assert contents(report) == contents(by_lines(mixed))


#: 2,500 unrelated dmesg lines, stamped before the story's first line (so no boot starts at the story).
_PADDING = "".join(f"[{0:12.6f}] random: crng init: {i} bytes of unrelated chatter\n" for i in range(2500))


@pytest.mark.parametrize("second", ["journal_short_precise", "syslog_rfc3164", "syslog_rfc3164_nohost",
                                    "journal_short_monotonic", "kmsg", "journal_json", "dmesg_json_pretty"])
def test_lines_after_a_format_change_in_a_big_file_are_read(second: str) -> None:
    """2,500 dmesg lines then the story in another format (the issue's measurement): every line is read."""
    story = render(second, SERVICING)
    report = by_blocks(_PADDING + story)
    assert verdict(report) == verdict(vflog.analyze_text(SERVICING))
    assert contents(report) == contents(by_lines(_PADDING + story))


def test_three_syslog_lines_after_dmesg_are_recognised() -> None:
    """The measured case: three syslog-form hv_netvsc lines after 2,500 dmesg lines are three events."""
    tail = "".join(line + "\n" for line in converters.syslog_rfc3164(SERVICING).splitlines() if "VF slot" in line)[:3 * 200]
    tail = "".join(tail.splitlines(keepends=True)[:3])
    report = by_blocks(_PADDING + tail)
    assert report.stats.events == 3 and report.boots[-1].nics


@pytest.mark.parametrize("fmt", ["dmesg_json_pretty", "dmesg_json", "dmesg_follow_json", "kmsg", "serial_console",
                                 "dmesg_human", "journal_json_bytes"])
def test_multi_line_records_across_block_ends_read_as_lines(fmt: str) -> None:
    """Pretty-printed JSON objects and kmsg continuations cut by block ends (tiny blocks) read as line by line."""
    text = render(fmt, SERVICING)
    with small_blocks(first=512, size=97):
        report = by_blocks(text)
    assert contents(report) == contents(by_lines(text))
    assert verdict(report) == verdict(vflog.analyze_text(SERVICING))


def test_layout_is_not_looked_for_in_every_block_without_one() -> None:
    """Blocks of NUL bytes have no layout: after a few blocks only every 16th is looked at again."""
    calls = []
    real = framing.layout

    def counting(sample: str) -> str | None:
        calls.append(len(sample))
        return real(sample)

    text = ("\0" * 200 + "\n") * 2000  # about 400 KB: 200 blocks of 2 KiB
    with small_blocks(first=2048, size=2048), mock.patch.object(framing, "layout", counting):
        report = by_blocks(text + SERVICING)
    assert report.stats.lines == 2000 + SERVICING.count("\n")
    assert verdict(report) == verdict(vflog.analyze_text(SERVICING))
    assert len(calls) < 30


def test_a_format_change_brings_the_layout_of_the_new_format() -> None:
    """After a switch from dmesg to syslog the blocks are read with the syslog layout, not line by line."""
    layouts = []
    path = importlib.import_module("vflog.fastpath").BlockPath
    real = path._block_layout

    def spy(self: Any, block: str) -> tuple[str | None, list[int]]:
        kind, odd = real(self, block)
        layouts.append(kind)
        return kind, odd

    syslog = render("journal_short_precise", SERVICING) * 40  # long lines, about 650 KB
    with small_blocks(first=8192, size=8192), mock.patch.object(path, "_block_layout", spy):
        by_blocks(_PADDING + syslog)
    assert layouts[0] == "dmesg" and layouts[-1] == "syslog"
