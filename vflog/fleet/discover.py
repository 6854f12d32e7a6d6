"""Find the logs under the paths a scan is given: files, directories, globs, archives, rotated families, URLs."""

from __future__ import annotations

import collections
import fnmatch
import glob as globbing
import os
import re
import stat
from pathlib import PurePosixPath
from typing import Any, Iterable, Iterator

import attrs

from ..check.tree import is_sosreport
from ..input import FAMILIES, Selection, rotation_key
from .results import LogJob, is_url

_MAGIC = re.compile(r"[*?[]")


# -- finding the logs ---------------------------------------------------------------------


@attrs.frozen
class Discovery:
    """The logs found under the given paths, in order, and notes about what was left out."""

    jobs: tuple[LogJob, ...]
    notes: tuple[str, ...] = ()


@attrs.frozen
class _Found:
    name: str
    location: str
    group: tuple[str, str] | None  # (directory, rotation stem) when it belongs to a kernel-log family
    order: tuple[Any, ...]
    fs: Any = attrs.field(default=None, eq=False)


def _family_stem(name: str) -> str | None:
    """Return the rotation stem of *name* when that stem is a kernel-log family (kern.log, messages ...)."""
    stem = rotation_key(name)[0].rsplit("/", 1)[-1]
    for _family, patterns in FAMILIES:
        if any(fnmatch.fnmatch(stem, pattern) for pattern in patterns):
            return stem
    return None


def _chosen(relative: str, selection: Selection) -> bool:
    base = PurePosixPath(relative).name
    if any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(base, p) for p in selection.exclude):
        return False
    return not selection.include or any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(base, p)
                                        for p in selection.include)


def _walk(root: str, selection: Selection, notes: list[str],
          skipped: collections.Counter[str] | None = None) -> Iterator[str]:
    """Yield the regular files under *root* (sorted; file symlinks followed, directory symlinks not).

    A sosreport directory (*root* or one below it) is yielded whole, as one log, and not walked.
    What is left out is counted in *skipped* by reason, and noted (except what --exclude left out).
    """
    if is_sosreport(root):
        yield root
        return
    skipped = collections.Counter() if skipped is None else skipped
    failures: list[str] = []
    for directory, dirs, files in os.walk(root, onerror=lambda exc: failures.append(f"{exc.filename}: {exc.strerror}")):
        dirs.sort()
        reports = [name for name in dirs if not os.path.islink(os.path.join(directory, name))
                   and is_sosreport(os.path.join(directory, name))]
        dirs[:] = [name for name in dirs if name not in reports]
        yield from (os.path.join(directory, name) for name in reports)
        for name in sorted(files):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            if not _chosen(relative, selection):
                skipped["excluded"] += 1
                continue
            try:
                mode = os.stat(path).st_mode
            except OSError:
                skipped["dangling symlink"] += 1
                continue
            if not stat.S_ISREG(mode):
                skipped["special file (FIFO, socket, device)"] += 1
                continue
            yield path
        for name in dirs:
            if os.path.islink(os.path.join(directory, name)):
                skipped["directory symlink (not followed)"] += 1
    for kind, count in sorted(skipped.items()):
        if kind != "excluded":
            notes.append(f"{root}: skipped {count} entr{'y' if count == 1 else 'ies'}: {kind}")
    notes.extend(f"cannot list {failure}" for failure in failures)


def url_job(url: str) -> LogJob:
    """Return the job of one fsspec URL, or a failed one when fsspec or the filesystem is missing."""
    try:
        import fsspec.core
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        return LogJob(url, (url,), (url,), error=f"{url}: reading URLs needs fsspec and the filesystem's "
                                                 f"package (pip install fsspec adlfs|s3fs): {exc}")
    except Exception as exc:
        return LogJob(url, (url,), (url,), error=f"{url}: cannot be opened ({type(exc).__name__}: {exc})")
    return LogJob(url, (url,), (path,), fs=fs)


def _discover_url(url: str, selection: Selection, notes: list[str]) -> Iterator[tuple[str, str, Any] | LogJob]:
    """Yield (url, path inside fs, fs) for each file an fsspec URL, directory or glob names."""
    try:
        import fsspec.core
        fs, root = fsspec.core.url_to_fs(url)
    except ImportError:
        yield url_job(url)
        return
    except Exception as exc:
        yield LogJob(url, (url,), (url,), error=f"{url}: cannot be opened ({type(exc).__name__}: {exc})")
        return
    try:
        if _MAGIC.search(root):
            matches = sorted(fs.glob(root))
            if not matches:
                yield LogJob(url, (url,), (root,), error=f"{url}: no file matches this pattern")
                return
        else:
            matches = [root]
        for match in matches:
            if fs.isdir(match):
                files = sorted(fs.find(match))
                chosen = [f for f in files if _chosen(f[len(match):].lstrip("/"), selection)]
                if not files:
                    yield LogJob(fs.unstrip_protocol(match), (url,), (match,), error=f"{url}: directory holds no files")
                for path in chosen:
                    yield (fs.unstrip_protocol(path), path, fs)
            else:
                yield (url if match == root else fs.unstrip_protocol(match), match, fs)
    except Exception as exc:  # authentication, network
        yield LogJob(url, (url,), (root,), error=f"{url}: cannot be listed ({type(exc).__name__}: {exc})")


def discover(paths: Iterable[LogJob | str | os.PathLike[str]], *, selection: Selection = Selection(),
             group_rotations: bool = True) -> Discovery:
    """Find the logs that *paths* (files, directories, globs, archives, fsspec URLs) hold.

    Every regular file under a directory is one log; so is an archive; rotated siblings of a
    kernel-log family in one directory (``kern.log.1`` + ``kern.log``, ``messages-20260901`` +
    ``messages``) are one log read oldest first (unless *group_rotations* is false).  A file
    reached twice is read once.  *selection*'s include/exclude globs filter the files found
    inside directories (and, at analysis time, archive members).  A path that does not exist or
    a glob that matches nothing becomes a log that failed, so it is counted and reported.
    """
    notes: list[str] = []
    found: list[_Found | LogJob] = []
    seen: set[tuple[int, int]] = set()

    def add_local(name: str) -> None:
        try:
            info = os.stat(name)
            identity = (info.st_dev, info.st_ino)
            if identity in seen:
                return
            seen.add(identity)
        except OSError:
            pass  # missing: analysing it reports why
        directory = os.path.dirname(os.path.abspath(name))
        stem = _family_stem(name) if group_rotations else None
        found.append(_Found(name, os.path.abspath(name), (directory, stem) if stem else None,
                            rotation_key(name)[1:]))

    for raw in paths:
        if isinstance(raw, LogJob):
            found.append(raw)
            continue
        path = os.fspath(raw)
        if is_url(path):
            for item in _discover_url(path, selection, notes):
                if isinstance(item, LogJob):
                    found.append(item)
                    continue
                url, location, fs = item
                stem = _family_stem(url) if group_rotations else None
                directory = url.rsplit("/", 1)[0]
                found.append(_Found(url, location, (directory, stem) if stem else None, rotation_key(url)[1:], fs))
            continue
        if os.path.isdir(path):
            skipped: collections.Counter[str] = collections.Counter()
            files = 0
            for file in _walk(path, selection, notes, skipped):
                files += 1
                add_local(file)
            if not files and not skipped:
                found.append(LogJob(path, (path,), (os.path.abspath(path),), error=f"{path}: directory holds no files"))
            continue
        if not os.path.lexists(path) and _MAGIC.search(path):
            matches = sorted(globbing.glob(path, recursive=True), key=rotation_key)
            if not matches:
                found.append(LogJob(path, (path,), (path,), error=f"{path}: no file matches this pattern"))
            for match in matches:
                if os.path.isdir(match):
                    for file in _walk(match, selection, notes):
                        add_local(file)
                else:
                    add_local(match)
            continue
        add_local(path)
    return Discovery(tuple(_group(found)), tuple(notes))


def _group(found: list[_Found | LogJob]) -> Iterator[LogJob]:
    """Turn found files into jobs, one per file or per rotation family, at the first member's place."""
    groups: dict[tuple[str, str], list[_Found]] = {}
    for item in found:
        if isinstance(item, _Found) and item.group is not None:
            groups.setdefault(item.group, []).append(item)
    emitted: set[tuple[str, str]] = set()
    for item in found:
        if isinstance(item, LogJob):
            yield item
        elif item.group is None:
            yield _job_from([item])
        elif item.group not in emitted:
            emitted.add(item.group)
            yield _job_from(sorted(groups[item.group], key=lambda f: f.order))


def _job_from(members: list[_Found]) -> LogJob:
    return LogJob(members[-1].name, tuple(m.name for m in members), tuple(m.location for m in members),
                  fs=members[0].fs)
