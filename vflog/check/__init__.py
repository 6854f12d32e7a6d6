"""``vflog check``: the VM's present state (or a sosreport's, or a saved tree's) judged with its kernel log."""

from __future__ import annotations

import os
import time
from typing import Callable

from ..analyze import analyze_text
from .gather import Facts, gather
from .judge import judge
from .result import CheckResult
from .tree import open_tree

__all__ = ["CheckResult", "Facts", "check", "check_facts", "gather_facts"]


def gather_facts(root: str | os.PathLike[str] | None = None, *, interval: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep) -> Facts:
    """Return the facts of the live system (*root* None) or of a directory or tarball at *root*."""
    return gather(open_tree(root), interval=interval, sleep=sleep)


def check_facts(facts: Facts) -> CheckResult:
    """Return the verdicts and findings of *facts*, their kernel log (when there is one) analysed with them."""
    log = analyze_text(facts.kernel_log) if facts.kernel_log else None
    return judge(facts, log)


def check(root: str | os.PathLike[str] | None = None, *, interval: float = 2.0,
          sleep: Callable[[float], None] = time.sleep) -> CheckResult:
    """Check the live system (*root* None) or a sosreport or saved tree (directory or tarball) at *root*."""
    return check_facts(gather_facts(root, interval=interval, sleep=sleep))
