"""Tests of vflog.render: what people and programs see."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given

import vflog
from vflog.render import clean, pretty_json, render_json, render_table

from .strategies import json_values

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_clean_neutralises_control_and_bidi_characters() -> None:
    """Escape, bell, carriage return and bidi overrides are shown, not obeyed; text is kept."""
    assert clean("a\x1b[2Jb\x07c\rd\u202ee") == "a\\x1b[2Jb\\x07c\\x0dd\\u202ee"
    assert clean("plain text: eth0 → enP1s1") == "plain text: eth0 → enP1s1"


def test_table_names_the_clock_and_quotes_evidence() -> None:
    """The human report says which clock times are on and quotes each finding's evidence lines."""
    report = vflog.analyze(SAMPLES / "finding-switch-failed.log")
    text = render_table(report)
    assert "(monotonic clock)" in text
    assert "Data path failed to switch to VF" in text and "ERROR   switch-failed" in text
    wall = render_table(vflog.analyze(SAMPLES / "freebsd-hn.log"))
    assert "(wall clock)" in wall and "Sep 03 05:08:01" in wall


def test_json_is_one_document_with_string_severities() -> None:
    """render_json gives one parseable document; unrecognised lines only on request."""
    report = vflog.analyze(SAMPLES / "finding-netvsc-error.log")
    doc = json.loads(render_json(report))
    assert doc["boots"][0]["findings"][0]["severity"] in ("error", "warning", "info")
    assert "unrecognised" not in doc
    assert "unrecognised" in json.loads(render_json(report, show_unrecognised=True))


@given(json_values())
def test_pretty_json_is_the_same_json(value: object) -> None:
    """The indented rendering decodes to what the compact encoder gives, for any JSON value."""
    assert json.loads(pretty_json(value)) == json.loads(json.dumps(value))


def test_pretty_json_keeps_flat_objects_and_arrays_on_one_line() -> None:
    """A container of scalars (a timeline entry, evidence lines) is one line; containers of containers indent."""
    text = pretty_json({"timeline": [{"line": 5, "event": "slot_added"}], "evidence": [1, 2], "empty": {}})
    assert text.splitlines() == ['{', '  "timeline": [', '    {"line": 5, "event": "slot_added"}', '  ],',
                                 '  "evidence": [1, 2],', '  "empty": {}', '}']


def test_evidence_not_quoted_is_listed_by_number_and_never_empty() -> None:
    """Evidence lines without a quote are listed by number; a finding quoted in full lists nothing more."""
    from vflog.report import BootReport, Finding, Quote, Stats
    quoted = Finding("kernel-trace", vflog.Severity.ERROR, None, 5, None, "a trace", (5, 6, 7),
                     (Quote(5, "Call Trace:"),))
    whole = Finding("unexpected-event", vflog.Severity.WARNING, None, 9, None, "refused", (9,), (Quote(9, "x"),))
    boot = BootReport(0, 1, 9, None, None, None, None, (), (quoted, whole))
    text = render_table(vflog.Report("x.log", (boot,), Stats(9, 2, 0)))
    assert "| ... 2 more evidence line(s): 6, 7" in text
    assert text.count("more evidence") == 1
