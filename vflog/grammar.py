"""Turn one kernel message into an Event with the shipped Lark grammar."""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import stat
import sys
from pathlib import Path
from typing import Any

import attrs
import lark
import lark.grammar
import lark.lexer

from .errors import GrammarError, ParseError
from .events import Event
from .lazy import paused_gc
from .lexing import PLUGINS

#: The grammar file, relative to the installed package and to the checkout root.
GRAMMAR_FILE = "grammars/kernel.lark"

#: Token types that name the printk device of a line.
_DEVICE_TOKENS = frozenset({"GUID", "VMBUS_DEV", "PCI", "BUS"})
#: Token types that name the driver of a line.
_DRIVER_TOKENS = frozenset({"NETVSC", "HVPCI", "PCICORE", "PCIBUS", "VFDRV", "MLX4EN", "UDEVD", "VMBUS",
                            "NETWORKD", "NM", "HN", "BSD_VF"})
#: Drivers whose printk name is also the interface they speak of (FreeBSD's if_printf).
_IF_DRIVERS = frozenset({"HN", "BSD_VF"})
_PREFIX_TOKENS = frozenset({"FUNCLINE", "NM_LEVEL", "NM_TIME"})
#: Token types kept as integers in event fields.
_INT_TOKENS = frozenset({"SLOT", "NUM", "ERR", "VPORT", "PORT", "PD", "DB"})

#: Token types whose field has another name than the terminal.
_FIELD_NAMES = {"REST": "text", "VF_UNIT": "vf"}

#: How many distinct messages the parse and prefix memos keep.
_CACHE_LIMIT = 1 << 12
#: Longest message kept in the memos (real driver messages are far shorter; lines may be up to 1 MiB).
_CACHE_TEXT_LIMIT = 1024


def grammar_text() -> str:
    """Return the grammar source, from the installed package or else from the checkout."""
    here = Path(__file__).resolve().parent
    for path in (here / GRAMMAR_FILE, here.parent / GRAMMAR_FILE):
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            continue
    raise GrammarError(f"grammar file {GRAMMAR_FILE} is not installed with vflog")


def _fields(children: list[Any]) -> dict[str, Any]:
    """Collect the named tokens (and nested events) of a message into event fields."""
    fields: dict[str, Any] = {}
    for child in children:
        if isinstance(child, Event):
            fields.update(child.fields)
            continue
        if not isinstance(child, lark.Token) or child.type in _PREFIX_TOKENS:
            continue
        name = _FIELD_NAMES.get(child.type, child.type.lower())
        value: Any = int(child) if child.type in _INT_TOKENS else str(child)
        key, n = name, 2
        while key in fields:
            key, n = f"{name}_{n}", n + 1
        fields[key] = value
    return fields


class EventBuilder(lark.Transformer):
    """Build Event values straight from the parse tree (used inline by the LALR parser)."""

    def __default__(self, data: str, children: list[Any], meta: Any) -> Event:
        ifname = next((c[0] for c in children if isinstance(c, tuple)), None)
        return Event(kind=str(data), ifname=ifname, fields=_fields(children))

    def netvsc_dev(self, children: list[Any]) -> lark.Token:
        return children[0]

    def nm_dev(self, children: list[Any]) -> tuple[str, str | None]:
        return str(children[0]), None

    def netdev(self, children: list[Any]) -> tuple[str, str | None]:
        ifname = str(children[0])
        regstate = str(children[1]).strip("()") if len(children) > 1 else None
        return ifname, regstate

    def renamed_to(self, children: list[Any]) -> Event:
        """A user-space rename notice names the new interface last: a ``renamed`` event of that interface."""
        fields = _fields(children)
        return Event(kind="renamed", ifname=fields.pop("new"), fields=fields)

    def mlx4en_pr_msg(self, children: list[Any]) -> Event:
        """mlx4_en's own printer puts the device (and port) or the interface before the message."""
        head, inner = children[0], children[-1]
        if head.type == "PCI":
            return attrs.evolve(inner, device=str(head), fields={**_fields(children[1:-1]), **inner.fields})
        return attrs.evolve(inner, ifname=str(head))

    def line(self, children: list[Any]) -> Event:
        driver = device = ifname = regstate = None
        message: Event | None = None
        for child in children:
            if isinstance(child, Event):
                message = child
                ifname = ifname or message.ifname
            elif isinstance(child, tuple):
                ifname, regstate = child
            elif child.type in _DRIVER_TOKENS and driver is None:
                driver = str(child).split("[", 1)[0]
                if child.type in _IF_DRIVERS:  # FreeBSD: `hn0: ...`, the device is the interface
                    driver, device, ifname = driver.rstrip("0123456789"), str(child), str(child)
            elif child.type in _DEVICE_TOKENS and device is None:
                device = str(child)
        assert message is not None
        if message.kind == "renamed" and "old" not in message.fields and ifname:  # `eth1: ... renamed to eth2`
            message = attrs.evolve(message, fields={**message.fields, "old": ifname})
        return attrs.evolve(
            message,
            driver=driver,
            device=message.device or device,
            ifname=message.ifname or ifname,
            regstate=regstate,
        )


#: Where the compiled parser is kept between runs: a directory of the user's own cache home.
CACHE_SUBDIR = "vflog"
#: File-system protections the cache needs: descriptors relative to a directory, no symlink following.
_CACHE_OS_SUPPORT = hasattr(os, "geteuid") and hasattr(os, "O_NOFOLLOW") and os.open in os.supports_dir_fd
#: Permission bits that let someone else change a file or directory.
_FOREIGN_WRITE = stat.S_IWGRP | stat.S_IWOTH


def cache_key() -> str:
    """Return the name of the cached parser: a digest of the grammar, Lark's and Python's versions."""
    text = f"{grammar_text()}\0{lark.__version__}\0{sys.version}"
    return f"kernel-{hashlib.sha256(text.encode()).hexdigest()[:32]}.marshal"


def cache_home() -> str:
    """Return the user's cache home: $XDG_CACHE_HOME when it is an absolute path, else ~/.cache."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return base if os.path.isabs(base) else os.path.join(os.path.expanduser("~"), ".cache")


def _owned(info: os.stat_result, kind: int) -> bool:
    """Return whether *info* is of file type *kind*, owned by this process's user and writable by no one else."""
    return stat.S_IFMT(info.st_mode) == kind and info.st_uid == os.geteuid() and not info.st_mode & _FOREIGN_WRITE


def _open_cache_dir() -> int | None:
    """Open the per-user cache directory (created 0700); None when it is missing, foreign or shared."""
    if not _CACHE_OS_SUPPORT:
        return None
    path = os.path.join(cache_home(), CACHE_SUBDIR)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    if _owned(os.fstat(fd), stat.S_IFDIR):
        return fd
    os.close(fd)
    return None


def _read_cached(dir_fd: int, name: str, plugins: dict[str, Any] = PLUGINS) -> lark.Lark | None:
    """Load the parser saved as *name* in the cache directory, if that file is the user's own and intact.

    The file holds plain data (marshal: no code runs while it is read), and is only read when
    it is a regular file owned by the user and writable by nobody else.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as file:
            if not _owned(os.fstat(file.fileno()), stat.S_IFREG):
                return None
            saved = marshal.loads(file.read())
        if saved.get("key") != name:
            return None
        return lark.Lark._load_from_dict(saved["data"], saved["memo"], transformer=EventBuilder(), _plugins=plugins)
    except Exception:  # a damaged or outdated cache file is rebuilt, whatever is wrong with it
        return None


def _write_cached(dir_fd: int, name: str, built: lark.Lark) -> None:
    """Save *built* as *name* in the cache directory: written to a fresh private file, then renamed."""
    data, memo = built.memo_serialize([lark.lexer.TerminalDef, lark.grammar.Rule])
    data["options"] = {k: v for k, v in data["options"].items() if k not in ("transformer", "cache", "_plugins")}
    temp = f".{name}.{os.getpid()}.{os.urandom(8).hex()}"
    try:
        blob = marshal.dumps({"key": name, "data": data, "memo": memo})
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
        with os.fdopen(fd, "wb") as file:
            file.write(blob)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except (OSError, ValueError):  # a read-only or full cache home: the next run builds again
        try:
            os.unlink(temp, dir_fd=dir_fd)
        except OSError:
            pass


def build(plugins: dict[str, Any] = PLUGINS) -> lark.Lark:
    """Compile the grammar into the LALR parser (no cache), with Lark's lexer classes replaced by *plugins*."""
    try:
        return lark.Lark(grammar_text(), parser="lalr", lexer="contextual", transformer=EventBuilder(),
                         maybe_placeholders=False, _plugins=plugins)
    except lark.exceptions.LarkError as exc:  # a broken grammar file is a packaging bug
        raise GrammarError(f"{GRAMMAR_FILE} does not compile: {exc}") from exc


def load_or_build(plugins: dict[str, Any] = PLUGINS) -> lark.Lark:
    """Return the parser from the per-user cache, or build it and save it there for the next run."""
    dir_fd = _open_cache_dir()
    if dir_fd is None:
        return build(plugins)
    try:
        name = cache_key()
        cached = _read_cached(dir_fd, name, plugins)
        if cached is not None:
            return cached
        built = build(plugins)
        _write_cached(dir_fd, name, built)
        return built
    finally:
        os.close(dir_fd)


@functools.cache
def parser() -> lark.Lark:
    """Return the LALR parser, built (or loaded from the per-user cache) once per process."""
    with paused_gc():  # its tables are long-lived: collections while they are made would free nothing
        made = load_or_build()
        return made if _reads(made) else load_or_build(plugins={})


#: A message the grammar reads as a ``vf_registering`` event: a new parser is tried on it once.
PROBE = "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF registering: eth1"


def _reads(made: lark.Lark) -> bool:
    """Return whether *made* reads PROBE as its event: False when the Lark installed is one whose internals
    vflog.lexing does not fit (then Lark's own lexer is used; slower to start, the same readings)."""
    try:
        event = made.parse(PROBE)
    except Exception:  # whatever a Lark of other internals raises
        return False
    return isinstance(event, Event) and event.kind == "vf_registering"


@functools.cache
def kinds() -> frozenset[str]:
    """Return every event kind the grammar can produce (its aliases)."""
    names = set()
    for rule in parser().rules:
        alias = rule.alias
        if alias:
            names.add(str(alias))
    names.discard("line")
    names.add("renamed")
    return frozenset(names)


@attrs.frozen
class _Unknown:
    """Why a message did not parse: kept in the cache instead of an exception (whose traceback would grow)."""

    reason: str
    column: int | None = None


def parse_message(text: str) -> Event:
    """Return the event for kernel message *text* (prefix included), or raise ParseError."""
    parsed = _parsed(text) if len(text) <= _CACHE_TEXT_LIMIT else _parse_uncached(text)  # a long line: each time
    if isinstance(parsed, _Unknown):
        raise ParseError(parsed.reason, text, parsed.column)
    return parsed


@functools.lru_cache(maxsize=_CACHE_LIMIT)
def _parsed(text: str) -> Event | _Unknown:
    """Return _parse_uncached(text), remembered per distinct message (failures too, as values without a traceback)."""
    return _parse_uncached(text)


def _parse_uncached(text: str) -> Event | _Unknown:
    """Parse *text* with Lark, translating Lark's errors into _Unknown values."""
    try:
        event: Event = parser().parse(text)  # type: ignore[assignment]  # the transformer makes Events
    except lark.exceptions.UnexpectedInput as exc:
        column = getattr(exc, "column", None)
        return _Unknown(f"not a known message (column {column})", column)
    except lark.exceptions.LarkError as exc:
        return _Unknown(f"not a known message ({type(exc).__name__})")
    return attrs.evolve(event, message=text, domain="?")  # the device is known only now
