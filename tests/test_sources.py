"""Tests of vflog.input: member selection, rotation order, unsafe names, text blocks, gzip engines."""

from __future__ import annotations

import gzip
import io
import os
import random
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import pytest

import vflog
from vflog.cli import main
from vflog.errors import InputError
from vflog.input import Limits, Selection, Tally, chunk_lines, rotation_key
from vflog.input import archives, compression, dispatch
from vflog.input import text as input_text
from vflog.input.members import _unsafe
from vflog.input.text import _text_chunks


def test_rotated_files_sort_oldest_first() -> None:
    """Numbered rotations count down, date rotations count up, the live file is last."""
    names = ["var/log/kern.log", "var/log/kern.log.1", "var/log/kern.log.2.gz", "var/log/kern.log.10.gz"]
    assert sorted(names, key=rotation_key) == [
        "var/log/kern.log.10.gz", "var/log/kern.log.2.gz", "var/log/kern.log.1", "var/log/kern.log"]
    dated = ["messages", "messages-20260901", "messages-20260825"]
    assert sorted(dated, key=rotation_key) == ["messages-20260825", "messages-20260901", "messages"]


def test_the_best_kernel_log_family_is_chosen() -> None:
    """kern.log beats messages and syslog; everything else is left out."""
    chosen, left = Selection().pick(["var/log/syslog", "var/log/kern.log.1", "var/log/kern.log",
                                     "var/log/messages", "etc/hosts"])
    assert chosen == ["var/log/kern.log.1", "var/log/kern.log"]
    assert set(left) == {"var/log/syslog", "var/log/messages", "etc/hosts"}


def test_include_and_exclude_globs() -> None:
    """Explicit globs replace the family choice; excludes always apply."""
    chosen, _ = Selection(include=("*.txt",), exclude=("skip*",)).pick(["a.txt", "skip.txt", "b.log"])
    assert chosen == ["a.txt"]


@pytest.mark.parametrize(("name", "unsafe"), [
    ("var/log/kern.log", False), ("../../etc/passwd", True), ("/etc/passwd", True),
    ("a/../../b", True), ("C:/windows", True),
])
def test_unsafe_member_names(name: str, unsafe: bool) -> None:
    """Absolute names and names that climb out are unsafe."""
    assert _unsafe(name) is unsafe


def test_text_blocks_end_at_line_ends_at_lf_only() -> None:
    """CRLF loses its CR, a lone CR stays in its line, bad UTF-8 is replaced, a line that never ends is cut once."""
    data = b"one\r\ntwo\rthr\xffee\nlast\n" + b"x" * 50
    tally = Tally()
    blocks = list(_text_chunks(io.BufferedReader(io.BytesIO(data)), "t", Limits(max_line=20), tally))
    assert all(block.endswith("\n") for block in blocks[:-1])
    lines = list(chunk_lines(blocks))
    assert lines == ["one", "two\rthr\ufffdee", "last", "x" * 20] and tally.cut_lines == 1


def test_a_crlf_split_between_blocks_counts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CR at the end of one block and its LF at the start of the next are one line end."""
    monkeypatch.setattr(input_text, "_FIRST_BLOCK", 4)
    monkeypatch.setattr(input_text, "_BLOCK", 4)
    data = b"abc\r\ndef\r\r\ngh\rij\n"
    lines = list(chunk_lines(_text_chunks(io.BufferedReader(io.BytesIO(data)), "t", Limits(), Tally())))
    assert lines == ["abc", "def\r", "gh\rij"]


def _engines() -> list[object]:
    engines: list[object] = [zlib]
    try:
        from isal import isal_zlib
    except ImportError:
        return engines
    return [isal_zlib, *engines]


@pytest.mark.parametrize("engine", _engines(), ids=lambda module: module.__name__)
def test_gzip_reads_the_same_with_either_engine(engine: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Members one after another, a truncated stream and damaged data read alike with ISA-L or zlib."""
    monkeypatch.setattr(compression, "inflate_module", lambda: engine)
    text = "".join(f"[{i}.000000] line {i}\n" for i in range(50000))
    packed = gzip.compress(text[:300000].encode()) + gzip.compress(text[300000:].encode())

    def read(data: bytes) -> tuple[str, str | None]:
        stream = io.BufferedReader(io.BytesIO(data))
        got: list[str] = []
        try:
            got.extend(_text_chunks(compression._plain(stream, "log.gz", len(data), Limits()), "log.gz", Limits(),
                                       Tally()))
        except InputError as exc:
            return "".join(got), str(exc)
        return "".join(got), None

    assert read(packed) == (text, None)
    head, error = read(packed[: len(packed) // 3])
    assert text.startswith(head) and head and error is not None and "truncated" in error
    damaged = bytearray(packed)
    damaged[len(damaged) // 2: len(damaged) // 2 + 64] = bytes(64)
    head, error = read(bytes(damaged))  # deflate has no check until the end: only the start is sure
    assert head[:1000] == text[:1000] and error is not None and "log.gz" in error and "damaged" in error
    small = text[: text.index("[8000.")]  # about 40 KiB of gzip: a few decompression steps
    single = bytearray(gzip.compress(small.encode()))  # one member whose checksum is wrong
    single[-8] ^= 0xFF
    head, error = read(bytes(single))  # only the step that reads the checksum is lost
    assert small.startswith(head) and len(head) > len(small) // 3 and error is not None and "damaged" in error


def test_member_selection_is_linear_in_the_number_of_names() -> None:
    """20,000 names with --include and with the family choice are split exactly (sets, not list searches)."""
    names = [f"d{i % 7}/f{i}.log" for i in range(20_000)] + [f"var/log/kern.log.{i}" for i in range(1, 400)]
    chosen, left = Selection(include=("*.log",)).pick(names)
    assert len(chosen) == 20_000 and left == [f"var/log/kern.log.{i}" for i in range(1, 400)]
    chosen, left = Selection().pick(names)
    assert chosen[0] == "var/log/kern.log.399" and len(chosen) == 399 and left == names[:20_000]


BOOT = (Path(__file__).resolve().parents[1] / "samples" / "normal-boot.log").read_bytes()


@pytest.mark.parametrize("name", ["binary.log", "binary.log.gz"])
def test_random_bytes_are_not_a_text_log(tmp_path: Path, name: str) -> None:
    """Random bytes (even gzip-compressed, named .log.gz) are an InputError and `vflog report` exits 2."""
    data = random.Random(1).randbytes(300_000)
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    with pytest.raises(InputError, match="is not a text log"):
        vflog.analyze(path)
    out, err = io.StringIO(), io.StringIO()
    assert main(["report", str(path)], {}, out, err) == 2
    assert "is not a text log (binary data)" in err.getvalue() and "Findings" not in out.getvalue()


def test_an_executable_is_not_a_text_log() -> None:
    """A program (here the Python interpreter) is binary data, not a log with no findings."""
    with pytest.raises(InputError, match="is not a text log"):
        vflog.analyze(Path(sys.executable).resolve())


@pytest.mark.parametrize("content", [
    b"\0" * 300_000 + BOOT,
    BOOT.replace(b"\n", b"\n\0\0\0\0", 40),
    BOOT.replace(b"eth0", b"eth\xff0", 10) + b"\x01\x02\x03",
    b"\0" * 5000,
], ids=["nul-run-first", "nul-runs", "few-bad-bytes", "only-nuls"])
def test_logs_with_nuls_or_a_few_bad_bytes_are_read(content: bytes) -> None:
    """Serial-console damage (NUL runs, a few bad bytes) is still text; a block of NULs alone is not binary."""
    report = vflog.analyze(content)
    assert report.stats.lines == content.count(b"\n") + (not content.endswith(b"\n"))
    if b"hv_netvsc" in content:
        assert report.boots[-1].nics


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("pack", ["tar", "tar.gz", "zip", "stdin-tar", "stdin-tar.gz", "stdin-zip"])
@pytest.mark.parametrize("second", ["var/log/big.dat", "var/log/kern.log"])
def test_an_archive_cut_in_a_later_member_yields_the_first(tmp_path: Path, pack: str, second: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A tarball or zip truncated in its second member reads the whole first one and reports the damage."""
    first = ("var/log/kern.log.1", BOOT)
    big = random.Random(2).randbytes(1 << 20).hex().encode()
    if pack.endswith("zip"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(*first)
            archive.writestr(second, big)
        data = buffer.getvalue()
    else:
        data = _tar([first, (second, big)])
        data = gzip.compress(data) if pack == "tar.gz" else data
    path = tmp_path / f"logs.{pack.removeprefix('stdin-')}"
    path.write_bytes(data[: len(data) * 2 // 3])
    if pack.startswith("stdin-"):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
        path = Path("-")
    report = vflog.analyze_files([path])
    assert [(n.synthetic, n.datapath) for n in report.boots[0].nics] == [("eth0", "vf")]
    assert report.stats.lines == BOOT.count(b"\n")
    assert any("damaged archive" in e or "cannot be read to the end" in e for e in report.errors), report.errors
    assert all(e.startswith(("<stdin>", str(path))) for e in report.errors)


@pytest.mark.parametrize("source", [None, {}, {"a": 1}, 42, 1.5, {"x"}], ids=repr)
def test_misuse_is_a_type_error_naming_what_is_accepted(source: object) -> None:
    """analyze(None), analyze({}), analyze(42): a TypeError that lists the accepted sources."""
    with pytest.raises(TypeError, match="give a path .*bytes.*stream.*lines.*analyze_text"):
        vflog.analyze(source)  # type: ignore[arg-type]


def test_a_str_is_always_a_path_and_text_has_its_own_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'messages' or a log line in a str is a missing path; the same text through analyze_text is read."""
    monkeypatch.chdir(tmp_path)
    line = "[    3.9] hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added"
    for name in ("messages", "kern", line, line + "\n", Path("kern.log")):
        with pytest.raises(InputError, match="no such file|no file matches this pattern"):
            vflog.analyze(name)  # type: ignore[arg-type]
    assert [n.synthetic for n in vflog.analyze_text(line).boots[0].nics] == ["eth0"]
    assert [r.nic for r in vflog.events_text(line)] == ["000d3af5-76bd-000d-3af5-76bd000d3af5"]
    with pytest.raises(TypeError):
        vflog.analyze_text(line.encode())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vflog.analyze_files("kern.log")


def test_lines_that_are_not_str_are_a_type_error() -> None:
    """An iterable of bytes lines is refused with a pointer to passing bytes whole."""
    with pytest.raises(TypeError, match="lines must be str"):
        vflog.analyze([b"line\n"])  # type: ignore[list-item]


def test_directory_walk_follows_file_links_and_skips_what_cannot_be_read(tmp_path: Path) -> None:
    """report DIR: a symlinked kern.log is read (as scan does); a FIFO and a link to /dev/zero are skipped with
    a note, never opened; a directory symlink loop is not followed."""
    root = tmp_path / "logs"
    root.mkdir()
    (tmp_path / "real.log").write_bytes(BOOT)
    (root / "kern.log").symlink_to(tmp_path / "real.log")
    os.mkfifo(root / "kern.log.1")
    (root / "kern.log.2").symlink_to("/dev/zero")
    (root / "loop").symlink_to(root)
    (root / "dangling.log").symlink_to(tmp_path / "nope")
    report = vflog.analyze(root)
    assert [(n.synthetic, n.datapath) for n in report.boots[0].nics] == [("eth0", "vf")]
    assert report.sources == (f"{root}!kern.log",) and not report.errors
    note = " ".join(report.notes)
    assert "2 special file(s)" in note and "directory symlink" in note and "dangling" in note


def test_a_file_that_vanishes_during_the_walk_is_skipped_with_a_note(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """logrotate removing kern.log.1 between listing and opening: a note, the other files still read."""
    root = tmp_path / "logs"
    root.mkdir()
    (root / "kern.log.1").write_bytes(BOOT)
    (root / "kern.log").write_bytes(BOOT)
    walk = dispatch._walk

    def walk_then_rotate(path: Path) -> object:
        listed = walk(path)
        (root / "kern.log.1").unlink()
        return listed

    monkeypatch.setattr(dispatch, "_walk", walk_then_rotate)
    report = vflog.analyze(root)
    assert not report.errors and report.stats.lines == BOOT.count(b"\n")
    assert any("kern.log.1: vanished before it could be read" in note for note in report.notes)


def test_a_pattern_skips_fifos_and_devices_with_a_note(tmp_path: Path) -> None:
    """'dir/*' matching a FIFO and a link to /dev/zero reads the logs and notes the rest, never hangs."""
    (tmp_path / "kern.log").write_bytes(BOOT)
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "zero").symlink_to("/dev/zero")
    report = vflog.analyze_files([str(tmp_path / "*")])
    assert report.stats.lines == BOOT.count(b"\n") and not report.errors
    assert sum("skipped: a special file" in note for note in report.notes) == 2


def _zstd_tar(members: list[tuple[str, bytes]]) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(_tar(members))  # type: ignore[no-any-return]


def test_a_zstd_compressed_tar_file_is_read(tmp_path: Path) -> None:
    """A .tar.zst file is read like a .tar.gz (tarfile alone cannot open it), through the bounded decompressor."""
    path = tmp_path / "sos.tar.zst"
    path.write_bytes(_zstd_tar([("var/log/kern.log", BOOT)]))
    report = vflog.analyze_files([path])
    assert report.sources == (f"{path}!var/log/kern.log",) and not report.errors
    assert report.stats.lines == BOOT.count(b"\n")


def test_a_truncated_zstd_file_reads_up_to_the_cut_and_says_so() -> None:
    """A zstd stream cut short yields its text before the cut, then an error naming the truncation."""
    zstandard = pytest.importorskip("zstandard")
    text = b"".join(b"[%6d.000000] line %d of a log\n" % (n, n * 7919 % 100_003) for n in range(100_000))
    data = zstandard.ZstdCompressor().compress(text)
    report = vflog.analyze_files([data[: len(data) // 2]])
    assert report.stats.lines > 0 and any("truncated" in error for error in report.errors), report.errors


def test_zstd_frames_one_after_another_are_all_read() -> None:
    """Several zstd frames in a row read as their concatenation (as zstd -d does)."""
    zstandard = pytest.importorskip("zstandard")
    one = zstandard.ZstdCompressor().compress(BOOT)
    assert vflog.analyze_files([one * 3]).stats.lines == 3 * BOOT.count(b"\n")


def test_a_zstd_frame_asking_for_a_huge_window_is_refused_with_the_reason() -> None:
    """A zstd frame that needs a window over 8 MiB (--long, --ultra) is refused, naming why, not read into memory."""
    zstandard = pytest.importorskip("zstandard")
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=25)
    buffer = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(buffer, closefd=False) as writer:
        writer.write(BOOT)
    report = vflog.analyze_files([buffer.getvalue()])
    assert any("zstd window over 8 MiB" in error for error in report.errors), report.errors


def test_zstd_output_per_step_is_bounded() -> None:
    """One decompression step of a zstd bomb gives about 1 MiB, never the whole expansion."""
    zstandard = pytest.importorskip("zstandard")
    bomb = zstandard.ZstdCompressor().compress(bytes(256 << 20))
    engine = compression._decompressor("zstd", "bomb")
    assert len(engine.decompress(bomb, 1 << 20)) <= 3 << 19 and engine.unconsumed_tail


def _spied_spools(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Return the list that every spool file archives makes from now on is appended to."""
    spools: list[object] = []
    real = archives._spool

    def spy() -> object:
        spools.append(spool := real())
        return spool

    monkeypatch.setattr(archives, "_spool", spy)
    return spools


def test_a_streamed_tar_spools_only_members_that_could_be_chosen(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A tar from a stream copies aside only the members selection could choose, into a private unlinked file."""
    spools = _spied_spools(monkeypatch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the spool would show, were it named
    data = _tar([("var/log/other.dat", b"x" * 100_000), ("var/log/kern.log", BOOT), ("var/log/kern.log", BOOT)])
    report = vflog.analyze_files([io.BytesIO(data)])
    assert report.sources == ("<stream>!var/log/kern.log",) and report.stats.lines == BOOT.count(b"\n")
    (spool,) = spools
    status = os.fstat(spool.fileno())  # type: ignore[attr-defined]
    assert status.st_size == 2 * len(BOOT) and status.st_nlink == 0 and status.st_mode & 0o077 == 0
    assert not list(tmp_path.iterdir())


def test_selection_wanted_is_a_superset_of_pick() -> None:
    """Selection.wanted admits every member pick can choose, and no excluded or unrelated one."""
    names = ["var/log/kern.log", "var/log/kern.log.1.gz", "sos_commands/dmesg", "etc/hosts", "var/log/messages"]
    for selection in (Selection(), Selection(include=("*hosts",)), Selection(exclude=("kern.log*",))):
        chosen, _ = selection.pick(names)
        assert set(chosen) <= {n for n in names if selection.wanted(n)}
    assert not Selection().wanted("etc/hosts") and not Selection(exclude=("dmesg",)).wanted("x/dmesg")


def test_a_tar_in_a_regular_file_is_read_in_place_and_only_other_tars_are_spooled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tar in a regular file (given, in a directory, or as stdin) is read in place; a compressed one is spooled."""
    spools = _spied_spools(monkeypatch)
    data = _tar([("var/log/kern.log", BOOT)])
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "sos.tar").write_bytes(data)
    (tmp_path / "sos.tar.gz").write_bytes(gzip.compress(data))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(open(tmp_path / "logs" / "sos.tar", "rb")))
    lines = BOOT.count(b"\n")
    include = Selection(include=("*.tar", "kern.log"))
    assert vflog.analyze_files([tmp_path / "logs"], selection=include).stats.lines == lines
    assert vflog.analyze_files([tmp_path / "logs" / "sos.tar", "-"]).stats.lines == 2 * lines
    assert not spools
    assert vflog.analyze_files([tmp_path / "sos.tar.gz"]).stats.lines == lines and len(spools) == 1
