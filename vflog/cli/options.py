"""The options the sub-commands share: their types and checks, the analysis settings they ask for, exit statuses."""

from __future__ import annotations

import argparse
import enum
import math
import shutil
from typing import Mapping

from ..config import Config
from ..errors import UsageError
from ..input import Limits, Selection
from ..render import Display


#: The one-line help of each sub-command in the command list of ``vflog --help``, in its order (the same whether
#: or not the sub-command's options are defined).
HELP = {
    "report": "per-NIC verdicts and findings (the default command)",
    "events": "one JSON object per recognised line (JSON Lines), printed as the log is read",
    "follow": "watch a live log (dmesg -w, journalctl -kf) and print each change",
    "timeline": "draw each boot's NICs as lanes over time: data path, findings, time axis",
    "explain": "what a finding code means, why it happens, what to check",
    "check": "the VM's present state (or a sosreport's) judged with its kernel log",
    "scan": "analyse many logs in parallel (files, directories, globs, archives, URLs) and summarise",
}


class ExitStatus(enum.IntEnum):
    """Exit statuses of the vflog command (a documented contract); SIGTERM and SIGHUP exit 128 + the signal (143, 129)."""

    OK = 0
    FINDINGS = 1
    ERROR = 2
    INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see vflog --help)")


def thresholds(values: list[str]) -> dict[str, str]:
    settings = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep:
            raise UsageError(f"--threshold needs NAME=VALUE, not {value!r}")
        settings[name.strip()] = number.strip()
    return settings


def input_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that say how inputs are read."""
    parser.add_argument("--include", action="append", default=[], metavar="GLOB",
                        help="in directories and archives, read the members matching GLOB (default: the kernel logs)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="in directories and archives, never read members matching GLOB")
    parser.add_argument("--tz", default="UTC", metavar="ZONE",
                        help="time zone of wall-clock times that carry no offset (default: UTC)")
    parser.add_argument("--max-bytes", type=_size, default=Limits().max_bytes, metavar="SIZE",
                        help="stop decompressing an input beyond SIZE (e.g. 4G, 500M; default 4G)")
    parser.add_argument("--max-ratio", type=_ratio, default=Limits().max_ratio, metavar="N",
                        help="stop an input that expands more than N times its compressed size (default 200)")
    parser.add_argument("--max-depth", type=_count, default=Limits().max_depth, metavar="N",
                        help="archives nested deeper than N are skipped (default 3)")


def jobs_option(parser: argparse.ArgumentParser) -> None:
    """Add --jobs: how many processes read one big plain file (default: every core for 8 MB or more)."""
    parser.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                        help="read a big plain log file (not stdin, compressed or an archive) on N processes; the "
                             "report is the same as with 1 (default: every core for files of 8 MB or more, else 1)")


def _jobs(text: str) -> int:
    """Parse a number of processes: a whole number of at least 1."""
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"needs at least 1 process, not {text!r}")
    return value


def _size(text: str) -> int:
    """Parse 4G, 500M, 64K or a plain number of bytes (finite, not negative)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().rstrip("B")
    try:
        size = int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if size < 0:
        raise argparse.ArgumentTypeError(f"a size cannot be negative: {text!r}")
    return size


def _number(text: str) -> float:
    """Parse a finite number that is not negative (NaN, infinities and negative values are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"needs a finite number that is not negative, not {text!r}")
    return value


def _ratio(text: str) -> float:
    """Parse a finite expansion ratio greater than zero."""
    value = _number(text)
    if value == 0:
        raise argparse.ArgumentTypeError("needs a ratio greater than 0")
    return value


def _count(text: str) -> int:
    """Parse a whole number that is not negative."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative: {text!r}")
    return value


#: The shortest pause between looks at a followed file (``--poll 0`` means this, not a busy loop).
MIN_POLL = 0.05


def poll_seconds(text: str) -> float:
    """Parse --poll seconds: finite and not negative; below MIN_POLL (0 included) means MIN_POLL."""
    return max(_number(text), MIN_POLL)


def settings(args: argparse.Namespace) -> tuple[Config, Selection, Limits]:
    """Return the analysis settings, the member selection and the input limits the options ask for."""
    config = Config(tz=args.tz).with_settings(thresholds(args.threshold))
    config.tzinfo()
    limits = Limits(max_bytes=args.max_bytes, max_ratio=args.max_ratio, max_depth=args.max_depth)
    return config, Selection(tuple(args.include), tuple(args.exclude)), limits


def display_options(parser: argparse.ArgumentParser) -> None:
    """Add --color (auto: colour only on a terminal and without NO_COLOR)."""
    parser.add_argument("--color", "--colour", choices=("auto", "always", "never"), default="auto",
                        help="colour the text output: auto (on a terminal, unless NO_COLOR is set), always or never")


def _is_terminal(stream: object) -> bool:
    """Return whether *stream* (or the stream it wraps) is a terminal."""
    for candidate in (stream, getattr(stream, "stream", None), getattr(stream, "_stream", None)):
        isatty = getattr(candidate, "isatty", None)
        try:
            if isatty is not None and isatty():
                return True
        except (OSError, ValueError):
            continue
    return False


def display_for(args: argparse.Namespace, stream: object, env: Mapping[str, str], to_file: bool = False) -> Display:
    """Return how human text is shown on *stream*.

    Colour: ``--color always``, or ``auto`` on a terminal without ``NO_COLOR`` (never in a file or pipe).
    Width: a positive ``COLUMNS`` wins; else the terminal's size; else (pipes, files) no limit, so
    scripts reading the output are unaffected.
    """
    terminal = not to_file and _is_terminal(stream)
    choice = getattr(args, "color", "auto")
    color = choice == "always" or (choice == "auto" and terminal and not env.get("NO_COLOR"))
    return Display(width=_width(env, terminal), color=color)


def _width(env: Mapping[str, str], terminal: bool) -> int | None:
    """Return the width to render for: COLUMNS when it is a positive number, the terminal's, or None."""
    columns = env.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if terminal:
        return shutil.get_terminal_size((80, 24)).columns
    return None
