"""Tests of vflog.grammar: every catalogued message variant becomes the right event."""

from __future__ import annotations

from pathlib import Path

import pytest

from vflog import grammar, machine
from vflog.errors import ParseError
from vflog.events import Level

GOLDEN = Path(__file__).parent / "golden" / "messages.txt"
#: The dmesg lines of the seed document 000 (the log lines only, not its prose).
SEED = Path(__file__).resolve().parent / "corpus" / "seed-000-lines.log"


def _golden() -> list[tuple[str, str]]:
    rows = []
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            kind, text = line.split("\t")
            rows.append((kind, text))
    return rows


@pytest.mark.parametrize(("kind", "text"), _golden(), ids=lambda v: v[:60])
def test_catalogued_message_has_its_kind(kind: str, text: str) -> None:
    """Each message variant of the catalogue parses to the documented event kind."""
    assert grammar.parse_message(text).kind == kind


def test_every_kind_of_the_grammar_has_a_golden_example() -> None:
    """No grammar alternative is untested: the golden list covers every kind."""
    assert grammar.kinds() - {kind for kind, _ in _golden()} == set()


def test_machine_inputs_are_grammar_kinds() -> None:
    """The state table only names kinds the grammar can produce."""
    assert machine.INPUTS <= grammar.kinds()


def test_prefix_fields() -> None:
    """The printk prefix gives driver, device, interface and registration state."""
    event = grammar.parse_message(
        "mlx5_core 468b:00:02.0 enP18059s1 (unregistering): Disabling LRO, not supported in legacy RQ")
    assert (event.driver, event.device, event.ifname, event.regstate) == (
        "mlx5_core", "468b:00:02.0", "enP18059s1", "unregistering")
    assert event.pci_domain == "468b"


def test_message_fields() -> None:
    """Message captures become typed fields."""
    assert grammar.parse_message(
        "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added").fields == {"slot": 1}
    event = grammar.parse_message("mana 7870:00:00.0 vf_eth0: Configured vPort 2 PD 18 DB 16")
    assert event.fields == {"vport": 2, "pd": 18, "db": 16}
    event = grammar.parse_message("mlx5_core cf63:00:02.0 enP53091s1np0: renamed from eth1 (while UP)")
    assert event.get("old") == "eth1" and event.get("while_up")
    event = grammar.parse_message("mlx4_en: 0001:00:02.0: Port 1: Using 8 TX rings")
    assert event.device == "0001:00:02.0" and event.get("port") == 1


def test_old_vmbus_device_names() -> None:
    """4.x kernels name the synthetic NIC vmbus_N instead of a GUID."""
    event = grammar.parse_message("hv_netvsc vmbus_16 eth1: VF registering: eth2")
    assert (event.kind, event.device, event.ifname, event.get("vf")) == ("vf_registering", "vmbus_16", "eth1", "eth2")


def test_levels_follow_the_naming_convention() -> None:
    """Kinds named err_ are errors, warn_ warnings, the rest information."""
    assert grammar.parse_message("hv_pci e9ac9b28-cf63-4466-9ae3-4b849c3ee03b: the device is being ejected").level is Level.WARNING
    assert grammar.parse_message("hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: unable to open channel: -19").level is Level.ERROR
    assert grammar.parse_message("pci cf63:00:02.0: enabling Extended Tags").level is Level.INFO


@pytest.mark.parametrize("text", [
    "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: something new the catalogue lacks",
    "mlx5_core cf63:00:02.0: totally new message",
    "hv_pci e9ac9b28-cf63-4466-9ae3-4b849c3ee03b:",
    "",
])
def test_unknown_message_is_a_parse_error(text: str) -> None:
    """An unknown message raises ParseError, which is also a ValueError."""
    with pytest.raises(ParseError) as info:
        grammar.parse_message(text)
    assert isinstance(info.value, ValueError)
    assert info.value.text == text


def test_parse_results_are_cached() -> None:
    """The same message text is parsed once and the same event value is returned."""
    text = "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 7 added"
    assert grammar.parse_message(text) is grammar.parse_message(text)


def test_every_seed_line_is_recognised() -> None:
    """Every dmesg line of the reference document (boot and servicing) is a known event."""
    from vflog import framing
    lines = [line for line in SEED.read_text(encoding="utf-8").splitlines() if line.startswith("[ ")]
    assert len(lines) > 40
    for line in lines:
        framed = framing.frame(line.strip())
        assert framed is not None, line
        grammar.parse_message(framed.message)
