"""Tests of vflog report --format html: one self-contained page with SVG timelines, tables and findings."""

from __future__ import annotations

import html.parser
import io
import shutil
from pathlib import Path

import pytest

import vflog
from vflog.cli import main
from vflog.render_html import render_html

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


class Page(html.parser.HTMLParser):
    """The tags, attributes and text of a page, as a browser's parser sees them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record a start tag and its attributes."""
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record a self-closing tag and its attributes."""
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        """Record text."""
        self.text.append(data)

    def having(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        """Return the attributes of each *tag* whose attributes include *wanted* (class matched by word)."""
        found = []
        for name, attributes in self.tags:
            if name != tag:
                continue
            if all((value in (attributes.get(key.rstrip("_")) or "").split()) if key == "class_"
                   else attributes.get(key) == value for key, value in wanted.items()):
                found.append(attributes)
        return found


def page(sample: str) -> tuple[str, Page]:
    """Return the HTML page of a sample and its parse."""
    text = render_html(vflog.analyze(SAMPLES / sample))
    return text, Page(text)


def test_page_is_self_contained() -> None:
    """Nothing is loaded from elsewhere: no script, no stylesheet link, no src or remote URL."""
    text, parsed = page("host-servicing.log")
    assert not [t for t, _a in parsed.tags if t in ("script", "link", "img", "iframe", "object")]
    assert not [a for _t, a in parsed.tags if "src" in a]
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text and "@import" not in text


def test_one_lane_per_nic_with_its_key() -> None:
    """Each NIC of a boot is one SVG lane carrying data-nic="<NIC key>"."""
    report = vflog.analyze(SAMPLES / "multi-nic-mana.log")
    parsed = Page(render_html(report))
    lanes = [a["data-nic"] for a in parsed.having("g", class_="lane")]
    assert lanes == [nic.key for nic in report.boots[0].nics]


def test_bands_are_coloured_by_data_path_and_outages_show_their_duration() -> None:
    """State bands carry their data path's class; a servicing outage is marked with its duration."""
    text, parsed = page("host-servicing.log")
    for path in ("vf", "synthetic", "no-vf", "unknown"):
        assert parsed.having("rect", class_=f"band-{path}"), path
    assert "servicing outage 65 s" in "".join(parsed.text)
    assert parsed.having("g", class_="gap")  # the quiet hours are compressed, visibly


def test_findings_are_markers_in_their_severity_colour_with_evidence_on_hover() -> None:
    """A finding is a marker of its severity's class, linking to its section; its title holds the evidence."""
    text, parsed = page("finding-device-without-driver.log")
    timeline = text.split('<svg class="timeline"')[1].split("</svg>")[0]
    assert Page(timeline).having("circle", class_="marker-error")
    links = [a["href"] for a in parsed.having("a", class_="marker")]
    assert links and all(parsed.having("div", id=link[1:]) for link in links)
    assert "64: hv_pci e9ac9b28-cf63-4466-9ae3-4b849c3ee03b: PCI VMBus probing" in timeline


def test_page_has_the_nic_table_findings_evidence_and_explanations() -> None:
    """Below the pictures: the NIC table, each finding with evidence and the vflog explain text."""
    _text, parsed = page("finding-device-without-driver.log")
    words = " ".join(parsed.text)
    assert parsed.having("table", class_="nics")
    assert "device-without-driver" in words and "What to check:" in words and "VMBus id" in words
    assert "At a glance" in words and "✘ synthetic" in words


def test_log_text_is_escaped_never_markup(tmp_path: Path) -> None:
    """A netvsc line carrying <script> or an onerror= attribute shows as text, never as an element or attribute."""
    hostile = (SAMPLES / "finding-netvsc-error.log").read_text(encoding="utf-8").replace(
        "unable to open slave: enP53091s1np0: -5",
        "unable to open slave: <script>alert(1)</script><img src=x onerror=alert(2)>\"' &amp;: -5")
    report = vflog.analyze_text(hostile)
    assert any("<script>" in q.text for f in report.findings for q in f.evidence_text)
    text = render_html(report)
    parsed = Page(text)
    assert not [t for t, _a in parsed.tags if t in ("script", "img")]
    assert not [k for _t, a in parsed.tags for k in a if k.startswith("on")]
    assert "<script>alert(1)</script><img src=x onerror=alert(2)>\"' &amp;" in "".join(parsed.text)


def test_report_format_html_writes_the_page_to_a_file(tmp_path: Path) -> None:
    """vflog report --format html -o FILE writes the page; without -o it goes to stdout."""
    target = tmp_path / "page.html"
    out, err = io.StringIO(), io.StringIO()
    status = main(["report", "--format", "html", "-o", str(target), str(SAMPLES / "normal-boot.log")], {}, out, err)
    assert status == 0, err.getvalue()
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") and out.getvalue() == ""
    main(["report", "--format", "html", str(SAMPLES / "normal-boot.log")], {}, out, err)
    assert "data-nic=" in out.getvalue()


def test_templates_come_from_the_package_never_the_working_directory(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A templates/report.html.j2 in the working directory is not used."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "report.html.j2").write_text("PLANTED")
    (tmp_path / "vflog" / "templates").mkdir(parents=True)
    (tmp_path / "vflog" / "templates" / "report.html.j2").write_text("PLANTED")
    monkeypatch.chdir(tmp_path)
    assert "PLANTED" not in render_html(vflog.analyze(SAMPLES / "normal-boot.log"))


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium here (Debian package `chromium`): "
                                              "the page was not loaded in a real browser")
def test_page_loads_in_headless_chromium_and_has_lanes_and_markers(tmp_path: Path) -> None:
    """Headless Chromium loads the page: its DOM has the lanes and markers, and a screenshot is taken."""
    import subprocess
    source = tmp_path / "page.html"
    source.write_text(render_html(vflog.analyze(SAMPLES / "host-servicing.log")), encoding="utf-8")
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([*base, "--enable-logging=stderr", "--dump-dom", source.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr  # no script error, no console message
    assert 'class="lane" data-nic="000d3af5-76bd-000d-3af5-76bd000d3af5"' in dom.stdout
    assert 'class="marker' in dom.stdout or "band-vf" in dom.stdout
    shot = tmp_path / "page.png"
    subprocess.run([*base, "--screenshot=" + str(shot), "--window-size=1100,900", source.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 1000
