"""Thresholds and limits that steer the findings; every one can be changed by the caller."""

from __future__ import annotations

import datetime
import math
from typing import Any

import attrs

from .errors import UsageError


@attrs.frozen
class Config:
    """Time thresholds (seconds) and resource limits of one analysis."""

    slot_to_device: float = 30.0
    device_to_driver: float = 30.0
    driver_to_register: float = 30.0
    register_to_datapath: float = 30.0
    association_max: float = 30.0
    synthetic_max: float = 60.0
    readd_max: float = 300.0
    outage_max: float = 300.0
    flap_window: float = 300.0
    flap_allowed: int = 3
    trace_window: float = 5.0
    boot_regression: float = 1.0
    timeline_limit: int = 1000
    unrecognised_limit: int = 1000
    max_nics: int = 512
    max_boots: int = 1000
    max_findings_per_code: int = 200
    detail_limit: int = 10000
    tz: str = "UTC"

    def __attrs_post_init__(self) -> None:
        """Check every field: TypeError for a value of the wrong type, UsageError for a negative or non-finite one."""
        for field in attrs.fields(Config):
            _check(field.name, getattr(self, field.name), field.default)

    def tzinfo(self) -> datetime.tzinfo:
        """Return the time zone that wall-clock times without an offset are read in."""
        if self.tz.upper() in ("UTC", "Z"):
            return datetime.timezone.utc
        import zoneinfo  # only for a named zone (its import costs start-up time)

        try:
            return zoneinfo.ZoneInfo(self.tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"unknown time zone {self.tz!r} (use a name such as Europe/Berlin or UTC)") from None

    def with_settings(self, settings: dict[str, str]) -> "Config":
        """Return a copy with the named thresholds replaced by the given textual values."""
        names = {f.name: f for f in attrs.fields(Config) if f.name != "tz"}
        changes: dict[str, Any] = {}
        for name, text in settings.items():
            key = name.replace("-", "_")
            if key not in names:
                raise UsageError(f"unknown threshold {name!r}; known: {', '.join(sorted(names))}")
            kind = int if isinstance(names[key].default, int) else float
            try:
                value = kind(text)
            except ValueError:
                raise UsageError(f"threshold {name} needs a number, not {text!r}") from None
            if not math.isfinite(value):
                raise UsageError(f"threshold {name} needs a finite number, not {text!r}")
            if value < 0:
                raise UsageError(f"threshold {name} cannot be negative")
            changes[key] = value
        return attrs.evolve(self, **changes)


def _check(name: str, value: object, default: object) -> None:
    """Raise TypeError unless *value* has the kind of *default*; UsageError when a number is negative or not finite.

    A whole number is accepted for a time in seconds; ``True``/``False`` and numbers in strings are not numbers.
    """
    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError(f"Config.{name} must be a str, not {type(value).__name__}")
        return
    kinds: tuple[type, ...] = (int,) if isinstance(default, int) else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        wanted = "a whole number" if kinds == (int,) else "a number of seconds (int or float)"
        raise TypeError(f"Config.{name} must be {wanted}, not {type(value).__name__} {value!r}")
    if not math.isfinite(value):  # type: ignore[arg-type]
        raise UsageError(f"Config.{name} must be finite, not {value!r}")
    if value < 0:  # type: ignore[operator]
        raise UsageError(f"Config.{name} cannot be negative, not {value!r}")
