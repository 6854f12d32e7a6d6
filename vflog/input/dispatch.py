"""Say which inputs a source holds: a path, glob, directory, stream, bytes, Text or lines.

Every byte stream is decompressed (compression), then read as an archive's members (archives,
members) or as text (text); directories are walked (files).  A member that cannot be read
becomes an input whose reading raises InputError, so the other members are still analysed.
"""

from __future__ import annotations

import functools
import io
import lzma
import os
import stat
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Mapping

import attrs

from ..errors import InputError
from .archives import _ZIP, _is_tar, capped_opener, listing as archive_listing
from .compression import _plain
from .files import _open_file, _regular, _size, _special, _walk
from .members import Selection, rotation_key
from .text import _EncodedText, _item_lines, _text_chunks
from .values import Input, Limits, Source, Tally, Text, _joined, failing as _failing

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
        listing = archive_listing(stream, name, selection, limits, in_place)
    except InputError as exc:
        yield Input(name, _failing(name, exc.reason))
        return
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as exc:
        yield Input(name, _failing(name, f"is a damaged archive ({exc})"))
        return
    capped = capped_opener(listing, name, limits)
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


def _directory_inputs(root: Path, selection: Selection, limits: Limits) -> Iterator[Input]:
    """Yield the kernel-log inputs of a directory tree; what the walk skipped is noted on the first."""
    files, sizes, skipped = _walk(root)
    notes = [f"skipped {count} {kind}" for kind, count in sorted(skipped.items())]
    for item in _member_inputs(lambda member: open(root / member, "rb"), files, sizes, str(root), selection, limits, 0):
        if notes:
            item, notes = attrs.evolve(item, note=_joined(item.note, *notes)), []
        yield item


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
        import glob as globbing  # only for a name that is a pattern
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
