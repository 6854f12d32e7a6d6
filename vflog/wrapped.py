"""Wrapped lines: a driver line that stops short is held until the next line says whether it continues it.

A terminal or mail wraps a long line; the rest arrives as the next line, unstamped.  These helpers
decide whether a message stops short (the grammar's prefix test, the starts of catalogued
messages), join a held line with the text that continues it (with or without a space at the
break, mail quote marks removed), and say what the join reads as.  Three more shapes of a wrap are
read: a line of 60 columns or more that reads whole but ends in a name, id or number may continue
with the glued rest of it (may_be_cut, _extended); a line where no message starts may be one whose
start the wrap cut (cut_start); at a break the grammar reads with and without a space, the text the
catalogue lists wins.  The Analyzer holds the line (Held) and places the events; nothing here keeps
state.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from . import framing, grammar, messages, partial
from .drivers import read_prefix
from .errors import ParseError
from .events import INFO, Event
from .formats import Record
from .machine import INPUTS


class Held(NamedTuple):
    """A driver line whose message stops short, held until the next line says whether it continues it: the
    line's record, outer prefix, message, the seconds of its dmesg stamp, the record before it, and what is read
    in it alone (a NamedTuple: one is made for most long driver lines, so it must be cheap to make)."""

    record: Record
    prefix: str
    message: str
    seconds: float | None
    previous: Record | None
    found: Event | None
    #: The message reads whole (*found* is its grammar event), but its last name, id or number may be cut.
    whole: bool = False


#: The fewest columns a terminal or mailer wraps at (they wrap at 72-80; a shorter row was not wrapped).
NARROWEST = 60


def may_be_cut(raw: str, message: str) -> bool:
    """Return whether line *raw*, whose driver message *message* the grammar reads whole, may still be the first
    row of a wrapped line: it fills a row of the narrowest wrap and its message ends in a letter or digit (a
    name, id or number the wrap may have cut)."""
    return len(raw) >= NARROWEST and ends_in_name(message)


def ends_in_name(message: str) -> bool:
    """Return whether driver message *message* ends in a letter or digit (a name, id or number a wrap may cut)."""
    return message[-1:].isalnum()


def stops_short(message: str, found: Event | None) -> bool:
    """Return whether driver message *message*, which the grammar does not read (*found* is what the tolerant
    rules and the catalogue read in it), stops short, perhaps wrapped: it ends inside the driver's prefix or
    is the start of a message the grammar knows, or nothing reads it and it is the start of a catalogued one."""
    return partial.incomplete(message) or (found is None or found.kind == messages.UNCATALOGUED) and \
        _catalogue_start(message)


@functools.lru_cache(maxsize=4096)
def _catalogue_start(message: str) -> bool:
    """Return whether driver message *message* is the start of a message the catalogue lists (the rows of the
    first word of the message; the rest may be cut anywhere): a line that stops short, perhaps wrapped."""
    prefix = read_prefix(message)
    if prefix is None or " " not in prefix.message:  # a first word cut short is not looked up
        return False
    texts = {text for text in (prefix.message, prefix.plain) if text}
    return any(partial.starts_match(messages.pattern(matcher.format), False, text)
               for text in texts for matcher in messages.catalogue().candidates(prefix.driver, text))


def _rejoined(message: str, text: str, glued: bool) -> Event | None:
    """Return the event of *message* continued by *text* (a wrapped line joined back), or None.

    When *glued* (no white space at the break) the break may have been inside a word or id (a terminal
    wraps anywhere) or at a space the wrapper took (mail wraps between words).  Of the joins without and
    with a space that the grammar reads, the one the catalogue lists wins, then the one whose tokens agree
    with the break (see partial.break_agrees; a break before a closing mark or after an opening one had no
    space), the join without a space first among those, the one with a space among the rest; when the grammar reads neither, one the tolerant rules and the catalogue read.
    """
    joins = ((message + text, False), (message + " " + text, True)) if glued else ((message + " " + text, True),)
    read: list[tuple[bool, bool, bool, Event]] = []
    columns: list[int | None] = []
    for joined, spaced in joins:
        try:
            event = grammar.parse_message(joined)
        except ParseError as error:
            columns.append(error.column)
            continue
        columns.append(None)
        agrees = partial.break_agrees(joined, len(message), spaced) or not spaced and _no_space_there(message, text)
        read.append((_catalogued(event), agrees, spaced != agrees, event))  # an agreeing glued join first
    if read:
        return _judged(max(read, key=lambda reading: reading[:3])[3])
    for (joined, _), column in zip(reversed(joins), reversed(columns)):
        found = messages.driver_event(joined, column)
        if found is not None and found.kind != messages.UNCATALOGUED:
            return found
    return None


def _catalogued(event: Event) -> bool:
    """Return whether the catalogue lists the message of grammar event *event* (the kernel prints it so)."""
    return "catalogue_level" in messages.judged(event).fields


#: Characters that a space never precedes in a driver's message (``eth0: ``, ``serial:1``, ``(0x3)``, ``1,``).
_CLOSING = frozenset(":,;.)]}")
#: Characters that a space never follows in a driver's message (``(0x3)``, ``[mem ...]``).
_OPENING = frozenset("([{")


def _no_space_there(message: str, text: str) -> bool:
    """Return whether a break between *message* and *text* fell where the line had no space (a terminal's
    wrap; a mailer breaks only at a space): before a closing mark or after an opening one."""
    return text[:1] in _CLOSING or message[-1:] in _OPENING


#: The quote marks of a line quoted in mail (``> `` or ``>> ``).
_QUOTE = re.compile(r"(?:>[ \t]?)+")


def _unquoted(first: str, line: str) -> str:
    """Return *line* without its quote marks when *first* (the line it may continue) has the same marks."""
    marks, before = _QUOTE.match(line), _QUOTE.match(first)
    if marks is None or before is None or marks[0].replace(" ", "") != before[0].replace(" ", ""):
        return line
    return line[marks.end():]


def _still_short(held: Held, text: str, glued: bool) -> Held | None:
    """Return *held* continued by *text* when the joined message still stops short of a message the grammar
    knows (the join without a space first when *glued*), else None."""
    for joined in (held.message + text, held.message + " " + text) if glued else (held.message + " " + text,):
        try:
            grammar.parse_message(joined)
        except ParseError as error:
            found = messages.driver_event(joined, error.column)
            if stops_short(joined, found):
                return held._replace(record=held.record._replace(text=held.prefix + joined), message=joined,
                                     found=found)
    return None


def _judged(event: Event) -> Event:
    """Return grammar event *event* at the level the kernel prints it at, when it is a fault or lifecycle input."""
    return messages.judged(event) if event.level is not INFO or event.kind in INPUTS else event


#: The rest of a cut name, id or number: one word of their characters with a letter or digit (a prompt, a
#: command or a tool's line has spaces or other marks; an elision mark has no letter).
_REST_OF_TOKEN = re.compile(r"[.:-]*\w[\w.:-]*")


def _extended(message: str, text: str) -> Event | None:
    """Return the event of whole message *message* with its last token continued by *text* (the rest of a name,
    id or number a terminal cut), when the grammar reads the two glued with the break inside a token; else None."""
    if _REST_OF_TOKEN.fullmatch(text) is None:
        return None
    joined = message + text
    try:
        event = grammar.parse_message(joined)
    except ParseError:
        return None
    return _judged(event) if partial.break_agrees(joined, len(message), False) else None


def cut_start(first: Record, record: Record) -> Record | None:
    """Return line *first*, in which no driver's or program's message starts, continued by *record*, when
    *record* is a continuation and the message start the two make spans the break (``... hv_netvsc`` /
    ``<GUID> eth0: ...``, ``Configu`` / ``ring with ...``); else None.  The break must be a wrap's: without a
    space, *first* fills a terminal's row of the narrowest wrap; with one, the continuation's first word would
    not have fit in that row (a mailer wraps there).  The joined line keeps the first line's number."""
    raw, head = record[1], first[1]
    if raw is None or head is None or record[2] or record[4]:
        return None
    if raw[:1] == ">":  # a quoted line (mail) continues after the same quote marks
        raw = _unquoted(head, raw)
    text = framing.continuation(raw)  # None when the line starts a message of its own
    if text is None:
        return None
    glued = not head[-1:].isspace() and not raw[:1].isspace()
    spaced = head.rstrip() + " " + text
    joins: tuple[str, ...] = (head + text,) if glued and len(head) >= NARROWEST else ()
    if len(head.rstrip()) + 1 + len(text.split(None, 1)[0]) > NARROWEST:
        joins += (spaced,)
    for joined in joins:
        if framing.frame(joined) is not None:
            return first._replace(text=joined)
    return None


def continued(held: Held, record: Record) -> Event | Held | None:
    """Return what *record* makes of the *held* line: the event of the two joined back (a wrapped line), the held
    line continued when the join still stops short (wrapped more than once), or None when it does not continue it.
    A held line that reads whole is continued only by the glued rest of its last token (see _extended); a join
    that reads whole is held so when *record* fills a row (see may_be_cut)."""
    raw = record[1]
    if raw is not None and raw[:1] == ">":  # a quoted line (mail) continues after the same quote marks
        raw = _unquoted(held.record[1], raw)  # type: ignore[arg-type]
    if held.whole and (raw is None or _REST_OF_TOKEN.fullmatch(raw) is None):
        return None  # only a word of a name's characters is the rest of a name (the cheap test first)
    text = framing.continuation(raw) if raw is not None and not (record[2] or record[4]) else None
    if text is None:
        return None
    glued = not held.record[1][-1:].isspace() and not raw[:1].isspace()  # type: ignore[index]
    if held.whole:  # a terminal cuts anywhere, without a space: only the rest of the last token continues it
        return _extended(held.message, text) if glued else None
    event = _rejoined(held.message, text, glued)
    if event is None:
        return _still_short(held, text, glued)
    if may_be_cut(raw or "", event.message):  # a middle row: the next one may hold the rest of its last name
        return held._replace(record=held.record._replace(text=held.prefix + event.message),
                             message=event.message, found=event, whole=True)
    return event
