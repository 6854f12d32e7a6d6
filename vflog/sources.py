"""Open what the caller gives as named inputs of text lines.

A source is a path (file, directory, archive, glob), ``-`` for standard input, text, bytes,
a stream or an iterable of lines.  Compression (gzip, bzip2, xz, zstd) is recognised by
content, not by name.  Archives (tar in any compression, zip) and directories are read in
memory, member by member, without extracting anything to disk; from them vflog picks the
kernel logs (sosreport, WALinuxAgent ``logs.zip``, ``/var/log``): the best family of
``kern.log*``, ``messages*``, ``syslog*``, journal exports, ``dmesg*``, rotated files oldest
first.  A member that cannot be read becomes an input whose reading raises InputError, so
the other members are still analysed.
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
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import IO, Callable, Iterable, Iterator, Union

import attrs

from .errors import InputError

Source = Union[str, bytes, os.PathLike, IO[str], IO[bytes], Iterable[str]]

#: Bytes read at a time: a first block big enough for the layout check to sample 2,000 lines, then
#: blocks small enough that decoding, searching and counting lines reuse the CPU cache (measured:
#: 128 KiB blocks take a quarter less time than 2 MiB blocks on a 1M-line dmesg).
_FIRST_BLOCK = 1 << 21
_BLOCK = 1 << 17
_GZIP, _BZIP2, _XZ, _ZSTD = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd"
_ZIP = b"PK\x03\x04"
_EXPORT = (b"__CURSOR=", b"__REALTIME_TIMESTAMP=", b"__MONOTONIC_TIMESTAMP=", b"_BOOT_ID=")
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
class Input:
    """A named input: its text in blocks that end at line ends (or None) and/or its lines."""

    name: str
    chunks: Iterable[str] | None = None
    source_lines: Iterable[str] | None = None
    note: str | None = None

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

    def pick(self, names: list[str]) -> tuple[list[str], list[str]]:
        """Return (members to read in order, members left out) from the member *names*."""
        names = [n for n in names if not any(fnmatch.fnmatch(n, p) or fnmatch.fnmatch(_base(n), p) for p in self.exclude)]
        if self.include:
            chosen = [n for n in names if any(fnmatch.fnmatch(n, p) or fnmatch.fnmatch(_base(n), p) for p in self.include)]
            return sorted(chosen, key=rotation_key), [n for n in names if n not in chosen]
        for _family, patterns in FAMILIES:
            members = [n for n in names if _in_family(_base(n), patterns)]
            if members:
                first_dir = min(str(PurePosixPath(n).parent) for n in members)
                chosen = [n for n in members if str(PurePosixPath(n).parent) == first_dir]
                return sorted(chosen, key=rotation_key), [n for n in names if n not in chosen]
        return [], names


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
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor()
    try:
        import zstandard
    except ImportError:
        raise InputError(name, "is zstd-compressed and the zstandard package is missing") from None
    return zstandard.ZstdDecompressor().decompressobj()


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
        if self._kind == "zstd":
            return self._engine.decompress(data)  # type: ignore[no-any-return]
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
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
    for _ in range(limits.max_depth + 1):
        kind = _magic(buffered.peek(8)[:8])  # type: ignore[attr-defined]
        if kind is None:
            return buffered
        buffered = io.BufferedReader(_Decompressing(buffered, kind, name, size, limits), 1 << 16)
    raise InputError(name, "is compressed too many times over")


def _text_chunks(binary: IO[bytes], name: str, limits: Limits) -> Iterator[str]:
    """Yield the text of a binary stream in large blocks that end at line ends.

    UTF-8 with bad bytes replaced, CR and CRLF folded to LF; a line that runs on past a block and
    the limit (a 10 MB line, a file with no line ends) is cut, its rest coming as the next line(s).
    """
    try:
        head = binary.peek(32)[:32] if hasattr(binary, "peek") else b""
        if head.startswith(_EXPORT):
            batch: list[str] = []
            for line in _export_lines(binary, name):
                batch.append(line)
                if len(batch) >= 4096:
                    yield "\n".join(batch) + "\n"
                    batch = []
            if batch:
                yield "\n".join(batch) + "\n"
            return
        pending = b""
        size = _FIRST_BLOCK
        while True:
            block = binary.read(size)
            size = _BLOCK
            if not block:
                binary.read(1)  # a decompressor that stopped early raises its error now
            data = pending + block if pending else block
            carry = b""
            if b"\r" in data:
                if block and data.endswith(b"\r"):  # the LF of a CRLF may start the next block
                    data, carry = data[:-1], b"\r"
                data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            cut = data.rfind(b"\n")
            if cut >= 0:  # a line end never splits a UTF-8 sequence: the part before it decodes alone
                yield str(memoryview(data)[: cut + 1], "utf-8", "replace")
            pending = data[cut + 1:] + carry
            while len(pending) > limits.max_line:
                cut = limits.max_line
                while cut > limits.max_line - 4 and pending[cut] & 0xC0 == 0x80:  # not inside a character
                    cut -= 1
                yield str(pending[:cut], "utf-8", "replace") + "\n"
                pending = pending[cut:]
            if not block:
                if pending:
                    yield str(pending, "utf-8", "replace")
                return
    except InputError:
        raise
    except (EOFError, OSError, lzma.LZMAError, zlib.error) as exc:
        raise InputError(name, f"cannot be read to the end ({exc or type(exc).__name__})") from None


def chunk_lines(chunks: Iterable[str]) -> Iterator[str]:
    """Yield the lines of text blocks (as produced for an Input), without their line ends."""
    for chunk in chunks:
        lines = chunk.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        yield from lines


def _export_lines(binary: IO[bytes], name: str) -> Iterator[str]:
    """Turn a ``journalctl -o export`` stream into one JSON object per entry."""
    entry: dict[str, object] = {}
    while True:
        line = binary.readline()
        if not line:
            break
        if line == b"\n":
            if entry:
                yield json.dumps(entry)
            entry = {}
            continue
        line = line.rstrip(b"\n")
        if b"=" in line:
            key, _, value = line.partition(b"=")
            entry[key.decode("ascii", "replace")] = value.decode("utf-8", "replace")
        else:  # binary field: name, 64-bit little-endian length, data, newline
            size = int.from_bytes(binary.read(8), "little")
            data = binary.read(size)
            binary.read(1)
            entry[line.decode("ascii", "replace")] = list(data)
    if entry:
        yield json.dumps(entry)


# -- containers -----------------------------------------------------------------

def _failing(name: str, reason: str) -> Iterator[str]:
    raise InputError(name, reason)
    yield ""  # pragma: no cover - makes this a generator


def _member_inputs(opener: Callable[[str], IO[bytes]], names: list[str], sizes: dict[str, int], label: str,
                   selection: Selection, limits: Limits, depth: int) -> Iterator[Input]:
    chosen, skipped = selection.pick(names)
    if not chosen:
        yield Input(label, _failing(label, "holds no kernel log (kern.log, messages, syslog, journal, dmesg); "
                                           "use --include to choose members"))
        return
    note = f"skipped {len(skipped)} other member(s)" if skipped else None
    for index, member in enumerate(chosen):
        yield from _bytes_input(lambda m=member: opener(m), f"{label}!{member}", sizes.get(member),
                                selection, limits, depth + 1, note if index == 0 else None)


def _bytes_input(open_bytes: Callable[[], IO[bytes]], name: str, size: int | None, selection: Selection,
                 limits: Limits, depth: int, note: str | None = None, path: Path | None = None) -> Iterator[Input]:
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
    except (OSError, EOFError, lzma.LZMAError, tarfile.TarError, zipfile.BadZipFile) as exc:
        yield Input(name, _failing(name, f"cannot be opened ({exc})"))
        return
    if head.startswith(_ZIP) or _is_tar(head):
        yield from _archive_inputs(plain, name, selection, limits, depth, path)
        return
    yield Input(name, _text_chunks(plain, name, limits), note=note)


def _is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


def _archive_inputs(stream: IO[bytes], name: str, selection: Selection, limits: Limits, depth: int,
                    path: Path | None = None) -> Iterator[Input]:
    """Yield the kernel-log members of a tar or zip archive, read without extracting anything.

    An archive given as a file is read in place (random access); one inside a stream or another
    archive is buffered in memory, within the size limit.
    """
    try:
        if path is not None:
            source: IO[bytes] | str = str(path)
        else:
            data = stream.read(limits.max_bytes + 1)
            if len(data) > limits.max_bytes:
                raise InputError(name, f"is larger than {limits.max_bytes >> 20} MiB; stopped")
            source = io.BytesIO(data)
        head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""  # type: ignore[attr-defined]
        is_zip = head.startswith(_ZIP) if path is not None else source.getvalue().startswith(_ZIP)  # type: ignore[union-attr]
        notes: list[str] = []
        names: list[str] = []
        sizes: dict[str, int] = {}
        if is_zip:
            archive = zipfile.ZipFile(source)
            for info in archive.infolist():
                if info.is_dir():
                    continue
                if _unsafe(info.filename) or (info.external_attr >> 16) & 0o170000 == 0o120000:
                    notes.append(info.filename)
                    continue
                names.append(info.filename)
                sizes[info.filename] = info.compress_size
            opener: Callable[[str], IO[bytes]] = lambda member: archive.open(member)  # noqa: E731
        else:
            tar = tarfile.open(name=source, mode="r:*") if isinstance(source, str) else tarfile.open(fileobj=source, mode="r:")
            members: dict[str, tarfile.TarInfo] = {}
            for member in tar.getmembers():
                if not member.isfile() or _unsafe(member.name):
                    if not member.isdir():
                        notes.append(member.name)
                    continue
                members[member.name] = member
                sizes[member.name] = (_size(path) or 0) if path is not None else len(source.getvalue())  # type: ignore[union-attr]
            names = list(members)
            opener = lambda member: tar.extractfile(members[member])  # type: ignore[assignment,return-value] # noqa: E731
    except InputError as exc:
        yield Input(name, _failing(name, exc.reason))
        return
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as exc:
        yield Input(name, _failing(name, f"is a damaged archive ({exc})"))
        return

    def capped(member: str) -> IO[bytes]:
        return io.BufferedReader(_Capped(opener(member), f"{name}!{member}", sizes.get(member) or None, limits))

    for item in _member_inputs(capped, names, sizes, name, selection, limits, depth):
        if notes and item.note is None:
            item = attrs.evolve(item, note=f"skipped {len(notes)} link/device/unsafe member(s): {', '.join(notes[:5])}")
            notes = []
        yield item


def _unsafe(member: str) -> bool:
    """Return whether an archive member name is absolute or climbs out with ``..``."""
    path = PurePosixPath(member)
    return path.is_absolute() or ".." in path.parts or member.startswith(("\\", "/")) or ":" in path.parts[0]


def _directory_inputs(root: Path, selection: Selection, limits: Limits) -> Iterator[Input]:
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    yield from _member_inputs(lambda member: open(root / member, "rb"), files,
                              {f: (root / f).stat().st_size for f in files}, str(root), selection, limits, 0)


def open_inputs(source: Source, *, selection: Selection = Selection(), limits: Limits = Limits()) -> Iterator[Input]:
    """Yield the named inputs that *source* holds (one for a plain file, several for archives)."""
    if isinstance(source, (str, os.PathLike)) and not isinstance(source, str) or (
            isinstance(source, str) and source != "-" and "\n" not in source and _is_pathlike(source)):
        path = Path(source)  # type: ignore[arg-type]
        name = os.fspath(source)
        if not path.exists() and any(ch in name for ch in "*?["):
            matches = sorted(globbing.glob(name, recursive=True), key=rotation_key)
            if not matches:
                yield Input(name, _failing(name, "no file matches this pattern"))
            for match in matches:
                yield from open_inputs(match, selection=selection, limits=limits)
            return
        if path.is_dir():
            yield from _directory_inputs(path, selection, limits)
            return
        if not path.exists():
            yield Input(name, _failing(name, "no such file"))
            return
        size = _size(path)
        yield from _bytes_input(lambda: _open_file(path, name), name, size, selection, limits, 0, path=path)
        return
    if isinstance(source, bytes):
        yield from _bytes_input(lambda: io.BytesIO(source), "<bytes>", len(source), selection, limits, 0)
        return
    if isinstance(source, str):
        if source == "-":
            yield from _bytes_input(lambda: sys.stdin.buffer, "<stdin>", None, selection, limits, 0)
            return
        yield Input("<text>", [source.replace("\r\n", "\n").replace("\r", "\n")])
        return
    if hasattr(source, "read"):
        stream = source
        name = str(getattr(stream, "name", "<stream>"))
        if isinstance(stream.read(0), bytes):  # type: ignore[union-attr]
            yield from _bytes_input(lambda: stream, name, None, selection, limits, 0)  # type: ignore[arg-type,return-value]
        else:
            yield Input(name, source_lines=(line.rstrip("\r\n") for line in stream))  # type: ignore[union-attr]
        return
    yield Input("<lines>", source_lines=(line.rstrip("\r\n") for line in source))  # type: ignore[union-attr]


def _is_pathlike(text: str) -> bool:
    """Return whether a one-line string names a file rather than being a log line itself."""
    if os.path.exists(text):
        return True
    return " " not in text and ("/" in text or "*" in text or text.endswith((".log", ".txt", ".gz", ".xz", ".bz2", ".zst", ".zip", ".tar")))


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
