"""Tests of vflog.framing: finding the driver message inside any outer log prefix, and its time."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vflog import framing

from .strategies import kernel_messages

MSG = "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added"


@pytest.mark.parametrize(("raw", "t", "clock"), [
    (f"[    3.918902] {MSG}", 3.918902, "monotonic"),
    (f"[3.918902] {MSG}", 3.918902, "monotonic"),
    (f"[    3.918902] [    T1] {MSG}", 3.918902, "monotonic"),
    (f"<6>[    3.918902] {MSG}", 3.918902, "monotonic"),
    (f"kern  :info  : [    3.918902] {MSG}", 3.918902, "monotonic"),
    (f"2021-01-08T01:02:18.342860+00:00 host kernel: [ 3.918902] {MSG}", 3.918902, "monotonic"),
    (f"2023-07-25T22:06:11.903 INFO   kern   kernel:[    3.918902] {MSG}", 3.918902, "monotonic"),
    (f"Jul 23 16:18:53 rac02 kernel: {MSG}", None, "wall"),
    (f"[2026-09-03 05:50:31.887 Agent I] [Thu Sep  3 05:08:01 2026] {MSG}", 1788412081.0, "wall"),
    (f"2021-01-08T01:02:18.5+01:00 host kernel: {MSG}", 1610064138.5, "wall"),
    (f"> [    3.918902] {MSG}", 3.918902, "monotonic"),
    (f"   {MSG}", None, None),
    (MSG, None, None),
])
def test_message_and_time_found_in_any_prefix(raw: str, t: float | None, clock: str | None) -> None:
    """The message starts at the driver's printk prefix; the innermost time of the prefix is kept."""
    framed = framing.frame(raw)
    assert framed is not None
    assert framed.message == MSG
    stamp = framing.stamp(framed.prefix)
    if clock is None:
        assert stamp is None
    else:
        assert stamp is not None and stamp.clock == clock
        if t is not None:
            assert stamp.t == pytest.approx(t)


@pytest.mark.parametrize("raw", [
    "[    5.1] eth0: renamed from vethf9a5043",
    "[    5.1] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
    "[    0.2] pci 0000:00:07.1: legacy IDE quirk: reg 0x10: [io  0x01f0-0x01f7]",
    "[    0.2] pci_bus 0000:00: root bus resource [io  0x0000-0x0cf7 window]",
    "modprobe: FATAL: Module mlx5_core not found in directory /lib/modules/5.4.0",
    "[ 0.1] hv_pci_probe: line 3694: create_root_hv_pci_bus=0: sleeping 10s",
    "",
])
def test_unrelated_lines_are_not_framed(raw: str) -> None:
    """Lines of other drivers, parent-less renames (veth) and the emulated domain 0000 are skipped."""
    assert framing.frame(raw) is None


# -- the fast candidate search (framing.candidates) against the per-line anchor ---------------

_GOLDEN = Path(__file__).parent / "golden" / "messages.txt"
_MESSAGES = tuple(line.split("\t", 1)[1] for line in _GOLDEN.read_text(encoding="utf-8").splitlines()
                  if line and not line.startswith("#"))
def _render(kind: str, index: int, message: str) -> str:
    t = 3.5 + index * 0.25
    if kind == "dmesg":
        return f"[{t:12.6f}] {message}"
    if kind == "syslog":
        return f"Sep  3 05:08:{index % 60:02d} vm-web-01 kernel: [{t:12.6f}] {message}"
    if kind == "dmesg-json":
        return json.dumps({"pri": 6, "time": t, "msg": message})
    return json.dumps({"__MONOTONIC_TIMESTAMP": str(int(t * 1e6)), "_TRANSPORT": "kernel",
                       "SYSLOG_IDENTIFIER": "kernel", "MESSAGE": message})


@pytest.mark.parametrize("shape, kind", [("dmesg", "dmesg"), ("syslog", "syslog"), ("journal", "json"),
                                         ("dmesg-json", "json")])
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(kernel_messages(_MESSAGES), min_size=1, max_size=40))
def test_candidates_hold_every_line_the_anchor_finds(shape: str, kind: str, messages: list[str]) -> None:
    """Every line the per-line anchor frames is a candidate of the block search, in every fast layout."""
    lines = [_render(shape, i, m) for i, m in enumerate(messages)]
    block = "\n".join(lines) + "\n"
    wanted = {i for i, line in enumerate(lines) if framing.ANCHOR.search(line)}
    found = {block.count("\n", 0, start) for start in framing.candidates(block, kind)}
    assert wanted <= found
    starts = framing.candidates(block, kind)
    assert starts == sorted(set(starts))
    assert all(start == 0 or block[start - 1] == "\n" for start in starts)


def test_plain_dmesg_stamp_is_read_while_framing() -> None:
    """A plain ``[seconds] `` prefix gives its time with the frame; other prefixes leave it to stamp()."""
    framed = framing.frame(f"[  12.500000] {MSG}")
    assert framed is not None and framed.stamp == framing.Stamp(12.5, framing.MONOTONIC)
    framed = framing.frame(f"[Thu Sep  3 05:08:01 2026] {MSG}")
    assert framed is not None and framed.stamp is None and framed.message == MSG


def test_repeated_message_is_framed_alike() -> None:
    """The memo of texts after a stamp gives the same verdict for repeats as for the first line."""
    first = framing.frame(f"[  1.000000] {MSG}")
    again = framing.frame(f"[  2.000000] {MSG}")
    assert first is not None and again is not None and first.message == again.message == MSG
    assert framing.frame("[  1.0] eth0: renamed from veth9c2b1f3") is None
    assert framing.frame("[  2.0] eth0: renamed from veth9c2b1f3") is None


def test_json_blocks_are_searched_for_either_message_key() -> None:
    """Journal records (``MESSAGE``) and dmesg JSON records (``msg``) are both found, in any block."""
    journal = "\n".join(_render("journal", i, m) for i, m in enumerate(_MESSAGES[:50])) + "\n"
    dmesg_json = "\n".join(_render("dmesg-json", i, m) for i, m in enumerate(_MESSAGES[:50])) + "\n"
    assert framing.layout(journal) == framing.layout(dmesg_json) == "json"
    for block in (journal, dmesg_json, journal + dmesg_json):
        lines = block.splitlines()
        wanted = {i for i, line in enumerate(lines) if framing.ANCHOR.search(json.loads(line).get("MESSAGE", json.loads(line).get("msg")))}
        found = {block.count("\n", 0, start) for start in framing.candidates(block, "json")}
        assert wanted and wanted <= found


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e308", "1_000.5", "-5.0", "+5.0", "5", ".5", "5.",
                                  "0x1p3", "\u0661\u0662.\u0663", "9" * 400 + ".0", " 12.5 x", "1.2.3"])
def test_hostile_stamp_text_is_not_a_time(text: str) -> None:
    """Only ASCII digits, a dot and digits (finite, a plausible uptime) are a dmesg stamp's seconds."""
    assert framing.seconds(text) is None
    framed = framing.frame(f"[{text}] {MSG}")
    assert framed is not None and framed.message == MSG and framed.stamp is None
    assert framing.stamp(f"[{text}] ") is None
    assert framing.stamp(f"host kernel: [{text}] ") is None


def test_real_stamps_are_read() -> None:
    """Padded and unpadded stamps, and the -d delta form, still give their seconds."""
    assert framing.seconds("    12.345678") == 12.345678
    assert framing.seconds("0.000000") == 0.0
    assert framing.stamp("[ 2.500000 <  0.100000>] ") == framing.Stamp(2.5, framing.MONOTONIC)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from(list(" \t\x00\x1c\x85\xa0\u2028\u3000\u00e9[]>:\"?+0xabcdefhvnetscpimlorkLuxBUGWRNIO_-.1234567890")),
               max_size=60), st.sampled_from(_MESSAGES[:40] + ("? __schedule+0x2d4/0x890",)))
def test_fast_anchor_search_agrees_with_the_anchor(prefix: str, message: str) -> None:
    """find_anchor finds exactly where ANCHOR.search matches, for any prefix before any message."""
    for raw in (prefix, prefix + message, message + prefix):
        match = framing.ANCHOR.search(raw)
        assert framing.find_anchor(raw) == (match.start() if match else -1)


def test_misfits_are_the_lines_of_another_shape() -> None:
    """In a dmesg block, syslog, kmsg, JSON, -H and journal lines are misfits; stamped (also indented) lines
    and blanks are not."""
    lines = [f"[    1.000000] {MSG}", "", f"Sep  3 05:08:01 vm kernel: {MSG}", f"6,339,5140900,-;{MSG}",
             '{"MESSAGE": "x"}', f"[  +0.113671] {MSG}", f"[Sep 3 05:08] {MSG}", f"   [    1.0] {MSG}",
             f"[Thu Sep  3 05:08:01 2026] {MSG}", f"<6>[    1.0] {MSG}", f"kern  :info  : [    1.0] {MSG}",
             f"[    1.000000] vm-web-01 kernel: {MSG}"]
    block = "\n".join(lines) + "\n"
    starts = [block.index(line + "\n") if line else block.index("\n\n") + 1 for line in lines]
    odd = {lines[starts.index(start)] for start in framing.misfits(block, "dmesg")}
    assert odd == {lines[i] for i in (2, 3, 4, 5, 6, 11)}


def test_layout_is_chosen_by_fewest_misfits() -> None:
    """Each layout is found from its own lines; blocks of NULs or of one long line have none."""
    dmesg = "".join(f"[{i:12.6f}] {message}\n" for i, message in enumerate(_MESSAGES[:200]))
    syslog = "".join(f"Sep  3 05:08:01 vm kernel: {message}\n" for message in _MESSAGES[:200])
    kmsg = "".join(f"6,{i},{i * 1000},-;{message}\n SUBSYSTEM=pci\n" for i, message in enumerate(_MESSAGES[:200]))
    assert (framing.layout(dmesg), framing.layout(syslog), framing.layout(kmsg)) == ("dmesg", "syslog", "kmsg")
    assert framing.layout(("\0" * 1000 + "\n") * 100) is None
    assert framing.layout("x" * 1_000_000) is None


def test_kmsg_candidates_hold_every_message() -> None:
    """The kmsg layout finds each record whose message (after ';') the anchor frames."""
    block = "".join(f"6,{i},{i * 1000},-;{message}\n" for i, message in enumerate(_MESSAGES))
    wanted = {i for i, message in enumerate(_MESSAGES) if framing.find_anchor(message) >= 0}
    found = {block.count("\n", 0, start) for start in framing.candidates(block, "kmsg")}
    assert wanted and wanted <= found


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from(list(" \t\x1c\u2028[]>:\"?+0xabcdefhvnetscpimlorkLuxBUGWRNIO_-.1234567890")),
               max_size=40), st.sampled_from(_MESSAGES[:40] + ("? __schedule+0x2d4/0x890",)), st.integers(0, 45))
def test_starts_at_agrees_with_the_anchor(prefix: str, message: str, position: int) -> None:
    """starts_at(raw, i) is ANCHOR.match(raw, i), for any prefix, message and position."""
    raw = prefix + message
    position = min(position, len(raw))
    assert framing.starts_at(raw, position) == (framing.ANCHOR.match(raw, position) is not None)


def test_the_anchor_and_the_prefilter_know_every_driver_of_the_registry() -> None:
    """Each registry driver's prefix is found by the anchor and by the fast candidate search (one registry)."""
    from vflog.drivers import BSD_DRIVERS, DRIVERS, PCI_CORE, VF
    for driver in DRIVERS.values():
        device = "cf63:00:02.0" if driver.role in (VF, PCI_CORE) else "000d3af5-76bd-000d-3af5-76bd000d3af5"
        head = f"{driver.name} {device}" if "dev" in driver.shapes else driver.name  # pr_* lines: `<name>: `
        line = f"[    1.000000] {head}: some message"
        assert framing.frame(line) is not None, driver.name
        assert framing.candidates(line + "\n", "dmesg") == [0], driver.name
    for driver in BSD_DRIVERS.values():
        line = f"{driver.name}0: link state changed to UP"
        assert framing.frame(line) is not None, driver.name


@pytest.mark.parametrize("placeholder", ["<GUID>", "<device-guid>", "<vmbus-dev-id>", "{GUID}", "{device-guid}"])
def test_a_redacted_device_id_of_several_words_still_anchors_the_line(placeholder: str) -> None:
    """A poster's placeholder for the VMBus id, in angle brackets or braces and with hyphens, starts a message."""
    line = f"[    5.100000] hv_netvsc {placeholder} eth4: sub channel open failed: -12"
    framed = framing.frame(line)
    assert framed is not None and framed.message == line[len("[    5.100000] "):]
    assert framing.candidates(line + "\n", "dmesg") == [0]


def test_a_bracketed_word_that_is_no_placeholder_does_not_anchor() -> None:
    """Only a driver's name followed by the placeholder anchors: prose in brackets is no device id."""
    assert framing.frame("[    5.100000] see <device-guid> eth4: sub channel open failed") is None
    assert framing.frame("[    5.100000] hv_netvsc <a b> eth4: sub channel open failed") is None


#: The syslog candidate patterns as they were before the search was led by ``]``: a key word after ``: ``
#: and up to two ``[...]`` groups, or after ``:`` and one or two groups (the reference the fast search keeps).
_SYSLOG_REFERENCE = (re.compile(r": (?:\[[^\]\n]*\] ?){0,2}" + framing._KEYS),
                     re.compile(r":\[[^\]\n]*\] ?(?:\[[^\]\n]*\] ?)?" + framing._KEYS))
_SYSLOG_PIECES = ("Jun  1 00:00:00 vm kernel", "systemd-journald[236]", ":", ": ", " ", "[", "]", "] ", "\n", "x",
                  "[    0.000001]", "[T1]", "[a[b]", "hv_netvsc", "hv_pci", "mlx5", "mana:", "pci", "hn0", "Oops",
                  "---[ end", " systemd-udevd[", " NetworkManager[", "+0x1a/0x20", "\u2028", "é")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(_SYSLOG_PIECES), max_size=40))
def test_syslog_candidates_hold_every_line_of_the_reference_patterns(pieces: list[str]) -> None:
    """Every line in which a key word follows ``: `` or ``:`` and up to two bracket groups (the former
    ``: ``-led patterns), a program word or a stack frame is a syslog candidate, found from rarer leads."""
    block = "".join(pieces)
    starts = framing.candidates(block, "syslog")
    wanted = {block.rfind("\n", 0, match.start()) + 1 for pattern in _SYSLOG_REFERENCE for match in pattern.finditer(block)}
    wanted.update(block.rfind("\n", 0, index) + 1 for word in (f" {name}[" for name in framing._USERSPACE_WORDS)
                  for index in range(len(block)) if block.startswith(word, index))
    assert wanted <= set(starts)
    assert starts == sorted(set(starts)) and all(start == 0 or block[start - 1] == "\n" for start in starts)


def test_syslog_candidates_are_found_with_and_without_the_kernel_stamp() -> None:
    """A driver line of syslog is a candidate after ``kernel: [seconds] ``, ``kernel:[seconds]``, a second
    bracket group, and right after ``kernel: `` or a program's ``name[pid]: ``."""
    lines = [f"Jun  1 00:00:00 vm kernel: [    1.000000] {MSG}", f"Jun  1 00:00:00 vm kernel:[    1.000000]{MSG}",
             f"Jun  1 00:00:00 vm kernel: [    1.000000] [T1] {MSG}", f"Jun  1 00:00:00 vm kernel: {MSG}",
             "Jun  1 00:00:00 vm systemd-journald[236]: Journal started", f"Jun  1 00:00:00 vm prog[7]: {MSG}",
             "Jun  1 00:00:00 vm systemd-udevd[312]: eth1: Failed to rename network interface"]
    block = "\n".join(lines) + "\n"
    found = {block.count("\n", 0, start) for start in framing.candidates(block, "syslog")}
    assert found == {0, 1, 2, 3, 5, 6}
