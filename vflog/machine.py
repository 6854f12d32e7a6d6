"""The per-NIC state machine of the VF lifecycle: a literal transition table and a lookup.

Theory of operation
-------------------
Each virtual NIC (keyed by its hv_netvsc VMBus device) has one machine.  Its
inputs are lifecycle event kinds from the grammar (``slot_added``,
``vf_registering``, ``datapath_to_vf``, ...); every other kind never reaches it.

Before a NIC's first input its state is UNKNOWN: logs are often partial
(``tail``, ``grep VF``, an excerpt starting mid-life), so from UNKNOWN every
input is allowed and lands where that input normally leads.  After that, the
TRANSITIONS table is the whole truth: a (state, input) pair it lists moves the
machine; a pair it does not list is refused, leaves the state unchanged and is
reported as an ``unexpected-event`` finding carrying state and event.

Forward skips that partial or filtered logs produce (no PCI lines because the
log was grepped for "VF", no Link line for MANA) are listed as allowed; what
the table refuses is what the drivers cannot do (switching the data path to a
VF that is not registered, a second slot offer while on the VF, ...).
States, inputs and diagrams are all derived from the table.
"""

from __future__ import annotations

import enum
from typing import Mapping


class State(str, enum.Enum):
    """Where a virtual NIC's VF is in its lifecycle."""

    UNKNOWN = "unknown"
    SLOT_OFFERED = "slot-offered"
    PCI_PRESENT = "pci-present"
    DRIVER_BOUND = "driver-bound"
    PROBE_FAILED = "probe-failed"
    VF_REGISTERED = "vf-registered"
    LINK_UP = "link-up"
    DATAPATH_VF = "datapath-vf"
    DATAPATH_SYNTHETIC = "datapath-synthetic"
    VF_GOING_AWAY = "vf-going-away"
    VF_REMOVED = "vf-removed"


U, SO, PP, DB, PF = State.UNKNOWN, State.SLOT_OFFERED, State.PCI_PRESENT, State.DRIVER_BOUND, State.PROBE_FAILED
VR, LU, DV, DS = State.VF_REGISTERED, State.LINK_UP, State.DATAPATH_VF, State.DATAPATH_SYNTHETIC
GA, RM = State.VF_GOING_AWAY, State.VF_REMOVED

_PCI = {"vpci_probe": PP, "host_bridge": PP, "pci_device": PP}

TRANSITIONS: Mapping[State, Mapping[str, State]] = {
    U: {
        "slot_added": SO, **_PCI, "driver_init": DB, "probe_failed": PF,
        "vf_registering": VR, "vf_joined": VR, "link_up": LU, "vport_configured": LU,
        "vf_up": LU, "link_down": VR, "vf_down": VR, "association_wait": LU,
        "datapath_to_vf": DV, "datapath_from_vf": DS, "vf_unregistering": GA,
        "slot_removed": RM, "device_gone": GA, "bus_released": RM,
    },
    SO: {
        **_PCI, "driver_init": DB, "probe_failed": PF, "vf_registering": VR, "vf_joined": VR,
        "link_up": LU, "vport_configured": LU, "association_wait": SO,
        "slot_removed": RM, "bus_released": RM,
    },
    PP: {
        **_PCI, "slot_added": PP, "driver_init": DB, "probe_failed": PF,
        "vf_registering": VR, "vf_joined": VR, "link_up": LU, "vport_configured": LU,
        "association_wait": PP, "slot_removed": RM, "device_gone": RM, "bus_released": RM,
    },
    DB: {
        "driver_init": DB, "slot_added": DB, "probe_failed": PF, "vf_registering": VR,
        "vf_joined": VR, "link_up": LU, "vport_configured": LU, "association_wait": DB,
        "slot_removed": RM, "device_gone": RM, "bus_released": RM,
    },
    PF: {
        "probe_failed": PF, "driver_init": DB, **_PCI, "slot_added": SO,
        "slot_removed": RM, "device_gone": PF, "bus_released": RM,
    },
    VR: {
        "vf_joined": VR, "slot_added": VR, "association_wait": VR, "link_down": VR,
        "link_up": LU, "vport_configured": LU, "vf_up": LU, "datapath_to_vf": DV,
        "vf_unregistering": GA, "slot_removed": RM, "device_gone": GA,
    },
    LU: {
        "link_up": LU, "vport_configured": LU, "vf_up": LU, "vf_joined": LU,
        "vf_registering": LU, "slot_added": LU, "association_wait": LU,
        "link_down": VR, "vf_down": VR, "datapath_to_vf": DV, "datapath_from_vf": DS,
        "vf_unregistering": GA, "slot_removed": RM, "device_gone": GA,
    },
    DV: {
        "link_up": DV, "vport_configured": DV, "vf_up": DV, "link_down": DV, "vf_down": DV,
        "datapath_from_vf": DS, "vf_unregistering": GA, "slot_removed": RM, "device_gone": GA,
    },
    DS: {
        "link_up": DS, "vport_configured": DS, "vf_up": DS, "link_down": DS, "vf_down": DS,
        "association_wait": DS, "datapath_to_vf": DV, "vf_unregistering": GA,
        "slot_removed": RM, "device_gone": GA,
    },
    GA: {
        "slot_removed": RM, "bus_released": GA, "device_gone": GA, "link_down": GA,
        "vf_down": GA, "slot_added": SO, **_PCI, "driver_init": DB, "probe_failed": PF,
        "vf_registering": VR, "vf_joined": VR,
    },
    RM: {
        "slot_added": SO, **_PCI, "driver_init": DB, "probe_failed": RM, "bus_released": RM,
        "device_gone": RM, "vf_registering": VR, "vf_joined": VR,
        # after a surprise removal the guest still tears the VF down
        "datapath_from_vf": RM, "vf_unregistering": RM, "link_down": RM, "vf_down": RM,
    },
}

#: Every state, in table order.
STATES: tuple[State, ...] = tuple(TRANSITIONS)
#: Every input kind the machine understands.
INPUTS: frozenset[str] = frozenset(kind for row in TRANSITIONS.values() for kind in row)
#: Where traffic runs in each state, as far as the state itself proves it: a data-path line,
#: a VF removal, a failed probe (a VF without a driver carries nothing).  None marks a state on
#: the way to the VF: there the path is that of the NIC's last proof (after a removal or a
#: switch away, only a data-path line brings traffic back to the VF), else "synthetic" when the
#: log demonstrably goes on past the awaited step, else "unknown" (a grepped log or an excerpt
#: that just stops proves nothing).  See datapath().
DATAPATH: Mapping[State, str | None] = {
    U: "unknown", SO: None, PP: None, DB: None, PF: "synthetic", VR: None, LU: None,
    DV: "vf", DS: "synthetic", GA: "synthetic", RM: "synthetic",
}
#: States in which traffic runs on the VF.
ON_VF: frozenset[State] = frozenset(state for state, path in DATAPATH.items() if path == "vf")


def next_state(state: State, kind: str) -> State | None:
    """Return the state that input *kind* leads to from *state*, or None when the table refuses it."""
    return TRANSITIONS[state].get(kind)


def datapath(state: State, proof: str | None = None, absence_shown: bool = False) -> str:
    """Return where traffic runs in *state*: ``vf``, ``synthetic`` or ``unknown``.

    *proof* is the path the NIC's last proving state showed (DATAPATH); *absence_shown* says the
    log went on past the step the state awaits.
    """
    path = DATAPATH[state]
    if path is not None:
        return path
    return "synthetic" if proof == "synthetic" or absence_shown else "unknown"


def diagram() -> str:
    """Return the transition table as a Graphviz dot graph."""
    lines = ["digraph vf_lifecycle {", "  rankdir=LR;"]
    for state, row in TRANSITIONS.items():
        for kind, target in sorted(row.items()):
            if target is not state:
                lines.append(f'  "{state.value}" -> "{target.value}" [label="{kind}"];')
    lines.append("}")
    return "\n".join(lines)
