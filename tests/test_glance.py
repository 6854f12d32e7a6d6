"""Tests of the human report's first screen: verdict lines, severity order, colour and width."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import vflog
from vflog.catalogue import Severity
from vflog.cli import main
from vflog.render import Display, by_severity, render_codes, render_table
from vflog.report import Finding

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
ALL_SAMPLES = sorted(SAMPLES.glob("*.log"))


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        """Return True, as a terminal does."""
        return True


def run(*argv: str, env: dict[str, str] | None = None, out: io.StringIO | None = None) -> str:
    """Run vflog with *argv* and *env*; return what it printed."""
    out = out if out is not None else io.StringIO()
    main(list(argv), env or {}, out, io.StringIO())
    return out.getvalue()


def test_verdict_line_on_the_vf_names_vf_driver_since_and_servicing_outage() -> None:
    """A NIC on the VF gets one ✔ line with its VF, driver, since when and its servicing outage."""
    text = render_table(vflog.analyze(SAMPLES / "host-servicing.log"))
    assert "eth0  ✔ on VF enP53091s1np0 (mlx5_core) since 8226.3 s, 1 servicing outage of 65.4 s\n" in text


def test_verdict_line_on_the_synthetic_path_says_why_with_code_and_line() -> None:
    """A NIC on the synthetic path gets a ✘ line with its worst finding's meaning, code and line."""
    text = render_table(vflog.analyze(SAMPLES / "finding-device-without-driver.log"))
    line = next(x for x in text.splitlines() if "✘" in x)
    assert line.startswith("eth0  ✘ synthetic: a VF PCI device appeared but no VF driver took it")
    assert line.endswith("(device-without-driver, line 64)")


def test_verdict_line_when_the_log_proves_nothing_says_unknown() -> None:
    """A NIC whose data path is unknown gets a ? line, not a claim."""
    text = render_table(vflog.analyze(SAMPLES / "finding-incomplete.log"))
    assert "eth0  ? unknown: " in text and "(incomplete, line 82)" in text


def test_verdict_line_on_the_vf_names_its_worst_warning() -> None:
    """A NIC on the VF with a warning or error says so on its verdict line (code and line)."""
    text = render_table(vflog.analyze(SAMPLES / "finding-datapath-flapping.log"))
    assert "eth0  ✔ on VF enP53091s1np0 (mlx5_core) since 593.2 s; warning: datapath-flapping (line 103)\n" in text


def test_at_a_glance_comes_before_the_details() -> None:
    """The verdict lines stand above every boot's table and findings, one per NIC."""
    text = render_table(vflog.analyze(SAMPLES / "multi-nic-mana.log"))
    assert text.index("At a glance") < text.index("Boot 0:")
    glance = text[text.index("At a glance"):text.index("Boot 0:")]
    assert glance.count("✔") == 2


def test_findings_are_ordered_by_severity_then_line() -> None:
    """An info finding on an early line stands below an error on a later line."""
    info = Finding("incomplete", Severity.INFO, None, 3, None, "i")
    error = Finding("switch-failed", Severity.ERROR, None, 9, None, "e")
    warning = Finding("vf-temp-name", Severity.WARNING, None, 1, None, "w")
    assert by_severity([info, error, warning]) == [error, warning, info]
    for sample in ALL_SAMPLES:
        heads = [line.split()[0] for line in render_table(vflog.analyze(sample)).splitlines()
                 if line.startswith("  ") and line.split()[:1] in (["ERROR"], ["WARNING"], ["INFO"])]
        ranks = [Severity(h.lower()).rank for h in heads]
        assert ranks == sorted(ranks, reverse=True) or "Boot 1" in render_table(vflog.analyze(sample)), sample


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    """auto colours a terminal, not a pipe; NO_COLOR and --color never turn it off; always forces it."""
    sample = str(SAMPLES / "finding-device-without-driver.log")
    assert "\x1b[" not in run("report", sample)
    assert "\x1b[" in run("report", sample, out=Terminal())
    assert "\x1b[" not in run("report", sample, env={"NO_COLOR": "1"}, out=Terminal())
    assert "\x1b[" not in run("report", "--color", "never", sample, out=Terminal())
    assert "\x1b[31m✘\x1b[0m" in run("report", "--color", "always", sample)


def test_colour_never_goes_into_an_output_file(tmp_path: Path) -> None:
    """-o FILE gets no escape sequences even when vflog runs on a terminal."""
    target = tmp_path / "report.txt"
    run("report", "-o", str(target), str(SAMPLES / "finding-device-without-driver.log"), out=Terminal())
    assert "\x1b[" not in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=lambda p: p.name)
def test_report_fits_80_columns(sample: Path) -> None:
    """With COLUMNS=80 every line of the report fits: the NIC table is stacked, evidence cut with …."""
    text = run("report", str(sample), env={"COLUMNS": "80"})
    assert max(map(len, text.splitlines())) <= 80, sample


def test_narrow_report_stacks_the_nic_table_and_cuts_evidence_with_a_marker() -> None:
    """At 80 columns the NIC table becomes one block per NIC and long evidence ends with …."""
    text = render_table(vflog.analyze(SAMPLES / "finding-device-without-driver.log"), display=Display(80))
    assert "  VMBus id           000d3af5-76bd-000d-3af5-76bd000d3af5" in text
    assert any(line.endswith("…") and "|" in line for line in text.splitlines())


def test_pipes_keep_the_wide_table() -> None:
    """Without COLUMNS and a terminal the width is unlimited: scripts see the one-row-per-NIC table."""
    text = run("report", str(SAMPLES / "finding-device-without-driver.log"))
    assert any(line.startswith("NIC    VMBus id") for line in text.splitlines())


def test_explain_list_fits_80_columns() -> None:
    """vflog explain wraps the meanings to the width it is given."""
    assert max(map(len, render_codes(Display(80)).splitlines())) <= 80
    assert max(map(len, run("explain", env={"COLUMNS": "80"}).splitlines())) <= 80
    assert max(map(len, run("explain", "kernel-trace", env={"COLUMNS": "60"}).splitlines())) <= 60


def test_scan_table_fits_80_columns() -> None:
    """vflog scan's summary and file table fit 80 columns (files stacked)."""
    text = run("scan", "-q", "-j", "1", "--top", "0", str(SAMPLES), env={"COLUMNS": "80"})
    assert "final data path" in text and max(map(len, text.splitlines())) <= 80


CORPUS = sorted(p for p in (Path(__file__).resolve().parent / "corpus").rglob("*") if p.is_file())


@pytest.mark.parametrize("log", CORPUS, ids=lambda p: p.name)
def test_every_corpus_log_fits_80_columns_in_report_and_timeline(log: Path) -> None:
    """Real and generated logs (not only samples) give a report and a timeline that fit 80 columns."""
    from vflog.render_timeline import render_timeline
    report = vflog.analyze(log)
    for text in (render_table(report, display=Display(80)), render_timeline(report, Display(80))):
        assert max(map(len, text.splitlines())) <= 80
