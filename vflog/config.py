"""Thresholds and limits that steer the findings; every one can be changed by the caller."""

from __future__ import annotations

import datetime

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
        changes: dict[str, float | int] = {}
        for name, text in settings.items():
            key = name.replace("-", "_")
            if key not in names:
                raise UsageError(f"unknown threshold {name!r}; known: {', '.join(sorted(names))}")
            kind = int if isinstance(getattr(self, key), int) and not isinstance(getattr(self, key), float) else float
            try:
                value = kind(text)
            except ValueError:
                raise UsageError(f"threshold {name} needs a number, not {text!r}") from None
            if value < 0:
                raise UsageError(f"threshold {name} cannot be negative")
            changes[key] = value
        return attrs.evolve(self, **changes)
