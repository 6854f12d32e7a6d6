"""Lark's contextual lexer at a lower start-up cost, reading every text exactly as Lark's own does.

Lark builds a basic lexer for each of the grammar's ~140 sets of terminals a parser state accepts when the
parser loads, and compiles each state's terminals into one alternation when the state reads its first
token; both are most of what parsing the first lines of a log costs.  Here a state's lexer is made when
the state first reads a token and its scanner compiles no alternation (see _FirstCharScanner).  The
grammar's parser uses it through Lark's ``_plugins`` option (grammar.PLUGINS).
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Callable, Collection, Mapping, NamedTuple

import lark
import lark.lexer


class _Candidate(NamedTuple):
    """A terminal a scanner tries: its name and either the string it matches or its compiled expression."""

    name: str
    literal: str | None
    regex: Any


class _FirstCharScanner(lark.lexer.Scanner):
    """Lark's scanner of one parser state, without compiling the state's terminals into one expression.

    Lark's scanner is one alternation of every terminal the state accepts, in Lark's order, the first
    alternative that matches winning; compiling it is most of the cost of a state's first token (some
    states accept seventy terminals, most of them long strings).  This scanner tries the same terminals
    in the same order and returns the first that matches, which is what the alternation returns: a string
    terminal is compared as a string, and only where the text holds its first character; a regular
    expression is compiled on its own (once per process, by ``re``'s cache).
    """

    def __init__(self, terminals: list[lark.lexer.TerminalDef], g_regex_flags: int, re_: Any,
                 use_bytes: bool) -> None:
        self.terminals = terminals
        self.g_regex_flags = g_regex_flags
        self.re_ = re_
        self.use_bytes = use_bytes
        self.allowed_types = {t.name for t in terminals}
        self._by_char: dict[str, tuple[_Candidate, ...]] = {}

    def _literal(self, terminal: lark.lexer.TerminalDef) -> str | None:
        """Return the text *terminal* matches when it is a plain string (no flags), else None."""
        pattern = terminal.pattern
        plain = isinstance(pattern, lark.lexer.PatternStr) and not pattern.flags and not self.g_regex_flags
        return pattern.value if plain and not self.use_bytes else None

    def _candidates(self, char: str) -> tuple[_Candidate, ...]:
        """Return, in Lark's order, the terminals that can match where the text holds *char*."""
        found = self._by_char.get(char)
        if found is None:
            chosen = []
            for terminal in self.terminals:
                literal = self._literal(terminal)
                if literal is None:
                    regex = self.re_.compile(terminal.pattern.to_regexp(), self.g_regex_flags)
                    chosen.append(_Candidate(terminal.name, None, regex))
                elif literal.startswith(char):
                    chosen.append(_Candidate(terminal.name, literal, None))
            found = self._by_char[char] = tuple(chosen)
        return found

    def match(self, text: Any, pos: int) -> tuple[str, str] | None:
        """Return the token (its text, its terminal's name) at *pos* of *text* (a str, or Lark's TextSlice of one), or
        None."""
        source = getattr(text, "text", text)
        end = getattr(text, "end", len(source))
        for name, literal, regex in self._candidates(source[pos:pos + 1]):
            if literal is not None:
                if source.startswith(literal, pos, end):
                    return literal, name
            else:
                found = regex.match(source, pos, end)
                if found:
                    return found.group(0), name
        return None

    def fullmatch(self, text: str) -> str | None:
        """Return the name of the first terminal that matches all of *text*, or None."""
        for name, literal, regex in self._candidates(text[:1]):
            if (text == literal) if literal is not None else regex.fullmatch(text):
                return name
        return None


class _FirstCharLexer(lark.lexer.BasicLexer):
    """Lark's basic lexer of one parser state, scanning with a _FirstCharScanner."""

    def _build_scanner(self) -> lark.lexer.Scanner:
        """Return the scanner of this state's terminals (Lark's own construction, with the other scanner)."""
        terminals, self.callback = lark.lexer._create_unless(self.terminals, self.g_regex_flags, self.re,
                                                             self.use_bytes)
        for type_, f in self.user_callbacks.items():
            if type_ in self.callback:
                self.callback[type_] = lark.lexer.CallChain(self.callback[type_], f, lambda t: t.type == type_)
            else:
                self.callback[type_] = f
        self._scanner = _FirstCharScanner(terminals, self.g_regex_flags, self.re, self.use_bytes)
        return self._scanner  # kept and returned: Lark 1.1 keeps what this sets, later versions what it returns


class _StateLexers(dict):  # type: ignore[type-arg]
    """The basic lexer of each parser state, made by *make* the first time the state reads a token."""

    def __init__(self, make: Callable[[int], lark.lexer.BasicLexer]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, state: int) -> lark.lexer.BasicLexer:
        """Make, keep and return the lexer of *state*."""
        lexer = self[state] = self._make(state)
        return lexer


class _ContextualLexer(lark.lexer.ContextualLexer):
    """Lark's contextual lexer (put in place through Lark's ``_plugins`` option), with two differences in cost
    only: a state's basic lexer is made the first time the state reads a token (Lark makes all of them,
    some 140, when the parser loads; states accepting the same terminals still share one), and each
    scans with a _FirstCharScanner."""

    BasicLexer = _FirstCharLexer

    def __init__(self, conf: lark.lexer.LexerConf, states: Mapping[int, Collection[str]],
                 always_accept: Collection[str] = ()) -> None:
        self._conf = conf
        self._states = states
        self._always = frozenset(conf.ignore) | frozenset(always_accept)
        self._shared: dict[frozenset[str], lark.lexer.BasicLexer] = {}
        self.lexers = _StateLexers(self._lexer_of)  # type: ignore[assignment]

    def _lexer_of(self, state: int) -> lark.lexer.BasicLexer:
        """Return the basic lexer of the terminals *state* accepts (and the ignored ones), as Lark makes it."""
        accepts = frozenset(self._states[state])
        lexer = self._shared.get(accepts)
        if lexer is None:
            conf = copy.copy(self._conf)
            by_name = self._conf.terminals_by_name
            conf.terminals = [by_name[name] for name in accepts | self._always if name in by_name]
            lexer = self._shared[accepts] = self.BasicLexer(conf)
        return lexer

    @functools.cached_property
    def root_lexer(self) -> lark.lexer.BasicLexer:  # type: ignore[override]
        """Return the lexer of all terminals (Lark reads the token a state did not expect with it, for its error)."""
        conf = copy.copy(self._conf)
        conf.terminals = list(self._conf.terminals)
        conf.skip_validation = True
        return self.BasicLexer(conf)


#: Lark's ``_plugins`` option that puts the contextual lexer above in place (when a parser is built and loaded).
PLUGINS = {"ContextualLexer": _ContextualLexer}
