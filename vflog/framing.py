"""Find the kernel message inside a raw log line and read the time its outer prefix gives.

Longer than 400 lines because each line layout's prefix reader sits next to its fast candidate pattern,
so a layout is changed in one place.
"""

from __future__ import annotations

import datetime
import functools
import re

from typing import Iterator, NamedTuple

from .clock import MONOTONIC, NO_YEAR, WALL  # re-exported: the clocks of a Stamp
from .drivers import BSD_DRIVERS, BUS, DRIVERS, HOST_DOMAIN, PCI_CORE, SYNTHETIC


#: Where a device id stands in a prefix: a VMBus GUID (or vmbus_N), a PCI address or bus.  Ids may be
#: redacted (``uuid``, ``<GUID>``, ``<device-guid>``, ``{vmbus-id}``, ``XXXXXXXX-...``, ``xxxx:00:02.0``) or upper-case.
_GUID_ID = r"(?:[0-9a-fA-FxX]{8}-|vmbus_\d|uuid\b|<[\w-]+>|\{[\w-]+\})"
_PCI_ID = r"[0-9a-fA-FxX]{4,8}:"


def _driver_starts() -> str:
    """Return the anchor's alternatives for the registry's drivers (drivers.py), by their prefix shape."""
    starts = []
    for driver in DRIVERS.values():
        name = re.escape(driver.name)
        if driver.vmbus_client:  # a VMBus device: `<name> <GUID>: ` (and `<name>: ` for pr_* lines)
            starts.append(rf"{name}\ {_GUID_ID}" + (rf"|{name}:\ " if "pr" in driver.shapes else ""))
        elif driver.role == BUS:  # the VMBus core: pr_* lines only
            starts.append(rf"{name}:\ ")
        elif driver.role == PCI_CORE:  # the PCI core names the device (the host's own domain is no vPCI bus)
            starts.append(rf"{name}\ (?!{HOST_DOMAIN}:){_PCI_ID}")
        else:  # a VF driver: the PCI device, or its own `<name>: ` lines
            starts.append(rf"{name}(?:\ {_PCI_ID}|:\ )")
    for driver in BSD_DRIVERS.values():  # FreeBSD's if_printf: `<name><unit>: `
        name = re.escape(driver.name)
        starts.append(rf"{name}\d+:\ " if driver.role == SYNTHETIC else rf"{name}\d+:\ link\ state")
    return "\n      | ".join(starts)


#: The message starts the anchor knows, but stack frames (regex source, verbose): the registry's
#: drivers, the boot banners, kernel traces and the user-space programs whose lines we read.
_STARTS = r"""
        """ + _driver_starts() + r"""
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
      | ---\[\ end\ trace
      | systemd-networkd\[\d+\]:\ \S+:\ (?:Link\ (?:UP|DOWN)|Gained\ carrier|Lost\ carrier|Configuring\ with|DHCPv[46]\ address|Interface\ name\ change\ detected)
      | NetworkManager\[\d+\]:\ .{0,60}?(?:device\ \(\S+\):\ (?:state\ change|Activation)|manager:\ \(\S+\):\ new\ Ethernet\ device)
"""
#: A stack frame (``? func+0x1a/0x20``), the only start that needs ``+0x``.
_FRAME_START_RE = r"(?:\?\ )?[\w.$]+\+0x[0-9a-f]+/0x[0-9a-f]+"
#: The characters that may stand before a message start, and the first characters of _STARTS.
_BEFORE = r"""[\s\]>:"]"""
#: _BEFORE with its white space spelt out (what ``\s`` matches in text), which the regex engine scans
#: through from a table instead of asking for each character's Unicode category.
_BEFORE_CHARS = frozenset(" \t\n\r\f\v\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000]>:\""
                           + "".join(map(chr, range(0x2000, 0x200B))))
_BEFORE_LISTED = "[ \t\n\r\f\v\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\\]>:\"]"
#: The first characters of _STARTS (the drivers' names, then the fixed starts: Linux, Copyright, pci_create,
#: systemd, WARNING, BUG, Oops, general, Call, Modules, RIP, ---, NetworkManager).
_FIRST = "[" + re.escape("".join(sorted({name[0] for name in (*DRIVERS, *BSD_DRIVERS)} | set("LCpsWBOgMRN-")))) + "]"
#: Where a message of one of our drivers starts, after any outer prefix.
ANCHOR = re.compile(r"(?:^|(?<=" + _BEFORE + r"))(?=" + _STARTS + "|" + _FRAME_START_RE + ")", re.X)
#: A character that may stand before a message start, then one (stack frames left out): the regex
#: engine skips from one such character to the next instead of trying the anchor at every position.
_AFTER_BEFORE = re.compile(_BEFORE_LISTED + r"(?=" + _FIRST + r")(?=" + _STARTS + ")", re.X)
#: A message start right here (stack frames left out: their ``[\w.$]+`` would run through a long word).
_STARTS_HERE = re.compile(r"(?=" + _STARTS + ")", re.X)


def starts_at(raw: str, position: int) -> bool:
    """Return whether ANCHOR matches *raw* at *position* (the full anchor only on lines with ``+0x``)."""
    if "+0x" in raw:
        return ANCHOR.match(raw, position) is not None
    return (position == 0 or raw[position - 1] in _BEFORE_CHARS) and _STARTS_HERE.match(raw, position) is not None


def find_anchor(raw: str) -> int:
    """Return where ANCHOR.search(raw) matches (the start of our message in *raw*), or -1, faster:
    the full anchor runs only on lines with a stack frame's ``+0x``."""
    if "+0x" in raw:
        match = ANCHOR.search(raw)
        return match.start() if match else -1
    if _STARTS_HERE.match(raw):
        return 0
    match = _AFTER_BEFORE.search(raw)
    return match.start() + 1 if match else -1


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



class Stamp(NamedTuple):
    """A point in time read from a line prefix, and which clock it is on."""

    t: float
    clock: str


class Framed(NamedTuple):
    """A raw line split into its outer prefix and the kernel message (and the time of a plain dmesg stamp)."""

    prefix: str
    message: str
    #: The seconds of a plain dmesg stamp (``[  12.345678] ``), None without one.
    seconds: float | None = None

    @property
    def stamp(self) -> Stamp | None:
        """Return the time of the plain dmesg stamp (kernel seconds since boot), None without one."""
        return Stamp(self.seconds, MONOTONIC) if self.seconds is not None else None


#: How many distinct texts after a dmesg stamp the memo of message starts keeps (messages repeat: storms, flapping).
_MEMO_SIZE = 1 << 12
#: The longest text the memo keeps (kernel messages are at most about 1 KiB; a 1 MiB line is not kept).
_MEMO_TEXT = 4096


#: A terminal escape sequence (CSI, OSC to its terminator or the line end, or two characters); never a line end.
_ESCAPES = re.compile(r"\x1b(?:\[[0-9;?<=>]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def without_escapes(text: str) -> str:
    """Return *text* (one line or a block of lines) without terminal escape sequences; the lines stay the
    same lines (a sequence never spans a line end), so a block cleaned at once equals its lines cleaned."""
    return _ESCAPES.sub("", text) if "\x1b" in text else text


def clean_line(line: str) -> str:
    """Return *line* without terminal escape sequences, and only what follows its last carriage return."""
    if "\x1b" in line:
        line = _ESCAPES.sub("", line)
    if "\r" in line:
        line = line.rsplit("\r", 1)[-1] if not line.endswith("\r") else line.rstrip("\r")
    return line


#: The text of a dmesg stamp's seconds.
_STAMP_TEXT = re.compile(r" *([0-9]+\.[0-9]+)")
#: Seconds beyond this are not a kernel's uptime (also keeps infinity and NaN out of every report).
MAX_SECONDS = 1e12


def seconds(text: str) -> float | None:
    """Return the seconds a dmesg stamp's text gives (``  12.345678``: ASCII digits, a dot, digits, finite),
    else None: ``nan``, ``inf``, ``1e308``, ``1_000.5``, ``-5.0`` and the like are not stamps."""
    match = _STAMP_TEXT.fullmatch(text)
    if match is None:
        return None
    value = float(match[1])
    return value if value < MAX_SECONDS else None


#: A leading dmesg stamp of seconds (the common case of dmesg_stamp, read by one match).
_SECONDS_STAMP = re.compile(r"\[( *[0-9]+\.[0-9]+)\] ")


def dmesg_stamp(line: str) -> tuple[int, float | None]:
    """Return where the text after a leading ``[seconds] `` stamp of *line* starts and the seconds it gives
    (None when the brackets hold no seconds); (-1, None) when *line* does not start with ``[...] ``."""
    if line[:1] != "[":
        return -1, None
    match = _SECONDS_STAMP.match(line)  # the brackets hold no "] ": they close where the stamp does
    if match is not None:
        value = float(match[1])
        return match.end(), value if value < MAX_SECONDS else None
    close = line.find("] ")
    if close < 0:
        return -1, None
    return close + 2, seconds(line[1:close])


def frame(raw: str) -> Framed | None:
    """Split *raw* at the start of a driver message, or return None for an unrelated line.

    A plain dmesg prefix (``[  12.345678] ``) is read on the way: its seconds are the Framed's.
    """
    start, value = dmesg_stamp(raw)
    if start >= 0:  # dmesg: try right after the stamp first, then anywhere
        rest = raw[start:]
        message = _message_after_stamp(rest) if len(rest) <= _MEMO_TEXT else message_at_start(rest)
        if message is not None:
            return Framed(raw[:start], message, value)
    start = find_anchor(raw)
    if start < 0:
        return None
    return Framed(raw[:start], raw[start:].rstrip())


def message_at_start(text: str) -> str | None:
    """Return the driver message that *text* (what follows a dmesg stamp) is, or None when it starts none."""
    return text.rstrip() if starts_at(text, 0) else None


@functools.lru_cache(maxsize=_MEMO_SIZE)
def _message_after_stamp(text: str) -> str | None:
    """Return message_at_start(text), remembered per distinct text (the anchor looks only ahead: its verdict holds)."""
    return message_at_start(text)


def _month(name: str) -> int | None:
    return MONTH_NUMBERS.get(name)




def _epoch(parts: tuple[int, int, int, int, int, int], fraction: str | None, tz: datetime.tzinfo) -> float:
    """Return Unix time of a calendar time read in *tz* (offsets found in the text win)."""
    when = datetime.datetime(*parts, tzinfo=tz)
    t = when.timestamp()
    return t + float("0." + fraction) if fraction else t


def stamp(prefix: str, tz: datetime.tzinfo = datetime.timezone.utc) -> Stamp | None:
    """Return the innermost time the outer prefix carries: monotonic seconds before wall clock.

    Wall-clock times without an offset in the text are read in *tz* (UTC unless told).
    """
    if prefix.endswith("] ") and prefix.count("[") == 1:  # plain dmesg
        _, value = dmesg_stamp(prefix)
        if value is not None:
            return Stamp(value, MONOTONIC)
    found = _MONOTONIC.findall(prefix)
    value = seconds(found[-1]) if found else None
    if value is not None:
        return Stamp(value, MONOTONIC)
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
            parts = (int(match[1]), int(match[2]), int(match[3]), int(match[4]), int(match[5]), int(match[6]))
            best = (match.start(), _epoch(parts, match[7], zone_info))
        if best is None:
            bsd = _BSD.search(prefix)
            month = _month(bsd[1]) if bsd else None
            if bsd and month:
                parts = (NO_YEAR, month, int(bsd[2]), int(bsd[3]), int(bsd[4]), int(bsd[5]))
                best = (bsd.start(), _epoch(parts, bsd[6], tz))
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
#: Lookbehinds: a user-space program's `` name[`` ends right here (tried after a ``[``).
_PROGRAM_WORDS = "|".join(rf"(?<=\ {re.escape(word)}\[)" for word in _USERSPACE_WORDS)
#: Layout name -> the literal-led patterns whose matches mark candidate lines (the first finds most).
LAYOUT_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "dmesg": (re.compile(r"\] " + _KEYS),),
    # A key word after ``: `` or ``:`` and up to two ``[...]`` groups (the kernel's stamp, the journal's): the
    # bracketed forms all end in ``[...]`` or ``[...] `` right before it, found from the ``[``, which stands
    # about once a line where ``: `` stands several times (a pattern led by ``: `` would read the brackets
    # at every stop); the same stops find a program's `` name[`` (see _PROGRAM_WORDS).
    "syslog": (re.compile(r"\[(?:[^\]\n]*+\] ?" + _KEYS + "|" + _PROGRAM_WORDS + ")"), re.compile(": " + _KEYS)),
    "kmsg": (re.compile(";" + _KEYS),),  # the message follows the record's ';'
    # JSON: the message key leads (see _json_candidates)
    "json": (),
}

# -- line shapes: which lines the fast search of a layout reads as the per-line path does ------
#
# A layout's candidate patterns only hold for lines of its shape, and only lines the Reader
# passes on unchanged may be skipped.  Every block is checked against the shape in one C-speed
# pass (the regex engine skips from line end to line end); the lines that do not fit go through
# the per-line path.

#: A journal program field whose message the syslog patterns find: ``kernel:`` or ``name[pid]:``.
_PROGRAM = r"(?:kernel|[^\s\[\]]{1,64}\[\d{1,10}\]):"
#: Layout -> how its lines start (a regex), for lines the Reader passes on unchanged.
_SHAPES = {
    # [seconds] (tried first: most lines), also indented, -T, -r, -x; not the [Mon d hh:mm] stamps of -H, nor
    # its [  +delta] stamps (those lines hold a '+': see misfits), which the Reader turns into a clock
    "dmesg": r"\[[ \d]|[ \t]+\[|\[[A-Z][a-z]{2} [A-Z]|<\d{1,3}>\[|[a-z]{2,8} *:[a-z]{2,8} *: \[",
    # RFC 3164 / journal short(-precise, -full, -iso, -monotonic) / rsyslog: a date, a host, a program
    # (the ISO date of dmesg --time-format iso, with its comma, is not syslog: no program field)
    "syslog": (r"[A-Z][a-z]{2} [ \d]\d \d\d:|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?!,)|[A-Z][a-z]{2} \d{4}-"
               r"|\[ *\d+\.\d+\] \S{1,255} " + _PROGRAM),
    "kmsg": r"\d+,\d+,\d+,[^;\n]*;| [ \t]*[A-Z0-9_]*[A-Z][A-Z0-9_]*=",
    "json": r"[ \t]*\{",  # and the object closes on its line (see misfits)
}
#: A line that starts like a line of any layout (its own stamp or prefix), in any of their shapes.
_SHAPED = re.compile("|".join(f"(?:{shape})" for shape in _SHAPES.values()))


def continuation(line: str) -> str | None:
    """Return the text of *line* (stripped) when it may continue a wrapped line before it, else None: a
    continuation is not blank and carries nothing of its own, neither the start of a layout's line (a
    dmesg stamp, a syslog or journal prefix, a kmsg record, a JSON object) nor a time nor a driver message."""
    text = line.strip()
    if not text or _SHAPED.match(line) or stamp(line) is not None or find_anchor(line) >= 0:
        return None
    return text


#: Layout -> a line end whose next line does not start like the layout's lines (blank lines fit).
_MISFIT = {kind: re.compile(r"\n(?!" + shape + r"|\n|\Z)") for kind, shape in _SHAPES.items()}
#: Layout -> the shape, to check the first line of a block.
_FITS = {kind: re.compile(shape + r"|\n|\Z") for kind, shape in _SHAPES.items()}
#: The line end of a JSON line that does not close its object (``{`` of a pretty-printed object).
_JSON_OPEN_END = re.compile(r"\n(?<![},]\n)")
#: A dmesg-shaped line whose message follows a host and program (``journalctl -o short-monotonic``).
_HOSTED = re.compile(r"\[[^\]\n]{1,64}\] \S{1,255} " + _PROGRAM + " ")
_HOSTED_LINES = re.compile(r"\n(?=" + _HOSTED.pattern + ")")
#: The start of a line with a relative stamp (dmesg -H, -d without the absolute time).
_DELTA_START = re.compile(r"\s*\[\s*\+")
#: Characters the Reader acts on inside a line (carriage returns; blocks lose their escapes first).
_REWRITTEN = ("\x1b", "\r")
#: Layouts in the order they are preferred when several fit a sample equally well.
LAYOUTS = ("dmesg", "syslog", "kmsg", "json")
#: How much of a block the layout choice looks at.
_SAMPLE_LINES = 2000
_SAMPLE_CHARS = 1 << 18


def _lines_with(block: str, char: str) -> Iterator[int]:
    """Yield the start of each line of *block* that holds *char* (found at memchr speed)."""
    find, rfind = block.find, block.rfind
    index = find(char)
    while index >= 0:
        yield rfind("\n", 0, index) + 1
        end = find("\n", index)
        if end < 0:
            return
        index = find(char, end)


def misfits(block: str, kind: str) -> list[int]:
    """Return the start offsets (ascending) of the lines of *block* that the fast search of layout
    *kind* may not read as the per-line path does: lines of another shape, or that the Reader rewrites."""
    starts = [] if _FITS[kind].match(block) else [0]
    starts.extend(match.end() for match in _MISFIT[kind].finditer(block))
    if kind == "json":  # an object that does not close on its line continues on the next ones
        rfind = block.rfind
        starts.extend(rfind("\n", 0, match.start()) + 1 for match in _JSON_OPEN_END.finditer(block)
                      if match.start() > 0)
        if block and not block.endswith("\n") and not block.rstrip().endswith(("}", ",")):
            starts.append(rfind("\n") + 1)
    elif kind == "dmesg":
        if "+" in block:  # '+' is rare: the lines holding one are checked for a [  +delta] stamp
            starts.extend(start for start in _lines_with(block, "+") if _DELTA_START.match(block, start))
        if _hosted_sample(block):
            starts.extend(match.end() for match in _HOSTED_LINES.finditer(block))
            if _HOSTED.match(block):
                starts.append(0)
    for char in _REWRITTEN:
        if char in block:
            starts.extend(start for start in _lines_with(block, char) if not _fits_cleaned(block, start, kind))
    return sorted(set(starts)) if len(starts) > 1 else starts


def _fits_cleaned(block: str, start: int, kind: str) -> bool:
    """Return whether the line at *start*, once the Reader has cleaned it (escapes, carriage returns),
    fits text layout *kind* and holds no message (then it may be skipped like any unrelated line)."""
    if kind not in ("dmesg", "syslog"):
        return False
    end = block.find("\n", start)
    line = clean_line(block[start:end] if end >= 0 else block[start:])
    return bool(_FITS[kind].match(line)) and find_anchor(line) < 0


def _hosted_sample(block: str) -> bool:
    """Return whether the first or the last line of *block* is a journal line in dmesg shape (a host
    and program before the message), so that its lines must be looked at one by one for it."""
    last = block.rfind("\n", 0, len(block) - 1) + 1
    return bool(_HOSTED.match(block) or _HOSTED.match(block, last))


def _sample(block: str) -> str:
    """Return the first lines of *block*: at most _SAMPLE_LINES lines and about _SAMPLE_CHARS characters."""
    end = block.find("\n", _SAMPLE_CHARS)
    head = block if end < 0 else block[: end + 1]
    cut = -1
    for _ in range(_SAMPLE_LINES):
        cut = head.find("\n", cut + 1)
        if cut < 0:
            return head
    return head[: cut + 1]


def _line_numbers(block: str, starts: list[int]) -> set[int]:
    """Return the 0-based line numbers of the ascending line starts *starts* in *block*."""
    numbers, number, position = set(), 0, 0
    for start in starts:
        number += block.count("\n", position, start)
        position = start
        numbers.add(number)
    return numbers


def layout(sample: str) -> str | None:
    """Return the layout whose fast search reads the start of block *sample* as the per-line path
    does, or None (read it line by line).

    The layout with the fewest misfits wins, if at most half the lines are misfits and its
    candidates and misfits hold every line in which the per-line anchor finds a message.
    """
    head = _sample(sample)
    if not head.strip():
        return None
    count = head.count("\n") + (not head.endswith("\n"))
    odd = {kind: misfits(head, kind) for kind in LAYOUTS}
    wanted: set[int] | None = None
    for kind in sorted(LAYOUTS, key=lambda kind: len(odd[kind])):
        if len(odd[kind]) * 2 > count:
            return None
        if wanted is None:
            wanted = {i for i, line in enumerate(head.split("\n")) if find_anchor(line) >= 0}
        if wanted <= _line_numbers(head, sorted(set(candidates(head, kind)).union(odd[kind]))):
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
        starts.update(_word_lines(block, word))
    return sorted(starts)


def _word_lines(block: str, word: str) -> Iterator[int]:
    """Yield the start of each line of *block* where *word* stands (a line as often as it stands there)."""
    find, rfind = block.find, block.rfind
    index = find(word)
    while index >= 0:
        yield rfind("\n", 0, index) + 1
        index = find(word, index + len(word))


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
