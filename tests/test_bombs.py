"""Bounded memory and time on hostile input shapes: archives on stdin or nested, bombs, huge files.

Each case runs vflog in a fresh process and reads its peak RSS (VmHWM) from /proc, so the figure
is vflog's own.  The short versions run by default; the long ones (hundreds of MB, minutes) are
marked slow and need VFLOG_FUZZ=1.  Every hostile file is built here, in tmp_path.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import vflog
from vflog.input import Limits

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
BOOT = (SAMPLES / "normal-boot.log").read_bytes()
FILLER = b"Dec  2 14:00:00 host systemd[1]: Started Session 1 of user root; filler line for size tests.\n"
#: The bound the project promises for any input (issue 13).
PEAK_MB = 60

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS is read from /proc (Linux)")

#: Analyses argv[1] ("-" is stdin) with the include globs in argv[2:], and prints the peak RSS (MB),
#: the time taken, the errors, notes and line count as JSON.
PEAK_SCRIPT = """
import json, sys, time
import vflog
from vflog.input import Selection
start = time.monotonic()
report = vflog.analyze_files([sys.argv[1]], selection=Selection(include=tuple(sys.argv[2:])))
seconds = time.monotonic() - start
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024
print(json.dumps({"peak": peak, "seconds": seconds, "errors": list(report.errors), "notes": list(report.notes),
                  "lines": report.stats.lines, "sources": list(report.sources)}))
"""


def measure(source: Path | str, *include: str, stdin: Path | None = None) -> dict:
    """Return what PEAK_SCRIPT prints for *source*, run in a fresh process (stdin: *stdin* through a pipe)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with subprocess.Popen(["cat", str(stdin or os.devnull)], stdout=subprocess.PIPE) as feed:  # a pipe, not a file
        done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(source), *include], env=env, stdin=feed.stdout,
                              capture_output=True, timeout=3600)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def write_tar(path: Path, members: list[tuple[str, int | bytes | Path]]) -> Path:
    """Write a tar at *path*: each member is given as bytes, a file, or a size of filler lines (made as written)."""
    with tarfile.open(path, "w") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, Path):
                tar.add(content, arcname=name)
            elif isinstance(content, bytes):
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                info.size = content
                tar.addfile(info, _FillerReader(content))
    return path


class _FillerReader(io.RawIOBase):
    """*size* bytes of filler lines, generated as they are read (no big buffer in the test process)."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        size = min(len(buffer), self._left)
        piece = (FILLER * (size // len(FILLER) + 1))[:size]
        buffer[:size] = piece
        self._left -= size
        return size


def _big_tar(path: Path, filler: int) -> Path:
    """A tar with a kern.log (one sample boot) and *filler* bytes of another member around it."""
    return write_tar(path, [("var/log/other.dat", filler), ("var/log/kern.log", BOOT), ("var/log/more.dat", filler)])


def test_a_tar_on_stdin_is_not_buffered_whole(tmp_path: Path) -> None:
    """A 96 MB tar on stdin peaks under 60 MB: members nobody reads are skipped as they pass."""
    archive = _big_tar(tmp_path / "big.tar", 48 << 20)
    result = measure("-", stdin=archive)
    assert result["sources"] == ["<stdin>!var/log/kern.log"] and result["lines"] == BOOT.count(b"\n")
    assert result["peak"] <= PEAK_MB, result


def test_a_tar_inside_a_tar_is_not_buffered_whole(tmp_path: Path) -> None:
    """A 96 MB tar inside a tar peaks under 60 MB and its kern.log is read."""
    inner = _big_tar(tmp_path / "inner.tar", 48 << 20)
    outer = write_tar(tmp_path / "outer.tar", [("sos/inner.tar", inner)])
    inner.unlink()
    result = measure(outer, "*.tar", "kern.log")
    assert result["sources"] == [f"{outer}!sos/inner.tar!var/log/kern.log"], result
    assert result["peak"] <= PEAK_MB, result


def test_a_zip_on_stdin_is_spooled_not_buffered(tmp_path: Path) -> None:
    """A 64 MB zip on stdin (random access needed) peaks under 60 MB: it is copied to a private temp file."""
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("var/log/kern.log", BOOT)
        with zf.open("var/log/other.dat", "w") as member:
            for _ in range(64):
                member.write((FILLER * ((1 << 20) // len(FILLER) + 1))[: 1 << 20])
    result = measure("-", stdin=archive)
    assert result["sources"] == ["<stdin>!var/log/kern.log"] and result["peak"] <= PEAK_MB, result


def test_a_zstd_bomb_stays_small(tmp_path: Path) -> None:
    """A 131 KB zstd bomb (4 GiB of NULs) is stopped by the ratio limit without a memory spike."""
    zstandard = pytest.importorskip("zstandard")
    bomb = tmp_path / "kern.log.zst"
    with bomb.open("wb") as file, zstandard.ZstdCompressor(level=1).stream_writer(file) as writer:
        for _ in range(256):
            writer.write(bytes(16 << 20))
    assert bomb.stat().st_size < 200_000
    result = measure(bomb)
    assert any("decompression bomb" in error for error in result["errors"]) and result["peak"] <= PEAK_MB, result


def test_a_gzip_bomb_of_zeros_is_stopped_quickly(tmp_path: Path) -> None:
    """A 4 MB gzip bomb of NULs is stopped by the ratio limit in seconds, under 60 MB, with the limit named."""
    bomb = tmp_path / "kern.log.gz"
    bomb.write_bytes(gzip.compress(bytes(16 << 20), 9) * 256)  # 256 gzip members of 16 MiB each
    assert bomb.stat().st_size < 5 << 20
    result = measure(bomb)
    assert any("expands more than 200x" in error for error in result["errors"]), result
    assert result["peak"] <= PEAK_MB and result["seconds"] < 10, result


def test_a_compressed_tar_bomb_on_stdin_is_stopped_at_the_size_limit(tmp_path: Path) -> None:
    """A tar.gz on stdin whose kern.log passes --max-bytes is stopped there, and the limit is named."""
    data = write_tar(tmp_path / "x.tar", [("var/log/kern.log", BOOT * 300)]).read_bytes()
    report = vflog.analyze_files([io.BytesIO(gzip.compress(data))], limits=Limits(max_bytes=1 << 20))
    assert any("1 MiB" in error and "stopped" in error for error in report.errors), report.errors


def test_a_tar_on_a_stream_with_a_big_member_is_stopped_at_the_size_limit() -> None:
    """Members copied aside from a streamed tar count against --max-bytes; what passes it is named."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name in ("var/log/kern.log.1", "var/log/kern.log"):
            info = tarfile.TarInfo(name)
            info.size = len(BOOT) * 200
            tar.addfile(info, io.BytesIO(BOOT * 200))
    archive.seek(0)
    report = vflog.analyze_files([archive], limits=Limits(max_bytes=2 << 20))
    assert any("more than 2 MiB to read; stopped" in error for error in report.errors), report.errors
    assert report.stats.lines > 0  # the member before the limit was read


def _many_members_tar(path: Path, count: int) -> Path:
    """A tar of *count* empty members (one 512-byte header each) and then a kern.log, written directly."""
    with path.open("wb") as file:
        header = tarfile.TarInfo("var/log/junk/file0000000.txt").tobuf(format=tarfile.GNU_FORMAT)
        for number in range(count):  # the same header with the name (and its checksum) rewritten
            info = tarfile.TarInfo(f"var/log/junk/file{number:07d}.txt")
            file.write(info.tobuf(format=tarfile.GNU_FORMAT) if number % 1000 == 0 else _renamed(header, number))
        info = tarfile.TarInfo("var/log/kern.log")
        info.size = len(BOOT)
        file.write(info.tobuf(format=tarfile.GNU_FORMAT) + BOOT + bytes(-len(BOOT) % 512) + bytes(1024))
    return path


def _renamed(header: bytes, number: int) -> bytes:
    """Return *header* for member file<number>.txt: name bytes and checksum rewritten."""
    name = f"var/log/junk/file{number:07d}.txt".encode()
    block = bytearray(header)
    block[: len(name)] = name
    block[148:156] = b" " * 8
    block[148:155] = b"%06o\0" % sum(block)
    return bytes(block)


@pytest.mark.parametrize("stdin", [False, True], ids=["in-place", "stdin"])
def test_a_tar_of_100000_members_stays_small(tmp_path: Path, stdin: bool) -> None:
    """A tar of 100,000 other members and a kern.log peaks under 60 MB: other members are counted, not kept."""
    archive = _many_members_tar(tmp_path / "many.tar", 100_000)
    result = measure("-", stdin=archive) if stdin else measure(archive)
    assert any("skipped 100000 other member(s)" in note for note in result["notes"]), result
    assert result["lines"] == BOOT.count(b"\n") and result["peak"] <= PEAK_MB, result


def test_the_number_of_kernel_log_members_read_from_a_tar_is_bounded(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_MEMBERS members that could be kernel logs, the rest of a tar is not read and the bound is named."""
    monkeypatch.setattr(sys.modules["vflog.input.archives"], "MAX_MEMBERS", 3)
    archive = write_tar(tmp_path / "logs.tar", [(f"var/log/kern.log.{n}", BOOT) for n in range(1, 6)])
    report = vflog.analyze_files([archive])
    assert len([s for s in report.sources if "!" in s]) == 3
    assert any("more than 3 members" in error for error in report.errors), report.errors


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("VFLOG_FUZZ"), reason="long run: set VFLOG_FUZZ=1")
def test_a_144_mb_kern_log_in_a_tar_on_stdin_stays_under_60_mb(tmp_path: Path) -> None:
    """A tar on stdin whose kern.log is 144 MB (sample boots and filler) peaks under 60 MB."""
    block = BOOT + FILLER * 2000
    archive = write_tar(tmp_path / "big.tar", [("var/log/kern.log", block * ((144 << 20) // len(block) + 1))])
    result = measure("-", stdin=archive)
    archive.unlink()
    assert result["lines"] > 1_500_000 and result["peak"] <= PEAK_MB, result


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("VFLOG_FUZZ"), reason="long run: set VFLOG_FUZZ=1")
def test_a_1_gb_plain_file_stays_under_60_mb(tmp_path: Path) -> None:
    """A 1 GB plain file of filler lines peaks under 60 MB."""
    path = tmp_path / "kern.log"
    with path.open("wb") as file:
        file.write(BOOT)
        reader = _FillerReader(1 << 30)
        while block := reader.read(1 << 20):
            file.write(block)
    result = measure(path)
    path.unlink()
    assert result["peak"] <= PEAK_MB, result


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("VFLOG_FUZZ"), reason="long run: set VFLOG_FUZZ=1")
def test_a_nested_tar_of_400_mb_stays_under_60_mb(tmp_path: Path) -> None:
    """A tar inside a tar holding 400 MB of other members and a kern.log peaks under 60 MB."""
    inner = _big_tar(tmp_path / "inner.tar", 200 << 20)
    outer = write_tar(tmp_path / "outer.tar", [("sos/inner.tar", inner)])
    inner.unlink()
    result = measure(outer, "*.tar", "kern.log")
    outer.unlink()
    assert result["sources"] == [f"{outer}!sos/inner.tar!var/log/kern.log"], result
    assert result["peak"] <= PEAK_MB, result


def test_a_zip_listing_more_members_than_the_bound_is_refused_before_its_directory_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """zipfile keeps every directory entry in memory: a zip announcing more than MAX_ZIP_ENTRIES is refused by name."""
    import zipfile

    from vflog.input import archives
    monkeypatch.setattr(archives, "MAX_ZIP_ENTRIES", 10)
    many, few = tmp_path / "many.zip", tmp_path / "few.zip"
    for path, count in ((many, 20), (few, 5)):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("var/log/kern.log", (SAMPLES / "normal-boot.log").read_bytes())
            for index in range(count - 1):
                archive.writestr(f"other/{index}.txt", b"x")
    with pytest.raises(vflog.InputError, match="zip of 20 members, more than the 10"):
        vflog.analyze(many)
    assert vflog.analyze(few).boots[0].nics[0].datapath == "vf"
