"""List the members of a tar or zip archive without extracting anything, and open them within bounds.

An uncompressed archive in a regular file is read where it lies.  Any other tar (from a pipe,
compressed, or inside another archive) is read once, in order, and the members that could be
chosen are copied to a private temporary file; any other zip is copied whole to one.  So memory
stays flat whatever the archive's size.  A damaged archive lists the members before the damage
and names the damage.
"""

from __future__ import annotations

import io
import lzma
import os
import struct
import tarfile
import tempfile
import zipfile
import zlib
from typing import IO, Callable

import attrs

from ..errors import InputError
from .compression import _Capped, _Decompressing
from .members import Selection, _unsafe
from .values import Limits

_ZIP = b"PK\x03\x04"


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


def listing(stream: IO[bytes], name: str, selection: Selection, limits: Limits, in_place: bool) -> _Listing:
    """Return the listing of the tar or zip archive *stream* (*in_place*: a regular file read where it lies).

    Raises InputError, or the error of an archive damaged beyond listing.
    """
    if stream.peek(4)[:4].startswith(_ZIP):  # type: ignore[attr-defined]
        return _zip_listing(stream if in_place else _spooled(stream, name, limits), name, limits)
    return _tar_listing(stream, name, selection, limits, in_place)


def capped_opener(listing: _Listing, name: str, limits: Limits) -> Callable[[str], IO[bytes]]:
    """Return an opener of the members of *listing* (archive *name*) whose reading is bounded like a decompression."""
    def capped(member: str) -> IO[bytes]:
        return io.BufferedReader(_Capped(listing.opener(member), f"{name}!{member}",
                                         listing.sizes.get(member) or None, limits))
    return capped


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


#: The most members a zip's central directory may list: zipfile keeps every entry in memory (about half
#: a kilobyte each), so a larger directory is refused before it is read.
MAX_ZIP_ENTRIES = 50_000
_EOCD, _EOCD64 = b"PK\x05\x06", b"PK\x06\x06"


def _zip_entries(handle: IO[bytes]) -> int | None:
    """Return how many entries a zip's end-of-central-directory record announces (ZIP64 too), or None."""
    end = handle.seek(0, 2)
    start = max(0, end - (1 << 16) - 22)
    handle.seek(start)
    tail = handle.read(end - start)
    found = tail.rfind(_EOCD)
    if found < 0 or len(tail) < found + 12:
        return None
    (entries,) = struct.unpack_from("<H", tail, found + 10)
    if entries == 0xFFFF:  # ZIP64: the count is in the ZIP64 record before the locator
        found64 = tail.rfind(_EOCD64, 0, found)
        if found64 >= 0 and len(tail) >= found64 + 40:
            (entries,) = struct.unpack_from("<Q", tail, found64 + 32)
    handle.seek(0)
    return int(entries)


def _zip_listing(handle: IO[bytes], name: str, limits: Limits) -> _Listing:
    """List a zip (a seekable file) by its central directory, or by its local headers when that is lost."""
    entries = _zip_entries(handle)
    if entries is not None and entries > MAX_ZIP_ENTRIES:
        raise InputError(name, f"is a zip of {entries:,} members, more than the {MAX_ZIP_ENTRIES:,} vflog reads; "
                               "use --include with a smaller archive")
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
