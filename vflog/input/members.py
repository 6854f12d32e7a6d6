"""Pick the kernel logs among the members of a directory or archive, by name.

Selection chooses members by explicit globs or, by default, the best family of kernel logs
(sosreport, WALinuxAgent ``logs.zip``, ``/var/log``): ``kern.log*``, ``messages*``,
``syslog*``, journal exports, ``dmesg*``, consoles; rotated files come oldest first
(rotation_key).  A member name that is absolute or climbs out with ``..`` is unsafe.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from pathlib import PurePosixPath

import attrs

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


def _unsafe(member: str) -> bool:
    """Return whether an archive member name is absolute or climbs out with ``..``."""
    path = PurePosixPath(member)
    return (not path.parts or path.is_absolute() or ".." in path.parts or member.startswith(("\\", "/"))
            or ":" in path.parts[0])
