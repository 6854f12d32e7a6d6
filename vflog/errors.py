"""Exceptions raised by vflog; each also derives from the fitting built-in."""

from __future__ import annotations


class VflogError(Exception):
    """Base class of every error vflog raises on purpose."""


class ParseError(VflogError, ValueError):
    """A kernel message that the grammar does not recognise."""

    def __init__(self, message: str, text: str, column: int | None = None) -> None:
        super().__init__(message)
        self.text = text
        self.column = column


class InputError(VflogError, OSError):
    """An input that cannot be opened, read or decoded."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class UsageError(VflogError, ValueError):
    """A bad argument or option given by the caller."""


class GrammarError(VflogError, RuntimeError):
    """The shipped grammar file is missing or does not compile."""
