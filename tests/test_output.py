"""`--output FILE` never clobbers what is at the path: devices and FIFOs are written through, regular
files (and symlink targets) are replaced atomically with their mode kept, temporary files are
exclusive and never left behind.  One implementation (vflog/output.py) serves `report` and `scan`.
"""

from __future__ import annotations

import io
import os
import stat
import threading
from pathlib import Path

import pytest

from vflog.cli import main
from vflog.output import OutputError, output_to

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
LOG = str(SAMPLES / "normal-boot.log")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), {}, out, err), out.getvalue(), err.getvalue()


def _device(tmp_path: Path, name: str, minor: int) -> Path:
    """Return /dev/NAME (memory device *minor*), or as root a private node of it in *tmp_path*.

    As root a regression would replace the machine's own device, so root tests on a node of its own.
    """
    if os.geteuid() != 0:
        return Path("/dev") / name
    node = tmp_path / name
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    return node


@pytest.mark.parametrize("command", [["report"], ["scan", "-q"]])
def test_output_to_a_device_writes_through_it(tmp_path: Path, command: list[str]) -> None:
    """`-o /dev/null` writes into the device: it stays a character device (report and scan alike)."""
    device = _device(tmp_path, "null", 3)
    status, out, err = run(*command, "-o", str(device), LOG)
    assert status == 0, err
    assert out == "" and stat.S_ISCHR(os.stat(device).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["null"] if device.parent == tmp_path else [])


@pytest.mark.parametrize("command", [["report"], ["scan", "-q", "--format", "jsonl"]])
def test_output_to_a_fifo_writes_through_it(tmp_path: Path, command: list[str]) -> None:
    """A FIFO given as -o stays a FIFO, and its reader receives the whole output."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    status, _, err = run(*command, "-o", str(fifo), LOG)
    reader.join(timeout=20)
    assert status == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert b"enP53091s1np0" in received[0]


@pytest.mark.parametrize("command", [["report"], ["scan", "-q"]])
def test_output_through_a_symlink_replaces_its_target(tmp_path: Path, command: list[str]) -> None:
    """A symlink given as -o stays a symlink; the regular file it points to gets the output."""
    target = tmp_path / "real.txt"
    target.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    status, _, err = run(*command, "-o", str(link), LOG)
    assert status == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert "old" not in target.read_text() and "eth0" in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "real.txt"]


@pytest.mark.parametrize("command", [["report"], ["scan", "-q"]])
def test_output_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path, command: list[str]) -> None:
    """An existing 0600 output stays 0600 after it is replaced; a new one gets 0666 less the umask."""
    private = tmp_path / "private.txt"
    private.write_text("old\n")
    private.chmod(0o600)
    assert run(*command, "-o", str(private), LOG)[0] == 0
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and "eth0" in private.read_text()
    mask = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.txt"
        assert run(*command, "-o", str(fresh), LOG)[0] == 0
    finally:
        os.umask(mask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640


def test_a_symlink_planted_at_the_old_temporary_name_is_not_followed(tmp_path: Path) -> None:
    """The temporary file's name is unpredictable and created exclusively: a planted `.NAME.PID.tmp` is left alone."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = tmp_path / f".out.txt.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    status, _, err = run("report", "-o", str(tmp_path / "out.txt"), LOG)
    assert status == 0, err
    assert victim.read_text() == "precious\n" and planted.is_symlink()
    assert "eth0" in (tmp_path / "out.txt").read_text()


def test_a_failed_output_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    """When the text cannot be produced, the old file stays as it was and the temporary file is removed."""
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with output_to(target, io.StringIO()) as stream:
            stream.write("half of it")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_output_errors_name_the_reason(tmp_path: Path) -> None:
    """A directory, a missing directory and a full device are one clear message each, exit 2."""
    status, _, err = run("report", "-o", str(tmp_path), LOG)
    assert status == 2 and "is a directory" in err and tmp_path.is_dir()
    status, _, err = run("report", "-o", str(tmp_path / "no" / "r.txt"), LOG)
    assert status == 2 and "cannot be written (No such file or directory)" in err
    full = _device(tmp_path, "full", 7)
    status, _, err = run("report", "-o", str(full), LOG)
    assert status == 2 and f"{full}: cannot be written (No space left on device)" in err
    assert stat.S_ISCHR(os.stat(full).st_mode)
    with pytest.raises(OutputError):
        with output_to(tmp_path, io.StringIO()):
            pass
