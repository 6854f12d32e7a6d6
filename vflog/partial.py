"""Tell whether a text is the start of a message the grammar or a catalogue pattern knows (a line cut short).

A wrapped line's first row stops inside a driver's prefix or message; these checks run Lark's LALR parser
and the catalogue's regular expressions over the text as far as it goes, without needing the rest.
"""

from __future__ import annotations

import functools
import re
import sys
from typing import Any

import lark
import lark.lexer

from .drivers import DRIVERS, canonical_ids
from .grammar import _CACHE_LIMIT, _CACHE_TEXT_LIMIT, parser

#: A driver's printk prefix cut before its message: the driver name, then at most device, interface and
#: registration state, nothing after a ``: `` (the id may be cut anywhere, or redacted).
_IN_PREFIX = re.compile(r"(?:" + "|".join(re.escape(name) for name in DRIVERS) + r")(?: \S+){0,3}")


def incomplete(text: str) -> bool:
    """Return whether kernel message *text* (which does not parse) stops short: it ends inside a driver's
    printk prefix, or it is a proper prefix of a message the grammar knows (ids read as the grammar reads them)."""
    return _remembered_incomplete(text) if len(text) <= _CACHE_TEXT_LIMIT else _incomplete(text)


@functools.lru_cache(maxsize=_CACHE_LIMIT)
def _remembered_incomplete(text: str) -> bool:
    """Return _incomplete(text), remembered per distinct message."""
    return _incomplete(text)


def _incomplete(text: str) -> bool:
    """Return incomplete(text), worked out."""
    if _IN_PREFIX.fullmatch(text) is not None and ": " not in text or _known_prefix(text):
        return True
    canonical = canonical_ids(text)[0]
    return canonical != text and _known_prefix(canonical)


def _known_prefix(text: str) -> bool:
    """Return whether the LALR parser takes every token of *text* (the last one possibly cut short)."""
    lalr = parser()
    try:
        for _ in lalr.parse_interactive(text).iter_parse():
            pass
    except lark.exceptions.UnexpectedCharacters as exc:  # the lexer of the parser's state found no token here
        return _starts_token(text[exc.pos_in_stream:], exc.allowed)
    except lark.exceptions.UnexpectedToken as exc:  # a token the parser does not take here (or read as another)
        start = exc.token.start_pos
        return start is not None and _starts_token(text[start:], exc.expected)
    except lark.exceptions.LarkError:
        return False
    return True  # an LR parser never shifts past an error: every state it reaches has a continuation


def break_agrees(text: str, position: int, spaced: bool) -> bool:
    """Return whether the tokens the grammar reads in *text* agree with a line break at *position*: a space put
    there (*spaced*) stands between tokens or inside a literal (whose words it separates), a break joined
    without one falls inside a token (a word or id cut by the wrap)."""
    try:
        tokens = list(parser().parse_interactive(text).iter_parse())
    except lark.exceptions.LarkError:
        return False
    terminals = _terminals()
    for token in tokens:
        start, end = token.start_pos or 0, token.end_pos or 0
        if start < position < end:
            terminal = terminals.get(token.type)
            return not spaced or terminal is not None and isinstance(terminal.pattern, lark.lexer.PatternStr)
    return spaced


@functools.cache
def _terminals() -> dict[str, lark.lexer.TerminalDef]:
    """Return the grammar's terminals by name."""
    return {terminal.name: terminal for terminal in parser().terminals}


def _starts_token(rest: str, names: "set[str] | frozenset[str]") -> bool:
    """Return whether *rest* is the start of one token of the terminals *names* (a literal's start, or a
    whole token of a pattern: a cut name, number or id is still one)."""
    terminals = _terminals()
    for name in names:
        terminal = terminals.get(name)
        if terminal is None:
            continue
        pattern = terminal.pattern
        if isinstance(pattern, lark.lexer.PatternStr):
            value = pattern.value
            if value.lower().startswith(rest.lower()) if "i" in pattern.flags else value.startswith(rest):
                return True
        elif starts_match(pattern.to_regexp(), "i" in pattern.flags, rest):
            return True
    return False


if sys.version_info >= (3, 11):  # the regex syntax tree of the standard library
    from re import _constants as _sre, _parser as _sre_parse
else:  # pragma: no cover
    import sre_constants as _sre
    import sre_parse as _sre_parse


@functools.lru_cache(maxsize=256)
def _syntax(regex: str) -> Any:
    """Return the parsed syntax tree of *regex*."""
    return _sre_parse.parse(regex)


def starts_match(regex: str, ignore_case: bool, rest: str) -> bool:
    """Return whether *rest* is the start of a text that *regex* matches whole (the standard library cannot
    match partially: the syntax tree is walked here, look-arounds taken as true)."""
    return bool(rest) and len(rest) <= 256 and len(rest) in _PartialMatch(rest, ignore_case).sequence(list(_syntax(regex)), 0)


class _PartialMatch:
    """A walk of a regex syntax tree over a text that succeeds as soon as the text runs out."""

    def __init__(self, text: str, ignore_case: bool) -> None:
        self.text = text.lower() if ignore_case else text
        self.end = len(text)
        self.fold = ignore_case

    def sequence(self, items: list[Any], position: int) -> set[int]:
        """Return the positions that matching *items* from *position* can reach (the end when the text runs out)."""
        positions = {position}
        for op, argument in items:
            reached: set[int] = set()
            for start in positions:
                if start == self.end:
                    return {self.end}
                reached |= self.item(op, argument, start)
            if self.end in reached:
                return {self.end}
            positions = reached
            if not positions:
                break
        return positions

    def item(self, op: Any, argument: Any, position: int) -> set[int]:
        """Return the positions one syntax item can reach from *position* (before the end of the text)."""
        char = self.text[position]
        if op is _sre.LITERAL:
            return {position + 1} if char == self._char(argument) else set()
        if op is _sre.NOT_LITERAL:
            return {position + 1} if char != self._char(argument) else set()
        if op is _sre.ANY:
            return {position + 1} if char != "\n" else set()
        if op is _sre.IN:
            return {position + 1} if self._in(argument, char) else set()
        if op is _sre.BRANCH:
            return set().union(*(self.sequence(list(branch), position) for branch in argument[1]))
        if op is _sre.SUBPATTERN:
            return self.sequence(list(argument[-1]), position)
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)):
            return self._repeat(argument, position)
        if op is _sre.ASSERT and argument[0] == 1:  # a look-ahead: what follows the token, the text may end in it
            ahead = self.sequence(list(argument[1]), position)
            return {self.end} if self.end in ahead else {position} if ahead else set()
        return {position}  # anchors, look-behinds, negative look-arounds, back references: taken as true

    def _repeat(self, argument: Any, position: int) -> set[int]:
        """Return the positions a repeat (low, high, body) can reach from *position*."""
        low, high, body = argument
        reached, frontier, count = set(), {position}, 0
        while frontier:
            if count >= low:
                reached |= frontier
            if count == high:
                break
            frontier = set().union(*(self.sequence(list(body), start) for start in frontier)) - reached - {position}
            if self.end in frontier:
                return {self.end}
            count += 1
        return reached

    def _char(self, code: int) -> str:
        """Return the character of *code* as the text is compared (lower-cased when case is ignored)."""
        return chr(code).lower() if self.fold else chr(code)

    def _in(self, items: list[Any], char: str) -> bool:
        """Return whether *char* is in the character set *items*."""
        negate, found = False, False
        for op, argument in items:
            if op is _sre.NEGATE:
                negate = True
            elif op is _sre.LITERAL:
                found = found or char == self._char(argument)
            elif op is _sre.RANGE:
                found = found or argument[0] <= ord(char) <= argument[1] or \
                    self.fold and argument[0] <= ord(char.upper()) <= argument[1]
            elif op is _sre.CATEGORY:
                found = found or _category(argument, char)
        return found != negate


def _category(category: Any, char: str) -> bool:
    """Return whether *char* is in regex character category *category* (``\\d``, ``\\s``, ``\\w`` and their opposites)."""
    name = str(category).upper()
    if "DIGIT" in name:
        inside = char.isdigit()
    elif "SPACE" in name:
        inside = char.isspace()
    elif "WORD" in name:
        inside = char.isalnum() or char == "_"
    else:
        inside = char != "\n"
    return inside != ("NOT" in name)
