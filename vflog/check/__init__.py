"""``vflog check``: the VM's present state (or a sosreport's, or a saved tree's) judged with its kernel log."""

from __future__ import annotations

from ..lazy import lazy_names

import os
import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .gather import Facts
    from .result import CheckResult

__all__ = ["CheckResult", "Facts", "check", "check_facts", "gather_facts"]

#: Names of this package defined by its modules, loaded on first use (a report run never needs them): name -> module.
_LAZY = {"CheckResult": "vflog.check.result", "Facts": "vflog.check.gather"}


__getattr__, __dir__ = lazy_names('vflog.check', _LAZY, globals(), __all__)
del lazy_names


def gather_facts(root: str | os.PathLike[str] | None = None, *, interval: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep) -> Facts:
    """Return the facts of the live system (*root* None) or of a directory or tarball at *root*."""
    from .gather import gather  # the check machinery loads when a check runs, not at start-up
    from .tree import open_tree
    return gather(open_tree(root), interval=interval, sleep=sleep)


def check_facts(facts: Facts) -> CheckResult:
    """Return the verdicts and findings of *facts*, their kernel log (when there is one) analysed with them."""
    from ..analyze import analyze_text
    from .judge import judge
    log = analyze_text(facts.kernel_log) if facts.kernel_log else None
    return judge(facts, log)


def check(root: str | os.PathLike[str] | None = None, *, interval: float = 2.0,
          sleep: Callable[[float], None] = time.sleep) -> CheckResult:
    """Check the live system (*root* None) or a sosreport or saved tree (directory or tarball) at *root*."""
    return check_facts(gather_facts(root, interval=interval, sleep=sleep))
