"""Tests of vflog.render: what people and programs see."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import vflog
from vflog.render import clean, pretty_json, render_json, render_table, simple_table

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


#: Table cells: mostly text of the NIC table's characters, some with what tabulate treats specially (digits and
#: signs that read as numbers, thousands commas, edge spaces, colour codes, wide and combining characters, line
#: breaks).
_CELL_TEXT = st.one_of(
    st.text(alphabet="abxyz019-./<:, ", min_size=1, max_size=10),
    st.lists(st.sampled_from(list("0123456789+-.,_eEnaifTrueFls xyz:/<()-") +
                             ["\x1b[31m", "\x1b[0m", "\n", "\t", "界", "\u0301", "é", "ﬁ", "True", "nan", "1,234"]),
             max_size=6).map("".join))

#: Headers: mostly plain words, some empty or with edge spaces.
_HEADER_TEXT = st.one_of(st.text(alphabet="abcXY/-", min_size=1, max_size=10), st.text(alphabet="abcXY /-", max_size=10))


@given(st.integers(min_value=1, max_value=4).flatmap(
    lambda width: st.tuples(st.lists(_HEADER_TEXT, min_size=width, max_size=width),
                            st.lists(st.lists(_CELL_TEXT, min_size=width, max_size=width), max_size=5))))
def test_simple_table_prints_what_tabulate_prints(table: tuple[list[str], list[list[str]]]) -> None:
    """The NIC and code tables drawn without tabulate are, cell for cell, what tabulate's "simple" format prints."""
    import tabulate
    headers, rows = table
    assert simple_table(rows, headers) == tabulate.tabulate(rows, headers=headers, tablefmt="simple",
                                                            disable_numparse=True)


def test_simple_table_of_plain_cells_does_not_import_tabulate() -> None:
    """A table of plain text cells (the usual NIC table) is drawn without importing tabulate."""
    import subprocess
    import sys
    code = ("import sys\nfrom vflog.render import simple_table\n"
            "print(simple_table([['eth0', '0.5 s', '-'], ['eth1', '1/0', 'open']], ['NIC', 'time', 'outages']))\n"
            "assert 'tabulate' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=600)
    assert done.returncode == 0, done.stderr
    import tabulate
    assert done.stdout == tabulate.tabulate([["eth0", "0.5 s", "-"], ["eth1", "1/0", "open"]],
                                            headers=["NIC", "time", "outages"], tablefmt="simple") + "\n"


def test_a_number_like_interface_name_is_printed_as_it_is() -> None:
    """A NIC or VF name that reads as a number (``1e5``, ``nan``, ``0x10``) is text in the table, not a number."""
    rows = [["1e5", "nan", "0x10"], ["eth0", "1,000", "-"]]
    table = simple_table(rows, ["NIC", "VF", "driver"])
    assert table.splitlines()[2].split() == ["1e5", "nan", "0x10"]
    assert table.splitlines()[3].split() == ["eth0", "1,000", "-"]
