"""The Dask engine exits cleanly: SIGTERM and SIGHUP end its workers and leave no scratch space behind."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                                reason="dask.distributed is not installed (pip install 'vflog[dask]')")

WORKTREE = Path(__file__).resolve().parents[1]
LOG = (WORKTREE / "samples" / "host-servicing.log").read_bytes()
SCRATCH_NAMES = ("dask-scratch-space", "dask-worker-space")


def _descendants(pid: int) -> dict[int, bytes]:
    """Return the live processes below *pid* (children, grandchildren...) with their command lines, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(") ", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: dict[int, bytes] = {}
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier and child not in found}
        for child in frontier:
            try:
                found[child] = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                found[child] = b""
    return found


def _alive(pids: set[int]) -> set[int]:
    """Return those of *pids* that still run (a zombie or a vanished process does not)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _fleet(tmp_path: Path, count: int) -> Path:
    """Write *count* logs big enough that scanning them all takes several seconds."""
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    for index in range(count):
        (fleet / f"vm{index}.log").write_bytes(LOG * 12)
    return fleet


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
@pytest.mark.parametrize(("signum", "moment"), [(signal.SIGTERM, "running"), (signal.SIGHUP, "starting")])
def test_terminating_a_dask_scan_ends_its_workers_and_removes_its_scratch_space(tmp_path: Path, signum: int,
                                                                                moment: str) -> None:
    """SIGTERM/SIGHUP on `scan --engine dask --jobs 2`, while the cluster starts or runs: exit 128+signal promptly,
    no worker or other child left, no dask scratch directory under TMPDIR or the working directory, no traceback
    and no 'leaked semaphore' warning."""
    fleet = _fleet(tmp_path, 120)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, PYTHONPATH=str(WORKTREE), TMPDIR=str(temp))
    env.pop("DASK_TEMPORARY_DIRECTORY", None)
    proc = subprocess.Popen([sys.executable, "-m", "vflog", "scan", "--engine", "dask", "--jobs", "2", "-q",
                             "--format", "json", str(fleet)], cwd=WORKTREE, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: dict[int, bytes] = {}
    deadline = time.monotonic() + 30
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            seen.update(_descendants(proc.pid))
            workers = [pid for pid, line in seen.items() if b"spawn_main" in line]
            if moment == "starting" and workers:
                break
            if moment == "running" and len(list(temp.rglob("worker-*"))) >= 2:
                time.sleep(1.0)
                break
            time.sleep(0.02)
        seen.update(_descendants(proc.pid))
        assert proc.poll() is None, "the scan ended before it could be signalled"
        signalled = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signum, err
    assert elapsed < 15
    assert b"terminated by SIG" in err and b"Traceback" not in err and b"leaked semaphore" not in err, err
    assert any(b"spawn_main" in line for line in seen.values()), "no Dask worker process was ever seen"
    give_up = time.monotonic() + 5
    while _alive(set(seen)) and time.monotonic() < give_up:
        time.sleep(0.1)
    assert not _alive(set(seen))
    assert not [p.name for p in temp.iterdir() if not p.name.endswith(".lark")]
    assert not [name for name in SCRATCH_NAMES if (WORKTREE / name).exists()]


def test_a_dask_scan_leaves_no_scratch_space_in_the_temporary_directory(tmp_path: Path, monkeypatch) -> None:
    """A finished `scan(engine="dask")` on its own LocalCluster leaves nothing in the temporary directory
    (its scratch space is private, not the shared `dask-scratch-space`, and removed at the end)."""
    from vflog.fleet.engines import scan

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.delenv("DASK_TEMPORARY_DIRECTORY", raising=False)
    results = list(scan([str(_fleet(tmp_path, 3))], engine="dask", jobs=2))
    assert len(results) == 3
    assert not [p.name for p in temp.iterdir() if not p.name.endswith(".lark")]
