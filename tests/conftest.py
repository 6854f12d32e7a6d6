"""Hypothesis profiles (a bounded run by default, a long fuzz run with VFLOG_FUZZ=1) and shared fixtures."""

from __future__ import annotations

import builtins
import os
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=True)
settings.register_profile("fuzz", deadline=None, suppress_health_check=list(HealthCheck), max_examples=5000)
settings.load_profile("fuzz" if os.environ.get("VFLOG_FUZZ") else "ci")


@pytest.fixture
def deny_reading(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], None]:
    """Return a function that makes opening a path fail with PermissionError, as a file mode does for a
    user (root ignores file modes, so the tests refuse the way the OS would)."""
    denied: set[str] = set()
    real_open = builtins.open

    def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path) in denied:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    return lambda path: denied.add(str(path))
