"""Render a plain dmesg log into every format vflog reads (test helpers, not part of vflog).

Each converter takes the lines of a ``[%12.6f] message`` dmesg log and returns the same kernel
messages as another tool would have written them.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Callable, Iterator

_LINE = re.compile(r"^\[\s*(\d+\.\d+)\] (.*)$")
#: Wall-clock time of monotonic zero in the rendered logs.
BOOT_EPOCH = datetime.datetime(2026, 9, 3, 5, 8, 1, 250000, tzinfo=datetime.timezone.utc)
HOST = "vm-web-01"
BOOT_ID = "5ba2e3b7c0a94f8c9d1e2f3a4b5c6d7e"


def parse(text: str) -> Iterator[tuple[float, str]]:
    """Yield (monotonic seconds, message) of each dmesg line."""
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            yield float(match[1]), match[2]


def _wall(t: float) -> datetime.datetime:
    return BOOT_EPOCH + datetime.timedelta(seconds=t)


def _is_kernel(message: str) -> bool:
    return not re.match(r"^systemd(-\w+)?\[\d+\]:", message)


def _program(message: str) -> tuple[str, str]:
    """Split ``systemd-networkd[612]: text`` into (tag, text); kernel lines have the tag ``kernel``."""
    if _is_kernel(message):
        return "kernel", message
    tag, _, rest = message.partition(": ")
    return tag, rest


def dmesg(text: str) -> str:
    return "".join(f"[{t:12.6f}] {m}\n" for t, m in parse(text))


def dmesg_unpadded(text: str) -> str:
    return "".join(f"[{t:.6f}] {m}\n" for t, m in parse(text))


def dmesg_caller(text: str) -> str:
    return "".join(f"[{t:12.6f}] [    T{1 + i % 300}] {m}\n" for i, (t, m) in enumerate(parse(text)))


def dmesg_decode(text: str) -> str:
    return "".join(f"kern  :info  : [{t:12.6f}] {m}\n" for t, m in parse(text))


def dmesg_raw(text: str) -> str:
    return "".join(f"<6>[{t:12.6f}] {m}\n" for t, m in parse(text))


def dmesg_ctime(text: str) -> str:
    out = []
    for t, m in parse(text):
        w = _wall(t)
        out.append(f"[{w.strftime('%a %b')} {w.day:2d} {w.strftime('%H:%M:%S %Y')}] {m}\n")
    return "".join(out)


def dmesg_iso(text: str) -> str:
    return "".join(f"{_wall(t).strftime('%Y-%m-%dT%H:%M:%S,%f')}+00:00 {m}\n" for t, m in parse(text))


def dmesg_delta(text: str) -> str:
    out, last = [], 0.0
    for t, m in parse(text):
        out.append(f"[{t:12.6f} <{t - last:12.6f}>] {m}\n")
        last = t
    return "".join(out)


def dmesg_human(text: str) -> str:
    """``dmesg -H``: the date when the minute changes, otherwise the delta to the previous line."""
    out, last, minute = [], 0.0, None
    for t, m in parse(text):
        w = _wall(t)
        if minute != w.strftime("%H:%M"):
            minute = w.strftime("%H:%M")
            out.append(f"[{w.strftime('%b')}{w.day} {minute}] {m}\n")
        else:
            out.append(f"[  +{t - last:.6f}] {m}\n")
        last = t
    return "".join(out)


def no_timestamps(text: str) -> str:
    return "".join(f"{m}\n" for _, m in parse(text))


def dmesg_json(text: str) -> str:
    records = [json.dumps({"pri": 6, "time": round(t, 6), "msg": m}) for t, m in parse(text)]
    return '{\n   "dmesg": [\n      ' + ",\n      ".join(records) + "\n   ]\n}\n"


def dmesg_json_pretty(text: str) -> str:
    blocks = []
    for t, m in parse(text):
        blocks.append('      {\n         "pri": 6,\n         "time": %12.6f,\n         "msg": %s\n      }' % (t, json.dumps(m)))
    return '{\n   "dmesg": [\n' + ",".join(blocks) + "\n   ]\n}\n"


def dmesg_follow_json(text: str) -> str:
    """``dmesg -w --json`` is never closed: objects one per line, no closing brackets."""
    return '{\n   "dmesg": [\n' + "".join("      " + json.dumps({"pri": 6, "time": t, "msg": m}) + ",\n"
                                         for t, m in parse(text))


def kmsg(text: str) -> str:
    out = []
    for i, (t, m) in enumerate(parse(text)):
        out.append(f"6,{339 + i},{int(round(t * 1e6))},-;{m}\n")
        if m.startswith("mlx5_core "):
            out.append(" SUBSYSTEM=pci\n DEVICE=+pci:" + m.split()[1].rstrip(":") + "\n")
    return "".join(out)


def _journal_short(text: str, stamp: Callable[[float], str], host: bool = True) -> str:
    out = []
    for t, m in parse(text):
        tag, rest = _program(m)
        out.append(f"{stamp(t)} {HOST + ' ' if host else ''}{tag}: {rest}\n")
    return "".join(out)


def journal_short(text: str) -> str:
    return _journal_short(text, lambda t: _wall(t).strftime("%b %d %H:%M:%S"))


def journal_short_nohost(text: str) -> str:
    return _journal_short(text, lambda t: _wall(t).strftime("%b %d %H:%M:%S"), host=False)


def journal_short_precise(text: str) -> str:
    return _journal_short(text, lambda t: _wall(t).strftime("%b %d %H:%M:%S.%f"))


def journal_short_iso(text: str) -> str:
    return _journal_short(text, lambda t: _wall(t).strftime("%Y-%m-%dT%H:%M:%S+0000"))


def journal_short_iso_precise(text: str) -> str:
    return _journal_short(text, lambda t: _wall(t).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"))


def journal_short_monotonic(text: str) -> str:
    return _journal_short(text, lambda t: f"[{t:12.6f}]")


def journal_short_full(text: str) -> str:
    return _journal_short(text, lambda t: _wall(t).strftime("%a %Y-%m-%d %H:%M:%S UTC"))


def _journal_entries(text: str, as_bytes: bool = False) -> Iterator[dict[str, object]]:
    for t, m in parse(text):
        tag, rest = _program(m)
        entry: dict[str, object] = {
            "__REALTIME_TIMESTAMP": str(int(_wall(t).timestamp() * 1e6)),
            "__MONOTONIC_TIMESTAMP": str(int(t * 1e6) + 1234),
            "_BOOT_ID": BOOT_ID,
            "PRIORITY": "6",
            "_HOSTNAME": HOST,
            "SYSLOG_IDENTIFIER": tag.split("[")[0],
            "MESSAGE": list(rest.encode()) if as_bytes else rest,
        }
        if tag == "kernel":
            entry["_TRANSPORT"] = "kernel"
            entry["_SOURCE_MONOTONIC_TIMESTAMP"] = str(int(round(t * 1e6)))
        else:
            entry["SYSLOG_PID"] = tag.split("[")[1].rstrip("]")
            entry["_TRANSPORT"] = "journal"
        yield entry


def journal_json(text: str) -> str:
    return "".join(json.dumps(e) + "\n" for e in _journal_entries(text))


def journal_json_bytes(text: str) -> str:
    return "".join(json.dumps(e) + "\n" for e in _journal_entries(text, as_bytes=True))


def journal_export(text: str) -> bytes:
    out = bytearray()
    for i, entry in enumerate(_journal_entries(text)):
        out += f"__CURSOR=s=abc;i={i}\n".encode()
        for key, value in entry.items():
            data = str(value).encode()
            if key == "MESSAGE" and i % 3 == 0:  # binary-safe form for some entries
                out += key.encode() + b"\n" + len(data).to_bytes(8, "little") + data + b"\n"
            else:
                out += key.encode() + b"=" + data + b"\n"
        out += b"\n"
    return bytes(out)


def syslog_rfc3164(text: str) -> str:
    return journal_short(text)


def syslog_rfc3164_nohost(text: str) -> str:
    return journal_short_nohost(text)


def syslog_rfc5424(text: str) -> str:
    out = []
    for t, m in parse(text):
        tag, rest = _program(m)
        app = tag.split("[")[0]
        pid = tag.split("[")[1].rstrip("]") if "[" in tag else "-"
        out.append(f"<6>1 {_wall(t).strftime('%Y-%m-%dT%H:%M:%S.%f')}+00:00 {HOST} {app} {pid} - - {rest}\n")
    return "".join(out)


def rsyslog_precise(text: str) -> str:
    out = []
    for t, m in parse(text):
        tag, rest = _program(m)
        stamp = f"[{t:12.6f}] " if tag == "kernel" else ""
        out.append(f"{_wall(t).strftime('%Y-%m-%dT%H:%M:%S.%f')}+00:00 {HOST} {tag}: {stamp}{rest}\n")
    return "".join(out)


def appliance(text: str) -> str:
    """An appliance's /var/log/messages: ISO stamp, level, facility, `kernel:[` with no space."""
    out = []
    for t, m in parse(text):
        out.append(f"{_wall(t).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]} INFO   kern   kernel:[{t:12.6f}] {m}\n\n")
    return "".join(out)


def serial_console(text: str) -> str:
    """A serial console capture: CRLF, colour codes, systemd and cloud-init lines in between."""
    out = []
    for i, (t, m) in enumerate(parse(text)):
        out.append(f"[{t:12.6f}] {m}\r\n")
        if i % 7 == 3:
            out.append("[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mNetwork Name Resolution\x1b[0m.\r\n")
        if i % 11 == 5:
            out.append(f"[{t:12.6f}] cloud-init[1034]: Cloud-init v. 23.4 running 'init' at Thu, 03 Sep 2026.\r\n")
    return "".join(out)


def quoted(text: str) -> str:
    return "".join(f"> [{t:12.6f}] {m}\n" for t, m in parse(text))


def indented(text: str) -> str:
    return "".join(f"    [{t:12.6f}] {m}\n" for t, m in parse(text))


def foreign_prefix(text: str) -> str:
    return "".join(f"[2026-09-03 05:50:31.887 DetailedFileSystemDebugInfo I] [{t:12.6f}] {m}\n" for t, m in parse(text))


#: Every text converter, by the name of the format it writes.
TEXT_FORMATS: dict[str, Callable[[str], str]] = {
    name: fn for name, fn in globals().items()
    if callable(fn) and getattr(fn, "__module__", None) == __name__ and fn.__annotations__.get("return") == "str"
    and name not in ("parse",) and not name.startswith("_")
}
