"""The public API is whole and consistent: every type in a public signature is exported, help lists the scan
API, one concept has one name (old names kept as aliases)."""

from __future__ import annotations

import inspect
import pydoc
import typing
from pathlib import Path
from typing import Any, Iterator

import pytest

import vflog
from vflog.fleet import analyze_one

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _types_in(hint: Any) -> Iterator[type]:
    """Yield every class named in a type hint (inside unions, generics and Callable's parameter lists)."""
    if isinstance(hint, (list, tuple)):
        for item in hint:
            yield from _types_in(item)
        return
    if typing.get_origin(hint) is None and isinstance(hint, type):
        yield hint
    for argument in typing.get_args(hint):
        yield from _types_in(argument)


def _signatures(value: Any) -> Iterator[tuple[str, Any]]:
    """Yield (where, hint) for a public function, or for a class's fields and public methods and properties."""
    targets = [value]
    if inspect.isclass(value):
        for name, member in inspect.getmembers(value):
            member = member.fget if isinstance(member, property) else member
            if (not name.startswith("_") or name == "__init__") and inspect.isroutine(member):
                targets.append(member)
    for target in targets:
        for name, hint in typing.get_type_hints(target).items():
            yield f"{getattr(target, '__qualname__', target)}: {name}", hint


def test_every_vflog_type_in_a_public_signature_is_exported() -> None:
    """Each class of vflog that a public function, class field, method or property names is in vflog.__all__."""
    missing = set()
    for name in vflog.__all__:
        value = getattr(vflog, name)
        if not (inspect.isclass(value) or inspect.isroutine(value)):
            continue
        for where, hint in _signatures(value):
            for kind in _types_in(hint):
                if kind.__module__.split(".")[0] == "vflog" and getattr(vflog, kind.__name__, None) is not kind:
                    missing.add(f"{kind.__module__}.{kind.__qualname__} (in {where})")
    assert not missing, sorted(missing)


def test_the_signature_walk_sees_a_missing_type(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk above finds an unexported type: without Selection in vflog, analyze's signature names it."""
    monkeypatch.delattr(vflog, "Selection")
    found = {kind.__name__ for _where, hint in _signatures(vflog.analyze) for kind in _types_in(hint)}
    assert "Selection" in found and not hasattr(vflog, "Selection")


def test_help_lists_the_scan_api() -> None:
    """help(vflog) documents scan, summarize, FileResult and Summary, which load on first use."""
    text = pydoc.render_doc(vflog, renderer=pydoc.plaintext)
    for name in ("class FileResult", "class Summary", "class ScanFinding", "scan(", "summarize("):
        assert name in text, name
    assert {"FileResult", "scan", "summarize"} <= set(dir(vflog))


def test_worst_severity_is_a_property_everywhere_and_the_old_names_stay() -> None:
    """Report, FileResult and Summary give worst_severity as a property; Report.worst() and Summary.worst() stay
    methods and FileResult.worst an attribute, as before."""
    path = SAMPLES / "finding-driver-probe-failed.log"
    report = vflog.analyze(path)
    result = analyze_one(str(path))
    summary = vflog.Summary.of(result)
    assert report.worst_severity is result.worst_severity is summary.worst_severity is vflog.Severity.ERROR
    assert report.worst() is result.worst is summary.worst() is vflog.Severity.ERROR
    clean = vflog.analyze(SAMPLES / "host-servicing.log")
    assert clean.worst_severity is None and vflog.Summary().worst_severity is None


def test_timeline_entries_and_state_changes_use_the_vocabulary_of_events() -> None:
    """A timeline entry's event kind is ``kind`` (``event`` stays as an alias); a state change names its NIC's
    interface ``nic_name`` (``synthetic`` stays)."""
    report = vflog.analyze(SAMPLES / "host-servicing.log")
    entry = report.boots[0].nics[0].timeline[0]
    assert entry.kind == entry.event == "slot_added"
    changes = [c for c in vflog.follow(SAMPLES / "host-servicing.log") if isinstance(c, vflog.StateChange)]
    assert changes and all(c.nic_name == c.synthetic == "eth0" for c in changes)
    assert changes[0].event.kind == "slot_added"


def test_config_refuses_a_wrong_type_at_construction() -> None:
    """Config(readd_max="600") is a TypeError naming the field at construction, not a failure deep inside."""
    with pytest.raises(TypeError, match="readd_max"):
        vflog.Config(readd_max="600")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="flap_allowed"):
        vflog.Config(flap_allowed=2.5)  # type: ignore[arg-type]
