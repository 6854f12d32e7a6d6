"""Write vflog's output where the user asked, never half-written and never clobbering what is there.

``--output PATH`` on a regular file (or on a symlink to one) replaces that file atomically: the
text goes to an exclusively created temporary file with an unpredictable name in the same
directory, which takes the mode (and, when permitted, the owner) of the file it replaces, is
renamed over it only once complete, and is removed on any failure or interruption.  A symlink
stays a symlink (its target is replaced); a hard-linked file loses its other links.  Anything
else that exists at the path (a device such as ``/dev/null``, a FIFO, a terminal) is written
through, as the shell's ``>`` does, and never replaced; a directory is an error.

Errors while writing become :class:`OutputError` with the operating system's reason.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from typing import IO, Iterator

from .errors import VflogError

__all__ = ["Guarded", "OutputError", "Unfailing", "output_to"]


class OutputError(VflogError, OSError):
    """The output (standard output or the ``--output`` file) cannot be written."""

    def __init__(self, target: str | None, reason: str) -> None:
        super().__init__(f"{target}: cannot be written ({reason})" if target else f"cannot write output: {reason}")
        self.target = target
        self.reason = reason


def _reason(exc: BaseException) -> str:
    """Return the operating system's words for *exc* (``No space left on device``)."""
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


class _Wrapper(io.TextIOBase):
    """A text stream that writes to another one (the base of Guarded and Unfailing)."""

    def __init__(self, stream: IO[str] | io.TextIOBase) -> None:
        super().__init__()
        self._stream = stream

    def isatty(self) -> bool:
        """Return whether the stream is a terminal."""
        try:
            return bool(self._stream.isatty())
        except (AttributeError, OSError, ValueError):
            return False

    def writable(self) -> bool:
        """Return True: this stream is for writing."""
        return True


class Guarded(_Wrapper):
    """A text stream whose write and flush failures become OutputError (a closed pipe stays BrokenPipeError)."""

    def __init__(self, stream: IO[str] | io.TextIOBase, target: str | None = None) -> None:
        super().__init__(stream)
        self._target = target

    def write(self, text: str) -> int:  # type: ignore[override]
        """Write *text*; raise OutputError when the system refuses."""
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(self._target, _reason(exc)) from None

    def flush(self) -> None:
        """Flush the stream; raise OutputError when the system refuses."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed under us
            raise OutputError(self._target, _reason(exc)) from None


@contextlib.contextmanager
def output_to(path: str | os.PathLike[str] | None, stdout: IO[str]) -> Iterator[IO[str]]:
    """Yield the stream to write to: *stdout* for None or ``-``, else the file at *path* (see the module)."""
    if path is None or os.fspath(path) == "-":
        yield stdout
        return
    name = os.fspath(path)
    target = os.path.realpath(name)
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(name, _reason(exc)) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputError(name, "is a directory")
    writer = _replacing if info is None or stat.S_ISREG(info.st_mode) else _through
    with writer(name, target, info) as stream:
        yield stream


@contextlib.contextmanager
def _through(name: str, target: str, info: os.stat_result | None) -> Iterator[IO[str]]:
    """Yield a stream writing straight into the device or FIFO at *target* (no truncation, no creation)."""
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise OutputError(name, _reason(exc)) from None
    raw = os.fdopen(descriptor, "w", encoding="utf-8", newline="")
    stream = Guarded(raw, name)
    try:
        yield stream  # type: ignore[misc]
        stream.flush()
    finally:
        with contextlib.suppress(OSError):
            raw.close()


@contextlib.contextmanager
def _replacing(name: str, target: str, info: os.stat_result | None) -> Iterator[IO[str]]:
    """Yield a stream on a new temporary file that replaces the regular file *target* when the block succeeds."""
    directory, base = os.path.split(target)
    try:
        descriptor, temp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory or ".")
    except OSError as exc:
        raise OutputError(name, _reason(exc)) from None
    try:
        _take_mode(descriptor, info)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as raw:
            stream = Guarded(raw, name)
            yield stream  # type: ignore[misc]
            stream.flush()
            _sync(raw, name)
        try:
            os.replace(temp, target)
        except OSError as exc:
            raise OutputError(name, _reason(exc)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _sync(raw: IO[str], name: str) -> None:
    """Put the written text on disk before the rename makes it the file (so a crash leaves old or new, never empty)."""
    try:
        os.fsync(raw.fileno())
    except OSError as exc:
        raise OutputError(name, _reason(exc)) from None


def _take_mode(descriptor: int, info: os.stat_result | None) -> None:
    """Give the new file the mode and owner of the file it replaces, or the umask's mode for a new file."""
    if info is None:
        mask = os.umask(0o022)
        os.umask(mask)
        os.fchmod(descriptor, 0o666 & ~mask)
        return
    if (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(OSError):  # only root (or the group's member) may give the file away
            os.fchown(descriptor, info.st_uid, info.st_gid)
    os.fchmod(descriptor, stat.S_IMODE(info.st_mode))


class Unfailing(_Wrapper):
    """A text stream for messages: failing to write them (no reader, a full disk) is ignored, so results survive."""

    def write(self, text: str) -> int:  # type: ignore[override]
        """Write *text* if the stream takes it; return its length either way."""
        try:
            self._stream.write(text)
        except (OSError, ValueError):
            pass
        return len(text)

    def flush(self) -> None:
        """Flush the stream if it can be flushed."""
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass
