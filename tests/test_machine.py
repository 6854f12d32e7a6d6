"""Tests of the per-NIC state machine: the table's shape and a model-based run of Nic.apply."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from vflog import machine
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
