"""vflog: explain what happened to Azure Accelerated Networking from a Linux kernel log.

Analyse one log with ``analyze`` (a path, bytes, a stream or lines) or ``analyze_text`` (a str) into a
``Report``; stream its events with ``events``; follow a live log with ``follow``; scan many logs with
``scan`` (a ``FileResult`` per log, each holding that log's report) and ``summarize`` (a ``Summary``).
Every type that appears in a public signature is exported here (``vflog.__all__``).
"""

from __future__ import annotations

from .lazy import lazy_names, paused_gc

__version__ = "0.1.0"

with paused_gc():  # the modules build long-lived values: collections during their import would free nothing
    from .analyze import Analyzer, EventStream, RoutedEvent, analyze, analyze_files, analyze_text, events, events_text
    from .catalogue import CODES, Code, Severity, explain
    from .config import Config
    from .errors import GrammarError, InputError, ParseError, UsageError, VflogError
    from .events import Event, Level
    from .formats import Record
    from .framing import Stamp
    from .grammar import parse_message
    from .input import Limits, Selection
    from .input.values import Source, Text
    from .machine import STATES, TRANSITIONS, State
    from .follow import Follower, follow
    from .report import (SCHEMA, BootReport, Finding, InputSpan, NicReport, OutageReport, Quote, Report, StateChange,
                         Stats, TimelineEntry, Unrecognised, VfReport, Withdrawn)

#: The fleet-scan API (process pools, Dask) and the check values a scan result holds (a sosreport's present
#: state), loaded on first use: name -> the module that defines it.
_LAZY = {**dict.fromkeys(("FileResult", "Lanes", "LogJob", "ScanFinding", "Summary", "scan", "summarize"),
                         "vflog.fleet"),
         **dict.fromkeys(("CounterSample", "NicCheck"), "vflog.check.result")}

__all__ = [
    "__version__",
    "Analyzer", "EventStream", "RoutedEvent", "analyze", "analyze_files", "analyze_text", "events", "events_text",
    "CODES", "Code", "Severity", "explain",
    "Config", "Limits", "Selection", "Source", "Text", "Record", "Stamp",
    "GrammarError", "InputError", "ParseError", "UsageError", "VflogError",
    "Event", "Level", "parse_message",
    "STATES", "TRANSITIONS", "State",
    "SCHEMA", "BootReport", "Finding", "InputSpan", "NicReport", "OutageReport", "Quote", "Report", "StateChange",
    "Stats", "TimelineEntry", "Unrecognised", "VfReport", "Withdrawn",
    "Follower", "follow",
    *_LAZY,
]


__getattr__, __dir__ = lazy_names('vflog', _LAZY, globals(), __all__)
del lazy_names, paused_gc
