"""Turn one kernel message into an Event with the shipped Lark grammar."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import attrs
import lark

from .errors import GrammarError, ParseError
from .events import Event

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

_CACHE_LIMIT = 1 << 12
_cache: dict[str, Event | ParseError] = {}


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
        return attrs.evolve(
            message,
            driver=driver,
            device=message.device or device,
            ifname=message.ifname or ifname,
            regstate=regstate,
        )


def _cache_file() -> str | bool:
    """Return where Lark keeps the compiled parser between runs (a per-user file in the temp dir)."""
    import hashlib
    import tempfile
    digest = hashlib.sha256((grammar_text() + lark.__version__).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"vflog-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest}.lark")


@functools.cache
def parser() -> lark.Lark:
    """Return the LALR parser, built once per process."""
    try:
        return lark.Lark(
            grammar_text(),
            parser="lalr",
            lexer="contextual",
            transformer=EventBuilder(),
            maybe_placeholders=False,
            cache=_cache_file(),
        )
    except lark.exceptions.LarkError as exc:  # a broken grammar file is a packaging bug
        raise GrammarError(f"{GRAMMAR_FILE} does not compile: {exc}") from exc


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


def parse_message(text: str) -> Event:
    """Return the event for kernel message *text* (prefix included), or raise ParseError."""
    cached = _cache.get(text)
    if cached is None:
        cached = _parse_uncached(text)
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[text] = cached
    if isinstance(cached, ParseError):
        raise cached
    return cached


def _parse_uncached(text: str) -> Event | ParseError:
    """Parse *text* with Lark, translating Lark's errors into ParseError values."""
    try:
        event = parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        column = getattr(exc, "column", None)
        return ParseError(f"not a known message (column {column})", text, column)
    except lark.exceptions.LarkError as exc:
        return ParseError(f"not a known message ({type(exc).__name__})", text)
    return attrs.evolve(event, message=text, domain="?")  # the device is known only now
