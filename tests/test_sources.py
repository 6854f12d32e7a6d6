"""Tests of vflog.sources: member selection, rotation order, unsafe names, text blocks, gzip engines."""

from __future__ import annotations

import gzip
import io
import sys
import zlib

import pytest

from vflog.errors import InputError
from vflog.sources import Selection, _text_chunks, _unsafe, Limits, chunk_lines, rotation_key

sources = sys.modules["vflog.sources"]


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


def test_text_blocks_end_at_line_ends_and_fold_line_endings() -> None:
    """CRLF and CR become LF, bad UTF-8 is replaced, a line that never ends is cut at the limit."""
    data = b"one\r\ntwo\rthr\xffee\nlast\n" + b"x" * 50
    blocks = list(_text_chunks(io.BufferedReader(io.BytesIO(data)), "t", Limits(max_line=20)))
    assert all(block.endswith("\n") for block in blocks[:-1])
    lines = list(chunk_lines(blocks))
    assert lines[:3] == ["one", "two", "thr\ufffdee"]
    assert lines[3] == "last" and lines[4:] == ["x" * 20, "x" * 20, "x" * 10]


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
    monkeypatch.setattr(sources, "inflate_module", lambda: engine)
    text = "".join(f"[{i}.000000] line {i}\n" for i in range(50000))
    packed = gzip.compress(text[:300000].encode()) + gzip.compress(text[300000:].encode())

    def read(data: bytes) -> tuple[str, str | None]:
        stream = io.BufferedReader(io.BytesIO(data))
        got: list[str] = []
        try:
            got.extend(sources._text_chunks(sources._plain(stream, "log.gz", len(data), Limits()), "log.gz", Limits()))
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
