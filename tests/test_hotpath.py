"""Tests of the per-line path's values: placed events, dmesg stamps, and readings remembered per message."""

from __future__ import annotations

import attrs
import pytest

from vflog import framing, grammar
from vflog.analyze import Analyzer, _reading
from vflog.events import Event, Level

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


def test_a_repeated_unknown_message_is_read_once() -> None:
    """A driver message the grammar does not know is worked out once; its repeats reuse the remembered reading."""
    message = "mlx5_core cf63:00:02.0: a message no grammar or catalogue knows, hotpath test"
    analyzer = Analyzer()
    before = _reading.cache_info()
    for second in range(5):
        analyzer.feed(second + 1, f"[ {second}.000000] {message}")
    after = _reading.cache_info()
    assert after.misses - before.misses == 1 and after.hits - before.hits == 4
    assert analyzer.unrecognised_count == 5 and [u.line for u in analyzer.unrecognised] == [1, 2, 3, 4, 5]
