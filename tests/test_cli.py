"""Tests of the vflog command line: verbs, formats, exit statuses and error messages."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from vflog.catalogue import CODES
from vflog.cli import ExitStatus, main

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
REAL = Path(__file__).resolve().parent / "corpus" / "real"


def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        old = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
        try:
            status = main(list(argv), {}, out, err)
        finally:
            sys.stdin = old
    else:
        status = main(list(argv), {}, out, err)
    return status, out.getvalue(), err.getvalue()


def test_report_table_on_a_clean_boot() -> None:
    """A clean boot prints the NIC table, no findings, and exits 0."""
    status, out, err = run("report", str(SAMPLES / "normal-boot.log"))
    assert status == ExitStatus.OK, err
    assert "eth0" in out and "datapath-vf" in out and "Findings: none" in out


def test_default_command_is_report_and_reads_stdin() -> None:
    """`dmesg | vflog` works: no verb means report, no file means stdin."""
    text = (SAMPLES / "normal-boot.log").read_text()
    status, out, _ = run(stdin=text)
    assert status == ExitStatus.OK
    assert "enP53091s1np0" in out
    status, out, _ = run("--format", "json", "-", stdin=text)
    assert json.loads(out)["boots"][0]["nics"][0]["datapath"] == "vf"


def test_json_contract_fields() -> None:
    """The JSON document has the documented fields at every level."""
    status, out, _ = run("report", "--format", "json", str(SAMPLES / "host-servicing.log"))
    doc = json.loads(out)
    assert {"source", "boots", "stats"} <= doc.keys()
    assert set(doc["stats"]) == {"lines", "events", "unrecognised"}
    boot = doc["boots"][0]
    assert {"index", "nics", "findings"} <= boot.keys()
    nic = boot["nics"][0]
    assert {"key", "synthetic", "vmbus_id", "slot", "vf", "state", "datapath",
            "switches_to_vf", "switches_from_vf", "timeline"} <= nic.keys()
    assert set(nic["vf"]) >= {"name", "names", "pci", "driver", "device_id"}
    assert nic["datapath"] in ("vf", "synthetic", "unknown")
    assert {"line", "t", "event", "state"} <= nic["timeline"][0].keys()


def test_findings_exit_one_and_fail_on() -> None:
    """An error finding exits 1; --fail-on never exits 0; warnings fail only when asked."""
    log = str(REAL / "03-linux-pci-hv-fast-add-remove-fw-timeout.log")
    assert run(log)[0] == ExitStatus.FINDINGS
    assert run("report", "--fail-on", "never", log)[0] == ExitStatus.OK
    temp = str(REAL / "08-walinuxagent-2129-rename6-vf-removed.log")
    assert run(temp)[0] == ExitStatus.OK
    assert run("report", "--fail-on", "warning", temp)[0] == ExitStatus.FINDINGS


def test_json_findings_carry_evidence_lines() -> None:
    """Each finding names its code, severity, NIC, line, time, message and evidence line numbers."""
    _, out, _ = run("report", "--format", "json", str(REAL / "03-linux-pci-hv-fast-add-remove-fw-timeout.log"))
    finding = next(f for b in json.loads(out)["boots"] for f in b["findings"] if f["code"] == "driver-probe-failed")
    assert set(finding) >= {"code", "severity", "nic", "line", "t", "message", "evidence"}
    assert finding["severity"] == "error" and finding["line"] in finding["evidence"]
    assert all(isinstance(n, int) and n >= 1 for n in finding["evidence"])


def test_events_are_json_lines() -> None:
    """`vflog events` prints one JSON object per recognised line with the documented fields."""
    status, out, _ = run("events", str(REAL / "16-vyos-5338-mana-multinic-vf-eth.log"))
    records = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and len(records) == 15
    assert {"line", "t", "boot", "kind", "driver", "device", "ifname", "nic", "message"} <= records[0].keys()
    switch = next(r for r in records if r["kind"] == "datapath_to_vf" and r["fields"]["vf"] == "vf_eth2")
    assert switch["nic"] == "f8615163-0002-1000-2000-6045bdf3fe82"


def test_explain_every_code() -> None:
    """`vflog explain CODE` explains every code; without a code it lists them."""
    for code in CODES:
        status, out, _ = run("explain", code)
        assert status == 0 and out.startswith(code) and "What to check" in out
    status, out, _ = run("explain")
    assert all(code in out for code in CODES)
    status, _, err = run("explain", "no-such-code")
    assert status == ExitStatus.ERROR and "unknown finding code" in err


def test_show_unrecognised_lists_unknown_driver_lines(tmp_path: Path) -> None:
    """Unknown driver lines are counted and listed on request, never silently dropped."""
    log = tmp_path / "x.log"
    log.write_text("[ 1.0] hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: brand new message\n"
                   "[ 2.0] some unrelated line\n")
    _, out, _ = run("report", str(log))
    assert "1 driver line(s) not recognised" in out
    _, out, _ = run("report", "--show-unrecognised", str(log))
    assert "brand new message" in out
    _, out, _ = run("report", "--format", "json", "--show-unrecognised", str(log))
    doc = json.loads(out)
    assert doc["stats"]["unrecognised"] == 1 and doc["unrecognised"][0]["line"] == 1


def test_input_errors_are_one_line_messages(tmp_path: Path) -> None:
    """A missing file or a directory is a clear message and exit 2, not a traceback."""
    status, _, err = run("report", str(tmp_path / "missing.log"))
    assert status == ExitStatus.ERROR and "no such file" in err and "Traceback" not in err
    status, _, err = run("report", str(tmp_path))
    assert status == ExitStatus.ERROR and "holds no kernel log" in err


def test_unreadable_file_does_not_stop_the_others(tmp_path: Path) -> None:
    """With several files, a bad one is reported and the rest analysed."""
    status, out, err = run("report", str(tmp_path / "missing.log"), str(SAMPLES / "normal-boot.log"))
    assert status == ExitStatus.OK and "no such file" in err and "eth0" in out


def test_usage_errors() -> None:
    """Bad options give a usage message and exit 2."""
    status, _, err = run("report", "--format", "xml")
    assert status == ExitStatus.ERROR and "usage error" in err
    status, _, err = run("report", "--threshold", "nonsense=3")
    assert status == ExitStatus.ERROR and "unknown threshold" in err


def test_threshold_changes_a_verdict() -> None:
    """Thresholds are configurable: a 65 s outage is long when outage_max is 60 s."""
    log = str(SAMPLES / "host-servicing.log")
    _, out, _ = run("report", "--format", "json", "--threshold", "outage_max=60", log)
    codes = {f["code"] for b in json.loads(out)["boots"] for f in b["findings"]}
    assert "long-outage" in codes


def test_python_dash_m_and_broken_pipe() -> None:
    """`python -m vflog` runs; closing the pipe early is quiet."""
    proc = subprocess.run([sys.executable, "-m", "vflog", "explain", "incomplete"], capture_output=True, text=True)
    assert proc.returncode == 0 and "incomplete" in proc.stdout
    log = (SAMPLES / "host-servicing.log").read_text() * 50
    proc = subprocess.run(f"{sys.executable} -m vflog events - | head -1", shell=True, input=log,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ""


def test_installed_package_works_outside_the_checkout(tmp_path: Path) -> None:
    """The grammar ships inside the package: vflog runs from a directory far from the checkout."""
    proc = subprocess.run([sys.executable, "-m", "vflog", "report", str(SAMPLES / "normal-boot.log")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "datapath-vf" in proc.stdout


# -- arguments are paths ------------------------------------------------------------------------------


def test_a_missing_file_is_an_error_never_log_text(tmp_path: Path, monkeypatch) -> None:
    """A FILE that does not exist (`vflog report messages`) is `vflog: error: NAME: no such file`, exit 2."""
    monkeypatch.chdir(tmp_path)
    for argv in (["report", "messages"], ["messages"], ["report", "kern"], ["events", "messages"],
                 ["report", "--format", "json", "syslog"]):
        status, out, err = run(*argv)
        assert status == ExitStatus.ERROR and out == "", argv
        assert f"vflog: error: {argv[-1]}: no such file" in err


def test_a_misspelt_command_is_a_usage_error(tmp_path: Path, monkeypatch) -> None:
    """A first argument that is no file but close to a command is a typo: usage error naming the command, exit 2."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.log").write_bytes((SAMPLES / "normal-boot.log").read_bytes())
    status, out, err = run("reprot", "x.log")
    assert status == ExitStatus.ERROR and out == ""
    assert "vflog: usage error: unknown command 'reprot' (did you mean 'report'?)" in err
    assert "did you mean 'scan'" in run("scna", "x.log")[2]
    assert "did you mean 'events'" in run("--traceback", "evnets", "x.log")[2]
    status, out, _ = run("x.log")  # an existing file is still the default command's input
    assert status == ExitStatus.OK and "eth0" in out
    (tmp_path / "reprot").write_bytes((SAMPLES / "normal-boot.log").read_bytes())
    status, out, _ = run("reprot")  # ... even when its name looks like a command
    assert status == ExitStatus.OK and "eth0" in out


def test_a_file_name_with_a_newline_is_a_path(tmp_path: Path) -> None:
    """An argument holding a newline names a file (read when it exists, an error when not), never log text."""
    odd = tmp_path / "a\nb.log"
    odd.write_bytes((SAMPLES / "normal-boot.log").read_bytes())
    status, out, _ = run("report", str(odd))
    assert status == ExitStatus.OK and "eth0" in out
    status, out, err = run("report", str(tmp_path / "c\nd.log"))
    assert status == ExitStatus.ERROR and out == "" and "no such file" in err and "c\\x0ad.log" in err


# -- events: errors and streaming ------------------------------------------------------------------------


def test_events_reports_what_it_cannot_read(tmp_path: Path, deny_reading) -> None:  # type: ignore[no-untyped-def]
    """`vflog events` names each unreadable input on stderr; exit 2 when nothing could be read, as `report` does."""
    import gzip

    boot = (SAMPLES / "normal-boot.log").read_bytes()
    status, out, err = run("events", str(tmp_path / "missing.log"))
    assert (status, out) == (ExitStatus.ERROR, "") and "vflog: error:" in err and "no such file" in err
    empty = tmp_path / "dir"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here\n")
    status, out, err = run("events", str(empty))
    assert (status, out) == (ExitStatus.ERROR, "") and "holds no kernel log" in err
    cut = tmp_path / "kern.log.gz"
    cut.write_bytes(gzip.compress(boot * 20)[:-200])
    status, out, err = run("events", str(cut))
    assert status == ExitStatus.OK and out.count("\n") > 100 and "vflog: error:" in err
    status, out, err = run("events", str(tmp_path / "missing.log"), str(SAMPLES / "normal-boot.log"))
    # 31 events: the hv_vmbus registrations of hv_storvsc and hid_hyperv are not part of the story
    assert status == ExitStatus.OK and len(out.splitlines()) == 31 and "no such file" in err
    locked = tmp_path / "locked.log"
    locked.write_bytes(boot)
    deny_reading(locked)
    status, out, err = run("events", str(locked))
    assert (status, out) == (ExitStatus.ERROR, "") and "permission denied" in err.lower()


def test_events_are_handed_out_as_the_log_is_read() -> None:
    """vflog.events yields each event while reading, never collecting them: at most a line behind the reader."""
    import vflog

    boot = (SAMPLES / "host-servicing.log").read_text().splitlines()
    flap = [line for line in boot if "Data path switched" in line][:2]
    read = [0]

    def lines():
        for line in boot + flap * 500:
            read[0] += 1
            yield line

    stream = vflog.events(lines())
    lags = [read[0] - routed.event.line for routed in stream]
    assert len(lags) > 1000 and stream.errors == [] and stream.lines == len(boot) + 1000
    assert max(lags) <= 5 and max(lags[-1000:]) <= 1  # a switch is handed out right after its line


def test_follow_names_a_missing_file_as_report_does(tmp_path: Path) -> None:
    """`vflog follow missing.log` is `vflog: error: ...: no such file`, exit 2, as for report."""
    status, out, err = run("follow", str(tmp_path / "missing.log"))
    assert status == ExitStatus.ERROR and out == "" and err.endswith("missing.log: no such file\n")


def test_events_from_a_pipe_print_as_lines_arrive() -> None:
    """`dmesg -w | vflog events`: events are printed while standard input is still open."""
    import os
    import select

    worktree = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "vflog", "events"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=worktree,
                            env={**os.environ, "PYTHONPATH": str(worktree)})
    try:
        proc.stdin.write((SAMPLES / "normal-boot.log").read_bytes())
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no event printed while the input stays open"
        first = proc.stdout.readline()
        assert json.loads(first)["line"] >= 1
    finally:
        proc.stdin.close()
        rest = proc.stdout.read()
        proc.wait(timeout=30)
    assert proc.returncode == 0 and len((first + rest).splitlines()) == 31


def test_empty_input_is_an_error_not_all_clear(tmp_path: Path) -> None:
    """Empty stdin or an empty file says there is nothing to analyse and exits 2, for report and events."""
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    for argv in (("report", str(empty)), ("events", str(empty)), ("report", "--format", "json", str(empty))):
        status, out, err = run(*argv)
        assert (status, out) == (ExitStatus.ERROR, ""), argv
        assert "is empty: nothing to analyse" in err
    status, out, err = run("report", "-", stdin="")
    assert status == ExitStatus.ERROR and "<stdin>: is empty" in err


def test_a_text_without_an_lines_says_so_and_is_not_an_error(tmp_path: Path) -> None:
    """A kernel log without any AN line is read (exit 0) and the report says plainly that it holds none."""
    other = tmp_path / "other.log"
    other.write_text("[    1.000000] EXT4-fs (sda1): mounted filesystem\n")
    status, out, _ = run("report", str(other))
    assert status == ExitStatus.OK and "No Accelerated Networking lines" in out and "Findings: none" not in out
    status, out, _ = run("report", "--format", "json", str(other))
    assert json.loads(out)["content"] == "no-an-lines"


def _run_script(script: str) -> subprocess.CompletedProcess[str]:
    """Run *script* in a fresh interpreter with this checkout's vflog first on the path."""
    root = str(Path(__file__).resolve().parents[1])
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root, timeout=120)


def test_the_console_entry_runs_exit_handlers_and_keeps_its_status_and_output() -> None:
    """vflog ends its process at once after main, but exit handlers still run and stdout is complete."""
    script = ("import atexit, sys\nimport vflog.cli\n"
              "atexit.register(lambda: print('handler ran', file=sys.stderr))\n"
              f"sys.argv = ['vflog', 'report', '--format', 'json', {str(SAMPLES / 'finding-hv-pci-error.log')!r}]\n"
              "vflog.cli.run()\n")
    proc = _run_script(script)
    assert "handler ran" in proc.stderr
    assert proc.returncode == 1 and json.loads(proc.stdout)["schema"] == 2
    missing = _run_script("import sys, vflog.cli\nsys.argv = ['vflog', 'report', '/nonexistent/kern.log']\nvflog.cli.run()\n")
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_the_console_entry_waits_for_another_running_thread() -> None:
    """While another thread still runs, vflog's exit is a normal one that lets the thread finish."""
    script = ("import sys, threading, time\nimport vflog.cli\n"
              "def late():\n    time.sleep(0.3)\n    print('thread finished', flush=True)\n"
              "threading.Thread(target=late).start()\n"
              f"sys.argv = ['vflog', 'report', {str(SAMPLES / 'normal-boot.log')!r}]\n"
              "vflog.cli.run()\n")
    proc = _run_script(script)
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("thread finished")
