"""Hypothesis profiles: a bounded run by default (CI), a long fuzz run with VFLOG_FUZZ=1."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=True)
settings.register_profile("fuzz", deadline=None, suppress_health_check=list(HealthCheck), max_examples=5000)
settings.load_profile("fuzz" if os.environ.get("VFLOG_FUZZ") else "ci")
