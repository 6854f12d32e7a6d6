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

What each state says about the VF (where traffic runs, registered, gone, an
offer awaiting its device, what it waits for and for how long) is the literal
TRAITS table next to it; the kinds that take a VF away or bring it back are
derived from both.  Other modules look these facts up here and list no states.
"""

from __future__ import annotations

import enum
from typing import Mapping

import attrs


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
        # a device gone or a bus released after a new offer is the old VF's teardown ending (the offered
        # VF has no device yet): the offer still awaits its device
        "slot_removed": RM, "bus_released": SO, "device_gone": SO,
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


@attrs.frozen
class Wait:
    """What a state waits for: the finding its absence raises, the Config threshold (seconds) it may take,
    what failed when it never came, and what is still pending when the log ends too soon."""

    code: str
    threshold: str
    failure: str
    pending: str
    #: The input kinds that bring what is awaited.
    steps: frozenset[str] = frozenset()


#: The waits of the lifecycle.  A state's wait is judged once the log demonstrably goes on past its
#: threshold (other, unrelated lines after it); before that it is only ``incomplete``.
OFFER_WAIT = Wait("slot-without-device", "slot_to_device", "no VF PCI device followed the slot offer",
                  "a VF PCI device follows the slot offer", frozenset(_PCI))
#: A PCI_PRESENT state reached without a PCI device line (only the vPCI bus): a device is still awaited.
BUS_WAIT = Wait("slot-without-device", "slot_to_device", "no VF PCI device appeared on the vPCI bus",
                "a VF PCI device appears on the vPCI bus", frozenset({"pci_device"}))
DEVICE_WAIT = Wait("device-without-driver", "device_to_driver", "no VF driver took the PCI device",
                   "a VF driver takes the PCI device", frozenset({"driver_init", "probe_failed"}))
DRIVER_WAIT = Wait("vf-not-registered", "driver_to_register", "the VF never registered with netvsc",
                   "the VF registers with netvsc", frozenset({"vf_registering", "vf_joined"}))
SWITCH_WAIT = Wait("datapath-not-switched", "register_to_datapath", "the data path never switched to the VF",
                   "the data path switches to the VF", frozenset({"datapath_to_vf"}))
RETURN_WAIT = Wait("ends-on-synthetic", "synthetic_max", "traffic stayed on the synthetic path with the VF present",
                   "traffic returns to the VF", frozenset({"datapath_to_vf"}))
READD_WAIT = Wait("vf-not-readded", "readd_max", "the VF was not added back", "the VF is added back",
                  frozenset({"slot_added", *_PCI, "driver_init", "vf_registering", "vf_joined"}))
#: netvsc announced it waits for the host's VF association (whatever the state).
ASSOCIATION_WAIT = Wait("association-wait", "association_max", "the host's VF association never came",
                        "the host's VF association arrives", frozenset({"datapath_to_vf"}))
#: A NIC with no VF at all in a log that shows its whole boot (from the boot banner on).
NO_VF_WAIT = Wait("no-accelerated-networking", "synthetic_max", "no VF appeared in a log that shows the whole boot",
                  "a VF is offered to the NIC", frozenset({"slot_added", "vf_registering", "vf_joined"}))


@attrs.frozen
class Traits:
    """What a state says about the NIC's VF: where traffic runs, whether the VF is registered with netvsc
    or gone, whether the host's offer still awaits its PCI device, and what the state waits for."""

    #: Where traffic runs as far as the state itself proves it (see datapath()); None: on the way to the VF.
    datapath: str | None
    #: The VF is registered with netvsc (in use): its removal now is a surprise.
    registered: bool
    #: The VF was withdrawn or failed: the next offer, device or registration is a new VF generation.
    gone: bool
    #: The host offered a VF whose PCI device has not appeared yet.
    offered: bool
    #: What the state waits for, None when it waits for nothing.
    wait: Wait | None


#: The traits of every state, next to the table they describe: the one place other modules read
#: lifecycle facts from.  The data path a state proves: a data-path line, a VF removal, a failed
#: probe (a VF without a driver carries nothing).  None marks a state on the way to the VF: there
#: the path is that of the NIC's last proof (after a removal or a switch away, only a data-path
#: line brings traffic back to the VF), else "synthetic" when the log demonstrably goes on past the
#: awaited step, else "unknown" (a grepped log or an excerpt that just stops proves nothing).  Before
#: any input (UNKNOWN) nothing is proven either: only a log that shows the NIC's whole boot without a
#: VF shows the absence (NO_VF_WAIT).
TRAITS: Mapping[State, Traits] = {
    U: Traits(datapath=None, registered=False, gone=False, offered=False, wait=None),
    SO: Traits(datapath=None, registered=False, gone=False, offered=True, wait=OFFER_WAIT),
    PP: Traits(datapath=None, registered=False, gone=False, offered=False, wait=DEVICE_WAIT),
    DB: Traits(datapath=None, registered=False, gone=False, offered=False, wait=DRIVER_WAIT),
    PF: Traits(datapath="synthetic", registered=False, gone=True, offered=False, wait=None),
    VR: Traits(datapath=None, registered=True, gone=False, offered=False, wait=SWITCH_WAIT),
    LU: Traits(datapath=None, registered=True, gone=False, offered=False, wait=SWITCH_WAIT),
    DV: Traits(datapath="vf", registered=True, gone=False, offered=False, wait=None),
    DS: Traits(datapath="synthetic", registered=True, gone=False, offered=False, wait=RETURN_WAIT),
    GA: Traits(datapath="synthetic", registered=False, gone=True, offered=False, wait=READD_WAIT),
    RM: Traits(datapath="synthetic", registered=False, gone=True, offered=False, wait=READD_WAIT),
}
#: The input that says a VF driver took the PCI device.
BOUND: str = "driver_init"
#: States before the VF's driver is known bound, in which the input BOUND leads to DRIVER_BOUND: there a line that
#: proves the driver bound (its own registered netdev) stands for the BOUND input the log does not show.
BEFORE_DRIVER: frozenset[State] = frozenset(
    state for state, row in TRANSITIONS.items()
    if row.get(BOUND) is DB and state is not DB and not TRAITS[state].gone and not TRAITS[state].registered)
#: Where traffic runs in each state, as far as the state itself proves it (TRAITS' datapath).
DATAPATH: Mapping[State, str | None] = {state: traits.datapath for state, traits in TRAITS.items()}
#: States in which traffic runs on the VF.
ON_VF: frozenset[State] = frozenset(state for state, path in DATAPATH.items() if path == "vf")
#: Inputs by which the host or the hardware takes the VF away (the guest's own unregistering aside).
WITHDRAWALS: frozenset[str] = frozenset({"slot_removed", "device_gone"})
#: Inputs that take the VF away: from the VF they lead to a state where it is gone.
REMOVALS: frozenset[str] = frozenset(kind for kind, target in TRANSITIONS[DV].items() if TRAITS[target].gone)
#: Inputs that bring a VF back once it was gone (each opens a new VF generation).
READDS: frozenset[str] = frozenset(kind for state in STATES if TRAITS[state].gone
                                   for kind, target in TRANSITIONS[state].items() if not TRAITS[target].gone)


def traits(state: State) -> Traits:
    """Return the traits of *state*."""
    return TRAITS[state]


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
