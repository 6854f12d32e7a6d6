"""Where the facts are read from: a directory tree (``/`` or a sosreport or a saved tree) or a tarball read in memory.

Every tree answers the same questions with paths relative to its root (``sys/class/net``):
the text of a file, the names in a directory, the target of a symbolic link, and the output of a
command as sos names it (``sos_commands/networking/ethtool_-S_eth0``).  The live tree runs the
command instead; the others read the file sos (or ``vflog check --save``) wrote.
"""

from __future__ import annotations

import abc

import contextlib
import errno
import os
import signal
import stat
import tarfile
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

from ..errors import InputError
from .sosreport import is_sosreport as is_sosreport  # re-exported (a report asks it without loading this module)

#: At most this many bytes are read from one file (a kernel log may be long; sysfs files are short).
MAX_FILE = 32 << 20
#: At most this many bytes are kept from a tarball in all.
MAX_TOTAL = 256 << 20
#: The members of a tarball that a check reads (below the sosreport's top directory); the rest is skipped.
WANTED = ("sys/class/net/", "sys/bus/pci/devices/", "sos_commands/networking/", "sos_commands/pci/",
          "sos_commands/kernel/", "sos_commands/networkmanager/", "sos_commands/cloud_init/", "sos_commands/dpkg/",
          "sos_commands/rpm/", "installed-rpms", "installed-debs", "etc/os-release", "usr/lib/os-release",
          "etc/NetworkManager/", "usr/lib/NetworkManager/", "etc/systemd/network/", "run/systemd/network/",
          "usr/lib/systemd/network/", "lib/systemd/network/", "etc/udev/rules.d/", "lib/modules/",
          "usr/lib/modules/", "run/NetworkManager/", "run/systemd/netif/", "proc/version")


#: The only directories a program is run from on the live system (never PATH, which others may set or write).
SAFE_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
#: Seconds a program may run on the live system before it is killed.
TIMEOUT = 10.0
#: The environment programs run with: untranslated output (nmcli states, ethtool names), no user settings.
ENVIRONMENT = {"LC_ALL": "C", "LANG": "C", "PATH": ":".join(SAFE_DIRS)}
#: What only a sosreport has (a tree saved by ``vflog check --save`` has sos_commands but none of these).
SOS_MARKS = ("sos_logs", "sos_reports")


def sos_name(command: str) -> str:
    """Return the file name sos gives a command's output (``ethtool -S eth0`` -> ``ethtool_-S_eth0``)."""
    return command.replace("/", ".").replace(" ", "_")


class Tree(abc.ABC):
    """A root of facts; subclasses say how files, directories, links and command outputs are read."""

    name: str = ""
    kind: str = "directory"

    @abc.abstractmethod
    def text(self, path: str) -> str | None:
        """Return the text of the file at *path* (relative to the root), or None when it cannot be read."""

    @abc.abstractmethod
    def names(self, path: str) -> list[str]:
        """Return the sorted names in the directory at *path*, or [] when there is none."""

    @abc.abstractmethod
    def link(self, path: str) -> str | None:
        """Return the target of the symbolic link at *path*, or None when it is none."""

    def exists(self, path: str) -> bool:
        """Return whether anything exists at *path*."""
        return self.text(path) is not None or bool(self.names(path)) or self.link(path) is not None

    def command(self, plugin: str, command: str, *, live: str | None = None, required: bool = True) -> str | None:
        """Return the output of *command* as sos saved it under its *plugin*, or None.

        The live system runs *live* instead when given (a form sos does not use, such as terse output);
        *required* false keeps a missing program out of what the check lists as not read.
        """
        return self.text(f"sos_commands/{plugin}/{sos_name(command)}")


class DirTree(Tree):
    """A directory: a sosreport unpacked, a tree saved by ``vflog check --save`` or a test's fake root."""

    def __init__(self, root: Path, kind: str = "directory") -> None:
        self.root = root
        self.name = str(root)
        self.kind = kind

    def _path(self, path: str) -> Path:
        """Return *path* below the root."""
        return self.root / path

    def text(self, path: str) -> str | None:
        """Return the regular file's text (undecodable bytes replaced), or None when it is none or cannot be read.

        It is opened without blocking and refused unless regular, so a FIFO or device in a tree never hangs.
        """
        try:
            descriptor = os.open(self._path(path), os.O_RDONLY | os.O_NONBLOCK)
        except (OSError, ValueError):
            return None
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                return None
            with os.fdopen(descriptor, "rb", closefd=False) as handle:
                return handle.read(MAX_FILE).decode("utf-8", "replace")
        except (OSError, ValueError):
            return None
        finally:
            os.close(descriptor)

    def names(self, path: str) -> list[str]:
        """Return the names in the directory, or [] when it cannot be listed."""
        try:
            return sorted(os.listdir(self._path(path)))
        except (OSError, ValueError):
            return []

    def link(self, path: str) -> str | None:
        """Return the link's target, or None."""
        try:
            return os.readlink(self._path(path))
        except (OSError, ValueError):
            return None


class LiveTree(DirTree):
    """The running system: files under ``/`` and commands run (bounded in time) instead of read."""

    def __init__(self, root: Path = Path("/")) -> None:
        super().__init__(root, kind="live")
        self.missing: list[str] = []

    def command(self, plugin: str, command: str, *, live: str | None = None, required: bool = True) -> str | None:
        """Run *live* (else *command*; no shell, a program of SAFE_DIRS only) and return its output.

        None when the program is missing, fails, or outlasts TIMEOUT; the output is cut at MAX_FILE bytes.
        """
        argv = (live or command).split()
        path = program(argv[0])
        if path is None:
            note = f"{argv[0]}: the program is not installed, so '{command}' (and the like) could not be read"
            if required and not any(m.startswith(f"{argv[0]}:") for m in self.missing):
                self.missing.append(note)
            return None
        output = run_bounded([path, *argv[1:]], TIMEOUT, MAX_FILE)
        return None if output is None else output.decode("utf-8", "replace")

    def records(self, path: str) -> tuple[str | None, str | None]:
        """Return the records of a kernel log device such as ``dev/kmsg`` read without blocking, or (None, why not).

        Each read gives one record; reading stops at EAGAIN (no more now), at the end of a regular
        file, or at MAX_FILE bytes; a record overwritten while reading (EPIPE) is skipped.
        """
        try:
            descriptor = os.open(self._path(path), os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            return None, f"{path}: {exc.strerror or exc}"
        try:
            mode = os.fstat(descriptor).st_mode
            if not (stat.S_ISCHR(mode) or stat.S_ISREG(mode)):
                return None, f"{path}: neither a device nor a file"
            return _read_records(descriptor).decode("utf-8", "replace"), None
        finally:
            os.close(descriptor)


def _read_records(descriptor: int) -> bytes:
    """Return what *descriptor* gives until EAGAIN, its end or MAX_FILE bytes (EPIPE: a lost record, read on)."""
    chunks: list[bytes] = []
    size = 0
    while size < MAX_FILE:
        try:
            data = os.read(descriptor, 1 << 16)
        except BlockingIOError:
            break
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                continue
            break
        if not data:
            break
        chunks.append(data)
        size += len(data)
    return b"".join(chunks)[:MAX_FILE]


def program(name: str) -> str | None:
    """Return the path of the program *name* in SAFE_DIRS when neither it nor its directory is writable by others."""
    if "/" in name:
        return None
    for directory in SAFE_DIRS:
        path = os.path.join(directory, name)
        if _trusted(path) and _trusted(os.path.dirname(os.path.realpath(path))) and os.access(path, os.X_OK):
            return path
    return None


def _trusted(path: str) -> bool:
    """Return whether *path* (links followed) exists, is owned by root or this user and is not group/world writable."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return info.st_uid in (0, os.geteuid()) and not info.st_mode & 0o022


def run_bounded(argv: list[str], timeout: float, limit: int) -> bytes | None:
    """Run *argv* (no shell, stdin empty, stderr dropped) and return at most *limit* bytes of its output.

    None when it cannot start, exits non-zero, or runs longer than *timeout* seconds (it is killed).
    """
    import subprocess  # only the live system runs programs; a report asks this module whether a path is a sosreport
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, env=ENVIRONMENT, start_new_session=True)
    except (OSError, ValueError):
        return None
    with process:
        assert process.stdout is not None
        output, finished = _collect(process.stdout.fileno(), time.monotonic() + timeout, limit)
        try:
            if not finished:
                _kill(process)
            status = process.wait(timeout=max(0.1, timeout))
        except subprocess.TimeoutExpired:
            _kill(process)
            process.wait()
            return None
    if finished is None or (finished and status != 0):
        return None
    return output


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the program and whatever it started (its own session's process group)."""
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        process.kill()


def _collect(descriptor: int, deadline: float, limit: int) -> tuple[bytes, bool | None]:
    """Read *descriptor* until its end (True), *limit* bytes (False: output cut) or *deadline* (None: too slow)."""
    import selectors
    chunks: list[bytes] = []
    size = 0
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        while size < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"", None
            if not selector.select(left):
                continue
            data = os.read(descriptor, min(1 << 16, limit - size))
            if not data:
                return b"".join(chunks), True
            chunks.append(data)
            size += len(data)
    return b"".join(chunks), False


class TarTree(Tree):
    """A tarball (a sosreport or a saved tree) read once, in memory, keeping only the members a check needs."""

    kind = "tarball"

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        self.dirs: set[str] = set()
        try:
            with tarfile.open(path, mode="r|*") as archive:
                self._read(archive)
        except (OSError, tarfile.TarError, EOFError, ValueError) as exc:
            raise InputError(str(path), f"cannot read as a tarball: {exc}") from None
        self._strip_top()

    def _read(self, archive: tarfile.TarFile) -> None:
        """Keep the wanted files and links of *archive*, at most MAX_FILE each and MAX_TOTAL in all."""
        total = 0
        for member in archive:
            name = str(PurePosixPath(member.name.lstrip("/")))
            if any(mark in name.split("/")[:2] for mark in SOS_MARKS):
                self.kind = "sosreport"
            if not _wanted(name):
                continue
            if member.issym():
                self.links[name] = member.linkname
            elif member.isfile() and total < MAX_TOTAL:
                handle = archive.extractfile(member)
                data = handle.read(min(MAX_FILE, MAX_TOTAL - total)) if handle else b""
                total += len(data)
                self.files[name] = data

    def _strip_top(self) -> None:
        """Drop the sosreport's top directory (``sosreport-host-2024.../``) from every name, when there is one."""
        tops = {name.split("/", 1)[0] for name in (*self.files, *self.links) if "/" in name}
        if len(tops) == 1 and not any(name.startswith(w) for name in self.files for w in WANTED):
            top = tops.pop() + "/"
            self.files = {k[len(top):]: v for k, v in self.files.items() if k.startswith(top)}
            self.links = {k[len(top):]: v for k, v in self.links.items() if k.startswith(top)}
        for name in (*self.files, *self.links):
            parts = name.split("/")
            self.dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))

    def text(self, path: str) -> str | None:
        """Return the member's text (a symbolic link among the members followed, as sos's root links), or None."""
        name = path.strip("/")
        for _hop in range(8):
            if name not in self.links:
                break
            target = self.links[name]
            name = os.path.normpath(os.path.join(os.path.dirname(name), target)) if not target.startswith("/") \
                else target.strip("/")
        data = self.files.get(name)
        return None if data is None else data.decode("utf-8", "replace")

    def names(self, path: str) -> list[str]:
        """Return the names directly below *path* among the kept members."""
        prefix = path.strip("/") + "/"
        found = {name[len(prefix):].split("/", 1)[0] for name in (*self.files, *self.links, *self.dirs)
                 if name.startswith(prefix)}
        return sorted(found)

    def link(self, path: str) -> str | None:
        """Return the link member's target, or None."""
        return self.links.get(path.strip("/"))


def _wanted(name: str) -> bool:
    """Return whether a member (with or without a top directory) is one a check reads."""
    below = name.split("/", 1)[1] if "/" in name else name
    return any(name.startswith(w) or below.startswith(w) for w in WANTED)


def open_tree(root: str | os.PathLike[str] | None) -> Tree:
    """Return the tree at *root*: None is the live system; a directory or a tarball a captured one."""
    if root is None:
        return LiveTree()
    path = Path(root)
    if path.is_dir():
        kind = "sosreport" if any((path / mark).exists() for mark in SOS_MARKS) else "directory"
        return DirTree(path, kind)
    if path.is_file():
        return TarTree(path)
    raise InputError(str(path), "no such directory or tarball")
