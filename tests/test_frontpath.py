"""The per-line front end (vflog/front.py) run in the workers of ``--jobs``: a worker reads the lines of its chunk
itself (framing, reading, held and wrapped lines, duplicates) and sends the parent only the events to place and
what the boots need, in columns; the report stays the sequential one.

The oracle is the sequential reading of the same file (``jobs=1``), as in tests/test_parallel.py.
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vflog
from vflog import parallel
from vflog.config import Config
from vflog.front import Steps
from vflog.input import Limits

from . import converters
from .strategies import GeneratedLog, faulty_logs, valid_logs
from .test_parallel import SERVICING, counted, reports, small_reads
from .test_wrapped import wrap_at

#: Chatter between the driver lines: unrelated lines of the layout's own shape, some repeated.
CHATTER = "".join(f"[{i / 1000:12.6f}] random: chatter line {i}\n" for i in range(40))


def _scanned(path: Path, chunk: int, index: int = 1) -> tuple[parallel.Task, parallel.Scanned]:
    """Return the task of chunk *index* of reading *path* on 2 processes in chunks of about *chunk* bytes, and what
    its worker sends back (read here, with the read sizes patched only meanwhile: a worker sets them for good)."""
    with small_reads(first=512, size=256, chunk=chunk):
        chosen = parallel.plan(path, 2, Limits())
        assert chosen is not None
        task = parallel._tasks(chosen, Limits(), 0, Config())[index]
        return task, parallel.scan_chunk(task)


def _front_steps(scanned: parallel.Scanned) -> list[Steps]:
    """Return the steps of the lines a worker read itself."""
    return [others[0] for others in scanned.calls.others if isinstance(others[0], Steps)]


def test_a_worker_reads_its_lines_and_passes_on_only_the_start_of_its_chunk(tmp_path: Path) -> None:
    """After the first gap of unrelated lines, a worker reads the driver lines of its chunk itself: what it sends
    holds the events to place (not the lines), and only the lines before that gap are passed on."""
    path = tmp_path / "dmesg.log"
    path.write_text((CHATTER + SERVICING) * 4)
    _, scanned = _scanned(path, 4096)
    steps = _front_steps(scanned)
    passed = len(scanned.calls.kinds) - len(steps)
    placed = sum(steps.kinds.count(0) for steps in steps)  # front._PLACED
    assert placed > 5 and scanned.lines > 30
    assert passed <= 2  # the chunk's first lines, up to the gap after which the parent's state no longer matters


def test_a_run_of_unrelated_lines_is_one_call_and_the_calls_pickle_small(tmp_path: Path) -> None:
    """A run of gaps between events is sent as one call (the last line that is no event), and a chunk's calls pickle
    into far fewer bytes than its text."""
    path = tmp_path / "dmesg.log"
    path.write_text((CHATTER * 5 + SERVICING) * 64)
    task, scanned = _scanned(path, 1 << 16)
    assert len(pickle.dumps(scanned)) * 3 < (task.end or path.stat().st_size) - task.start
    kinds = b"".join(bytes(steps.kinds) for steps in _front_steps(scanned))
    assert kinds and b"\x01\x01" not in kinds  # _OTHER twice in a row would be one run


def test_a_json_line_that_opens_an_object_is_passed_on(tmp_path: Path) -> None:
    """A JSON line of the layout's shape that does not close its object (it ends in a comma) is read by the parent,
    whose Reader holds the open object: the report is the sequential one."""
    journal = converters.journal_json(SERVICING)
    lines = journal.splitlines(True)
    lines.insert(len(lines) // 2, '{"MESSAGE": "hv_netvsc unfinished", "__MONOTONIC_TIMESTAMP": "1",\n')
    path = tmp_path / "journal.json"
    path.write_text("".join(lines) * 3)
    with small_reads(first=512, size=300, chunk=700):
        together, alone = reports(path)
    assert together == alone


def test_no_worker_reads_lines_when_following(tmp_path: Path) -> None:
    """A front end that follows a live log (its time-based findings tick with the lines) lends workers no
    configuration: they pass every line on."""
    from vflog.analyze import Analyzer

    assert Analyzer(listener=lambda change: None).front_config is None
    assert Analyzer().front_config == Config()


def _boots(text: str, boot_id: str) -> str:
    """Return journal JSON of *text* with its boot id replaced by *boot_id*."""
    return converters.journal_json(text).replace(converters.BOOT_ID, boot_id)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(first=valid_logs(max_nics=2, max_cycles=2), second=faulty_logs(max_nics=2, max_cycles=1),
       journal=st.booleans(), wrap=st.sampled_from((0, 60, 90)), chatter=st.integers(0, 40),
       chunk=st.integers(1, 4000), size=st.integers(16, 900), repeat=st.integers(0, 4))
def test_boots_findings_and_unrecognised_lines_read_in_workers_give_the_sequential_report(
        first: GeneratedLog, second: tuple[GeneratedLog, str], journal: bool, wrap: int, chatter: int, chunk: int,
        size: int, repeat: int) -> None:
    """Two boots (a new boot line, or a new journal boot id), findings, unrecognised and repeated lines and
    wrapped lines, read by workers in random chunks: the report is the sequential one, byte for byte."""
    log, _ = second
    texts = [CHATTER[: chatter * 40] + first.text, CHATTER[: chatter * 40] + log.text]
    if wrap:
        texts = [wrap_at(text, wrap) for text in texts]
    if repeat:
        texts = ["".join(line * (1 + (index % (repeat + 1) == 0)) for index, line in enumerate(text.splitlines(True)))
                 for text in texts]
    text = (_boots(texts[0], "a" * 32) + _boots(texts[1], "b" * 32)) if journal else "".join(texts)
    first_read, scale = (4096, 8) if journal else (512, 1)  # reads of whole JSON lines: blocks keep their layout
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "two-boots.log"
        path.write_text(text)
        with small_reads(first_read, size * scale, chunk * scale), counted("read_chunks") as used:
            together, alone = reports(path)
    assert together == alone
    assert used or len(text.encode()) <= first_read


def test_a_repeated_look_alike_line_is_read_once(tmp_path: Path) -> None:
    """A look-alike line (a Hyper-V driver that is not ours) repeated with new stamps is read once: its message's
    reading is remembered, and the report is that of one process."""
    from vflog.front import _after_stamp, _reading

    lines = "".join(f"[{i:12.6f}] hv_vmbus: registering driver hv_storvsc\n" for i in range(500))
    path = tmp_path / "lookalikes.log"
    path.write_text(SERVICING + lines)
    _reading.cache_clear()
    _after_stamp.cache_clear()
    report = vflog.analyze(path)
    assert _reading.cache_info().misses + _after_stamp.cache_info().misses < 100 and report.stats.lines == SERVICING.count("\n") + 500


def test_a_kmsg_chunk_is_read_in_the_worker(tmp_path: Path) -> None:
    """/dev/kmsg records, which the block path feeds to the Reader, are read in the worker too (a record the
    Reader reads alone): only the chunk's first lines are passed on, and the report is the sequential one."""
    path = tmp_path / "kmsg.log"
    path.write_text(converters.TEXT_FORMATS["kmsg"](CHATTER + SERVICING) * 4)
    _, scanned = _scanned(path, 4096)
    placed = sum(steps.kinds.count(0) for steps in _front_steps(scanned))
    assert placed > 5 and len(scanned.calls.kinds) - len(_front_steps(scanned)) <= 3
    with small_reads(first=512, size=256, chunk=4096):
        together, alone = reports(path)
    assert together == alone


def test_the_lines_a_reader_reads_alone() -> None:
    """Records that need nothing of the lines before (plain, kmsg, RFC 5424, a whole JSON object) are read alone;
    an unclosed JSON object, a journal boot mark and relative or human dmesg stamps need the Reader's state."""
    from vflog.formats import Reader

    alone = ["[    1.000000] hv_netvsc: x", "6,339,5140900,-;hv_netvsc x", '{"MESSAGE": "x"}', '  {"a": 1},',
             "<6>1 2026-09-03T05:08:01Z host kernel - - - x", "Sep  3 05:08:01 host kernel: x", ""]
    not_alone = ['{"MESSAGE": "x",', "-- Reboot --", "-- Boot 0123456789abcdef0123456789abcdef --",
                 "[  +0.113671] hv_netvsc: x", "[Sep 3 05:08] hv_netvsc: x", "\x1b[1m[  +0.1] x"]
    assert all(Reader.reads_alone(line) for line in alone)
    assert not any(Reader.reads_alone(line) for line in not_alone)


def test_workers_read_wall_clock_times_in_the_configured_zone(tmp_path: Path) -> None:
    """A syslog read by workers gives its wall-clock times in the zone of the configuration (--tz), as one process
    does: the workers read the lines with the parent's configuration."""
    from vflog.render import render_json

    path = tmp_path / "syslog.log"
    path.write_text(converters.TEXT_FORMATS["syslog_rfc3164"](CHATTER + SERVICING) * 3)
    config = Config(tz="America/New_York")
    with small_reads(first=512, size=256, chunk=2048), counted("read_chunks") as used:
        together = render_json(vflog.analyze(path, jobs=2, config=config), show_unrecognised=True)
    alone = render_json(vflog.analyze(path, jobs=1, config=config), show_unrecognised=True)
    utc = render_json(vflog.analyze(path, jobs=1), show_unrecognised=True)
    assert used and together == alone != utc


def test_a_stamped_driver_line_is_framed_and_read_once_per_distinct_text(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A driver line after a plain dmesg stamp, repeated with new stamps, is framed and read once for all its
    repeats (one look-up of the text after the stamp), also when each is held one line in case a terminal wrapped
    it (60 columns or more, ending in a number); each repeat is still an event at its own stamp's time."""
    from vflog import framing, front

    slot = "hv_netvsc 000d3a11-2233-000d-3a11-2233000d3a11 eth0: VF slot 7 added, front path test"
    held = "hv_netvsc 000d3a11-2233-000d-3a11-2233000d3a11 eth0: VF slot 7 added and more text 42"
    assert len(held) >= 60 and held[-1].isdigit()
    reads: list[str] = []
    frames: list[str] = []
    monkeypatch.setattr(front, "_read", lambda text, read=front._read: reads.append(text) or read(text))
    monkeypatch.setattr(framing, "frame", lambda raw, frame=framing.frame: frames.append(raw) or frame(raw))
    path = tmp_path / "repeats.log"
    path.write_text("".join(f"[{i + 1:12.6f}] {message}\n" for message in (slot, held) for i in range(5)))
    report = vflog.analyze(path, jobs=1)
    assert sorted(reads) == sorted({slot, held}) and frames == []
    assert report.stats.lines == 10 and report.boots[0].t_start == 1.0 and report.boots[0].t_end == 5.0
