"""Tests of the per-NIC state machine: the table's shape and a model-based run of Nic.apply."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from vflog import drivers, machine
from vflog.catalogue import CODES
from vflog.events import Event
from vflog.machine import INPUTS, STATES, TRANSITIONS, State
from vflog.nic import Nic

#: Inputs after which, in the naive model, traffic is no longer on the VF.
_LEAVES_VF = frozenset(INPUTS) - {"datapath_to_vf", "link_up", "link_down", "vport_configured",
                                 "vf_up", "vf_down", "association_wait"}


def test_every_target_is_a_state_with_a_row() -> None:
    """The table is closed: every transition lands in a state that has its own row."""
    for row in TRANSITIONS.values():
        assert set(row.values()) <= set(STATES)
    assert set(STATES) == set(State)


def test_unknown_accepts_every_input() -> None:
    """Before a NIC's first event nothing is out of order (partial logs)."""
    assert set(TRANSITIONS[State.UNKNOWN]) == INPUTS


def test_only_datapath_vf_runs_on_the_vf() -> None:
    """The data path is the VF only in state datapath-vf."""
    assert [s for s in STATES if machine.datapath(s) == "vf"] == [State.DATAPATH_VF]
    assert machine.datapath(State.UNKNOWN) == "unknown"


def test_switching_to_a_vf_that_is_not_registered_is_refused() -> None:
    """The catalogue's first anomaly: a switch to a VF that never registered."""
    for state in (State.SLOT_OFFERED, State.PCI_PRESENT, State.VF_REMOVED, State.VF_GOING_AWAY):
        assert machine.next_state(state, "datapath_to_vf") is None


def test_a_driver_proof_stands_for_the_bound_input_only_before_the_driver() -> None:
    """BEFORE_DRIVER, derived from the tables, is the states short of the driver (not bound, registered or gone)."""
    assert machine.BEFORE_DRIVER == {State.UNKNOWN, State.SLOT_OFFERED, State.PCI_PRESENT}
    assert all(TRANSITIONS[state][machine.BOUND] is State.DRIVER_BOUND for state in machine.BEFORE_DRIVER)


def test_diagram_names_every_state() -> None:
    """The dot diagram is derived from the table."""
    dot = machine.diagram()
    for state in STATES:
        if state is not State.UNKNOWN:
            assert f'"{state.value}"' in dot


class NicAgainstNaiveModel(RuleBasedStateMachine):
    """Drive Nic.apply with arbitrary inputs and compare with a model that only tracks on/off VF."""

    def __init__(self) -> None:
        super().__init__()
        self.nic = Nic("000d3af5-76bd-000d-3af5-76bd000d3af5")
        self.line = 0
        self.on_vf = False
        self.to_vf = 0
        self.from_vf = 0

    @rule(kind=st.sampled_from(sorted(INPUTS)))
    def step(self, kind: str) -> None:
        self.line += 1
        before = self.nic.state
        event = Event(kind, driver="hv_netvsc", device=self.nic.key, ifname="eth0",
                      fields={"vf": "eth1"}, line=self.line, t=float(self.line))
        seen_before, after = self.nic.apply(event)
        assert seen_before is before
        if after is None:
            assert self.nic.state is before
            assert TRANSITIONS[before].get(kind) is None
            return
        assert after is TRANSITIONS[before][kind]
        if kind == "datapath_to_vf":
            self.on_vf = True
            self.to_vf += 1
        elif kind in _LEAVES_VF:
            self.on_vf = False
        if kind == "datapath_from_vf":
            self.from_vf += 1

    @invariant()
    def datapath_matches_model(self) -> None:
        assert (self.nic.datapath == "vf") == self.on_vf

    @invariant()
    def switch_counts_match_model(self) -> None:
        assert (self.nic.switches_to_vf, self.nic.switches_from_vf) == (self.to_vf, self.from_vf)

    @invariant()
    def outages_close_in_order(self) -> None:
        open_outages = [o for o in self.nic.outages if o.end_line is None]
        assert len(open_outages) <= 1
        for outage in self.nic.outages:
            assert outage.end_line is None or outage.end_line >= outage.start_line

    @invariant()
    def state_entry_is_not_in_the_future(self) -> None:
        assert self.nic.state_line <= self.line


NicAgainstNaiveModel.TestCase.settings = settings(stateful_step_count=40)
TestNicAgainstNaiveModel = NicAgainstNaiveModel.TestCase


# -- lifecycle facts live in machine.py only ---------------------------------------------------------


PACKAGE = Path(machine.__file__).resolve().parent


def _dict_literal(tree: ast.Module, name: str) -> ast.Dict:
    """Return the dict literal assigned to module-level *name* in *tree*."""
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == name and isinstance(node.value, ast.Dict):
            return node.value
    raise AssertionError(f"no dict literal {name} in machine.py")


def test_trait_table_lists_every_state_exactly_once() -> None:
    """TRAITS, a literal keyed by state like TRANSITIONS, names each state once (a repeated key of a dict
    literal would silently replace the first) and no other key."""
    tree = ast.parse((PACKAGE / "machine.py").read_text(encoding="utf-8"))
    aliases = {target.id: value.attr for node in tree.body if isinstance(node, ast.Assign)
               and isinstance(node.value, ast.Tuple)
               for target, value in zip(getattr(node.targets[0], "elts", []), node.value.elts)
               if isinstance(target, ast.Name) and isinstance(value, ast.Attribute)}
    for table in ("TRAITS", "TRANSITIONS"):
        keys = [aliases[k.id] for k in _dict_literal(tree, table).keys if isinstance(k, ast.Name)]
        assert sorted(keys) == sorted(state.name for state in State), table
    assert set(machine.TRAITS) == set(State)


def _state_sets(path: Path) -> list[int]:
    """Return the lines of *path* where a set, list, tuple or dict literal names a State member."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Set, ast.List, ast.Tuple, ast.Dict)):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            if any(isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) and item.value.id == "State"
                   for item in items):
                found.append(node.lineno)
    return sorted(found)


def test_no_module_but_machine_lists_states() -> None:
    """Lifecycle knowledge is in one place: outside machine.py no module lists states in a literal
    (on the VF, registered, gone, what a state waits for are traits looked up in machine.TRAITS)."""
    listed = {path.name: lines for path in sorted(PACKAGE.glob("*.py")) if path.name != "machine.py"
              if (lines := _state_sets(path))}
    assert listed == {}


def test_the_state_set_check_sees_a_listed_state_set(tmp_path: Path) -> None:
    """The check above finds state sets as modules used to write them."""
    module = tmp_path / "m.py"
    module.write_text("X = frozenset({State.VF_REMOVED, State.PROBE_FAILED})\nY = {State.LINK_UP: 1}\n")
    assert _state_sets(module) == [1, 2]


def test_waits_raise_catalogued_codes_after_configurable_thresholds() -> None:
    """Every wait of the trait table raises a catalogued finding after a threshold the Config names."""
    from vflog.config import Config
    waits = [t.wait for t in machine.TRAITS.values() if t.wait is not None]
    waits += [machine.BUS_WAIT, machine.ASSOCIATION_WAIT, machine.NO_VF_WAIT]
    for wait in waits:
        assert wait.code in CODES and isinstance(getattr(Config(), wait.threshold), float)
        assert wait.steps <= INPUTS


def test_readds_and_removals_follow_from_the_table() -> None:
    """The kinds that bring a VF back or take it away are derived from the table and the traits."""
    assert machine.READDS == {"slot_added", "vpci_probe", "host_bridge", "pci_device", "driver_init",
                              "vf_registering", "vf_joined"}
    assert machine.REMOVALS == {"vf_unregistering", "slot_removed", "device_gone"}
    assert machine.WITHDRAWALS <= machine.REMOVALS


def test_driver_sets_come_from_the_registry() -> None:
    """The synthetic and VF driver sets are the registry's (Linux and FreeBSD), and FreeBSD's grammar
    terminals name its FreeBSD drivers."""
    assert drivers.SYNTHETIC_DRIVERS == {"hv_netvsc", "hn"}
    assert drivers.VF_DRIVERS == {"mlx5_core", "mlx4_core", "mlx4_en", "mana", "mce", "mlxen"}
    assert drivers.reported_name("mlx4_en") == "mlx4_core" and drivers.reported_name("mce") == "mce"
    assert "15b3:1016" in drivers.VF_DEVICE_IDS and "1414:00ba" in drivers.VF_DEVICE_IDS
    from vflog.grammar import grammar_text
    bsd = next(line for line in grammar_text().splitlines() if line.startswith("BSD_VF:"))
    assert set(re.findall(r"\w+", bsd.split("(?:", 1)[1].split(")", 1)[0])) == drivers.named(drivers.VF) - set(drivers.DRIVERS)
    assert drivers.VMBUS_CLIENTS == {"hv_netvsc", "hv_pci"}
