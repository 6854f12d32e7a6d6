"""Where the facts are read from: a directory tree (``/`` or a sosreport or a saved tree) or a tarball read in memory.

Every tree answers the same questions with paths relative to its root (``sys/class/net``):
the text of a file, the names in a directory, the target of a symbolic link, and the output of a
command as sos names it (``sos_commands/networking/ethtool_-S_eth0``).  The live tree runs the
command instead; the others read the file sos (or ``vflog check --save``) wrote.
"""

from __future__ import annotations

import abc

import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

from ..errors import InputError

#: At most this many bytes are read from one file (a kernel log may be long; sysfs files are short).
MAX_FILE = 32 << 20
#: At most this many bytes are kept from a tarball in all.
MAX_TOTAL = 256 << 20
#: The members of a tarball that a check reads (below the sosreport's top directory); the rest is skipped.
WANTED = ("sys/class/net/", "sys/bus/pci/devices/", "sos_commands/networking/", "sos_commands/pci/",
          "sos_commands/kernel/", "sos_commands/networkmanager/", "etc/os-release", "usr/lib/os-release",
          "etc/NetworkManager/", "usr/lib/NetworkManager/", "etc/systemd/network/", "run/systemd/network/",
          "usr/lib/systemd/network/", "lib/systemd/network/", "etc/udev/rules.d/", "lib/modules/",
          "usr/lib/modules/", "run/NetworkManager/", "run/systemd/netif/", "proc/version")


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

    def command(self, plugin: str, command: str) -> str | None:
        """Return the output of *command* as sos saved it under its *plugin*, or None."""
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

    def command(self, plugin: str, command: str) -> str | None:
        """Run *command* (no shell) and return its output, or None when it is missing, fails or hangs."""
        argv = command.split()
        if shutil.which(argv[0]) is None:
            note = f"{argv[0]}: the program is not installed, so '{command}' (and the like) could not be read"
            if not any(m.startswith(f"{argv[0]}:") for m in self.missing):
                self.missing.append(note)
            return None
        try:
            done = subprocess.run(argv, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout[:MAX_FILE].decode("utf-8", "replace") if done.returncode == 0 else None


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
        """Return the member's text, or None."""
        data = self.files.get(path.strip("/"))
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


def is_sosreport(path: str | os.PathLike[str]) -> bool:
    """Return whether *path* is a sosreport: a directory with ``sos_commands/``, or a ``sosreport*.tar*`` file."""
    candidate = Path(path)
    if candidate.is_dir():
        return (candidate / "sos_commands").is_dir()
    return candidate.is_file() and candidate.name.startswith("sosreport") and ".tar" in candidate.name


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
