"""vflog: explain what happened to Azure Accelerated Networking from a Linux kernel log."""

from __future__ import annotations

__version__ = "0.1.0"

from .analyze import Analyzer, RoutedEvent, analyze, analyze_files, analyze_text, events, events_text
from .catalogue import CODES, Code, Severity, explain
from .config import Config
from .errors import GrammarError, InputError, ParseError, UsageError, VflogError
from .events import Event, Level
from .grammar import parse_message
from .machine import STATES, TRANSITIONS, State
from .follow import Follower, follow
from .report import (BootReport, Finding, NicReport, OutageReport, Quote, Report, Stats,
                     TimelineEntry, Unrecognised, VfReport)

__all__ = [
    "__version__",
    "Analyzer", "RoutedEvent", "analyze", "analyze_files", "analyze_text", "events", "events_text",
    "CODES", "Code", "Severity", "explain",
    "Config",
    "GrammarError", "InputError", "ParseError", "UsageError", "VflogError",
    "Event", "Level", "parse_message",
    "STATES", "TRANSITIONS", "State",
    "BootReport", "Finding", "NicReport", "OutageReport", "Quote", "Report", "Stats",
    "TimelineEntry", "Unrecognised", "VfReport",
    "Follower", "follow",
    "FileResult", "Summary", "scan", "summarize",
]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """Load the fleet-scan API (process pools, Dask) on first use, not at import."""
    if name in ("FileResult", "Summary", "scan", "summarize"):
        import importlib
        value = getattr(importlib.import_module("vflog.fleet"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vflog' has no attribute {name!r}")
