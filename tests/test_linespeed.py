"""The block search's shortcuts find the same lines as the regexes they replace, and decode the same records."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from vflog import framing
from vflog.formats import Reader

#: The regex the syslog layout searched for user-space programs before plain searches replaced it.
_PROGRAM_PATTERN = re.compile(" (?:" + "|".join(framing._USERSPACE_WORDS) + r")\[")

_SYSLOG_LINES = st.sampled_from([
    "Jun  1 00:00:00 vm kernel: [    1.000000] hv_netvsc 000d3a00-0000-0000-0000-000000000000 eth0: VF slot 1 added",
    "Jun  1 00:00:01 vm systemd-udevd[412]: eth1: Failed to rename network interface 3 from 'eth1' to 'enP1s1'",
    "Jun  1 00:00:02 vm systemd-networkd[610]: eth0: Gained carrier",
    "Jun  1 00:00:03 vm NetworkManager[700]: <info>  [1717200003.1] device (eth0): state change: a -> b",
    "Jun  1 00:00:04 vm systemd-udevd[412]: systemd-udevd[413] NetworkManager[1] twice on one line",
    "Jun  1 00:00:05 vm kernel: [    5.000000] audit: type=1400 apparmor=\"DENIED\" systemd-udevd",
    "Jun  1 00:00:06 vm cron[99]: (root) CMD (systemd-networkd is mentioned, no bracket)",
    "Jun  1 00:00:07 vm kernel: [    7.000000] hv_storvsc 000d3a00-0000-0000-0000-000000000001: tag#4",
    "",
])


@settings(max_examples=200, deadline=None)
@given(st.lists(_SYSLOG_LINES, max_size=30), st.booleans())
def test_syslog_program_lines_are_candidates_as_the_regex_found_them(lines: list[str], final_end: bool) -> None:
    """Every syslog line where a user-space program stands as `` name[`` is a candidate, exactly the lines
    the regex of the program words matched, now found by plain searches (and no other line besides the
    layout's other patterns' lines)."""
    block = "\n".join(lines) + ("\n" if final_end else "")
    first, second = framing.LAYOUT_PATTERNS["syslog"]
    rfind = block.rfind
    expected = {rfind("\n", 0, match.start()) + 1 for pattern in (first, second, _PROGRAM_PATTERN)
                for match in pattern.finditer(block)}
    assert framing.candidates(block, "syslog") == sorted(expected)


def test_journal_object_decoded_with_its_boot_and_raw_text() -> None:
    """A journal object read as a candidate keeps its raw text and its _BOOT_ID (taken from the decoded
    object), and one that is not decoded still gives its boot id from the raw text."""
    boot = "8c3f0e6a5b2d4f1e9a7c6b5d4e3f2a1b"
    decoded = json.dumps({"_BOOT_ID": boot, "__MONOTONIC_TIMESTAMP": "1500000",
                          "MESSAGE": "hv_netvsc 000d3a00-0000-0000-0000-000000000000 eth0: VF slot 1 added"})
    (record,) = Reader().feed(7, decoded, candidate=True)
    assert (record.number, record.boot_id, record.raw, record.structured) == (7, boot, decoded, True)
    assert record.stamp is not None and record.stamp.t == 1.5
    other = json.dumps({"_BOOT_ID": boot, "MESSAGE": "audit: type=1400 nothing of ours"})
    (record,) = Reader().feed(8, other)
    assert (record.text, record.boot_id, record.raw) == (None, boot, other)
