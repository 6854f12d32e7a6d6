"""The finding catalogue is complete, documented and used consistently."""

from __future__ import annotations

import re
from pathlib import Path

from vflog import rules
from vflog.catalogue import CODES, Severity, explain

README = Path(__file__).resolve().parents[1] / "README.md"
RULES_SOURCE = Path(rules.__file__).read_text(encoding="utf-8")

#: The codes the project promised to users (issue #2); they must never disappear.
PROMISED = {
    "slot-without-device", "device-without-driver", "driver-probe-failed", "vf-not-registered",
    "datapath-not-switched", "ends-on-synthetic", "datapath-flapping", "switch-failed",
    "vf-not-readded", "long-outage", "unexpected-event", "surprise-removal", "pci-domain-collision",
    "driver-changed", "association-wait", "vf-driver-error", "hv-pci-error", "netvsc-error",
    "isolated-vm", "vf-temp-name", "udev-rename-failed", "kernel-trace", "time-regression", "incomplete",
}


def test_promised_codes_exist() -> None:
    """Every code of the contract is in the catalogue."""
    assert PROMISED <= set(CODES)


def test_every_code_is_documented_in_the_readme() -> None:
    """The README's findings table has a row for every code."""
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", README.read_text(encoding="utf-8"), re.M))
    assert set(CODES) <= documented


def test_every_code_has_an_explanation() -> None:
    """Each entry says what it means, why it happens and what to check, in full sentences."""
    for code in CODES.values():
        assert explain(code.code) is code
        for text in (code.summary, code.cause, code.check):
            assert len(text) > 10 and text.endswith(".")
        assert isinstance(code.severity, Severity)


def test_rules_only_emit_catalogued_codes() -> None:
    """Every code string the rules module names is in the catalogue."""
    named = set(re.findall(r'"([a-z]+(?:-[a-z0-9]+)+)"', RULES_SOURCE))
    assert named <= set(CODES) | {"attributed-late"}
