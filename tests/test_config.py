"""Tests of vflog.config: thresholds from text, with clear errors."""

from __future__ import annotations

import datetime

import pytest

from vflog.config import Config
from vflog.errors import UsageError


def test_settings_replace_named_thresholds() -> None:
    """Text values become numbers of the threshold's type."""
    config = Config().with_settings({"readd_max": "600", "flap-allowed": "5"})
    assert config.readd_max == 600.0 and config.flap_allowed == 5 and isinstance(config.flap_allowed, int)


@pytest.mark.parametrize(("settings", "message"), [
    ({"nope": "1"}, "unknown threshold"),
    ({"readd_max": "soon"}, "needs a number"),
    ({"readd_max": "-1"}, "cannot be negative"),
])
def test_bad_settings_are_usage_errors(settings: dict[str, str], message: str) -> None:
    """A wrong name or value is a UsageError (also a ValueError) that says what is wrong."""
    with pytest.raises(UsageError, match=message) as info:
        Config().with_settings(settings)
    assert isinstance(info.value, ValueError)


def test_time_zones() -> None:
    """UTC by default, IANA names accepted, unknown names refused."""
    assert Config().tzinfo() is datetime.timezone.utc
    assert str(Config(tz="Europe/Berlin").tzinfo()) == "Europe/Berlin"
    with pytest.raises(UsageError, match="unknown time zone"):
        Config(tz="Mars/Olympus").tzinfo()
