"""Allow ``python -m vflog``."""

from .cli import run

run()
