"""The findings of one boot as drafts: drafting, grouping, per-code limits, quotes and withdrawal.

Rules decide that something is a finding; Findings keeps it.  A finding of the same group (a
burst of driver errors, one probe failure per VF generation) gains evidence instead of being
repeated; past max_findings_per_code a code's findings are only counted (notes); each finding
quotes the text of its evidence lines that are still remembered (the newest lines, in two
generations); a time-based finding fired while following can be withdrawn.
"""

from __future__ import annotations

from typing import Callable, Iterable

import attrs

from .catalogue import CODES, Severity
from .config import Config
from .events import Event
from .nic import Nic
from .report import Finding, Quote, Withdrawn

#: Evidence lines a finding keeps (and quotes) at most.
_EVIDENCE_LIMIT = 50
#: Texts of recent lines remembered for quotes, in two generations of half this each.
_TEXT_LIMIT = 4096

Listener = Callable[[object], None]


@attrs.define(eq=False)
class Draft:
    """A finding being drafted: its evidence and quotes may still grow (see Findings.add)."""

    code: str
    severity: Severity
    nic: str | None
    line: int | None
    t: float | None
    message: str
    evidence: list[int]
    texts: dict[int, str]
    group: object = None

    def freeze(self) -> Finding:
        """Return the finding as it stands."""
        evidence = tuple(sorted(set(self.evidence)))[:_EVIDENCE_LIMIT]
        quotes = tuple(Quote(line, self.texts[line]) for line in evidence if line in self.texts)
        return Finding(self.code, self.severity, self.nic, self.line, self.t, self.message, evidence, quotes)


class Findings:
    """The findings of one boot, kept as drafts until the boot ends."""

    def __init__(self, config: Config, listener: Listener | None = None) -> None:
        self.config = config
        self._listener = listener
        self._counts: dict[str, int] = {}
        self._suppressed: dict[str, int] = {}
        self._drafts: list[Draft] = []
        self._groups: dict[object, Draft] = {}
        self._texts: dict[int, str] = {}
        self._older_texts: dict[int, str] = {}

    def remember(self, line: int, text: str) -> None:
        """Remember the text of line *line*, so findings can quote their evidence (the newest lines only)."""
        texts = self._texts
        if len(texts) >= _TEXT_LIMIT // 2:  # two generations: the newest lines and the ones before them
            self._older_texts, self._texts = texts, {}
            texts = self._texts
        texts[line] = text

    def add(self, code: str, nic: Nic | str | None, event: Event | None, message: str,
            evidence: Iterable[int] = (), *, severity: Severity | None = None, group: object = None,
            quotes: dict[int, str] | None = None, t: float | None = None) -> Draft | None:
        """Add a finding, or extend the finding of the same *group* with more evidence; return the new one."""
        key = nic.key if isinstance(nic, Nic) else nic
        lines = [event.line] if event is not None else []
        lines.extend(evidence)
        texts = {line: text for line in lines if (text := self._text(line)) is not None}
        if event is not None:
            texts[event.line] = event.message  # a finding always quotes the line that raised it
        texts.update(quotes or {})
        if group is not None:
            existing = self._groups.get((code, key, group))
            if existing is not None:
                if severity is not None and severity.rank > existing.severity.rank:
                    existing.severity = severity  # a burst is as bad as its worst line
                if len(existing.evidence) < _EVIDENCE_LIMIT:
                    existing.evidence.extend(lines)
                    existing.texts.update(texts)
                return None
        if self._counts.get(code, 0) >= self.config.max_findings_per_code:
            self._suppressed[code] = self._suppressed.get(code, 0) + 1
            return None
        self._counts[code] = self._counts.get(code, 0) + 1
        draft = Draft(code, severity or CODES[code].severity, key,
                       event.line if event is not None else (lines[0] if lines else None),
                       event.t if event is not None else t, message, lines, texts)
        if group is not None:
            self._groups[(code, key, group)] = draft
        self._drafts.append(draft)
        if self._listener is not None:
            self._listener(draft.freeze())
        return draft

    def notes(self) -> tuple[str, ...]:
        """Return what the rules left out (findings beyond the per-code limit)."""
        return tuple(f"{count} more {code} finding(s) beyond the limit of {self.config.max_findings_per_code} "
                     f"are not listed" for code, count in sorted(self._suppressed.items()))

    def findings(self) -> tuple[Finding, ...]:
        """Return the findings so far, ordered by line."""
        return tuple(sorted((d.freeze() for d in self._drafts), key=lambda f: (f.line or 0, f.code)))

    def _text(self, line: int) -> str | None:
        """Return the remembered text of *line*, if it is recent enough to be kept."""
        text = self._texts.get(line)
        return self._older_texts.get(line) if text is None else text

    def suppressed(self, code: str) -> int:
        """Return how many findings of *code* were left out past the per-code limit."""
        return self._suppressed.get(code, 0)

    def unsuppress(self, code: str, count: int) -> None:
        """Set the count of *code*'s findings left out back to *count* (a check repeated while following)."""
        if count:
            self._suppressed[code] = count
        else:
            self._suppressed.pop(code, None)

    def withdraw(self, draft: Draft) -> None:
        """Withdraw *draft* (a time-based finding fired while following whose state was left), if still kept."""
        if draft in self._drafts:
            self._drafts.remove(draft)
            self._counts[draft.code] -= 1  # a withdrawn finding no longer counts against the per-code limit
            if self._listener is not None:
                self._listener(Withdrawn(draft.freeze()))
