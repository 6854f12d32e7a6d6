"""Follow mode: the waits of a boot's NICs by deadline, so a tick looks only at the waits that fell due.

Rules decide what a NIC awaits (a Plan: since which line and time, the threshold); Deadlines keeps
one plan per NIC in two heaps (by deadline, then by the line an unrelated line must follow) and
hands back the NICs whose wait has both its time and a later unrelated line.  A plan that no
longer holds stays in a heap until popped or until the heaps are rebuilt (bounded by _STALE).
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Callable

import attrs

from .nic import Nic


@attrs.frozen
class Plan:
    """A NIC's wait in follow mode: its finding code, since which line and time, and the threshold."""

    key: str
    since_line: int
    code: str
    since_t: float
    threshold: float


#: A heap entry of follow mode: (deadline or line, order of arrival, plan, NIC).
_Entry = tuple[float, int, Plan, Nic]
#: Stale heap entries (plans that no longer hold) tolerated before the heaps are rebuilt.
_STALE = 1024


class Deadlines:
    """The plans of a boot's NICs in follow mode, by deadline."""

    def __init__(self) -> None:
        self._plans: dict[str, Plan] = {}
        self._due: list[_Entry] = []  # by deadline: waits whose time has not come
        self._quiet: list[_Entry] = []  # by line: past their time, no other line after them yet
        self._order = itertools.count()

    def plan(self, nic: Nic, plan: Plan | None) -> None:
        """Take what *nic* now awaits (*plan*; None: nothing), so that tick looks at it only when it falls due."""
        if self._plans.get(nic.key) == plan:
            return
        if plan is None:
            del self._plans[nic.key]
            return
        self._plans[nic.key] = plan
        heapq.heappush(self._due, (plan.since_t + plan.threshold, next(self._order), plan, nic))
        if len(self._due) + len(self._quiet) > 2 * len(self._plans) + _STALE:
            self._due, self._quiet = self._current(self._due), self._current(self._quiet)

    def _current(self, heap: list[_Entry]) -> list[_Entry]:
        """Return *heap* without the entries of plans that no longer hold (one entry per plan), as a heap."""
        kept = {entry[2]: entry for entry in sorted(heap, reverse=True) if self._plans.get(entry[2].key) == entry[2]}
        entries = list(kept.values())
        heapq.heapify(entries)
        return entries

    def tick(self, now: float, last_other_line: int, fire: Callable[[Nic, str], None]) -> None:
        """Call *fire* (NIC, finding code) for each plan whose threshold the clock (*now*) has passed and after
        whose start an unrelated line came (*last_other_line*); the others wait on.

        Only the plans that fell due are looked at (two heaps: by deadline, then by the line an
        unrelated line must follow), so a line costs O(log n) for n NICs, not O(n).
        """
        while self._due and self._due[0][0] <= now:
            deadline, _, plan, nic = heapq.heappop(self._due)
            if self._plans.get(plan.key) == plan:
                self._check(plan, nic, deadline, now, last_other_line, fire)
        while self._quiet and self._quiet[0][0] < last_other_line:
            _, _, plan, nic = heapq.heappop(self._quiet)
            if self._plans.get(plan.key) == plan:
                self._check(plan, nic, plan.since_t + plan.threshold, now, last_other_line, fire)

    def _check(self, plan: Plan, nic: Nic, deadline: float, now: float, last_other_line: int,
               fire: Callable[[Nic, str], None]) -> None:
        """Fire *plan*'s finding when both its time and an unrelated line after it have come, else wait again."""
        if now - plan.since_t < plan.threshold:  # the exact test of _timeout (a deadline sum may round the other way)
            later = deadline if deadline > now else math.nextafter(deadline, math.inf)
            heapq.heappush(self._due, (later, next(self._order), plan, nic))
        elif last_other_line <= plan.since_line:
            heapq.heappush(self._quiet, (plan.since_line, next(self._order), plan, nic))
        else:
            fire(nic, plan.code)
