"""A known message cut where its arguments open, followed by a tool's text, keeps its meaning (issue 14, corpus 31).

A test tool quoting ``gdma probe failed: err = %d`` up to ``failed`` and going on with its own words
(``] Expected <0> to be equal to <8>``) leaves the message's statement whole: only the values are missing.
The line is read as that message when exactly one catalogued format starts with those words and has
nothing after them but its arguments (with their separators and labels); the other text is kept.
"""

from __future__ import annotations

import pytest

import vflog
from vflog import messages

GUID = "000d3af5-76bd-000d-3af5-76bd000d3af5"


@pytest.mark.parametrize("line, kind, level", [
    ("mana 7870:00:00.0: gdma probe failed] Expected <0> to be equal to <8>, but was not.", "probe_failed", "error"),
    ("mana 7870:00:00.0 eth7: Failed to create RXQ] assert rxq == 8", messages.CATALOGUED, "error"),
    ("mana 7870:00:00.0 eth7: Failed to probe vPort] Expected 0", messages.CATALOGUED, "error"),
])
def test_a_message_cut_where_its_arguments_open_keeps_its_meaning(line: str, kind: str, level: str) -> None:
    """The words before the tool's text are the whole literal start of one format whose rest is only arguments:
    the grammar's event of that format (else the catalogue's), at the row's level, the tool's text kept."""
    event = messages.driver_event(line)
    assert event is not None
    assert (event.kind, event.level.value, event.message) == (kind, level, line)
    assert event.fields["trailing"].startswith("]")
    assert event.fields["function"]


@pytest.mark.parametrize("line", [
    "mana 7870:00:00.0: gdma probe fai] Expected 0",  # cut inside a word
    "mana 7870:00:00.0: gdma probe] Expected 0",  # a word of the statement missing
    "mana 7870:00:00.0 eth7: Failed to create] Expected 0",  # the object missing
    "mana 7870:00:00.0: HWC] Expected 0",  # the start of many messages
    f"hv_pci {GUID}: The device is gone] Expected 0",  # a message without arguments, cut
])
def test_a_message_cut_anywhere_else_is_not_read_as_one(line: str) -> None:
    """A cut inside a word or before words of the statement, a start several formats share, or a format that
    has no arguments: not read as a known message (at most the warning of a driver line saying it failed)."""
    event = messages.driver_event(line)
    assert event is None or "trailing" not in event.fields


def test_a_lifecycle_message_cut_before_an_argument_that_says_what_happened_is_not_read_as_it() -> None:
    """``Data path switched %s VF: %s`` cut before ``to``/``from`` (an argument that is the statement) and
    ``VF slot %u %s`` cut before the slot: no lifecycle event, the NIC's data path is not moved."""
    for line in (f"hv_netvsc {GUID} eth0: Data path switched] x", f"hv_netvsc {GUID} eth0: VF slot] x"):
        event = messages.driver_event(line)
        assert event is None or event.kind == messages.CATALOGUED and event.level.value == "info"


def test_a_probe_failure_quoted_by_a_test_tool_fails_the_vf() -> None:
    """The LISA quote of a MANA probe failure (corpus 31's shape): the VF's probe failed, the data path is
    synthetic, driver-probe-failed is raised at that line, and no line is unrecognised."""
    text = ("[ 6.737085] mana 7870:00:00.0: VfVerifyVersionOutput: -71, status=0xc00000bb\n"
            "[ 6.740790] mana 7870:00:00.0: gdma probe failed] Expected <0> to be equal to <8>, but was not.\n")
    report = vflog.analyze_text(text)
    (nic,) = report.boots[0].nics
    assert (nic.state, nic.datapath) == ("probe-failed", "synthetic")
    assert ("driver-probe-failed", "error", 2) in {(f.code, f.severity.value, f.line) for f in report.findings}
    assert report.stats.unrecognised == 0
