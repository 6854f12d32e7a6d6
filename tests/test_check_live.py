"""``vflog check``'s live facts: /dev/kmsg, the journal, ip -j addr, cloud-init, nmcli, and how programs are run."""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import time
from pathlib import Path

import pytest

from vflog.check import check, check_facts, gather_facts
from vflog.check import tree as tree_module
from vflog.check.gather import NMCLI_LIVE, gather, parse_ip_json
from vflog.check.save import save
from vflog.check.tree import LiveTree, TarTree, program, run_bounded
from vflog.cli import main

from .check_trees import DMESG_VF, GUID, MAC, VF_NAME, Vm, live_tree, sos_tree, tarball


def _kmsg(dmesg: str) -> str:
    """Return *dmesg* as /dev/kmsg gives it: ``pri,seq,usec,flags;text`` records with a continuation line."""
    records = []
    for seq, line in enumerate(dmesg.splitlines()):
        stamp, _, text = line.partition("] ")
        usec = round(float(stamp.strip("[ ")) * 1_000_000)
        records.append(f"6,{seq},{usec},-;{text}\n" + (" SUBSYSTEM=net\n DEVICE=n2\n" if "hv_netvsc" in text else ""))
    return "".join(records)


def _journal(dmesg: str) -> str:
    """Return *dmesg* as ``journalctl -k -b -o json`` prints it: one object per line."""
    lines = []
    for line in dmesg.splitlines():
        stamp, _, text = line.partition("] ")
        lines.append(json.dumps({"_BOOT_ID": "6a1f0c2d9e8b4f7a8c3d2e1f0a9b8c7d", "_TRANSPORT": "kernel",
                                 "_SOURCE_MONOTONIC_TIMESTAMP": str(round(float(stamp.strip("[ ")) * 1_000_000)),
                                 "MESSAGE": text, "PRIORITY": "6", "SYSLOG_IDENTIFIER": "kernel"}))
    return "\n".join(lines) + "\n"


def _files_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the live tree read command outputs from its fake root (as sos names them) instead of running them."""
    monkeypatch.setattr(LiveTree, "command", tree_module.DirTree.command)


def _run(*argv: str) -> tuple[int, str, str]:
    """Run vflog with *argv*; return its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), env={}, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


# -- the kernel log --------------------------------------------------------------------------


def test_kmsg_is_read_first_on_the_live_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live, /dev/kmsg's records are the kernel log (before the journal and dmesg) and give the same data path."""
    _files_only(monkeypatch)
    root = live_tree(tmp_path, Vm(dmesg="[    0.000000] Linux version (a dmesg that is not read)\n"))
    (root / "dev").mkdir()
    (root / "dev/kmsg").write_text(_kmsg(DMESG_VF), encoding="utf-8")
    result = check_facts(gather(LiveTree(root), interval=0))
    assert result.kernel_log == "/dev/kmsg"
    assert [(n.key, n.on_vf, n.log_datapath) for n in result.nics] == [(GUID, True, "vf")]


def test_kmsg_reading_stops_when_nothing_more_is_there(tmp_path: Path) -> None:
    """A non-blocking read of a device that has no more records now (EAGAIN) returns what it had, never waits."""
    reader, writer = os.pipe()
    os.set_blocking(reader, False)
    try:
        os.write(writer, b"6,1,5,-;hv_vmbus: registering driver hv_netvsc\n")
        assert tree_module._read_records(reader) == b"6,1,5,-;hv_vmbus: registering driver hv_netvsc\n"
    finally:
        os.close(reader)
        os.close(writer)


def test_a_fifo_as_kmsg_is_refused(tmp_path: Path) -> None:
    """dev/kmsg that is a FIFO in a fake root is neither a device nor a file: refused, never waited on."""
    (tmp_path / "dev").mkdir()
    os.mkfifo(tmp_path / "dev/kmsg")
    text, why = LiveTree(tmp_path).records("dev/kmsg")
    assert text is None and why == "dev/kmsg: neither a device nor a file"


def test_journal_json_when_kmsg_cannot_be_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without /dev/kmsg, ``journalctl -k -b -o json`` is the kernel log, before dmesg."""
    _files_only(monkeypatch)
    root = live_tree(tmp_path, Vm(dmesg=None))
    (root / "sos_commands/logs").mkdir(parents=True)
    (root / "sos_commands/logs/journalctl_-k_-b_-o_json_--no-pager").write_text(_journal(DMESG_VF), encoding="utf-8")
    result = check_facts(gather(LiveTree(root), interval=0))
    assert result.kernel_log == "journalctl -k -b -o json" and result.nics[0].log_datapath == "vf"


def test_no_kernel_log_says_what_was_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No /dev/kmsg, journal or dmesg: not read, with each source and why; the present state is still judged."""
    monkeypatch.setattr(tree_module, "program", lambda name: None)
    result = check_facts(gather(LiveTree(live_tree(tmp_path, Vm(dmesg=None))), interval=0))
    (unread,) = [u for u in result.unread if u.startswith("kernel log")]
    assert unread.startswith("kernel log: could not be read (dev/kmsg: No such file or directory; "
                             "journalctl -k -b: nothing; dmesg: nothing)")
    assert result.kernel_log is None and result.nics[0].vf == VF_NAME


# -- addresses -------------------------------------------------------------------------------


def _ip_json(vf_addresses: tuple[str, ...]) -> str:
    """Return ``ip -j addr`` output for the fake VM (eth0 with its address, the VF enslaved)."""
    def info(cidr: str, scope: str) -> dict[str, object]:
        local, _, prefix = cidr.partition("/")
        return {"family": "inet6" if ":" in local else "inet", "local": local, "prefixlen": int(prefix),
                "scope": scope, "valid_life_time": 4294967295}
    return json.dumps([
        {"ifindex": 2, "ifname": "eth0", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "mtu": 1500,
         "operstate": "UP", "address": MAC, "addr_info": [info("10.0.0.4/24", "global")]},
        {"ifindex": 3, "ifname": VF_NAME, "flags": ["BROADCAST", "MULTICAST", "SLAVE", "UP", "LOWER_UP"],
         "master": "eth0", "operstate": "UP", "address": MAC,
         "addr_info": [info(a, "global") for a in vf_addresses]}])


def test_ip_json_gives_the_addresses(tmp_path: Path) -> None:
    """``ip -j addr`` is read before ``ip -d address``: the VF's global address is ip-on-vf, as from the text."""
    vm = Vm(vf_addresses=("10.0.0.5/24",))
    root = live_tree(tmp_path / "json", vm)
    (root / "sos_commands/networking/ip_-d_address").unlink()
    (root / "sos_commands/networking/ip_-j_addr").write_text(_ip_json(vm.vf_addresses), encoding="utf-8")
    by_json, by_text = check(root, interval=0), check(sos_tree(tmp_path / "sos", vm), interval=0)
    assert [n.vf_addresses for n in by_json.nics] == [n.vf_addresses for n in by_text.nics] == [("10.0.0.5/24",)]
    assert [f.code for f in by_json.findings] == [f.code for f in by_text.findings] == ["ip-on-vf"]
    assert by_json.nics[0].addresses == ("10.0.0.4/24",)


def test_ip_without_json_falls_back_to_its_text(tmp_path: Path) -> None:
    """An iproute2 that does not know -j (its error, or no JSON list) leaves ``ip -d address`` to be read."""
    assert parse_ip_json('Option "-j" is unknown, try "ip -help".\n') == {} and parse_ip_json('{"a": 1}') == {}
    root = live_tree(tmp_path, Vm(vf_addresses=("10.0.0.5/24",)))
    (root / "sos_commands/networking/ip_-j_addr").write_text('Option "-j" is unknown\n', encoding="utf-8")
    assert [f.code for f in check(root, interval=0).findings] == ["ip-on-vf"]


# -- cloud-init ------------------------------------------------------------------------------


def _cloud_init_sources(root: Path) -> dict[str, Path]:
    """Write one tree per place the cloud-init version is read from; return them by name."""
    places = {
        "version.py": ("usr/lib/python3/dist-packages/cloudinit/version.py", '__VERSION__ = "18.5"\n'),
        "site-packages": ("usr/lib/python3.6/site-packages/cloudinit/version.py", "__VERSION__ = '18.5'\n"),
        "cloud-init --version": ("sos_commands/cloud_init/cloud-init_--version", "/usr/bin/cloud-init 18.5\n"),
        "dpkg -l": ("sos_commands/dpkg/dpkg_-l", "Desired=Unknown/Install/Remove/Purge/Hold\n"
                    "||/ Name          Version                 Architecture Description\n"
                    "+++-=============-=======================-============-==========\n"
                    "ii  cloud-init    18.5-45-g3554ffe8-0ubuntu1~18.04.1 all          initialization tool\n"),
        "dpkg status": ("var/lib/dpkg/status", "Package: cloud-guest-utils\nStatus: install ok installed\n"
                        "Version: 0.30\n\nPackage: cloud-init\nStatus: install ok installed\nPriority: extra\n"
                        "Version: 18.5-45-g3554ffe8-0ubuntu1~18.04.1\n"),
    }
    trees = {}
    for name, (path, text) in places.items():
        target = root / name.replace(" ", "_") / path
        target.parent.mkdir(parents=True)
        target.write_text(text, encoding="utf-8")
        trees[name] = root / name.replace(" ", "_")
    return trees


def test_cloud_init_version_from_every_source(tmp_path: Path) -> None:
    """cloud-init's version is read from its --version output, its version.py, dpkg -l or dpkg's status database."""
    for name, root in _cloud_init_sources(tmp_path).items():
        assert gather_facts(root).cloud_init in ("18.5", "18.5-45-g3554ffe8-0ubuntu1~18.04.1"), name


def test_cloud_init_from_installed_rpms_link_in_a_tarball(tmp_path: Path) -> None:
    """A sosreport tarball's installed-rpms (a link to the rpm plugin's output) is followed in memory."""
    archive = tmp_path / "sosreport-rhel.tar.xz"
    rpms = b"cloud-init-18.5-1.el7.noarch                        Mon 02 Dec 2026 10:00:00 AM UTC\n"
    with tarfile.open(archive, "w:xz") as tar:
        info = tarfile.TarInfo("sosreport-rhel/sos_commands/rpm/sh_-c_rpm_--nodigest_-qa_--qf_NAME")
        info.size = len(rpms)
        tar.addfile(info, io.BytesIO(rpms))
        link = tarfile.TarInfo("sosreport-rhel/installed-rpms")
        link.type, link.linkname = tarfile.SYMTYPE, "sos_commands/rpm/sh_-c_rpm_--nodigest_-qa_--qf_NAME"
        tar.addfile(link)
    assert TarTree(archive).text("installed-rpms") == rpms.decode()
    assert gather_facts(archive).cloud_init == "18.5-1.el7"


def test_old_cloud_init_is_named_in_the_finding_or_a_note(tmp_path: Path) -> None:
    """cloud-init before 19.4 with nothing exempting the VF: said in vf-managed-by-userspace, else in a note."""
    managed = check(live_tree(tmp_path / "a", Vm(nm_running=True, cloud_init="18.5")), interval=0)
    (finding,) = managed.findings
    assert finding.code == "vf-managed-by-userspace" and "cloud-init 18.5 is older than 19.4" in finding.message
    quiet = check(sos_tree(tmp_path / "b", Vm(cloud_init="18.5")), interval=0)
    assert quiet.findings == () and quiet.cloud_init == "18.5"
    assert [n for n in quiet.notes if n.startswith("cloud-init 18.5 is older than 19.4")]
    for index, vm in enumerate((Vm(cloud_init="18.5", nm_dropin=True), Vm(cloud_init="23.4.4-0ubuntu0~22.04.1"))):
        assert not [n for n in check(live_tree(tmp_path / f"c{index}", vm), interval=0).notes if "cloud-init" in n]


# -- NetworkManager's device states --------------------------------------------------------


def test_nmcli_reporting_the_vf_connected_is_a_finding(tmp_path: Path) -> None:
    """A VF NetworkManager lists as connected is vf-managed-by-userspace quoting the nmcli line, even with a drop-in;
    the live (terse) and sos (table) forms give the same verdicts."""
    vm = Vm(nm_running=True, nm_dropin=True, nm_vf_state="connected")
    live, sos = check(live_tree(tmp_path / "live", vm), interval=0), check(sos_tree(tmp_path / "sos", vm), interval=0)
    for result, line in ((live, f"{VF_NAME}:ethernet:connected:Wired connection 2"),
                         (sos, f"{VF_NAME}  ethernet  connected               Wired connection 2")):
        (finding,) = result.findings
        assert finding.code == "vf-managed-by-userspace" and finding.nic == MAC
        assert f"nmcli: '{line}'" in finding.message


def test_nmcli_reporting_the_vf_unmanaged_outweighs_the_configuration(tmp_path: Path) -> None:
    """NetworkManager listing the VF as unmanaged is no finding, though no drop-in vflog knows exempts it."""
    vm = Vm(nm_running=True, nm_vf_state="unmanaged")
    assert check(live_tree(tmp_path / "live", vm), interval=0).findings == ()
    assert check(sos_tree(tmp_path / "sos", vm), interval=0).findings == ()


def test_live_nmcli_runs_in_its_terse_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live, ``nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device`` is run (the program from a safe directory)."""
    ran: list[list[str]] = []

    def fake_run(argv: list[str], timeout: float, limit: int) -> bytes | None:
        """Stand for the programs: nmcli lists the VF as connected; the rest print nothing."""
        ran.append(argv)
        return f"eth0:ethernet:connected:Wired connection 1\n{VF_NAME}:ethernet:connected:x\n".encode() \
            if argv[0].endswith("nmcli") else None

    monkeypatch.setattr(tree_module, "program", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(tree_module, "run_bounded", fake_run)
    facts = gather(LiveTree(live_tree(tmp_path, Vm())), interval=0)
    assert ["/usr/bin/nmcli", *NMCLI_LIVE.split()[1:]] in ran
    assert facts.networkmanager_running and "vf-managed-by-userspace" in {f.code for f in check_facts(facts).findings}


def test_networkmanager_running_without_nmcli_says_so(tmp_path: Path) -> None:
    """NetworkManager runs but its device list cannot be read: not read says so; its configuration is judged."""
    result = check(live_tree(tmp_path, Vm(nm_running=True, nm_dropin=True)), interval=0)
    assert any(u.startswith("NetworkManager's devices: 'nmcli device'") for u in result.unread)
    assert result.findings == ()


def test_save_keeps_cloud_init_and_nmcli(tmp_path: Path) -> None:
    """--save writes the cloud-init version and nmcli's device list; --root reads them back to the same findings."""
    facts = gather_facts(live_tree(tmp_path / "vm", Vm(nm_running=True, nm_vf_state="connected", cloud_init="18.5")))
    save(facts, tmp_path / "saved.tar.gz")
    again = gather_facts(tmp_path / "saved.tar.gz")
    assert (again.cloud_init, again.nm_output) == ("18.5", facts.nm_output)
    assert check_facts(again).findings == check_facts(facts).findings
    assert "cloud-init 18.5" in check_facts(again).findings[0].message


# -- running programs --------------------------------------------------------------------------


def test_programs_are_bounded_in_time_and_output() -> None:
    """A program that outlasts its time is killed (None); a long output is cut at the limit; a failure is None."""
    assert run_bounded([sys.executable, "-c", "import time; time.sleep(30)"], 0.5, 100) is None
    assert run_bounded([sys.executable, "-c", "print('x' * 100000)"], 10, 1000) == b"x" * 1000
    assert run_bounded([sys.executable, "-c", "import sys; sys.exit(3)"], 10, 100) is None
    assert run_bounded([sys.executable, "-c", "import os; print(os.environ['LC_ALL'])"], 10, 100) == b"C\n"


def test_programs_come_only_from_safe_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A program is taken only from SAFE_DIRS, and not when it or its directory is writable by others."""
    safe, open_dir = tmp_path / "safe", tmp_path / "open"
    for directory in (safe, open_dir):
        directory.mkdir()
        (directory / "ethtool").write_text("#!/bin/sh\n")
        (directory / "ethtool").chmod(0o755)
    safe.chmod(0o755)
    open_dir.chmod(0o777)
    monkeypatch.setattr(tree_module, "SAFE_DIRS", (str(open_dir), str(safe)))
    assert program("ethtool") == str(safe / "ethtool")
    (safe / "ethtool").chmod(0o757)
    assert program("ethtool") is None and program("../bin/ethtool") is None
    monkeypatch.setenv("PATH", str(safe))
    monkeypatch.setattr(tree_module, "SAFE_DIRS", ())
    assert program("ethtool") is None


def test_live_check_here_names_its_kernel_log_or_why_not() -> None:
    """On this machine the live check names where its kernel log came from, or says why none was read; exit 0/1."""
    status, out, err = _run("check", "--interval", "0")
    assert status in (0, 1) and "Traceback" not in err
    assert "kernel log from " in out or "not read: kernel log: could not be read (" in out


def test_a_program_killed_for_its_time_takes_its_children_along(tmp_path: Path) -> None:
    """When a program outlasts its time, what it started is killed with it (its process group)."""
    pid_file = tmp_path / "child.pid"
    script = ("import subprocess, sys, time\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
              "time.sleep(60)\n")
    assert run_bounded([sys.executable, "-c", script], 2.0, 100) is None
    child = int(pid_file.read_text())
    for _ in range(100):  # the child is gone, or a zombie waiting for init to reap it
        stat = Path(f"/proc/{child}/stat")
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    else:
        os.kill(child, 9)
        pytest.fail("the child outlived the program it belonged to")


def test_cloud_init_sources_are_read_only_until_one_names_a_version(tmp_path: Path) -> None:
    """Once ``cloud-init --version`` names the version, version.py and the package databases are not read."""
    root = _cloud_init_sources(tmp_path)["cloud-init --version"]
    read: list[str] = []

    class Counting(tree_module.DirTree):
        """A directory tree that records the files it reads."""

        def text(self, path: str) -> str | None:
            """Record *path*, then read it."""
            read.append(path)
            return super().text(path)

    from vflog.check.gather import _cloud_init
    assert _cloud_init(Counting(root)) == "18.5" and read == ["sos_commands/cloud_init/cloud-init_--version"]
