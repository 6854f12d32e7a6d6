"""The typed event that one recognised kernel line becomes."""

from __future__ import annotations

import enum
from typing import Any, Mapping

import attrs


class Level(str, enum.Enum):
    """How bad the message of an event is, as the driver logged it."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @classmethod
    def of_kind(cls, kind: str) -> "Level":
        """Return the level that the grammar's naming convention gives *kind*."""
        if kind.startswith("err_"):
            return cls.ERROR
        if kind.startswith("warn_"):
            return cls.WARNING
        return cls.INFO


#: The level of ordinary messages, read once for the per-line path (an enum member read from its
#: class costs ~0.2 µs in CPython 3.11).
INFO = Level.INFO


@attrs.frozen(eq=True, hash=False)
class Event:
    """One recognised kernel line: its kind, printk prefix, message fields and place in the log.

    The parse of a message text is cached (grammar.parse_message) as an Event at line 0 without a time;
    each line that holds the text gets a copy placed at its line and time (at()).
    """

    kind: str
    driver: str | None = None
    device: str | None = None
    ifname: str | None = None
    regstate: str | None = None
    fields: Mapping[str, Any] = attrs.field(factory=dict)
    message: str = ""
    line: int = 0
    t: float | None = None
    domain: str = attrs.field(default="?", eq=False, repr=False)
    level: Level = attrs.field(default=None, eq=False, repr=False)  # type: ignore[assignment]

    def __attrs_post_init__(self) -> None:
        # derived once per parsed message ("?" and None: not given); at() hands them on to the placed copies
        if self.domain == "?":
            object.__setattr__(self, "domain", _domain_of(self))
        if self.level is None:
            object.__setattr__(self, "level", Level.of_kind(self.kind))

    @property
    def pci_domain(self) -> str | None:
        """Return the PCI domain (``cf63``) that this event's device or message names, if any."""
        return self.domain or None

    def at(self, line: int, t: float | None) -> "Event":
        """Return this event placed at *line* and time *t* (the cached parse of a message reused)."""
        return Event(self.kind, self.driver, self.device, self.ifname, self.regstate, self.fields, self.message,
                     line, t, self.domain, self.level)

    def get(self, name: str, default: Any = None) -> Any:
        """Return message field *name*, or *default* when the message has none."""
        return self.fields.get(name, default)



def _domain_of(event: Event) -> str:
    """Return the PCI domain (``cf63``) that an event's device or message names, if any."""
    for value in (event.fields.get("pci"), event.fields.get("bus"), event.device):
        if value and ":" in value and "-" not in value:
            return str(value).split(":", 1)[0]
    return ""
