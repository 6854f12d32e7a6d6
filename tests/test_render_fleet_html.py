"""Tests of vflog scan --format html: the fleet page (codes, worst files with lanes, summarised rows, anchors)."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import attrs
import pytest

import vflog
from vflog.cli import main
from vflog.fleet import analyze_one
from vflog.fleet.results import LANE_ENTRIES, FileResult, Lanes, Summary
from vflog.render_fleet_html import FULL_SECTIONS, SMALL_FLEET_BYTES
from vflog.report import TimelineEntry, path_spans

from .test_html import CHROMIUM, Page

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
CORPUS = Path(__file__).resolve().parent / "corpus"


def scan_page(*argv: str) -> tuple[int, str, str]:
    """Run `vflog scan -q -j 1 --format html ARGV` in this process; return the status, the page and stderr."""
    out, err = io.StringIO(), io.StringIO()
    status = main(["scan", "-q", "-j", "1", "--format", "html", *argv], {}, out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def samples_page() -> tuple[str, Page]:
    """The fleet page of every sample log, and its parse."""
    _status, text, err = scan_page(str(SAMPLES))
    assert text.startswith("<!DOCTYPE html>"), err
    return text, Page(text)


def test_fleet_page_is_self_contained(samples_page: tuple[str, Page]) -> None:
    """Nothing is loaded from elsewhere: no script, no stylesheet link, no src, no remote URL."""
    text, parsed = samples_page
    assert not [t for t, _a in parsed.tags if t in ("script", "link", "img", "iframe")]
    assert not [k for _t, a in parsed.tags for k in a if k == "src" or k.startswith("on")]
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text


def test_codes_are_counted_coloured_by_severity_and_linked_to_their_meaning(samples_page: tuple[str, Page]) -> None:
    """Each finding code has a row with its severity's class, linking to an element with its explanation."""
    text, parsed = samples_page
    ids = {a.get("id") for _t, a in parsed.tags}
    rows = re.findall(r'<tr><td><a href="#(code-[a-z0-9-]+)"><code>([a-z0-9-]+)</code></a></td>'
                      r'<td class="sev (error|warning|info)">', text)
    summary = Summary()
    for sample in sorted(SAMPLES.glob("*.log")):
        summary = summary.merge(Summary.of(analyze_one(sample)))
    assert {(code, sev) for _a, code, sev in rows} == {(c, s) for c, s, _f, _n in summary.codes}
    assert all(anchor in ids for anchor, _code, _sev in rows)
    assert "Why it happens:" in text and "What to check:" in text


def test_files_come_worst_first_each_reachable_by_its_anchor(samples_page: tuple[str, Page]) -> None:
    """#file-1 .. #file-N are the files worst first: an error file is first, files without findings last."""
    _text, parsed = samples_page
    files = len([p for p in SAMPLES.iterdir() if p.is_file()])
    sections = parsed.having("section", class_="file")
    assert [s["id"] for s in sections] == [f"file-{n}" for n in range(1, files + 1)]
    worsts = [(s["class"] or "").split()[1] for s in sections]
    order = {"error": 0, "warning": 1, "info": 2, "none": 3}
    assert worsts == sorted(worsts, key=order.__getitem__) and worsts[0] == "error"


def test_each_file_has_a_lane_per_nic_of_its_last_boot(samples_page: tuple[str, Page]) -> None:
    """Every NIC of a file's last boot has a lane carrying data-nic="<NIC key>" with data path bands."""
    text, parsed = samples_page
    lanes = {a["data-nic"] for a in parsed.having("g", class_="lane")}
    for sample in SAMPLES.glob("*.log"):
        for nic in analyze_one(sample).nics:
            assert nic.key in lanes, (sample.name, nic.key)
    assert parsed.having("rect", class_="band-vf") and parsed.having("rect", class_="band-synthetic")


def test_markers_link_to_findings_listed_in_their_file_section(samples_page: tuple[str, Page]) -> None:
    """A marker's link is #file-N-bB-fI, the id of a finding listed in file N's section."""
    _text, parsed = samples_page
    ids = {a.get("id") for _t, a in parsed.tags}
    links = [a["href"] for a in parsed.having("a", class_="marker")]
    assert links and all(re.fullmatch(r"#file-\d+-b\d+-f\d+", href) for href in links)
    assert all(href[1:] in ids for href in links)


def test_lanes_draw_the_data_path_the_report_draws() -> None:
    """The lanes a scan result keeps give the same data path spans as the full report's last boot, for every
    sample and corpus log (only entries that change the drawn path are left out)."""
    logs = sorted(SAMPLES.glob("*.log")) + sorted(CORPUS.rglob("*.log"))
    for log in logs:
        report = vflog.analyze(log)
        if not report.boots:
            continue
        full = report.boots[-1]
        result = FileResult.from_dict(json.loads(json.dumps(analyze_one(log).to_dict())))
        kept = result.last_boot()
        assert kept is not None and kept.index == full.index, log
        keep = {nic.key: nic for nic in kept.nics}
        for nic in full.nics:
            if nic.timeline_dropped:
                continue
            assert path_spans(keep[nic.key], kept) == path_spans(nic, full), (log, nic.key)


def test_lanes_keep_at_most_lane_entries_per_nic() -> None:
    """A NIC that flapped thousands of times keeps LANE_ENTRIES timeline entries: the first and last halves."""
    timeline = tuple(TimelineEntry(n, n / 1000, "x", "datapath-vf" if n % 2 else "datapath-synthetic")
                     for n in range(1, 5001))
    boot = vflog.analyze(SAMPLES / "normal-boot.log").boots[-1]
    nic = boot.nics[0]
    lanes = Lanes.of(attrs.evolve(boot, nics=(attrs.evolve(nic, timeline=timeline),)))
    kept = dict(lanes.timelines)[nic.key]
    assert len(kept) == LANE_ENTRIES
    assert kept[0].line == 1 and kept[-1].line == 5000


def test_scan_records_carry_the_lanes_of_the_last_boot() -> None:
    """A scan JSON Lines record has `lanes`: the last boot's span and per NIC key its [line, t, state] entries."""
    out = io.StringIO()
    main(["scan", "-q", "-j", "1", "--format", "jsonl", str(SAMPLES / "host-servicing.log")], {}, out, io.StringIO())
    record = json.loads(out.getvalue())
    lanes = record["lanes"]
    assert lanes["boot"] == 0 and lanes["clock"] == "monotonic" and lanes["t_end"] > 8000
    entries = lanes["timelines"]["000d3af5-76bd-000d-3af5-76bd000d3af5"]
    assert [61, 8.090127, "datapath-vf"] not in entries and any(e[2] == "vf-going-away" for e in entries)
    assert json.loads(json.dumps(FileResult.from_dict(record).to_dict())) == record


def test_only_the_worst_top_files_get_a_section_the_rest_a_row() -> None:
    """--top N gives the N worst files a section; the others get one row each with their anchor, and a note
    says how many were summarised."""
    _status, text, _err = scan_page("--top", "3", str(SAMPLES))
    parsed = Page(text)
    files = len([p for p in SAMPLES.iterdir() if p.is_file()])
    assert [s["id"] for s in parsed.having("section", class_="file")] == ["file-1", "file-2", "file-3"]
    assert [a["id"] for t, a in parsed.tags if t == "tr" and a.get("id")] == [f"file-{n}" for n in range(4, files + 1)]
    assert f"{files - 3:,} more files, summarised" in text
    assert f"3 of {files:,} files have a section" in text


def test_top_0_gives_every_file_a_section() -> None:
    """--top 0 gives every file a section and summarises none (the default, FULL_SECTIONS = 200, is tested with
    3,000 files below)."""
    _status, text, _err = scan_page("--top", "0", str(SAMPLES))
    files = len([p for p in SAMPLES.iterdir() if p.is_file()])
    assert text.count('<section class="file') == files and 'id="summarised"' not in text


def test_a_scan_of_3000_small_logs_gives_a_page_under_the_bound(tmp_path: Path) -> None:
    """3,000 small logs: 200 sections and 2,800 rows, smaller than SMALL_FLEET_BYTES (2 MB); every file anchored."""
    small = [p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob("*.log")) if p.stat().st_size < 12_000]
    for n in range(3000):
        (tmp_path / f"vm{n:04d}.log").write_text(small[n % len(small)], encoding="utf-8")
    target = tmp_path / "fleet.html"
    out, err = io.StringIO(), io.StringIO()
    main(["scan", "-q", "-j", "2", "--format", "html", "-o", str(target), str(tmp_path)], {}, out, err)
    text = target.read_text(encoding="utf-8")
    assert len(text.encode()) < SMALL_FLEET_BYTES, len(text.encode())
    assert text.count('<section class="file') == FULL_SECTIONS
    assert 'id="file-3000"' in text and "2,800 more files, summarised" in text


def test_log_text_and_file_names_are_escaped_never_markup(tmp_path: Path) -> None:
    """A netvsc line carrying <script> or onerror=, in a file named with them, shows as text on the page."""
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    text = (SAMPLES / "finding-netvsc-error.log").read_text(encoding="utf-8").replace(
        "unable to open slave: enP53091s1np0: -5", f"unable to open slave: {hostile}\"' &amp;: -5")
    folder = tmp_path / "fleet"
    folder.mkdir()
    (folder / "<script>alert(3)<\\script><img src=y onerror=alert(4)>.log").write_text(text, encoding="utf-8")
    (folder / "plain.log").write_text(text, encoding="utf-8")
    _status, page, err = scan_page("--top", "1", str(folder))
    parsed = Page(page)
    assert not [t for t, _a in parsed.tags if t in ("script", "img")]
    assert not [k for _t, a in parsed.tags for k in a if k.startswith("on")]
    shown = "".join(parsed.text)
    assert f"{hostile}\"' &amp;" in shown
    assert "<script>alert(3)<\\script><img src=y onerror=alert(4)>.log" in shown


def test_scan_format_html_writes_the_page_to_a_file(tmp_path: Path) -> None:
    """vflog scan --format html -o FILE writes the page; the exit status is scan's."""
    target = tmp_path / "fleet.html"
    out, err = io.StringIO(), io.StringIO()
    status = main(["scan", "-q", "-j", "1", "--format", "html", "-o", str(target), str(SAMPLES / "normal-boot.log")],
                  {}, out, err)
    assert status == 0 and out.getvalue() == "", err.getvalue()
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_an_unreadable_file_has_its_section_with_the_error(tmp_path: Path) -> None:
    """A file that cannot be read is listed with its error, never dropped."""
    (tmp_path / "empty.log").write_bytes(b"")
    (tmp_path / "ok.log").write_text((SAMPLES / "normal-boot.log").read_text(encoding="utf-8"), encoding="utf-8")
    _status, page, _err = scan_page(str(tmp_path))
    assert "Could not be read:" in page and "empty.log" in page


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium here (Debian package `chromium`): "
                                              "the fleet page was not loaded in a real browser")
def test_fleet_page_loads_in_headless_chromium_with_lanes_and_markers(tmp_path: Path) -> None:
    """Headless Chromium loads the fleet page without a console message; its DOM has lanes carrying data-nic and
    markers, and a screenshot is taken."""
    assert CHROMIUM is not None
    source = tmp_path / "fleet.html"
    _status, page, _err = scan_page(str(SAMPLES))
    source.write_text(page, encoding="utf-8")
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([*base, "--enable-logging=stderr", "--dump-dom", source.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr  # no script error, no console message
    assert re.search(r'<g class="lane" data-nic="[0-9a-f-]{36}">', dom.stdout)
    assert 'class="marker"' in dom.stdout and 'id="file-1"' in dom.stdout
    shot = tmp_path / "fleet.png"
    subprocess.run([*base, "--screenshot=" + str(shot), "--window-size=1100,1400", source.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 1000
