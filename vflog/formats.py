"""Turn the lines of any kernel-log format into records: message text, time and boot identity.

Plain text formats (dmesg in all its flavours, syslog, journalctl's short outputs, serial
console captures, pastes) keep their outer prefix; framing.py finds the driver message inside
it.  Structured formats give message and time explicitly and are decoded here, per line, so
files that mix formats work:

* ``dmesg --json`` (one object per line, or objects spread over several lines, also the
  unterminated stream of ``dmesg -w --json``),
* ``journalctl -o json`` (``MESSAGE`` as text or as a byte array, ``_BOOT_ID``,
  ``_SOURCE_MONOTONIC_TIMESTAMP`` / ``__MONOTONIC_TIMESTAMP``), and ``-o export`` (converted to
  the same JSON objects by input/export.py),
* ``/dev/kmsg`` records (``6,339,5140900,-;message`` with indented continuation lines),
* ``dmesg -H`` / ``-d`` relative stamps (``[  +0.113671]``), summed into a running clock,
* journal boot separators (``-- Reboot --``, ``-- Boot 5ba2... --``).

JSON is only decoded when the raw text could hold one of our messages.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterator, NamedTuple


from . import framing
from .framing import MONOTONIC, WALL, Stamp, clean_line

_KMSG = re.compile(r"^(\d+),(\d+),(\d+),[^;]*;(.*)$", re.S)
_DELTA = re.compile(r"^\s*\[\s*\+(\d+\.\d+)\]\s?")
_HUMAN = re.compile(r"^\s*\[([A-Z][a-z]{2})\s?(\d{1,2}) (\d\d):(\d\d)\]\s?")
_JOURNAL_MARK = re.compile(r"^-- (?:Reboot|Boot ([0-9a-f]{32})) --\s*$")
_BOOT_ID = re.compile(r'"_BOOT_ID"\s*:\s*"([0-9a-f]+)"')
_JSON_MONOTONIC = re.compile(r'"_SOURCE_MONOTONIC_TIMESTAMP" ?: ?"(\d{1,20})"')
_RFC5424 = re.compile(r"^<\d{1,3}>1 (\S+) (\S+) (\S+) (\S+) \S+ (?:-|\[.*?\]) ?(.*)$")
#: Raw JSON that may hold one of our messages although the anchor cannot see it yet.
_JSON_HINTS = ('"MESSAGE":[', '"MESSAGE": [', "systemd-networkd", "systemd-udevd", "NetworkManager")
_MULTILINE_LIMIT = 64


class Record(NamedTuple):
    """One log record: its first line number, its text, and time/boot the structure gave."""

    number: int
    text: str | None
    stamp: Stamp | None = None
    boot_id: str | None = None
    structured: bool = False
    filler: bool = False
    raw: str = ""


def plain_record(number: int, text: str) -> Record:
    """Return the record of plain text line *number*: its text, nothing decoded from a structure."""
    return Record(number, text)


def unrelated_record(number: int, line: str) -> Record | None:
    """Return the record of line *number*, one the fast search found no message in, as the rules need it
    (its time decoded later, from its text), or None when it has no content (blank, a bare bracket or
    elision mark, a /dev/kmsg continuation line)."""
    if "\x1b" in line or "\r" in line:
        line = clean_line(line)
    if len(line.strip()) <= 3 or line[:1] == " " and "=" in line and Reader.kmsg_continuation(line):
        return None
    return Record(number, line, raw=line)


def microseconds(value: object) -> float | None:
    """Return the seconds of a count of microseconds (an integer or its ASCII digits, at most 20), else None."""
    if isinstance(value, str) and 0 < len(value) <= 20 and value.isascii() and value.isdigit():
        return int(value) / 1e6
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**20:
        return value / 1e6
    return None


def _json_seconds(value: object, scale: float) -> float | None:
    """Return the seconds of a JSON number (``time`` or ``time_usec`` of dmesg --json) if finite and
    not negative, else None (JSON from the wild may hold NaN, Infinity, huge integers or booleans)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and not 0 <= value < 10**20:
        return None
    seconds = float(value) / scale
    return seconds if math.isfinite(seconds) and 0 <= seconds < framing.MAX_SECONDS else None


def _message_of(value: Any) -> str | None:
    """Return a journal MESSAGE given as text or as a list of bytes."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) for b in value):
        return bytes(b & 0xFF for b in value).decode("utf-8", errors="replace")
    return None


def _json_record(number: int, data: dict[str, Any], raw: str = "") -> Record | None:
    """Return the record of a decoded dmesg or journal JSON object (its text *raw* kept as the record's), or None
    when it is neither."""
    if "msg" in data:  # dmesg --json
        t = data.get("time", data.get("time_usec"))
        stamp = None
        if isinstance(t, str):
            stamp = framing.stamp(t)
        else:
            value = _json_seconds(t, 1e6 if "time" not in data and "time_usec" in data else 1)
            stamp = Stamp(value, MONOTONIC) if value is not None else None
        text = data.get("msg")
        return Record(number, text if isinstance(text, str) else None, stamp, structured=True, raw=raw)
    if "MESSAGE" in data:  # journalctl -o json / export
        text = _message_of(data.get("MESSAGE"))
        stamp = None
        for key in ("_SOURCE_MONOTONIC_TIMESTAMP", "__MONOTONIC_TIMESTAMP"):
            value = microseconds(data.get(key))
            if value is not None:
                stamp = Stamp(value, MONOTONIC)
                break
        wall = microseconds(data.get("__REALTIME_TIMESTAMP")) if stamp is None else None
        if wall is not None:
            stamp = Stamp(wall, WALL)
        ident = data.get("SYSLOG_IDENTIFIER")
        if isinstance(text, str) and isinstance(ident, str) and ident not in ("kernel", "") and not text.startswith(ident):
            pid = data.get("SYSLOG_PID") or data.get("_PID")
            text = f"{ident}[{pid}]: {text}" if pid else f"{ident}: {text}"
        boot = data.get("_BOOT_ID")
        return Record(number, text, stamp, boot if isinstance(boot, str) else None, structured=True, raw=raw)
    return None


def _json_stamp(number: int, raw: str) -> Stamp | None:
    """Return the time of JSON object *raw* (line *number*), read without decoding the object when it can be."""
    match = _JSON_MONOTONIC.search(raw)  # cheaper than decoding the whole object
    if match:
        return Stamp(int(match[1]) / 1e6, MONOTONIC)
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    decoded = _json_record(number, data) if isinstance(data, dict) else None
    return decoded.stamp if decoded is not None else None


class Reader:
    """Decode the lines of one input into records, detecting the format of each line."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._pending_number = 0
        self._clock: float | None = None
        self._clock_kind = MONOTONIC
        self._boot: str | None = None
        self._marks = 0

    def feed(self, number: int, line: str, candidate: bool = False) -> Iterator[Record]:
        """Yield the records that *line* completes (none while a multi-line object is open).

        *candidate* says the fast search (framing.candidates) already found a message of ours in it.
        """
        line = clean_line(line)
        if self._pending:
            yield from self._continue_json(number, line)
            return
        head = line.lstrip()[:1]
        if head == "{":
            yield from self._json_line(number, line, candidate)
            return
        if head == "-" and line.startswith("-- "):
            match = _JOURNAL_MARK.match(line)
            if match:
                self._marks += 1
                self._boot = match[1] or f"reboot-{self._marks}"
                yield Record(number, None, boot_id=self._boot, filler=True)
                return
        if head == "<" and line[2:5].find(">1 ") >= 0:
            match = _RFC5424.match(line)
            if match:
                stamp, host, app, pid, text = match.groups()
                tag = "kernel" if app == "kernel" else (f"{app}[{pid}]" if pid != "-" else app)
                yield Record(number, f"{stamp} {host} {tag}: {text}")
                return
        if head.isdigit():
            match = _KMSG.match(line)
            if match:
                value = microseconds(match[3])
                yield Record(number, match[4], Stamp(value, MONOTONIC) if value is not None else None, structured=True)
                return
        elif head == "[" and "+" in line[:16]:
            match = _DELTA.match(line)
            if match:
                delta = framing.seconds(match[1])
                clock = (self._clock or 0.0) + delta if delta is not None else framing.MAX_SECONDS
                stamp = None
                if clock < framing.MAX_SECONDS:  # a stamp that is not one gives no time, and leaves the clock
                    self._clock, stamp = clock, Stamp(clock, self._clock_kind)
                yield Record(number, line[match.end():], stamp, structured=True)
                return
        elif head == "[" and line[1:2].isalpha():
            match = _HUMAN.match(line)
            if match and match[1] in framing.MONTH_NUMBERS:
                base = framing.stamp(f" {match[1]} {match[2]} {match[3]}:{match[4]}:00 ")
                if base is not None:
                    # the date has minute resolution: keep the running clock while it agrees
                    if self._clock is None or self._clock_kind != WALL or not 0 <= self._clock - base.t < 60:
                        self._clock, self._clock_kind = base.t, WALL
                    yield Record(number, line[match.end():], Stamp(self._clock, WALL), structured=True)
                    return
        elif line[:1] == " " and "=" in line and self.kmsg_continuation(line):
            yield Record(number, None, filler=True)
            return
        yield Record(number, line)

    @property
    def pending(self) -> bool:
        """Whether a multi-line object (pretty-printed JSON) is open: the next lines belong to it."""
        return bool(self._pending)

    @staticmethod
    def reads_alone(line: str) -> bool:
        """Return whether a Reader with no object open reads *line* as it would after any other lines, and is left
        as it was: not a JSON line that leaves an object open, a journal boot mark, or a line whose stamp may be
        relative to a running clock (dmesg -H, -d)."""
        line = clean_line(line)
        head = line.lstrip()[:1]
        if head == "{":
            return line.strip().rstrip(",").endswith("}")
        if head == "-":
            return not line.startswith("-- ")
        return not (head == "[" and ("+" in line[:16] or line[1:2].isalpha()))

    @staticmethod
    def kmsg_continuation(line: str) -> bool:
        """Return whether *line* looks like a /dev/kmsg continuation (`` SUBSYSTEM=pci``)."""
        key = line.strip().split("=", 1)[0]
        return key.isupper() and key.replace("_", "").isalnum()

    def _json_line(self, number: int, line: str, candidate: bool = False) -> Iterator[Record]:
        text = line.strip().rstrip(",")
        if text.endswith("}"):
            yield self._decode(number, text, line, candidate)
            return
        if text.startswith("{") and text.endswith(("[", "{")) or text == "{":
            self._pending, self._pending_number = [text], number
            return
        yield Record(number, line)

    def _continue_json(self, number: int, line: str) -> Iterator[Record]:
        stripped = line.strip()
        if stripped.startswith("}") and stripped.endswith("{"):  # pretty-printed `},{`
            self._pending.append("}")
            yield from self._continue_json(number, "")
            self._pending, self._pending_number = ["{"], number
            return
        self._pending.append(stripped)
        joined = "".join(self._pending).rstrip(",")
        if joined.endswith("}") and joined.count("{") == joined.count("}"):
            self._pending = []
            yield self._decode(self._pending_number, joined, joined)
        elif joined.endswith("[") and '"dmesg"' in joined:  # {"dmesg": [  -- the records follow
            self._pending = []
            yield Record(self._pending_number, None, filler=True)
        elif len(self._pending) > _MULTILINE_LIMIT:
            pending, self._pending = self._pending, []
            for offset, text in enumerate(pending):
                yield Record(self._pending_number + offset, text)

    def _decode(self, number: int, text: str, raw: str, candidate: bool = False) -> Record:
        """Decode one JSON object, only when it could hold one of our messages."""
        if not candidate and framing.find_anchor(text) < 0 and "Linux version" not in text and \
                not any(hint in text for hint in _JSON_HINTS):  # kept undecoded: only its boot id is read
            boot = _BOOT_ID.search(text)
            return Record(number, None, boot_id=boot[1] if boot else None, structured=True, raw=text)
        try:
            data = json.loads(text)
        except ValueError:
            return Record(number, raw)
        if not isinstance(data, dict):
            return Record(number, raw)
        record = _json_record(number, data, text)
        return record if record is not None else Record(number, raw)

    @staticmethod
    def stamp_of(record: Record, tz: Any = None) -> Stamp | None:
        """Return the time of *record*, decoding it from the raw text only when asked (end of a boot)."""
        number, text, stamp, _, _, _, raw = record
        if stamp is not None:
            return stamp
        if raw[:1] == "{" or raw[:1].isspace() and raw.lstrip()[:1] == "{":  # a JSON object kept raw
            return _json_stamp(number, raw.strip().rstrip(","))
        text = text or raw
        if not text:
            return None
        if text[:1] == "[":  # plain dmesg stamp: no need to look for a driver message
            _, value = framing.dmesg_stamp(text)
            if value is not None:
                return Stamp(value, MONOTONIC)
        elif text[:1].isdigit():  # a /dev/kmsg record kept raw (an unrelated line of a fast block)
            match = _KMSG.match(text)
            value = microseconds(match[3]) if match else None
            if value is not None:
                return Stamp(value, MONOTONIC)
        framed = framing.frame(text)
        prefix = framed.prefix if framed is not None else text[:100]
        return framing.stamp(prefix, tz) if tz is not None else framing.stamp(prefix)

    def flush(self) -> Iterator[Record]:
        """Yield what is left of an unterminated multi-line object at the end of the input."""
        pending, self._pending = self._pending, []
        for offset, text in enumerate(pending):
            yield Record(self._pending_number + offset, text)
