"""Find the kernel message inside a raw log line and read the time its outer prefix gives."""

from __future__ import annotations

import datetime
import re

from typing import Iterator, NamedTuple


#: Where a message of one of our drivers starts, after any outer prefix.
ANCHOR = re.compile(
    r"""(?:^|(?<=[\s\]>:"]))(?=
        hv_netvsc(?:\ (?:[0-9a-fA-FxX]{8}-|vmbus_\d|uuid\b|<\w+>)|:\ )
      | hv_pci\ (?:[0-9a-fA-FxX]{8}-|uuid\b|<\w+>)
      | hv_vmbus:\ 
      | pci(?:_bus)?\ (?!0000:)[0-9a-fA-FxX]{4,8}:
      | (?:mlx5_core|mlx4_core|mlx4_en|mana)(?:\ [0-9a-fA-FxX]{4,8}:|:\ )
      | Linux\ version\ 
      | Copyright\ \(c\)\ \d{4}-\d{4}\ The\ FreeBSD\ Project\.
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
      | hn\d+:\ 
      | (?:mce|mlxen)\d+:\ link\ state
      | systemd-networkd\[\d+\]:\ \S+:\ (?:Link\ (?:UP|DOWN)|Gained\ carrier|Lost\ carrier|Configuring\ with|DHCPv[46]\ address)
      | NetworkManager\[\d+\]:\ .{0,60}?(?:device\ \(\S+\):\ (?:state\ change|Activation)|manager:\ \(\S+\):\ new\ Ethernet\ device)
    )""",
    re.X,
)

_MONOTONIC = re.compile(r"\[\s*(\d+\.\d+)(?:\s*<\s*[\d.]+>)?\]")
#: Month abbreviations as syslog and dmesg print them, and their numbers.
MONTH_NUMBERS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_CTIME = re.compile(
    r"\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})\]"
)
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?"
)
_BSD = re.compile(r"(?:^|\s)([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?\s")

MONOTONIC = "monotonic"
WALL = "wall"


class Stamp(NamedTuple):
    """A point in time read from a line prefix, and which clock it is on."""

    t: float
    clock: str


class Framed(NamedTuple):
    """A raw line split into its outer prefix and the kernel message (and the time of a plain dmesg stamp)."""

    prefix: str
    message: str
    stamp: Stamp | None = None


_tuple = tuple.__new__
#: Text after a dmesg stamp -> the message it holds, or None (messages repeat: storms, flapping).
_after_stamp: dict[str, str | None] = {}
_AFTER_STAMP_LIMIT = 1 << 12


def frame(raw: str) -> Framed | None:
    """Split *raw* at the start of a driver message, or return None for an unrelated line.

    A plain dmesg prefix (``[  12.345678] ``) is read on the way: its time is the Framed's stamp.
    """
    if raw[:1] == "[":  # dmesg: try right after the stamp first, then anywhere
        close = raw.find("] ")
        if close > 0:
            rest = raw[close + 2:]
            message = _after_stamp.get(rest, "")
            if message == "":  # the anchor looks only ahead, so its verdict on the same text holds
                message = rest.rstrip() if ANCHOR.match(raw, close + 2) else None
                if len(_after_stamp) >= _AFTER_STAMP_LIMIT:
                    _after_stamp.clear()
                _after_stamp[rest] = message
            if message is not None:
                inside = raw[1:close]
                try:  # (tuple.__new__ builds the NamedTuples without their Python-level __new__)
                    seconds = _tuple(Stamp, (float(inside), MONOTONIC)) if "[" not in inside else None
                except ValueError:
                    seconds = None
                return _tuple(Framed, (raw[: close + 2], message, seconds))
    match = ANCHOR.search(raw)
    if match is None:
        return None
    start = match.start()
    return Framed(raw[:start], raw[start:].rstrip())


def _month(name: str) -> int | None:
    return MONTH_NUMBERS.get(name)


#: The year assumed for syslog stamps that carry none (a leap year, so Feb 29 exists).
NO_YEAR = 2000


def _epoch(parts: tuple[int, int, int, int, int, int], fraction: str | None, tz: datetime.tzinfo) -> float:
    """Return Unix time of a calendar time read in *tz* (offsets found in the text win)."""
    when = datetime.datetime(*parts, tzinfo=tz)
    t = when.timestamp()
    return t + float("0." + fraction) if fraction else t


def stamp(prefix: str, tz: datetime.tzinfo = datetime.timezone.utc) -> Stamp | None:
    """Return the innermost time the outer prefix carries: monotonic seconds before wall clock.

    Wall-clock times without an offset in the text are read in *tz* (UTC unless told).
    """
    if prefix[:1] == "[" and prefix.endswith("] ") and prefix.count("[") == 1:  # plain dmesg
        try:
            return Stamp(float(prefix[1:-2]), MONOTONIC)
        except ValueError:
            pass
    found = _MONOTONIC.findall(prefix)
    if found:
        return Stamp(float(found[-1]), MONOTONIC)
    best: tuple[int, float] | None = None
    try:
        for match in _CTIME.finditer(prefix):
            month = _month(match[1])
            if month:
                parts = (int(match[6]), month, int(match[2]), int(match[3]), int(match[4]), int(match[5]))
                best = (match.start(), _epoch(parts, None, tz))
        for match in _ISO.finditer(prefix):
            if best is not None and match.start() < best[0]:
                continue
            zone = match[8]
            zone_info = tz
            if zone == "Z":
                zone_info = datetime.timezone.utc
            elif zone:
                sign = 1 if zone[0] == "+" else -1
                minutes = int(zone[1:3]) * 60 + int(zone[-2:])
                zone_info = datetime.timezone(sign * datetime.timedelta(minutes=minutes))
            parts = tuple(int(match[i]) for i in range(1, 7))
            best = (match.start(), _epoch(parts, match[7], zone_info))  # type: ignore[arg-type]
        if best is None:
            match = _BSD.search(prefix)
            month = _month(match[1]) if match else None
            if match and month:
                parts = (NO_YEAR, month, int(match[2]), int(match[3]), int(match[4]), int(match[5]))
                best = (match.start(), _epoch(parts, match[6], tz))
    except ValueError:  # a date that does not exist (Feb 30, hour 25): no time rather than a wrong one
        return None
    return Stamp(best[1], WALL) if best else None


# -- fast candidate search over whole blocks of text -----------------------------------------
#
# Calling ANCHOR on every line costs microseconds; most lines of a kernel log are unrelated.
# For the common text layouts a regex that starts with a literal finds the few lines that may
# hold one of our messages in one C-speed pass over a block of text.  Each pattern is a
# superset of what ANCHOR accepts in that layout; the lines it finds go through the normal
# per-line path, so a false candidate costs only time.

#: How our messages (and the kernel lines around them) start, as regex fragments.
_KEY_WORDS = (r"hv_(?:netvsc|pci|vmbus)", r"mlx[45]", "mana[ :]", "pci", "Linux version", r"Copyright \(c\) \d{4}-\d{4} The FreeBSD", r"systemd-(?:udevd|networkd)",
              "NetworkManager", "WARNING: CPU", "BUG: ", "Oops", "Call Trace", "RIP: ", "general prot",
              "Modules linked", r"hn\d", r"mce\d", r"mlxen\d", r"---\[ end")
#: One of the words; a look at the first character first lets most lines fail at once.
_KEYS = "(?=[" + re.escape("".join(sorted({w[0] for w in _KEY_WORDS}))) + "])(?:" + "|".join(_KEY_WORDS) + ")"
#: A stack frame (``? func+0x1a/0x20``) may stand anywhere after a stamp: found from its ``+``.
_FRAME = re.compile(r"\+0x[0-9a-f]+/0x")
#: A stack frame at the start of a message (where a pattern already stops for other reasons).
_FRAME_START = r" *\?? *[\w.$]+\+0x"
#: User-space programs whose lines about interfaces we read.
_USERSPACE_WORDS = ("systemd-udevd", "systemd-networkd", "NetworkManager")
#: Layout name -> the literal-led patterns whose matches mark candidate lines (the first finds most).
LAYOUT_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "dmesg": (re.compile(r"\] " + _KEYS),),
    "syslog": (re.compile(r": (?:\[[ \d.]+\] ?)?" + _KEYS), re.compile(r":\[[ \d.]+\] ?" + _KEYS),
               re.compile(" (?:" + "|".join(_USERSPACE_WORDS) + r")\["), re.compile(r"-- (?:Reboot|Boot) ")),
    # JSON: the message key leads (see _json_candidates)
    "json": (),
}
_STRUCTURED = re.compile(r"^(?:\d+,\d+,\d+,[^;]*;|\s*\[\s*\+\d|\s*\[[A-Z][a-z]{2}\s?\d|<\d{1,3}>1 |-- )")
_DMESG_LINE = re.compile(r"^\s*(?:<\d+>)?(?:[a-z]+\s*:[a-z]+\s*: )?\[")
_SYSLOG_LINE = re.compile(r"^\S.{0,60}? kernel:")


def layout(sample: str) -> str | None:
    """Return the text layout of a block ("dmesg", "syslog", "json") whose fast search finds every
    line the per-line search finds in its first lines, or None (read line by line)."""
    lines = sample.split("\n", 2000)[:2000]
    content = [line for line in lines if line.strip()]
    if not content or any(_STRUCTURED.match(line) for line in content[:400]):
        return None
    shapes = {
        "json": sum(line.lstrip().startswith("{") for line in content) > len(content) * 0.9,
        "dmesg": sum(bool(_DMESG_LINE.match(line)) for line in content) > len(content) * 0.9,
        "syslog": sum(bool(_SYSLOG_LINE.match(line)) for line in content) > len(content) * 0.5,
    }
    wanted = {i for i, line in enumerate(lines) if ANCHOR.search(line)}
    head = "\n".join(lines)
    for kind, shaped in shapes.items():
        if not shaped:
            continue
        found, number, position = set(), 0, 0
        for start in candidates(head, kind):  # ascending: count the line ends between neighbours only
            number += head.count("\n", position, start)
            position = start
            found.add(number)
        if wanted <= found:
            return kind
    return None


#: A message key, then one of our message starts (or a byte-array message).  The regex engine skips
#: to the first character of a literal lead one character at a time: ``GE"`` (the key checked
#: behind it) is rarer in journal JSON than the quote every field starts with, and than the ``A``
#: of its many ``TIMESTAMP`` keys (about 8 % faster over the benchmark's journal).
_JSON_PATTERNS = {
    '"MESSAGE"': re.compile(r'GE"(?<="MESSAGE") ?: ?(?:"(?:' + _KEYS + "|" + _FRAME_START + r')|\[)'),
    '"msg"': re.compile(r'"msg" ?: ?"(?:' + _KEYS + "|" + _FRAME_START + ")"),
}


def _json_candidates(block: str) -> list[int]:
    """Return the line starts of JSON records whose message may be ours (or from udev/networkd/NM)."""
    starts: set[int] = set()
    find, rfind = block.find, block.rfind
    for key, pattern in _JSON_PATTERNS.items():  # a block may hold journal and dmesg records alike
        if key in block:
            starts.update(rfind("\n", 0, match.start()) + 1 for match in pattern.finditer(block))
    for word in _USERSPACE_WORDS:  # rare in kernel logs: plain searches skip through the block
        index = find(word)
        while index >= 0:
            starts.add(rfind("\n", 0, index) + 1)
            index = find(word, index + len(word))
    return sorted(starts)


def _frames(block: str) -> Iterator[int]:
    """Yield where stack frames stand in *block*: '+' is rare in kernel logs and found at memchr
    speed, where a regex would step through the block character by character."""
    find, match = block.find, _FRAME.match
    index = find("+")
    while index >= 0:
        if match(block, index):
            yield index
        index = find("+", index + 1)


def candidates(block: str, kind: str) -> list[int]:
    """Return the start offsets (in *block*) of the lines that may hold one of our messages."""
    if kind == "json":
        return _json_candidates(block)
    first, *others = LAYOUT_PATTERNS[kind]
    rfind = block.rfind
    starts, last = [], -1
    for match in first.finditer(block):  # matches come in order: a line matched twice is kept once
        start = rfind("\n", 0, match.start()) + 1
        if start != last:
            starts.append(start)
            last = start
    found = {rfind("\n", 0, match.start()) + 1 for pattern in others for match in pattern.finditer(block)}
    found.update(rfind("\n", 0, index) + 1 for index in _frames(block))
    return sorted(found.union(starts)) if found else starts
