"""The clocks a time read from a log can be on."""

from __future__ import annotations

#: Kernel seconds since boot (dmesg stamps, /dev/kmsg, the journal's monotonic timestamps).
MONOTONIC = "monotonic"
#: Unix time read from a wall-clock prefix (syslog, ``dmesg --ctime``, ISO stamps).
WALL = "wall"
#: The year assumed for syslog stamps that carry none (a leap year, so Feb 29 exists); shown without a year.
NO_YEAR = 2000
