"""Undo compression recognised by content (gzip, bzip2, xz, zstd), within bounds.

Decompression is incremental, so a truncated file still yields everything before the damage,
and bounded in size and in ratio to the compressed size (Limits), which stops decompression
bombs; an archive member read without decompression is bounded the same way (_Capped).
"""

from __future__ import annotations

import bz2
import functools
import io
import lzma
import zlib
from types import ModuleType
from typing import IO

from ..errors import InputError
from .values import Limits

_GZIP, _BZIP2, _XZ, _ZSTD = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd"


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
