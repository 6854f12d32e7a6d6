"""Scan many kernel logs at once (``vflog scan``): one small result per log, and a summary that merges in any order.

A *log* is the unit of work and is never split between workers: a regular file (compressed or
not), an archive (a sosreport, a WALinuxAgent ``logs.zip``: vflog reads the kernel logs inside
it), or a family of rotated siblings in one directory (``kern.log.2.gz``, ``kern.log.1``,
``kern.log``), which is one story read oldest first.

``scan`` yields a :class:`FileResult` per log as each finishes, from a local process pool or from
Dask.  A FileResult holds the log's report without timelines (of those only the data path changes of the last
boot, its ``lanes``) and is small, picklable and JSON-serialisable;
:class:`Summary` values merge associatively and commutatively with ``Summary()`` as identity, so
any engine can reduce them in any order and memory stays flat with the number of logs.
"""

from __future__ import annotations

from .discover import Discovery, discover, is_url
from .engines import check_engine, default_jobs, scan, summarize
from .one import analyze_one
from .results import ENGINES, FileResult, Lanes, LogJob, ScanFinding, Summary

__all__ = ["ENGINES", "Discovery", "check_engine", "FileResult", "Lanes", "LogJob", "ScanFinding", "Summary",
           "analyze_one", "default_jobs", "discover", "is_url", "scan", "summarize"]
