"""Tests of vflog.sources: member selection, rotation order, unsafe names, text blocks."""

from __future__ import annotations

import io

import pytest

from vflog.sources import Selection, _text_chunks, _unsafe, Limits, chunk_lines, rotation_key


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
