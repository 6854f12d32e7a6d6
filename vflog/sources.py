"""Open what the caller gives as named inputs of text lines.

A source is a path (str or os.PathLike: file, directory, archive, glob; ``-`` for standard
input), bytes, Text, a stream or an iterable of str lines; a str is never guessed to be log
text.  Lines end at LF only, as ``grep -n`` counts them, on every path; a line over
Limits.max_line keeps its first max_line bytes and is still one line.  Binary data is refused.
Compression (gzip, bzip2, xz, zstd) is recognised by content, not by name.  Archives (tar in
any compression, zip) and directories are read member by member, never extracted under their
own names and never held in memory whole (a tar that is not a plain file is read once, the
members that could be chosen copied to a private temporary file); from them vflog picks the
kernel logs (sosreport, WALinuxAgent ``logs.zip``, ``/var/log``): the best family of
``kern.log*``, ``messages*``, ``syslog*``, journal exports, ``dmesg*``, rotated files oldest
first.  A member that cannot be read becomes an input whose reading raises InputError, so the
other members are still analysed; a damaged archive still yields the members before the damage.
"""

from __future__ import annotations

import bz2
import fnmatch
import functools
import glob as globbing
import io
import json
import lzma
import os
import re
import stat
import struct
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from types import ModuleType
from collections.abc import Set as AbstractSet
from typing import IO, Callable, Iterable, Iterator, Mapping, Union

import attrs

from .errors import InputError

#: A path (str or os.PathLike; ``-`` is stdin), log content as bytes, log text (Text), a binary or
#: text stream, or an iterable of str lines.
Source = Union[str, os.PathLike, bytes, bytearray, memoryview, "Text", IO[str], IO[bytes], Iterable[str]]

#: Bytes read at a time: a first block big enough for the layout check to sample 2,000 lines, then
#: blocks small enough that decoding, searching and counting lines reuse the CPU cache (measured:
#: 128 KiB blocks take a quarter less time than 2 MiB blocks on a 1M-line dmesg).
_FIRST_BLOCK = 1 << 21
_BLOCK = 1 << 17
_GZIP, _BZIP2, _XZ, _ZSTD = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd"
_ZIP = b"PK\x03\x04"
_EXPORT = (b"__CURSOR=", b"__REALTIME_TIMESTAMP=", b"__MONOTONIC_TIMESTAMP=", b"_BOOT_ID=")
#: Control bytes that a text log does not hold in number (everything below space but tab, line
#: ends, form feed, vertical tab and ESC, plus DEL); the binary check counts them.
_CONTROL = bytes(sorted(set(range(32)) - set(b"\t\n\v\f\r\x1b") | {0x7F}))
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
#: Bytes of a first block (NUL runs removed) that the binary check looks at.
_SAMPLE = 1 << 16
_ROTATION = re.compile(r"^(?P<base>.+?)(?:[.-](?P<n>\d{1,3}|\d{8}))?(?:\.(?:gz|bz2|xz|zst))?$")
#: Kernel-log families in order of preference, with the name patterns that belong to them.
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kern.log", ("kern.log",)),
    ("messages", ("messages",)),
    ("syslog", ("syslog",)),
    ("journal", ("journalctl*", "journal*.txt", "journal*.json", "journal*.export")),
    ("dmesg", ("dmesg*",)),
    ("console", ("*serial*console*", "*console*.log", "boot.log")),
)


@attrs.frozen
class Limits:
    """Bounds that keep hostile archives from exhausting the machine."""

    max_bytes: int = 4 << 30
    max_ratio: float = 200.0
    max_depth: int = 3
    max_line: int = 1 << 20


@attrs.frozen
class Text:
    """Log text given as a str (``vflog.analyze_text``): read exactly like the UTF-8 bytes of a file."""

    text: str
    name: str = "<text>"


@attrs.define
class Tally:
    """What reading one input had to change: the lines cut at the length limit."""

    cut_lines: int = 0


@attrs.frozen
class Input:
    """A named input: its text in blocks that end at line ends (or None) and/or its lines."""

    name: str
    chunks: Iterable[str] | None = None
    source_lines: Iterable[str] | None = None
    note: str | None = None
    tally: Tally = attrs.field(factory=Tally)

    @property
    def lines(self) -> Iterator[str]:
        """Return the lines of the input, without line ends."""
        if self.chunks is not None:
            return chunk_lines(self.chunks)
        return iter(self.source_lines or ())


@attrs.frozen
class Selection:
    """Which members of a directory or archive to read: explicit globs, or the kernel-log families."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def wanted(self, name: str) -> bool:
        """Return whether pick could choose *name*: not excluded, and included or in a kernel-log family."""
        base = _base(name)
        if self.exclude and (_globs(self.exclude).match(name) or _globs(self.exclude).match(base)):
            return False
        if self.include:
            return bool(_globs(self.include).match(name) or _globs(self.include).match(base))
        stem = _ROTATION.match(base)
        family = _globs(_FAMILY_PATTERNS)
        return bool(family.match(stem["base"] if stem else base) or family.match(base))

    def pick(self, names: list[str]) -> tuple[list[str], list[str]]:
        """Return (members to read in order, members left out) from the member *names*."""
        names = [n for n in names if not any(fnmatch.fnmatch(n, p) or fnmatch.fnmatch(_base(n), p) for p in self.exclude)]
        if self.include:
            chosen = [n for n in names if any(fnmatch.fnmatch(n, p) or fnmatch.fnmatch(_base(n), p) for p in self.include)]
            return _split(names, chosen)
        for _family, patterns in FAMILIES:
            members = [n for n in names if _in_family(_base(n), patterns)]
            if members:
                first_dir = min(str(PurePosixPath(n).parent) for n in members)
                return _split(names, [n for n in members if str(PurePosixPath(n).parent) == first_dir])
        return [], names


_FAMILY_PATTERNS = tuple(pattern for _family, patterns in FAMILIES for pattern in patterns)


@functools.lru_cache(maxsize=64)
def _globs(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """Return one regex that matches what any of the fnmatch *patterns* matches (none: matches nothing)."""
    return re.compile("|".join(fnmatch.translate(p) for p in patterns) or r"(?!)")


def _split(names: list[str], chosen: list[str]) -> tuple[list[str], list[str]]:
    """Return (*chosen* oldest rotation first, the other *names* in their order), in linear time."""
    picked = set(chosen)
    return sorted(chosen, key=rotation_key), [n for n in names if n not in picked]


def _base(name: str) -> str:
    return PurePosixPath(name).name


def _in_family(base: str, patterns: tuple[str, ...]) -> bool:
    stem = _ROTATION.match(base)
    plain = stem["base"] if stem else base
    return any(fnmatch.fnmatch(plain, p) or fnmatch.fnmatch(base, p) for p in patterns)


def rotation_key(name: str) -> tuple[str, int, str]:
    """Sort key that puts rotated files oldest first: ``kern.log.2.gz``, ``kern.log.1``, ``kern.log``."""
    base = _base(name)
    match = _ROTATION.match(base)
    number = match["n"] if match else None
    stem = match["base"] if match else base
    parent = str(PurePosixPath(name).parent)
    if number is None:
        order = 10**9  # the live file is the newest
    elif len(number) == 8:
        order = int(number)  # dateext: older dates first
    else:
        order = -int(number)  # .1 is newer than .2
    return (parent + "/" + stem, order, base)


# -- decompression --------------------------------------------------------------

def _magic(head: bytes) -> str | None:
    if head.startswith(_GZIP):
        return "gzip"
    if head.startswith(_BZIP2):
        return "bzip2"
    if head.startswith(_XZ):
        return "xz"
    if head.startswith(_ZSTD):
        return "zstd"
    return None


@functools.cache
def inflate_module() -> ModuleType:
    """Return the module that decodes gzip: ISA-L's zlib twin (isal_zlib) when installed, else zlib.

    Both have zlib's incremental API; ISA-L decodes a 145 MB dmesg 2-3x faster (0.14 vs 0.33 s).
    """
    try:
        from isal import isal_zlib
    except ImportError:  # not built for every platform: zlib decodes the same bytes, more slowly
        return zlib
    return isal_zlib


def _decompressor(kind: str, name: str):  # type: ignore[no-untyped-def]
    """Return a fresh incremental decompressor for *kind*."""
    if kind == "gzip":
        return inflate_module().decompressobj(wbits=47)
    if kind == "deflate":  # a zip member, read without the zip's directory
        return zlib.decompressobj(wbits=-15)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor()
    return _ZstdEngine(name)


#: The largest zstd window read: what zstd levels 1-19 write.  A frame asking for more (``--long``,
#: ``--ultra``) would make the decoder keep that much history in memory, so it is refused.
_ZSTD_WINDOW = 1 << 23
#: Compressed zstd bytes fed at a time: a zstd block is at least 4 bytes and expands to at most
#: 128 KiB, so 32 bytes never expand to more than about 1.1 MiB.
_ZSTD_PIECE = 32


class _ZstdEngine:
    """zstd behind zlib's bounded API: decompress(data, max_length) stops once max_length bytes are out.

    The zstandard package has no bound on one step's output, so input is fed in small pieces and
    what was not fed is kept as unconsumed_tail; bytes after the frame are unused_data.
    """

    def __init__(self, name: str) -> None:
        try:
            import zstandard
        except ImportError:
            raise InputError(name, "is zstd-compressed and the zstandard package is missing") from None
        self._name = name
        self._engine = zstandard.ZstdDecompressor(max_window_size=_ZSTD_WINDOW).decompressobj()
        self.unconsumed_tail = b""
        self.unused_data = b""

    @property
    def eof(self) -> bool:
        """Return whether the frame has ended."""
        return bool(self._engine.eof)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        """Return the expansion of *data*, stopping soon after *max_length* bytes (the rest of data is kept)."""
        view, parts, size, at = memoryview(data), [], 0, 0
        engine = self._engine
        try:
            while at < len(view) and size < max_length and not engine.eof:
                part = engine.decompress(view[at: at + _ZSTD_PIECE])
                at += _ZSTD_PIECE
                parts.append(part)
                size += len(part)
        except Exception as exc:  # zstandard.ZstdError
            if "too much memory" in str(exc):
                raise InputError(self._name, f"needs a zstd window over {_ZSTD_WINDOW >> 20} MiB (written with "
                                             f"--long or --ultra?); not read, to keep memory bounded") from None
            raise
        if engine.eof:
            self.unused_data, self.unconsumed_tail = engine.unused_data + bytes(view[at:]), b""
        else:
            self.unconsumed_tail = bytes(view[at:])
        return b"".join(parts)


#: Compressed bytes fed to a decompressor at a time.  Small on purpose: a step that hits damaged
#: data loses what it had expanded, so bigger steps would give up more text before the damage.
_COMPRESSED_READ = 1 << 14


class _Decompressing(io.RawIOBase):
    """Decompress incrementally, so a truncated file still yields everything before the damage.

    Output is bounded in size and in ratio to the compressed size, which stops decompression bombs.
    """

    def __init__(self, inner: IO[bytes], kind: str, name: str, compressed: int | None, limits: Limits) -> None:
        self._inner, self._kind, self._name = inner, kind, name
        self._compressed, self._limits = compressed, limits
        self._engine = _decompressor(kind, name)
        self._out = b""
        self._position = 0  # how much of _out was handed out
        self._total = 0
        self._done = False
        self._error: InputError | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._error is not None and not self._out:
            error, self._error = self._error, None
            self._done = True
            raise error
        try:
            while not self._out and not self._done:
                self._step()
        except InputError as exc:  # first hand out what came before the damage, then fail
            self._error = exc
            if not self._out:
                return 0
        out, position = self._out, self._position
        size = min(len(buffer), len(out) - position)
        buffer[:size] = memoryview(out)[position: position + size]  # no copy of the rest each time
        self._position = position + size
        if self._position == len(out):
            self._out, self._position = b"", 0
        return size

    def _step(self) -> None:
        """Decompress the next piece, at most 1 MiB at a time so a bomb never fills memory."""
        engine = self._engine
        tail = getattr(engine, "unconsumed_tail", b"")  # zlib keeps input it has not expanded yet
        if getattr(engine, "eof", False) and not tail:
            data = self._inner.read(_COMPRESSED_READ)
            if not data:
                self._done = True
                return
            self._engine = engine = _decompressor(self._kind, self._name)  # another stream follows
        elif tail:
            data = tail
        elif getattr(engine, "needs_input", True) is False:  # bz2 / lzma have output pending
            data = b""
        else:
            data = self._inner.read(_COMPRESSED_READ)
            if not data:
                self._done = True
                if not getattr(engine, "eof", True):
                    raise InputError(self._name, f"ends before its {self._kind} stream does (truncated)")
                return
        try:
            out = self._expand(data)
            while getattr(self._engine, "eof", False) and getattr(self._engine, "unused_data", b""):
                rest = self._engine.unused_data  # several compressed members one after another
                self._engine = _decompressor(self._kind, self._name)
                out += self._expand(rest)
        except InputError:
            raise
        except Exception as exc:  # zlib.error, OSError, LZMAError, EOFError, zstandard.ZstdError
            raise InputError(self._name, f"is damaged {self._kind} data ({exc})") from None
        self._total += len(out)
        _check_growth(self._name, self._total, self._compressed, self._limits)
        self._out, self._position = out, 0

    def _expand(self, data: bytes) -> bytes:
        return self._engine.decompress(data, 1 << 20)  # type: ignore[no-any-return]


class _Capped(io.RawIOBase):
    """An archive member's bytes, bounded like a decompression (zip members inflate on their own)."""

    def __init__(self, inner: IO[bytes], name: str, compressed: int | None, limits: Limits) -> None:
        self._inner, self._name, self._compressed, self._limits = inner, name, compressed, limits
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        self._total += len(data)
        _check_growth(self._name, self._total, self._compressed, self._limits)
        buffer[: len(data)] = data
        return len(data)


def _check_growth(name: str, total: int, compressed: int | None, limits: Limits) -> None:
    """Stop an input whose expanded size passes the limits (a decompression bomb)."""
    if total > limits.max_bytes:
        raise InputError(name, f"expands beyond {limits.max_bytes >> 20} MiB; stopped (decompression bomb?)")
    if compressed and total > 1 << 20 and total > compressed * limits.max_ratio:
        raise InputError(name, f"expands more than {limits.max_ratio:.0f}x; stopped (decompression bomb?)")


def _plain(stream: IO[bytes], name: str, size: int | None, limits: Limits) -> IO[bytes]:
    """Undo every layer of compression found by content, within the limits."""
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type,type-var]
    for _ in range(limits.max_depth + 1):
        kind = _magic(buffered.peek(8)[:8])  # type: ignore[attr-defined]
        if kind is None:
            return buffered
        buffered = io.BufferedReader(_Decompressing(buffered, kind, name, size, limits), 1 << 16)
    raise InputError(name, "is compressed too many times over")


def _text_chunks(binary: IO[bytes], name: str, limits: Limits, tally: Tally) -> Iterator[str]:
    """Yield the text of a binary stream in large blocks that end at line ends.

    Lines end at LF only: a CRLF counts once (its CR is dropped), a lone CR and every other
    separator stay inside their line, so line numbers are those of ``grep -n``.  UTF-8 with bad
    bytes replaced.  A line longer than limits.max_line keeps its first max_line bytes and counts
    once (tallied).  Binary data raises InputError.
    """
    try:
        head = binary.peek(32)[:32] if hasattr(binary, "peek") else b""
        if head.startswith(_EXPORT):
            yield from _batched(_export_lines(binary, name, limits, tally))
            return
        yield from _plain_blocks(binary, name, limits, tally)
    except InputError:
        raise
    except (EOFError, OSError, lzma.LZMAError, zlib.error, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise InputError(name, f"cannot be read to the end ({exc or type(exc).__name__})") from None


def _batched(lines: Iterable[str]) -> Iterator[str]:
    """Join *lines* into blocks of 4,096 lines, each ending with a line end."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= 4096:
            yield "\n".join(batch) + "\n"
            batch = []
    if batch:
        yield "\n".join(batch) + "\n"


def _plain_blocks(binary: IO[bytes], name: str, limits: Limits, tally: Tally) -> Iterator[str]:
    """Yield the blocks of _text_chunks for a stream that is not a journal export."""
    limit = limits.max_line
    pending = b""
    dropping = False  # inside a line cut at the limit: its bytes up to the next LF are dropped
    undecided = True  # the binary check has not seen a sample yet
    size = _FIRST_BLOCK
    while True:
        block = binary.read(size)
        size = _BLOCK
        if not block:
            binary.read(1)  # a decompressor that stopped early raises its error now
        elif undecided:
            undecided = _undecided(block, name)
        if dropping:
            end = block.find(b"\n")
            if end < 0 and block:
                continue
            block, dropping = block[end + 1:], False
        data = pending + block if pending else block
        carry = b""
        if block and data.endswith(b"\r"):  # the LF of a CRLF may start the next block
            data, carry = data[:-1], b"\r"
        if b"\r" in data and b"\r\n" in data:  # the first test is a memchr: most logs have no CR at all
            data = data.replace(b"\r\n", b"\n")
        cut = data.rfind(b"\n")
        if cut >= limit:  # the complete lines are long enough together to hold one over the limit
            whole, count = _cut_long_lines(data, cut + 1, limit)
            tally.cut_lines += count
            yield str(whole, "utf-8", "replace")
        elif cut >= 0:  # a line end never splits a UTF-8 sequence: the part before it decodes alone
            yield str(memoryview(data)[: cut + 1], "utf-8", "replace")
        pending = data[cut + 1:] + carry
        if len(pending) > limit:
            yield str(pending[: utf8_boundary(pending, limit)], "utf-8", "replace") + "\n"
            tally.cut_lines += 1
            pending, dropping = b"", True
        if not block:
            if pending:
                yield str(pending, "utf-8", "replace")
            return


def utf8_boundary(data: bytes | bytearray, cut: int, floor: int = 0) -> int:
    """Return *cut*, moved back (at most 3 bytes, never below *floor*) so it does not split a UTF-8 character."""
    lowest = max(cut - 3, floor)
    while cut > lowest and cut < len(data) and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


def _cut_long_lines(data: bytes, end: int, limit: int) -> tuple[bytes, int]:
    """Return data[:end] (complete lines) with each line over *limit* bytes cut to *limit*, and how many were cut.

    Windows of limit/2 bytes tile the data; a line over the limit holds a whole window with no
    LF, so only such windows are looked at closely (one search per window otherwise).
    """
    step = max(limit // 2, 1)
    parts: list[bytes] = []
    copied = count = 0
    window = 0
    while window + step <= end:
        if data.find(b"\n", window, window + step) >= 0:
            window += step
            continue
        start = data.rfind(b"\n", 0, window) + 1
        stop = data.find(b"\n", window + step, end)
        if stop - start > limit:
            parts.append(data[copied: utf8_boundary(data, start + limit, start)])
            copied = stop
            count += 1
        window = stop + 1
    if not count:
        return data[:end], 0
    parts.append(data[copied:end])
    return b"".join(parts), count


def _undecided(block: bytes, name: str) -> bool:
    """Raise InputError when *block* is binary data; return True while it holds nothing but NULs.

    Binary: after removing NUL bytes, over a tenth of a sample (and at least 8 bytes) are
    control characters other than tab, line ends, form feed, vertical tab and ESC, or bytes
    that are not UTF-8.  A log with some NUL runs or a few bad bytes (serial consoles) is text.
    """
    if block == bytes(len(block)):  # only NULs (a memcmp with zeroed memory): no sample yet
        return True
    sample = block.translate(None, b"\0")[:_SAMPLE]
    controls = len(sample.translate(None, _NOT_CONTROL))
    invalid = len(sample) - len(sample.decode("utf-8", "ignore").encode())
    if len(sample) == _SAMPLE:  # a character cut at the end of the sample is not bad
        invalid = max(0, invalid - 3)
    bad = controls + invalid
    if bad >= 8 and bad * 10 > len(sample):
        raise InputError(name, "is not a text log (binary data)")
    return False


def chunk_lines(chunks: Iterable[str]) -> Iterator[str]:
    """Yield the lines of text blocks (as produced for an Input), without their line ends."""
    for chunk in chunks:
        lines = chunk.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        yield from lines


def _export_lines(binary: IO[bytes], name: str, limits: Limits, tally: Tally) -> Iterator[str]:
    """Turn a ``journalctl -o export`` stream into one JSON object per entry, at the line of its MESSAGE.

    Every other line of the export (other fields, LFs inside binary fields, the blank line after
    each entry) becomes an empty line, so line numbers are those of the export file.
    """
    entry: dict[str, object] = {}
    lines = at = 0  # lines of the current entry so far; which of them carries the entry
    while True:
        line = binary.readline(limits.max_line + 1)
        if not line:
            break
        if not line.endswith(b"\n") and len(line) > limits.max_line:
            _skip_line(binary)
            tally.cut_lines += 1
        if line == b"\n":
            yield from _entry_lines(entry, lines, at)
            yield ""
            entry, lines, at = {}, 0, 0
            continue
        line = line.rstrip(b"\n")
        first = lines  # the index in the entry of this field's (first) line
        if b"=" in line:
            key, _, value = line.partition(b"=")
            field = key.decode("ascii", "replace")
            entry[field] = value.decode("utf-8", "replace")
            lines += 1
        else:  # binary field: name, 64-bit little-endian length, data, newline
            field = line.decode("ascii", "replace")
            length = binary.read(8)
            size = int.from_bytes(length, "little")
            data = binary.read(min(size, limits.max_line))
            extra = _skip_bytes(binary, size - len(data)) if size > len(data) else 0
            entry[field] = list(data)
            lines += 1 + (length + data).count(b"\n") + extra + (binary.read(1) == b"\n")
        if field == "MESSAGE":
            at = first
    yield from _entry_lines(entry, lines, at)


def _entry_lines(entry: dict[str, object], lines: int, at: int) -> Iterator[str]:
    """Yield *lines* lines for one export entry: its JSON object at index *at*, empty lines around it."""
    if not entry:
        yield from ("" for _ in range(lines))
        return
    at = min(at, max(lines - 1, 0))
    yield from ("" for _ in range(at))
    yield json.dumps(entry)
    yield from ("" for _ in range(lines - at - 1))


def _skip_line(binary: IO[bytes]) -> None:
    """Read and drop the rest of a line, up to and including its LF."""
    while True:
        piece = binary.readline(_BLOCK)
        if not piece or piece.endswith(b"\n"):
            return


def _skip_bytes(binary: IO[bytes], size: int) -> int:
    """Read and drop *size* bytes; return how many LFs they held."""
    newlines = 0
    while size > 0:
        piece = binary.read(min(size, _BLOCK))
        if not piece:
            break
        newlines += piece.count(b"\n")
        size -= len(piece)
    return newlines


# -- containers -----------------------------------------------------------------

def _failing(name: str, reason: str) -> Iterator[str]:
    raise InputError(name, reason)
    yield ""  # pragma: no cover - makes this a generator


def _member_inputs(opener: Callable[[str], IO[bytes]], names: list[str], sizes: dict[str, int], label: str,
                   selection: Selection, limits: Limits, depth: int, others: int = 0) -> Iterator[Input]:
    """Yield the inputs of the members *selection* picks from *names*; *others* were already set aside."""
    chosen, skipped = selection.pick(names)
    if not chosen:
        yield Input(label, _failing(label, "holds no kernel log (kern.log, messages, syslog, journal, dmesg); "
                                           "use --include to choose members"))
        return
    note = f"skipped {len(skipped) + others} other member(s)" if skipped or others else None
    for index, member in enumerate(chosen):
        yield from _bytes_input(functools.partial(opener, member), f"{label}!{member}", sizes.get(member),
                                selection, limits, depth + 1, note if index == 0 else None)


def _bytes_input(open_bytes: Callable[[], IO[bytes]], name: str, size: int | None, selection: Selection,
                 limits: Limits, depth: int, note: str | None = None) -> Iterator[Input]:
    """Yield the inputs inside one byte stream: itself, or the members of the archive it is."""
    if depth > limits.max_depth:
        yield Input(name, _failing(name, f"archives nested deeper than {limits.max_depth}; skipped"))
        return
    try:
        stream = open_bytes()
        plain = _plain(stream, name, size, limits)
        head = plain.peek(512)[:512]  # type: ignore[attr-defined]
    except InputError as exc:
        yield Input(name, _failing(name, exc.reason))
        return
    except FileNotFoundError:  # listed, then gone before it was opened (logrotate on a live /var/log)
        yield Input(name, (), note=_joined(note, "vanished before it could be read (rotated?); skipped"))
        return
    except (OSError, EOFError, lzma.LZMAError, tarfile.TarError, zipfile.BadZipFile) as exc:
        yield Input(name, _failing(name, f"cannot be opened ({exc})"))
        return
    if head.startswith(_ZIP) or _is_tar(head):
        yield from _archive_inputs(plain, name, selection, limits, depth, plain is stream and _regular(stream))
        return
    tally = Tally()
    yield Input(name, _text_chunks(plain, name, limits, tally), note=note, tally=tally)


def _regular(stream: IO[bytes]) -> bool:
    """Return whether *stream* is an open regular file (which can be read in place, at any offset)."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is an OSError
        return False


def _joined(*notes: str | None) -> str | None:
    """Return the given notes joined by '; ', or None when there is none."""
    return "; ".join(note for note in notes if note) or None


def _is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


@attrs.define
class _Listing:
    """The readable members of an archive: their names, sizes and opener, what was left out, any damage.

    Members that selection could never choose are only counted (others), and of the members left
    out only the first five names are kept, so a listing stays small however many members there are.
    """

    opener: Callable[[str], IO[bytes]]
    names: list[str] = attrs.field(factory=list)
    sizes: dict[str, int] = attrs.field(factory=dict)
    left_out: list[str] = attrs.field(factory=list)
    left_out_count: int = 0
    others: int = 0
    damage: str | None = None

    def add(self, member: str, size: int, readable: bool = True) -> None:
        """Take one member: listed when *readable* and its name is safe, else left out."""
        if readable and not _unsafe(member):
            self.names.append(member)
            self.sizes[member] = size
        else:
            self.leave_out(member)

    def leave_out(self, member: str) -> None:
        """Count a link, device or unsafe member; keep the first five names for the note."""
        self.left_out_count += 1
        if len(self.left_out) < 5:
            self.left_out.append(member)


#: Members that could be chosen (kernel-log families or --include) read from one tar at most.
MAX_MEMBERS = 10_000


def _archive_inputs(stream: IO[bytes], name: str, selection: Selection, limits: Limits, depth: int,
                    in_place: bool) -> Iterator[Input]:
    """Yield the kernel-log members of a tar or zip archive, read without extracting anything.

    An uncompressed archive in a regular file (*in_place*) is read where it lies.  Any other tar
    (from a pipe, compressed, or inside another archive) is read once, in order, and the
    members that could be chosen are copied to a private temporary file; any other zip is copied
    whole to one.  So memory stays flat whatever the archive's size.  A damaged archive yields the
    members before the damage, then an input that raises InputError naming the damage.
    """
    try:
        is_zip = stream.peek(4)[:4].startswith(_ZIP)  # type: ignore[attr-defined]
        if is_zip:
            listing = _zip_listing(stream if in_place else _spooled(stream, name, limits), name, limits)
        else:
            listing = _tar_listing(stream, name, selection, limits, in_place)
    except InputError as exc:
        yield Input(name, _failing(name, exc.reason))
        return
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as exc:
        yield Input(name, _failing(name, f"is a damaged archive ({exc})"))
        return

    def capped(member: str) -> IO[bytes]:
        return io.BufferedReader(_Capped(listing.opener(member), f"{name}!{member}",
                                         listing.sizes.get(member) or None, limits))

    notes = listing.left_out_count
    if listing.names or listing.damage is None:
        for item in _member_inputs(capped, listing.names, listing.sizes, name, selection, limits, depth,
                                   listing.others):
            if notes and item.note is None:
                item = attrs.evolve(item, note=f"skipped {notes} link/device/unsafe member(s): "
                                               f"{', '.join(listing.left_out)}")
                notes = 0
            yield item
    if listing.damage is not None:  # the members before the damage were read: now report it
        yield Input(name, _failing(name, listing.damage))


def _spool() -> IO[bytes]:
    """Return a new private temporary file (mode 0600, already unlinked: it vanishes when closed)."""
    return tempfile.TemporaryFile(prefix="vflog-")


def _copy(source: IO[bytes], target: IO[bytes], budget: int, name: str, limits: Limits) -> int:
    """Copy *source* to the end of *target* in 1 MiB blocks; return the bytes copied.

    Raises InputError once the copy would pass *budget* bytes (what is left of limits.max_bytes).
    """
    copied = 0
    while block := source.read(1 << 20):
        copied += len(block)
        if copied > budget:
            raise InputError(name, f"holds more than {limits.max_bytes >> 20} MiB to read; stopped")
        target.write(block)
    return copied


def _spooled(stream: IO[bytes], name: str, limits: Limits) -> IO[bytes]:
    """Return a private temporary file holding the rest of *stream*, within limits.max_bytes."""
    spool = _spool()
    _copy(stream, spool, limits.max_bytes, name, limits)
    spool.flush()
    spool.seek(0)
    return spool


class _Region(io.RawIOBase):
    """A byte range of a file, read with pread so several regions of one file can be read at once."""

    def __init__(self, file: IO[bytes], start: int, size: int) -> None:
        self._file, self._at, self._end = file, start, start + size  # the file object keeps the spool open

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = os.pread(self._file.fileno(), min(len(buffer), self._end - self._at), self._at)
        self._at += len(data)
        buffer[: len(data)] = data
        return len(data)


def _tar_listing(stream: IO[bytes], name: str, selection: Selection, limits: Limits, in_place: bool) -> _Listing:
    """List a tar read once, in order, keeping only the members *selection* could choose.

    In place (an uncompressed file) their data is read where it lies; otherwise (a stream) it is
    copied to a private spool, within limits.max_bytes.  At most MAX_MEMBERS such members are
    kept; other members are counted, not listed.  A member cut by damage is left out and the
    damage recorded.
    """
    regions: dict[str, tuple[IO[bytes], int, int]] = {}
    listing = _Listing(lambda member: io.BufferedReader(_Region(*regions[member])))
    end = os.fstat(stream.fileno()).st_size if in_place else 0
    spool: IO[bytes] | None = None
    tar = tarfile.open(fileobj=stream, mode="r:" if in_place else "r|")
    try:
        while (info := tar.next()) is not None:
            tar.members.clear()  # type: ignore[attr-defined]  # read once, in order: keep no list of every header
            if info.isdir():
                continue
            if not info.isfile() or _unsafe(info.name):
                listing.leave_out(info.name)
            elif not selection.wanted(info.name):
                listing.others += 1
            elif len(regions) >= MAX_MEMBERS and info.name not in regions:
                listing.damage = (f"holds more than {MAX_MEMBERS} members that could be kernel logs; "
                                  f"the rest are not read")
                break
            elif in_place and info.sparse is None:
                if info.offset_data + info.size > end:
                    raise tarfile.ReadError(f"{info.name}: unexpected end of data")
                regions[info.name] = (stream, info.offset_data, info.size)
            else:
                spool = spool or _spool()
                start = spool.seek(0, os.SEEK_END)
                member = tar.extractfile(info)
                assert member is not None  # a regular file always has data
                regions[info.name] = (spool, start, _copy(member, spool, limits.max_bytes - start, name, limits))
    except InputError as exc:  # the compressed stream is damaged, or a bound was hit
        listing.damage = f"cannot be read to the end ({exc.reason}); read up to there"
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        listing.damage = f"is a damaged archive ({exc or type(exc).__name__}); read up to the damage"
    if spool is not None:
        spool.flush()
    listing.names = list(regions)  # a name given twice is read once, its last copy
    listing.sizes = {member: size for member, (_, _, size) in regions.items()}
    return listing


def _zip_listing(handle: IO[bytes], name: str, limits: Limits) -> _Listing:
    """List a zip (a seekable file) by its central directory, or by its local headers when that is lost."""
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile as exc:
        found, damage = _zip_local_members(handle, f"is a damaged archive ({exc})")
        listing = _Listing(lambda member: _zip_local_open(handle, found[member], f"{name}!{member}", limits),
                           damage=damage)
        for member, (_, csize, _) in found.items():
            if not member.endswith("/"):
                listing.add(member, csize)
        return listing
    listing = _Listing(archive.open)
    for info in archive.infolist():
        if not info.is_dir():
            listing.add(info.filename, info.compress_size, (info.external_attr >> 16) & 0o170000 != 0o120000)
    return listing


#: A zip local file header: signature, version, flags, method, time, date, CRC, sizes, name and extra lengths.
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


def _zip_local_members(handle: IO[bytes], damage: str) -> tuple[dict[str, tuple[int, int, int]], str]:
    """Walk the local headers of a zip whose central directory is lost.

    Return name -> (data offset, compressed size, method) of the members whose data is whole,
    and *damage* with where the walk had to stop.
    """
    members: dict[str, tuple[int, int, int]] = {}
    end = handle.seek(0, 2)
    handle.seek(0)
    while (header := handle.read(_LOCAL_HEADER.size))[:4] == _ZIP and len(header) == _LOCAL_HEADER.size:
        _, _, flags, method, _, _, _, csize, _, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        member = handle.read(name_length).decode("utf-8" if flags & 0x800 else "cp437", "replace")
        start = handle.tell() + extra_length
        if flags & 0x08 and not csize:
            return members, f"{damage}; {member}: size unknown (streamed), members from it on are not read"
        if start + csize > end:
            break
        members[member] = (start, csize, method)
        handle.seek(start + csize)
        if flags & 0x08:  # a data descriptor follows: optional signature, CRC, sizes
            descriptor = handle.read(16)
            handle.seek(start + csize + (16 if descriptor.startswith(b"PK\x07\x08") else 12))
    return members, f"{damage}; read the {len(members)} whole member(s) before the damage"


def _zip_local_open(handle: IO[bytes], where: tuple[int, int, int], name: str, limits: Limits) -> IO[bytes]:
    """Open one member found by _zip_local_members: stored or deflated, bounded like a decompression."""
    start, csize, method = where
    if method not in (0, 8):
        raise InputError(name, f"uses zip compression method {method}, which a damaged archive cannot be read with")
    handle.seek(start)
    data = io.BytesIO(handle.read(csize))
    if method == 0:
        return data
    return io.BufferedReader(_Decompressing(data, "deflate", name, csize, limits), 1 << 16)


def _unsafe(member: str) -> bool:
    """Return whether an archive member name is absolute or climbs out with ``..``."""
    path = PurePosixPath(member)
    return (not path.parts or path.is_absolute() or ".." in path.parts or member.startswith(("\\", "/"))
            or ":" in path.parts[0])


def _directory_inputs(root: Path, selection: Selection, limits: Limits) -> Iterator[Input]:
    """Yield the kernel-log inputs of a directory tree; what the walk skipped is noted on the first."""
    files, sizes, skipped = _walk(root)
    notes = [f"skipped {count} {kind}" for kind, count in sorted(skipped.items())]
    for item in _member_inputs(lambda member: open(root / member, "rb"), files, sizes, str(root), selection, limits, 0):
        if notes:
            item, notes = attrs.evolve(item, note=_joined(item.note, *notes)), []
        yield item


def _walk(root: Path) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """Return the regular files under *root* (relative, sorted), their sizes, and the other entries by kind.

    As ``vflog scan`` walks: symlinks to files are followed, symlinked directories are not (no
    loops), FIFOs, devices, sockets and dangling links are skipped, never opened.
    """
    files: list[str] = []
    sizes: dict[str, int] = {}
    skipped: dict[str, int] = {}

    def skip(kind: str) -> None:
        skipped[kind] = skipped.get(kind, 0) + 1

    for directory, dirs, names in os.walk(root, onerror=lambda exc: skip("unlistable directory")):
        dirs.sort()
        for dirname in dirs:
            if os.path.islink(os.path.join(directory, dirname)):
                skip("directory symlink(s) (not followed)")
        for filename in sorted(names):
            path = os.path.join(directory, filename)
            try:
                info = os.stat(path)
            except OSError:
                skip("dangling symlink(s) or vanished file(s)")
                continue
            if not stat.S_ISREG(info.st_mode):
                skip("special file(s) (FIFO, socket, device)")
                continue
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            files.append(relative)
            sizes[relative] = info.st_size
    return sorted(files), sizes, skipped


def open_inputs(source: Source, *, selection: Selection = Selection(), limits: Limits = Limits()) -> Iterator[Input]:
    """Yield the named inputs that *source* holds (one for a plain file, several for archives).

    A str or os.PathLike is always a path (``-`` is stdin); bytes, bytearray and memoryview are
    log content; Text is log text; streams are read as they are; an iterable of str is lines.
    Anything else raises TypeError.
    """
    if isinstance(source, (str, os.PathLike)):
        yield from _path_inputs(source, selection, limits)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        content = bytes(source)
        yield from _bytes_input(lambda: io.BytesIO(content), "<bytes>", len(content), selection, limits, 0)
    elif isinstance(source, Text):
        encoded = source.text.encode("utf-8", "surrogatepass")
        yield from _bytes_input(lambda: io.BytesIO(encoded), source.name, len(encoded), selection, limits, 0)
    elif hasattr(source, "read"):
        yield from _stream_inputs(source, selection, limits)  # type: ignore[arg-type]
    elif isinstance(source, Iterable) and not isinstance(source, (Mapping, AbstractSet)):
        tally = Tally()
        yield Input("<lines>", source_lines=_item_lines(source, limits.max_line, tally), tally=tally)
    else:
        raise TypeError(f"cannot read a log from {type(source).__name__}: give a path (str or os.PathLike, '-' "
                        f"for stdin), bytes, a binary or text stream, an iterable of str lines, or use "
                        f"vflog.analyze_text for log text")


def _path_inputs(source: str | os.PathLike[str], selection: Selection, limits: Limits) -> Iterator[Input]:
    """Yield the inputs of a path: stdin for '-', a file, a directory, or the matches of a glob."""
    name = os.fspath(source)
    if not isinstance(name, str):
        name = os.fsdecode(name)
    if name == "-":
        yield from _bytes_input(lambda: sys.stdin.buffer, "<stdin>", None, selection, limits, 0)
        return
    path = Path(name)
    try:
        mode: int | None = os.stat(name).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except (OSError, ValueError) as exc:  # a name too long, with a NUL byte, a loop of links ...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        yield Input(name, _failing(name, f"cannot be opened ({reason})"))
        return
    if mode is None and any(ch in name for ch in "*?["):
        matches = sorted(globbing.glob(name, recursive=True), key=rotation_key)
        if not matches:
            yield Input(name, _failing(name, "no file matches this pattern"))
        for match in matches:
            if _special(match):  # a pattern never hangs on a FIFO or reads a device forever
                yield Input(match, (), note="skipped: a special file (FIFO, socket, device) matched by a pattern")
            else:
                yield from _path_inputs(match, selection, limits)
        return
    if mode is None:
        yield Input(name, _failing(name, "no such file"))
    elif stat.S_ISDIR(mode):
        yield from _directory_inputs(path, selection, limits)
    else:
        yield from _bytes_input(lambda: _open_file(path, name), name, _size(path), selection, limits, 0)


def _stream_inputs(stream: IO[bytes] | IO[str], selection: Selection, limits: Limits) -> Iterator[Input]:
    """Yield the inputs of an open stream; a text stream is read as the UTF-8 bytes of its text."""
    name = str(getattr(stream, "name", "<stream>"))
    if isinstance(stream.read(0), bytes):
        yield from _bytes_input(lambda: stream, name, None, selection, limits, 0)  # type: ignore[arg-type,return-value]
        return
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:  # see the CRs itself, not universal newlines (possible before reading)
        try:
            reconfigure(newline="")
        except (ValueError, OSError, io.UnsupportedOperation):
            pass
    yield from _bytes_input(lambda: io.BufferedReader(_EncodedText(stream)), name, None,  # type: ignore[arg-type]
                            selection, limits, 0)


class _EncodedText(io.RawIOBase):
    """The UTF-8 bytes of a text stream, so it is read like a binary one."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._out = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._out:
            self._out = self._stream.read(max(len(buffer) // 4, 1)).encode("utf-8", "surrogatepass")
        size = min(len(buffer), len(self._out))
        buffer[:size] = self._out[:size]
        self._out = self._out[size:]
        return size


def _item_lines(items: Iterable[str], limit: int, tally: Tally) -> Iterator[str]:
    """Yield the lines of an iterable of str: each item ends a line (its LF or CRLF dropped), LFs inside split it.

    A line over *limit* UTF-8 bytes keeps its first *limit* bytes (tallied).
    """
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"lines must be str, not {type(item).__name__} (give bytes as one bytes object)")
        body = item.removesuffix("\n").removesuffix("\r")
        for line in body.replace("\r\n", "\n").split("\n") if "\n" in body else (body,):
            if len(line) > limit // 4 and len(encoded := line.encode("utf-8", "surrogatepass")) > limit:
                line = encoded[: utf8_boundary(encoded, limit)].decode("utf-8", "replace")
                tally.cut_lines += 1
            yield line


def _special(name: str) -> bool:
    """Return whether *name* (links followed) is neither a regular file nor a directory."""
    try:
        mode = os.stat(name).st_mode
    except OSError:
        return False  # reading it gives the error
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


def _open_file(path: Path, name: str) -> IO[bytes]:
    try:
        if path.is_fifo() or path.is_char_device():
            return open(path, "rb", buffering=0)  # type: ignore[return-value]
        return open(path, "rb")
    except PermissionError:
        raise InputError(name, "permission denied") from None
    except IsADirectoryError:
        raise InputError(name, "is a directory") from None
    except OSError as exc:
        raise InputError(name, exc.strerror or str(exc)) from None
