"""Tests of the per-line path's values: placed events, dmesg stamps, readings remembered per message, and a
message's route through its boot decided once while the ties stay."""

from __future__ import annotations

import contextlib
from typing import Iterator

import attrs
import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

import vflog
from vflog import correlate, framing, front, grammar, rules
from vflog.analyze import Analyzer
from vflog.events import Event, Level

from .strategies import GeneratedLog, faulty_logs

GUID = "000d3af5-76bd-000d-3af5-76bd000d3af5"
SLOT = f"hv_netvsc {GUID} eth0: VF slot 7 added"


def test_a_placed_event_is_its_template_at_a_line_and_time() -> None:
    """Event.at returns a new event equal to its template in every attribute but line and time; the template stays."""
    template = grammar.parse_message(SLOT)
    placed = template.at(42, 1.5)
    assert (placed.line, placed.t) == (42, 1.5) and (template.line, template.t) == (0, None)
    for field in attrs.fields(Event):
        if field.name not in ("line", "t"):
            assert getattr(placed, field.name) == getattr(template, field.name), field.name
    assert placed.level is Level.INFO and placed.pci_domain is None


def test_an_event_is_a_frozen_value_with_slots() -> None:
    """An Event has no instance dict and refuses new values for its attributes (attrs.evolve makes changed copies)."""
    event = grammar.parse_message(SLOT).at(1, 2.0)
    assert not hasattr(event, "__dict__")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.kind = "other"  # type: ignore[misc]
    assert attrs.evolve(event, t=None).t is None and event.t == 2.0


@pytest.mark.parametrize(("line", "expected"), [
    ("[   12.500000] hv_netvsc x", (15, 12.5)),
    ("[12.5] x", (7, 12.5)),
    ("[Thu Sep  3 05:08:01 2026] x", (27, None)),
    ("[  nan] x", (8, None)),
    ("[  12.5]x", (-1, None)),
    ("12.5] x", (-1, None)),
    ("", (-1, None)),
])
def test_a_dmesg_stamp_is_read_by_one_function(line: str, expected: tuple[int, float | None]) -> None:
    """dmesg_stamp gives where the text after a leading ``[...] `` starts and its seconds (None: not seconds)."""
    assert framing.dmesg_stamp(line) == expected


def test_framing_a_dmesg_line_gives_its_seconds() -> None:
    """A framed dmesg line carries the seconds of its stamp, and the stamp they make on the monotonic clock."""
    framed = framing.frame(f"[   12.500000] {SLOT}")
    assert framed is not None and framed.seconds == 12.5 and framed.stamp == framing.Stamp(12.5, framing.MONOTONIC)


def test_a_repeated_unknown_message_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A driver message the grammar does not know is worked out once; its repeats reuse the remembered reading."""
    message = "mlx5_core cf63:00:02.0: a message no grammar or catalogue knows, hotpath test"
    analyzer = Analyzer()
    reads: list[str] = []
    monkeypatch.setattr(front, "_read", lambda text, read=front._read: reads.append(text) or read(text))
    for second in range(5):
        analyzer.feed(second + 1, f"[ {second}.000000] {message}")
    assert reads == [message]
    assert analyzer.unrecognised_count == 5 and [u.line for u in analyzer.unrecognised] == [1, 2, 3, 4, 5]


# -- a message's route through a boot, decided once while the ties stay --------------------------------------------

B = "000d3af6-76be-000d-3af6-76be000d3af6"
LINK = "mlx5_core cf63:00:02.0 eth2: Link up"
BALLOON = "hv_vmbus: registering driver hv_balloon"


def _line(t: float, message: str) -> str:
    return f"[{t:12.6f}] {message}\n"


def _placements(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Return the list that every Event.at call (a message's parse placed at a line) appends its line to."""
    placed: list[int] = []
    at = Event.at

    def counting(self: Event, line: int, t: float | None) -> Event:
        placed.append(line)
        return at(self, line, t)

    monkeypatch.setattr(Event, "at", counting)
    return placed


def _routes(text: str, message: str) -> list[str | None]:
    """Return the NIC key of every event of *message* in *text*, in line order (None: no NIC)."""
    routed = sorted(vflog.events_text(text), key=lambda r: (r.boot, r.event.line))
    return [r.nic for r in routed if r.event.message == message]


def test_a_remembered_message_outside_every_nics_story_is_never_placed(monkeypatch: pytest.MonkeyPatch) -> None:
    """`hv_vmbus: registering driver hv_balloon` repeated: where it goes (nowhere) is decided at its first line; its
    repeats count as events of the boot, but no event is made for them."""
    placed = _placements(monkeypatch)
    text = _line(1.0, SLOT) + "".join(_line(2.0 + i, BALLOON) for i in range(20))
    report = vflog.analyze_text(text)
    assert [line for line in placed if line >= 2] == [2]
    assert report.stats.events == 21 and report.boots[0].end_line == 21 and report.boots[0].t_end == 21.0


def test_a_repeated_line_on_a_nic_is_a_timeline_entry_without_an_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """A storm of `Link up` lines on a registered VF: every line is a timeline entry at its own line and time, but
    once its route is remembered no event is made for a repeat (no sink takes it, no rule keeps it)."""
    text = _line(1.0, f"hv_netvsc {GUID} eth0: VF registering: eth2") + "".join(_line(2.0 + i, LINK) for i in range(30))
    placed = _placements(monkeypatch)
    report = vflog.analyze_text(text)
    assert len([line for line in placed if line >= 2]) <= 2  # the first ties domain cf63: the second is decided again
    (nic,) = report.boots[0].nics
    links = [(entry.line, entry.t) for entry in nic.timeline if entry.event == "link_up"]
    assert links == [(2 + i, 2.0 + i) for i in range(30)]


def test_a_sink_still_gets_every_line_placed() -> None:
    """With a sink (the events API) each repeated line is handed on as its own event, at its line and time."""
    text = _line(1.0, f"hv_netvsc {GUID} eth0: VF registering: eth2") + "".join(_line(2.0 + i, LINK) for i in range(30))
    routed = [r for r in vflog.events_text(text) if r.event.message == LINK]
    assert [(r.nic, r.event.line, r.event.t) for r in routed] == [(GUID, 2 + i, 2.0 + i) for i in range(30)]


def test_a_remembered_route_follows_the_vf_joining_another_nic() -> None:
    """eth2 was registered by NIC A; `eth2: joined to eth1` ties it to NIC B: the repeated line goes to A, then B."""
    text = "".join([
        _line(0.5, f"hv_netvsc {B} eth1: VF slot 2 added"),
        _line(1.0, f"hv_netvsc {GUID} eth0: VF registering: eth2"),
        _line(2.0, LINK), _line(3.0, LINK), _line(4.0, LINK),
        _line(5.0, "mlx5_core cf63:00:02.0 eth2: joined to eth1"),
        _line(6.0, LINK), _line(7.0, LINK),
    ])
    assert _routes(text, LINK) == [GUID, GUID, GUID, B, B]


def test_a_remembered_route_belongs_to_its_boot() -> None:
    """A new boot decides every route again: after the banner nothing registered eth2, so the same line no longer
    goes to NIC A but to an entry of its own for its PCI domain."""
    text = "".join([
        _line(1.0, f"hv_netvsc {GUID} eth0: VF registering: eth2"),
        _line(2.0, LINK), _line(3.0, LINK), _line(4.0, LINK),
        _line(0.0, "Linux version 6.8.0-1015-azure (buildd@lcy02-amd64-043) #17-Ubuntu SMP"),
        _line(1.0, LINK), _line(2.0, LINK),
    ])
    assert _routes(text, LINK) == [GUID, GUID, GUID, "pci:cf63", "pci:cf63"]


@contextlib.contextmanager
def _nothing_remembered() -> Iterator[None]:
    """Within the block no route (correlate) and no judging (rules) is remembered: every line is decided afresh."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(correlate, "_ROUTED_TEXT_LIMIT", -1)
        patch.setattr(rules, "_JUDGING_TEXT_LIMIT", -1)
        yield


_POOL = [
    f"hv_netvsc {GUID} eth0: VF slot 1 added",
    f"hv_netvsc {GUID} eth0: VF registering: eth2",
    f"hv_netvsc {GUID} eth0: Data path switched to VF: eth2",
    f"hv_netvsc {GUID} eth0: Data path switched from VF: eth2",
    f"hv_netvsc {GUID} eth0: VF unregistering: eth2",
    f"hv_netvsc {GUID} eth0: VF slot 1 removed",
    f"hv_netvsc {B} eth1: VF registering: eth2",
    f"hv_netvsc {B} eth1: VF slot 2 added",
    "hv_pci e9ac9b28-cf63-4466-9ae3-4b849c3ee03b: PCI host bridge to bus cf63:00",
    "pci cf63:00:02.0: [15b3:1016] type 00 class 0x020000",
    "pci 0001:00:00.0: [1414:5353] type 00 class 0x030000",
    "mlx5_core cf63:00:02.0: firmware version: 16.30.1004",
    "mlx5_core cf63:00:02.0 eth2: joined to eth1",
    "mlx5_core cf63:00:02.0 enP1s1: renamed from eth2",
    "mlx5_core cf63:00:02.0 enP1s1: Link up",
    LINK,
    "mlx5_core cf63:00:02.0 eth2: Disabling LRO, not supported in legacy RQ",
    BALLOON,
    "Linux version 6.8.0-1015-azure (buildd@lcy02-amd64-043) #17-Ubuntu SMP",
]


@settings(max_examples=150)
@given(st.lists(st.tuples(st.sampled_from(_POOL), st.integers(min_value=0, max_value=3)), max_size=60))
def test_remembered_routes_give_the_report_of_fresh_decisions(lines: list[tuple[str, int]]) -> None:
    """Lifecycle, tie-changing, look-alike and banner lines repeated in any order, with times that may step back:
    the report with routes and judgings remembered is the report with every line decided afresh."""
    text = "".join(_line(float(i + step), message) for i, (message, step) in enumerate(lines))
    remembered = vflog.analyze_text(text)
    with _nothing_remembered():
        fresh = vflog.analyze_text(text)
    assert remembered == fresh


@settings(max_examples=40)
@given(faulty_logs(max_nics=3, max_cycles=2))
def test_remembered_routes_give_the_report_of_fresh_decisions_on_servicing_logs(case: tuple[GeneratedLog, str]) -> None:
    """Generated servicing logs with one injected fault: remembered routes and judgings change nothing in the report."""
    log, _ = case
    remembered = vflog.analyze_text(log.text)
    with _nothing_remembered():
        fresh = vflog.analyze_text(log.text)
    assert remembered == fresh


# -- the per-line front end: a stamp read by one match, a stamped line read once per distinct text ---------------


def _stamp_by_definition(line: str) -> tuple[int, float | None]:
    """Return what dmesg_stamp's docstring says: the text after the first ``] `` of a line that starts with ``[``,
    and the seconds of the brackets' text (framing.seconds)."""
    close = line.find("] ") if line[:1] == "[" else -1
    return (-1, None) if close < 0 else (close + 2, framing.seconds(line[1:close]))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="[] .0123456789e+-_nainf\t", max_size=24))
def test_a_dmesg_stamp_read_by_one_match_agrees_with_its_definition(line: str) -> None:
    """dmesg_stamp, which reads a plain ``[  12.5] `` stamp by one match, gives what the first ``] `` and
    framing.seconds give for every line (spaces, huge values, ``nan``, ``1e3``, brackets inside)."""
    assert framing.dmesg_stamp(line) == _stamp_by_definition(line)
    assert framing.dmesg_stamp(f"[{'9' * 13}.5] x") == (18, None)
