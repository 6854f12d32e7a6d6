"""Turn the bytes of one input into text blocks that end at line ends.

Lines end at LF only, as ``grep -n`` counts them, on every path; a line over Limits.max_line
keeps its first max_line bytes and is still one line (tallied).  UTF-8 with bad bytes
replaced; binary data is refused.  A journal export becomes one JSON line per entry (export),
an iterable of str is split the same way, and a text stream is read as its UTF-8 bytes.
"""

from __future__ import annotations

import io
import lzma
import tarfile
import zipfile
import zlib
from typing import IO, Iterable, Iterator

from ..errors import InputError
from .export import _EXPORT, _export_lines
from .values import Limits, Tally

#: Bytes read at a time: a first block big enough for the layout check to sample 2,000 lines, then
#: blocks small enough that decoding, searching and counting lines reuse the CPU cache (measured:
#: 128 KiB blocks take a quarter less time than 2 MiB blocks on a 1M-line dmesg).
_FIRST_BLOCK = 1 << 21
_BLOCK = 1 << 17
#: Control bytes that a text log does not hold in number (everything below space but tab, line
#: ends, form feed, vertical tab and ESC, plus DEL); the binary check counts them.
_CONTROL = bytes(sorted(set(range(32)) - set(b"\t\n\v\f\r\x1b") | {0x7F}))
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
#: Bytes of a first block (NUL runs removed) that the binary check looks at.
_SAMPLE = 1 << 16


def _text_chunks(binary: IO[bytes], name: str, limits: Limits, tally: Tally, checked: bool = False) -> Iterator[str]:
    """Yield the text of a binary stream in large blocks that end at line ends (*checked*: the stream is the
    rest of a file whose start passed the binary check, so it is not checked again).

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
        yield from _plain_blocks(binary, name, limits, tally, checked)
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


def _plain_blocks(binary: IO[bytes], name: str, limits: Limits, tally: Tally, checked: bool = False) -> Iterator[str]:
    """Yield the blocks of _text_chunks for a stream that is not a journal export."""
    limit = limits.max_line
    pending = b""
    dropping = False  # inside a line cut at the limit: its bytes up to the next LF are dropped
    undecided = not checked  # the binary check has not seen a sample yet
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
