"""Open what the caller gives (paths, text, bytes, streams, line iterables) as numbered text lines."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import sys
from pathlib import Path
from typing import IO, Iterable, Iterator, Union

import attrs

from .errors import InputError

Source = Union[str, bytes, os.PathLike, IO[str], IO[bytes], Iterable[str]]

_MAGIC = (
    (b"\x1f\x8b", gzip.open),
    (b"BZh", bz2.open),
    (b"\xfd7zXZ\x00", lzma.open),
)
_ZSTD = b"\x28\xb5\x2f\xfd"


@attrs.frozen
class Input:
    """A named input whose lines vflog will read."""

    name: str
    lines: Iterable[str]


def _decode(binary: IO[bytes]) -> Iterator[str]:
    """Yield the lines of a binary stream as text: UTF-8, bad bytes replaced, CR/CRLF folded."""
    text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline=None)
    for line in text:
        yield line.rstrip("\n")


def _open_binary(path: Path) -> IO[bytes]:
    """Open *path* and undo any compression found by its leading bytes."""
    handle = open(path, "rb")
    head = handle.peek(8)[:8] if hasattr(handle, "peek") else b""
    for magic, opener in _MAGIC:
        if head.startswith(magic):
            return opener(handle)  # type: ignore[return-value]
    if head.startswith(_ZSTD):
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            handle.close()
            raise InputError(str(path), "is zstd-compressed; install vflog[zstd] to read it") from None
        return zstandard.ZstdDecompressor().stream_reader(handle)  # type: ignore[no-any-return]
    return handle


def _path_lines(path: Path) -> Iterator[str]:
    try:
        binary = _open_binary(path)
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, not a log file") from None
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except PermissionError:
        raise InputError(str(path), "permission denied") from None
    except OSError as exc:
        raise InputError(str(path), exc.strerror or str(exc)) from None
    with binary:
        try:
            yield from _decode(binary)
        except (EOFError, OSError, lzma.LZMAError) as exc:
            raise InputError(str(path), f"cannot be read to the end ({exc})") from None


def open_input(source: Source, name: str | None = None) -> Input:
    """Return *source* as a named line iterable; ``-`` means standard input."""
    if isinstance(source, os.PathLike):
        return Input(name or os.fspath(source), _path_lines(Path(source)))
    if isinstance(source, bytes):
        return Input(name or "<bytes>", _decode(io.BytesIO(source)))
    if isinstance(source, str):
        if source == "-":
            return Input(name or "<stdin>", _decode(sys.stdin.buffer))
        if "\n" in source or not os.path.exists(source):
            if "\n" not in source and _looks_like_path(source):
                raise InputError(source, "no such file")
            return Input(name or "<text>", source.splitlines())
        return Input(name or source, _path_lines(Path(source)))
    if hasattr(source, "read"):
        stream = source
        probe = stream.read(0)
        if isinstance(probe, bytes):
            return Input(name or getattr(stream, "name", "<stream>"), _decode(stream))  # type: ignore[arg-type]
        return Input(name or getattr(stream, "name", "<stream>"), (line.rstrip("\r\n") for line in stream))
    return Input(name or "<lines>", (line.rstrip("\r\n") for line in source))


def _looks_like_path(text: str) -> bool:
    """Return whether a one-line string was meant as a file name rather than a log line."""
    return (" " not in text and ("/" in text or text.endswith((".log", ".txt", ".gz", ".xz", ".bz2", ".zst")))) 
