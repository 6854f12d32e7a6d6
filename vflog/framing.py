"""Find the kernel message inside a raw log line and read the time its outer prefix gives."""

from __future__ import annotations

import calendar
import re

import attrs

#: Where a message of one of our drivers starts, after any outer prefix.
ANCHOR = re.compile(
    r"""(?:^|(?<=[\s\]>:]))(?=
        hv_netvsc(?:\ [0-9a-f]{8}-|\ vmbus_\d|:\ )
      | hv_pci\ [0-9a-f]{8}-
      | hv_vmbus:\ 
      | pci(?:_bus)?\ (?!0000:)[0-9a-f]{4,8}:
      | (?:mlx5_core|mlx4_core|mlx4_en|mana)(?:\ [0-9a-f]{4,8}:|:\ )
      | Linux\ version\ 
      | pci_create\ slot\ 
      | systemd-udevd\[\d+\]:\ (?:\S+:\ Failed\ to\ rename|error\ changing\ net\ interface\ name)
      | WARNING:\ CPU:
      | BUG:\ 
      | Oops:\ 
      | general\ protection\ fault
      | Call\ Trace:
      | Modules\ linked\ in:
      | RIP:\ 
      | (?:\?\ )?[\w.$]+\+0x[0-9a-f]+/0x[0-9a-f]+
      | ---\[\ end\ trace
    )""",
    re.X,
)

_MONOTONIC = re.compile(r"\[\s*(\d+\.\d+)\]")
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
_CTIME = re.compile(
    r"\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})\]"
)
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?"
)
_BSD = re.compile(r"(?:^|\s)([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?\s")

MONOTONIC = "monotonic"
WALL = "wall"


@attrs.frozen
class Stamp:
    """A point in time read from a line prefix, and which clock it is on."""

    t: float
    clock: str


@attrs.frozen
class Framed:
    """A raw line split into its outer prefix and the kernel message."""

    prefix: str
    message: str


def frame(raw: str) -> Framed | None:
    """Split *raw* at the start of a driver message, or return None for an unrelated line."""
    match = ANCHOR.search(raw)
    if match is None:
        return None
    start = match.start()
    return Framed(raw[:start], raw[start:].rstrip())


def _month(name: str) -> int | None:
    return _MONTHS.get(name)


def stamp(prefix: str) -> Stamp | None:
    """Return the innermost time the outer prefix carries: monotonic seconds before wall clock."""
    found = _MONOTONIC.findall(prefix)
    if found:
        return Stamp(float(found[-1]), MONOTONIC)
    best: tuple[int, float] | None = None
    for match in _CTIME.finditer(prefix):
        month = _month(match[1])
        if month:
            t = calendar.timegm((int(match[6]), month, int(match[2]), int(match[3]), int(match[4]), int(match[5])))
            best = (match.start(), float(t))
    for match in _ISO.finditer(prefix):
        if best is not None and match.start() < best[0]:
            continue
        t = float(calendar.timegm(tuple(int(match[i]) for i in range(1, 7)) + (0, 0, 0)))
        if match[7]:
            t += float("0." + match[7])
        zone = match[8]
        if zone and zone != "Z":
            sign = -1 if zone[0] == "+" else 1
            hours, minutes = int(zone[1:3]), int(zone[-2:])
            t += sign * (hours * 3600 + minutes * 60)
        best = (match.start(), t)
    if best is None:
        match = _BSD.search(prefix)
        if match and _month(match[1]):
            t = float(calendar.timegm((1970, _month(match[1]), int(match[2]), int(match[3]), int(match[4]), int(match[5]))))
            if match[6]:
                t += float("0." + match[6])
            best = (match.start(), t)
    return Stamp(best[1], WALL) if best else None
