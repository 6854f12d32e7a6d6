"""Option values and Config fields are checked: NaN, infinities, negative values and wrong types are refused."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from vflog.cli import ExitStatus, main
from vflog.config import Config
from vflog.errors import UsageError

LOG = str(Path(__file__).resolve().parents[1] / "samples" / "normal-boot.log")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), {}, out, err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv", [
    ["follow", "--poll", "-1", LOG], ["follow", "--poll", "nan", LOG], ["follow", "--poll", "inf", LOG],
    ["report", "--threshold", "readd_max=nan", LOG], ["report", "--threshold", "readd_max=inf", LOG],
    ["report", "--threshold", "readd_max=-5", LOG], ["report", "--threshold", "flap_allowed=1e400", LOG],
    ["report", "--max-depth", "-1", LOG], ["report", "--max-ratio", "nan", LOG],
    ["report", "--max-ratio", "-2", LOG], ["report", "--max-ratio", "0", LOG], ["report", "--max-ratio", "inf", LOG],
    ["report", "--max-bytes", "-1", LOG], ["report", "--max-bytes", "infG", LOG], ["report", "--max-bytes", "nanM", LOG],
    ["events", "--max-depth", "-3", LOG], ["scan", "--max-ratio", "nan", LOG],
    ["scan", "--threshold", "outage_max=nan", LOG],
])
def test_bad_option_values_are_usage_errors(argv: list[str]) -> None:
    """Negative, NaN and infinite values of --poll, --threshold, --max-depth, --max-ratio, --max-bytes: usage error, exit 2."""
    status, out, err = run(*argv)
    assert status == ExitStatus.ERROR and out == ""
    assert err.startswith("vflog: usage error:") and "Traceback" not in err and "internal error" not in err


def test_good_option_values_still_work() -> None:
    """Zero depth, a whole ratio, a size with a unit and a fractional threshold are accepted."""
    status, out, err = run("report", "--max-depth", "0", "--max-ratio", "50", "--max-bytes", "1.5M",
                           "--threshold", "readd_max=0.5", LOG)
    assert status == ExitStatus.OK and "eth0" in out, err


@pytest.mark.parametrize("fields", [{"readd_max": "600"}, {"flap_allowed": 2.5}, {"readd_max": True},
                                    {"max_nics": None}, {"tz": 0}])
def test_config_refuses_values_of_the_wrong_type(fields: dict) -> None:
    """Config(readd_max="600") and friends are TypeErrors that name the field and what it takes."""
    name = next(iter(fields))
    with pytest.raises(TypeError, match=f"Config.{name} must be"):
        Config(**fields)


@pytest.mark.parametrize("fields", [{"readd_max": math.nan}, {"outage_max": math.inf}, {"synthetic_max": -1.0},
                                    {"max_boots": -1}])
def test_config_refuses_negative_and_non_finite_numbers(fields: dict) -> None:
    """NaN, infinities and negative numbers are refused with a UsageError (a ValueError)."""
    with pytest.raises(UsageError, match="Config."):
        Config(**fields)


def test_config_takes_whole_seconds_and_text_settings_by_the_fields_kind() -> None:
    """A whole number is a valid time in seconds; text settings convert by the field's kind, not the current value's."""
    config = Config(readd_max=600)
    assert config.readd_max == 600
    assert config.with_settings({"readd_max": "1.5"}).readd_max == 1.5
    with pytest.raises(UsageError, match="finite"):
        config.with_settings({"readd_max": "nan"})
