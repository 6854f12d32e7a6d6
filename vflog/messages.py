"""The message catalogue: every printk format string of our drivers, matched against unknown lines.

``data/kernel-formats.tsv`` lists the format string, level, function, versions and notes of each
printk-family call in hv_netvsc, hv_pci, hv_vmbus, mlx5_core, mlx4, mana and the PCI core (Linux
4.19 to 6.18; FreeBSD rows are kept in the file but not read here).  Each Linux format becomes a
regular expression (conversions become the text they print, the rest is literal).  The rows are
indexed by the driver names they print under and by the first word of their text, so a message
is compared with the few formats that can match it, never with all of them; answers are cached
per distinct message.  The catalogue is read on the first lookup only.

Longer than 400 lines because turning a printk format into a regular expression, indexing the rows and
matching a message are the construction and lookup of one data structure.
"""

from __future__ import annotations

import functools
import operator
import re
from collections import defaultdict
from typing import Any, Callable, Iterable, Iterator, Mapping

import attrs

from .drivers import DRIVERS, Prefix, canonical_ids, printed_by, read_prefix
from . import grammar
from .errors import GrammarError, ParseError
from .events import Event, Level
from .machine import INPUTS

#: The catalogue file inside the package.
CATALOGUE_FILE = "data/kernel-formats.tsv"

#: Catalogue level -> the level of the event a matching line becomes.
LEVELS: Mapping[str, Level] = {
    "emerg": Level.ERROR, "alert": Level.ERROR, "crit": Level.ERROR, "err": Level.ERROR,
    "warn": Level.WARNING, "notice": Level.INFO, "info": Level.INFO, "debug": Level.INFO,
}
_RANK = {"err": 4, "warn": 3, "notice": 2, "info": 1, "debug": 0}


@attrs.frozen
class Row:
    """One printk call of the catalogue: driver column, file, function, level, format, versions, notes."""

    driver: str
    file: str
    function: str
    level: str
    format: str
    versions: str
    notes: str

    @property
    def macro(self) -> str:
        """Return the printing macro the notes name first (``mlx5_core_err``, ``netdev_warn``, ...)."""
        return self.notes.split(";", 1)[0].split(" ", 1)[0]

    @property
    def severity(self) -> Level:
        """Return the event level of a line this row printed: err -> error, warn -> warning, else info."""
        return LEVELS.get(self.level, Level.INFO)


# -- format strings -> regular expressions -------------------------------------------------------

#: A printf conversion of the kernel's vsprintf, %p extensions included.
CONVERSION = re.compile(
    r"""%(?:
        (?P<percent>%)
      | (?P<flags>[-+\ #0]*)(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?
        (?:(?P<pointer>\*?p(?:M[FR]?|m|I[46][hnbl]?c?|i[46]|U[bBlL]|R|r|e|NF|ad|ap|a|[sSB]|V|K|bl|b|h[CDN]?))
          |(?:hh|h|ll|l|z|t|j|L)?(?P<conv>[diouxXcsp]))
    )""",
    re.X,
)
_HEX = r"[0-9a-fA-F]+"
#: What each conversion prints, as a regex.
_PIECES = {
    "d": r"-?\d+", "i": r"-?\d+", "u": r"\d+", "o": r"[0-7]+", "x": _HEX, "X": _HEX, "c": r".",
    "s": r".*?", "p": r"(?:0x)?[0-9a-f]+|\(ptrval\)|\(null\)|0+",
}
_POINTERS = {
    "M": r"[0-9a-fA-F]{2}(?:[:-]?[0-9a-fA-F]{2}){5}", "m": r"[0-9a-fA-F]{12}",
    "I4": r"\d+\.\d+\.\d+\.\d+", "i4": r"\d+\.\d+\.\d+\.\d+", "I6": r"[0-9a-fA-F:.]+", "i6": r"[0-9a-fA-F:.]+",
    "U": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "R": r"\[[^\]]*\]", "r": r"\[[^\]]*\]", "e": r"-?\w+", "N": r"\S+", "a": r"(?:0x)?[0-9a-fA-F]+",
    "s": r"\S+", "S": r"\S+", "B": r"\S+", "V": r".*?", "K": r"(?:0x)?[0-9a-f]+|\(ptrval\)|0+",
    "b": r"[0-9a-fA-F,-]*", "h": r"[0-9a-fA-F :-]*",
}
_ESCAPES = {"t": "\t", '"': '"', "\\": "\\", "'": "'"}


def _piece(match: re.Match[str]) -> str:
    """Return the regex for one conversion: the text it prints, space padding allowed."""
    if match["percent"]:
        return "%"
    pointer = match["pointer"]
    if pointer is not None:
        body = pointer.lstrip("*")[1:]
        piece = next((p for key, p in _POINTERS.items() if body.startswith(key)), _PIECES["p"]) if body else _PIECES["p"]
    else:
        piece = _PIECES[match["conv"]]
        if "#" in (match["flags"] or "") and match["conv"] in "xX":
            piece = r"(?:0[xX])?" + piece
    padded = match["width"] not in (None, "") and "-" not in (match["flags"] or "")
    return (r" *" if padded else "") + f"(?:{piece})"


def _literal(text: str) -> str:
    """Return *text* (C escapes as written) as the characters it prints."""
    if "\\" not in text:
        return text
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), text)


def first_line(fmt: str) -> str:
    """Return the part of *fmt* that ends up on the line of the prefix (up to an embedded newline)."""
    return fmt.split("\\n", 1)[0]


def literals(fmt: str) -> list[str]:
    """Return the literal pieces of *fmt*'s first line, between its conversions (``%%`` prints ``%``)."""
    fmt = first_line(fmt)
    pieces, position = [], 0
    for match in CONVERSION.finditer(fmt):
        pieces.append(_literal(fmt[position:match.start()]))
        if match["percent"]:
            pieces.append("%")
        position = match.end()
    pieces.append(_literal(fmt[position:]))
    return pieces


def pattern(fmt: str) -> str:
    """Return the regular expression of what format string *fmt* prints (its first line)."""
    fmt = first_line(fmt)
    parts, position = [], 0
    for match in CONVERSION.finditer(fmt):
        parts.append(re.escape(_literal(fmt[position:match.start()])))
        parts.append(_piece(match))
        position = match.end()
    parts.append(re.escape(_literal(fmt[position:]).rstrip()))
    return "".join(parts) + r"\s*"


def first_word(text: str) -> str:
    """Return the first space-separated word of *text* (the index key of messages and formats)."""
    return text.split(" ", 1)[0]


# -- the catalogue ----------------------------------------------------------------------------------

#: Leading ``<driver>: `` that pr_* formats print themselves (files without a pr_fmt).
_OWN_PREFIX = re.compile(r"^(?:" + "|".join(re.escape(name) for name in DRIVERS) + r"): ")
_OWN_NAMES = tuple(DRIVERS)


class Matcher:
    """One row with its regex and the longest literal a matching message contains (each worked out on first use)."""

    def __init__(self, fmt: str, read_row: Callable[[], Row]) -> None:
        self.format, self._read_row = fmt, read_row

    @functools.cached_property
    def row(self) -> Row:
        """Return the catalogue row of the format (read from its line the first time a message is compared)."""
        return self._read_row()

    @functools.cached_property
    def _pieces(self) -> list[str]:
        """Return the non-empty literal pieces of the format's first line."""
        return [part for part in literals(self.format) if part]

    @functools.cached_property
    def needle(self) -> str:
        """Return the longest literal piece, without surrounding spaces: a message the format printed holds it."""
        return max(self._pieces, key=len).strip()

    @functools.cached_property
    def weight(self) -> int:
        """Return how many literal characters the format prints (more is a more specific format)."""
        return sum(len(part) for part in self._pieces)

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        """Return the compiled regex (most rows are never compared with anything, so compiling waits)."""
        try:
            return re.compile(pattern(self.format), re.S)
        except re.error as exc:  # a catalogue row the converter cannot read is a packaging bug
            raise GrammarError(f"{CATALOGUE_FILE}: format {self.row.format!r} does not compile: {exc}") from exc


def _matcher(fmt: str, read_row: Callable[[], Row]) -> tuple[Matcher, str | None] | None:
    """Return the matcher of a row and its index word (None when the format does not start with a whole literal
    word), or None when the format prints no literal text.

    *fmt* is the row's format with any own driver prefix taken off; *read_row* returns the row.  Only the text
    before the first conversion is read here; a format that starts with a conversion is read whole to see
    whether it prints any literal text at all.
    """
    line = first_line(fmt)
    conversion = CONVERSION.search(line)
    head = _literal(line[:conversion.start()] if conversion is not None else line)
    if not head.strip() and not "".join(literals(fmt)).strip():
        return None
    word = first_word(head) if head and (" " in head or conversion is None) else None
    return Matcher(fmt, read_row), word


class _Table:
    """The catalogue file's text: its Linux lines (FreeBSD rows and malformed lines left out), each line's driver
    column, and the Row of a line (split only when asked)."""

    def __init__(self, text: str) -> None:
        lines = text.splitlines()
        header = lines[0].split("\t") if lines else []
        order = [header.index(name) for name in ("driver", "file", "function", "level", "format", "versions", "notes")]
        self._pick, self._driver, self._format, self._versions = operator.itemgetter(*order), order[0], order[4], order[5]
        self._tabs = len(header) - 1
        self.lines = [line for line in lines[1:] if self._is_linux(line)]

    def _is_linux(self, line: str) -> bool:
        """Return whether *line* has the header's columns and is not a FreeBSD row (its versions ``freebsd...``)."""
        if line.count("\t") != self._tabs:
            return False
        return "\tfreebsd" not in line or not line.split("\t")[self._versions].startswith("freebsd")

    def driver(self, line: str) -> str:
        """Return the driver column of *line*."""
        return line.split("\t", self._driver + 1)[self._driver]

    def row(self, line: str) -> Row:
        """Return the Row of *line*."""
        return Row(*self._pick(line.split("\t")))

    def format(self, line: str) -> str:
        """Return the format column of *line*."""
        return line.split("\t", self._format + 1)[self._format]


def _rows(text: str) -> Iterable[Row]:
    """Yield the Linux rows of the catalogue text *text* (tab-separated, header line first)."""
    table = _Table(text)
    return (table.row(line) for line in table.lines)


def catalogue_text() -> str:
    """Return the shipped catalogue file's text."""
    from importlib import resources  # only when a line needs the catalogue
    try:
        return resources.files("vflog").joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
    except OSError as exc:
        raise GrammarError(f"{CATALOGUE_FILE} is not installed with vflog: {exc}") from exc


class Catalogue:
    """The rows of our drivers, indexed by printk driver name and first word (a driver's index is built the first
    time one of its messages is looked up: a log of two drivers does not pay for the rows of the others)."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._rows: list[Row | None] = list(rows)
        self._table: _Table | None = None
        self._own([row.driver for row in self._rows if row is not None])

    @classmethod
    def of_text(cls, text: str) -> Catalogue:
        """Return the catalogue of the catalogue file's *text*; a line becomes a Row when its row is first read."""
        catalogue = cls.__new__(cls)
        table = catalogue._table = _Table(text)
        catalogue._rows = [None] * len(table.lines)
        catalogue._own([table.driver(line) for line in table.lines])
        return catalogue

    def _own(self, drivers: list[str]) -> None:
        """Index the row positions by the printk driver names that print them (*drivers*: each row's column)."""
        owners: dict[str, list[str]] = defaultdict(list)
        for driver in DRIVERS.values():
            for name in driver.catalogue_names:
                owners[name].append(driver.name)
        #: Per driver name, the positions in ``rows`` of the rows it prints, in catalogue order.
        self._owned: dict[str, list[int]] = defaultdict(list)
        for position, column in enumerate(drivers):
            for name in owners.get(column, ()):
                self._owned[name].append(position)
        self._indexes: dict[str, tuple[dict[str, list[Matcher]], list[Matcher]]] = {}
        #: The matcher and index word of each row position read so far (one matcher per row, shared by its drivers).
        self._read: dict[int, tuple[Matcher, str | None] | None] = {}

    def _row(self, position: int) -> Row:
        """Return the row at *position*, read from its line the first time."""
        row = self._rows[position]
        if row is None:
            assert self._table is not None
            row = self._rows[position] = self._table.row(self._table.lines[position])
        return row

    @functools.cached_property
    def rows(self) -> list[Row]:
        """Return every Linux row of the catalogue, in its order (all read from their lines, once)."""
        return [self._row(position) for position in range(len(self._rows))]

    def _matcher_at(self, position: int) -> tuple[Matcher, str | None] | None:
        """Return the matcher and index word of the row at *position* (None when it prints no literal text)."""
        if position not in self._read:
            fmt = self._format(position)
            if fmt.startswith(_OWN_NAMES) and self._row(position).macro.startswith(("pr_", "printk")):
                fmt = _OWN_PREFIX.sub("", fmt, count=1)
            self._read[position] = _matcher(fmt, functools.partial(self._row, position))
        return self._read[position]

    def _format(self, position: int) -> str:
        """Return the format of the row at *position* (from its line, without reading the whole row)."""
        row = self._rows[position]
        if row is not None:
            return row.format
        assert self._table is not None
        return self._table.format(self._table.lines[position])

    def _index(self, driver: str) -> tuple[dict[str, list[Matcher]], list[Matcher]]:
        """Return *driver*'s matchers by first word and those without one (floating), built on first use."""
        index = self._indexes.get(driver)
        if index is None:
            by_word: dict[str, list[Matcher]] = defaultdict(list)
            floating: list[Matcher] = []
            for position in self._owned.get(driver, ()):
                found = self._matcher_at(position)
                if found is not None:
                    matcher, word = found
                    (floating if word is None else by_word[word]).append(matcher)
            index = self._indexes[driver] = (dict(by_word), floating)
        return index

    def matchers(self) -> Iterator[Matcher]:
        """Yield every matcher of the catalogue (once per driver that prints its row)."""
        indexes = [self._index(driver) for driver in self._owned]
        for by_word, _ in indexes:
            for found in by_word.values():
                yield from found
        for _, floating in indexes:
            yield from floating

    def candidates(self, driver: str, message: str) -> list[Matcher]:
        """Return the matchers that may match *message* of *driver*: same first word, or a needle it holds."""
        by_word, floating = self._index(driver)
        found = list(by_word.get(first_word(message), ()))
        found.extend(m for m in floating if m.needle in message)
        return found

    def match(self, driver: str, message: str, function: str | None = None) -> Row | None:
        """Return the row whose format prints *message* for *driver*, or None.

        Of several rows the best is the one of *function* (mlx5's func:line prefix names it), then
        the most literal text, then the highest level (a line in the log is rarely a debug one).
        """
        best: tuple[bool, int, int] | None = None
        chosen = None
        for matcher in self.candidates(driver, message):
            if matcher.regex.fullmatch(message) is None:
                continue
            row = matcher.row
            score = (row.function == function, matcher.weight, _RANK.get(row.level, 0))
            if best is None or score > best:
                best, chosen = score, row
        return chosen


@functools.cache
def catalogue() -> Catalogue:
    """Return the catalogue, read and compiled once per process on first use."""
    return Catalogue.of_text(catalogue_text())


#: The longest message the kernel prints on one line (printk's LOG_LINE_MAX is 1024 with its prefix):
#: longer text is no kernel message, and is not compared with formats whose %s parts could backtrack.
MAX_MESSAGE = 1024


@functools.lru_cache(maxsize=4096)
def lookup(driver: str, message: str, function: str | None = None) -> Row | None:
    """Return the catalogue row that printed *message* on a line of *driver* (cached per distinct text)."""
    if len(message) > MAX_MESSAGE:
        return None
    return catalogue().match(driver, message, function)


#: Words that say a message reports a failure, for lines the catalogue does not know.
FAILURE_WORDS = re.compile(r"\b(?:fail(?:ed|ure|s)?|errors?|timeout|timed out|unable|invalid|cannot|can't|fatal)\b", re.I)


def says_failure(message: str) -> bool:
    """Return whether *message* uses one of the words of a failure (failed, error, timeout, unable, ...)."""
    return FAILURE_WORDS.search(message) is not None


# -- the message level: lines of our drivers that the grammar does not know ------------------------

#: The kind of an event whose message the catalogue knows.
CATALOGUED = "driver_message"
#: The kind of an event of our drivers whose message the catalogue does not know but that says it failed.
UNCATALOGUED = "driver_failure_uncatalogued"


def _readings(prefix: Prefix) -> tuple[Prefix, ...]:
    """Return the ways to read a line's prefix: as read, and for a pr_* line also with all its text as the message
    (``mlx4_en: WARNING: ...`` names no interface)."""
    if prefix.plain is not None and prefix.plain != prefix.message:
        return (prefix, attrs.evolve(prefix, device=None, ifname=None, message=prefix.plain, funcline=None))
    return (prefix,)


@functools.lru_cache(maxsize=4096)
def driver_event(text: str, column: int | None = None) -> Event | None:
    """Return the event of kernel message *text* that the grammar did not parse (it stopped at *column*).

    In this order: a message with redacted or re-cased identifiers is read as the grammar reads it
    with real ones (the identifiers kept as written, GUIDs lower-cased); a complete message the
    grammar knows followed by extra text keeps its meaning (the extra text is kept in the field
    ``trailing``); a known message cut where its arguments open and followed by other text keeps its
    meaning too (see _cut_before_arguments); a message of our drivers that the
    catalogue knows becomes a ``driver_message`` event at the level of its row, with the row's
    function, file, versions and notes in its fields; an unknown message of our drivers that says
    it failed becomes a ``driver_failure_uncatalogued`` warning.  Anything else gives None.
    """
    known = _with_canonical_ids(text) or _with_trailing_text(text, column)  # lifecycle lines keep their
    if known is not None:  # meaning (the catalogue's %s takes anything)
        return known
    known = _cut_before_arguments(text)
    if known is not None:
        return known
    prefix = read_prefix(text)
    fields: dict[str, Any] = {}
    function = prefix.funcline[0] if prefix is not None and prefix.funcline is not None else None
    if prefix is not None and prefix.funcline is not None:
        fields.update(func=function, source_line=prefix.funcline[1], pid=prefix.funcline[2])
    for reading in _readings(prefix) if prefix is not None else ():
        row = lookup(reading.driver, reading.message, function)
        if row is not None:
            fields.update(text=reading.message, **_row_fields(row))
            return _event(CATALOGUED, reading, fields, text, row.severity)
    if prefix is None or not says_failure(prefix.message):
        return None
    fields.update(text=prefix.message)
    return _event(UNCATALOGUED, prefix, fields, text, Level.WARNING)


def _with_canonical_ids(text: str) -> Event | None:
    """Return the grammar's event of *text* read with canonical identifiers (drivers.canonical_ids), the
    redacted ones given back as written; None when that changes nothing or the grammar still refuses it."""
    canonical, originals = canonical_ids(text)
    if canonical == text:
        return None
    try:
        event = grammar.parse_message(canonical)
    except ParseError as error:
        event = _with_trailing_text(canonical, error.column)  # type: ignore[assignment]
        if event is None:
            return None
    if event.level is not Level.INFO or event.kind in INPUTS:
        event = judged(event)
    fields = {name: originals.get(value, value) if isinstance(value, str) else value for name, value in event.fields.items()}
    device = originals.get(event.device, event.device) if event.device is not None else None
    return attrs.evolve(event, device=device, fields=fields, message=text, domain="?")


def _with_trailing_text(text: str, column: int | None) -> Event | None:
    """Return the event of the complete known message that *text* starts with, when the grammar stopped at
    *column* (1-based) only because more text follows it; the extra text is kept in the field ``trailing``."""
    if column is None or column < 2 or column > len(text):
        return None
    head, extra = text[:column - 1].rstrip(), text[column - 1:].strip()
    if not head or not extra:
        return None
    try:
        event = grammar.parse_message(head)
    except ParseError:
        return None
    if event.level is not Level.INFO or event.kind in INPUTS:
        event = judged(event)
    return attrs.evolve(event, message=text, fields={**event.fields, "trailing": extra}, domain="?")


#: What a message cut where its arguments open lacks before them: a space or a separator, perhaps with the
#: argument's label (`` ``, ``: ``, `` = ``, ``: err = ``).
_OPENING = re.compile(r"\s*(?:[:=]\s*(?:[A-Za-z_]+\s*[:=]\s*)?)?")
#: A format's literal text between or after its arguments that says nothing more: marks, and labels of values.
_BETWEEN_ARGUMENTS = re.compile(r"(?:[^A-Za-z]|[A-Za-z_]+\s*[:=])*")
#: The end of a message's words where other text starts: a word, then a mark that separates no arguments.
_OTHER_TEXT = re.compile(r"(?<=\w)[^\w\s:=,]")


def _cut_before_arguments(text: str) -> Event | None:
    """Return the event of a known message that *text* holds cut where its arguments open, other text after it.

    A tool quoting ``gdma probe failed: err = %d`` up to ``failed`` and going on with its own words (``] Expected
    ...``): the words before the first mark that separates no arguments are the whole literal start of exactly
    one catalogued format, and all that format has after them is arguments with their separators and labels.
    The statement is whole; only values are missing.  The event is the grammar's for the format (its arguments
    given as ``0``, their fields left out), else the catalogue's, at the row's level; the other text is kept in
    the field ``trailing``.  None when no single format reads so (``VF slot`` lacks ``added``, ``Data path
    switched`` lacks ``to``).
    """
    prefix = read_prefix(text)
    mark = _OTHER_TEXT.search(prefix.message) if prefix is not None else None
    if prefix is None or mark is None:
        return None
    head = prefix.message[:mark.start()]
    rows = {matcher.format: matcher.row for matcher in catalogue().candidates(prefix.driver, head)
            if _only_arguments_after(literals(matcher.format), head)}
    if len(rows) != 1:
        return None
    fmt, row = rows.popitem()
    fields: dict[str, Any] = {**_row_fields(row), "trailing": prefix.message[mark.start():].strip()}
    try:
        event = grammar.parse_message(text[:len(text) - len(prefix.message)] + "0".join(literals(fmt)))
    except ParseError:
        return _event(CATALOGUED, prefix, {"text": head, **fields}, text, row.severity)
    return attrs.evolve(event, message=text, level=row.severity, fields=fields, domain="?")


def _only_arguments_after(pieces: list[str], head: str) -> bool:
    """Return whether *head* is the literal start of a format (its literal *pieces*) up to where its arguments
    open, and the format has arguments and nothing after *head* but them, their separators and labels."""
    return len(pieces) > 1 and pieces[0].startswith(head) and _OPENING.fullmatch(pieces[0][len(head):]) is not None \
        and all(_BETWEEN_ARGUMENTS.fullmatch(piece) for piece in pieces[1:])


def _event(kind: str, prefix: Prefix, fields: dict[str, Any], text: str, level: Level) -> Event:
    """Return the event of kind *kind* for a driver line with prefix *prefix*."""
    return Event(kind=kind, driver=prefix.driver, device=prefix.device, ifname=prefix.ifname,
                 regstate=prefix.regstate.strip("()") if prefix.regstate else None,
                 fields=fields, message=text, level=level)


def _row_fields(row: Row) -> dict[str, str]:
    """Return the event fields that keep what the catalogue says of a line: who printed it, where, since when."""
    return {"function": row.function, "file": row.file, "catalogue_level": row.level, "versions": row.versions,
            "notes": row.notes, "printed_by": printed_by(row.file) or ""}


#: Message text -> its grammar event as judged (a text always parses to the same event): callers on the
#: per-line path read it first, so a repeated line costs one dict lookup.
JUDGED: dict[str, Event] = {}
_JUDGED_LIMIT = 1 << 12


def judged(event: Event) -> Event:
    """Return grammar event *event* (a fault kind or a lifecycle input) at the level the kernel prints its
    message at, with the catalogue row's facts in its fields; unchanged when the catalogue lacks it."""
    found = JUDGED.get(event.message)
    if found is None:
        found = event
        prefix = read_prefix(event.message)
        function = prefix.funcline[0] if prefix is not None and prefix.funcline is not None else None
        for reading in _readings(prefix) if prefix is not None else ():
            row = lookup(reading.driver, reading.message, function)
            if row is not None:
                found = attrs.evolve(event, level=row.severity, fields={**event.fields, **_row_fields(row)})
                break
        if len(JUDGED) >= _JUDGED_LIMIT:
            JUDGED.clear()
        JUDGED[event.message] = found
    return found
