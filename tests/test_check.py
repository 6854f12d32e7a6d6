"""``vflog check``: the present state of a VM (live tree, sosreport directory or tarball, saved tree) judged."""

from __future__ import annotations

import io
import os
import json
import tarfile
from pathlib import Path

import pytest

from vflog.catalogue import STATE_CODES
from vflog.check import check, check_facts, gather_facts
from vflog.check import tree as tree_module
from vflog.check.gather import gather, parse_lspci
from vflog.check.save import save
from vflog.check.tree import TarTree, sos_name
from vflog.cli import main

from .check_trees import GUID, MAC, NETWORKD_DROPIN, NETPLAN_ETH, VF_NAME, VF_PCI, Vm, live_tree, sos_tree, tarball

HEALTHY = Vm()


def _codes(root: Path) -> set[str]:
    """Return the finding codes of checking *root*."""
    return {f.code for f in check(root, interval=0).findings}


def _run(*argv: str) -> tuple[int, str, str]:
    """Run vflog with *argv*; return its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), env={}, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_healthy_live_tree_is_on_the_vf(tmp_path: Path) -> None:
    """A healthy VM's tree: one NIC keyed by its VMBus id, on the VF, with VF, driver, PCI and model, no finding."""
    result = check(live_tree(tmp_path, HEALTHY), interval=0)
    assert result.findings == ()
    (nic,) = result.nics
    assert nic.key == GUID and nic.on_vf is True and nic.verdict.startswith("on the VF")
    assert (nic.synthetic, nic.mac, nic.vf, nic.vf_driver, nic.pci) == ("eth0", MAC, VF_NAME, "mlx5_core", VF_PCI)
    assert nic.model == "ConnectX-4 Lx Virtual Function" and nic.master == "eth0"
    assert nic.log_datapath == "vf"
    assert {c.name: c.last for c in nic.counters}["vf_rx_packets"] == 111180


def test_sosreport_directory_gives_the_same_verdicts(tmp_path: Path) -> None:
    """The same facts as a live tree and as a sosreport (no sysfs links) give the same verdicts and findings."""
    for vm in (HEALTHY, Vm(vf_addresses=("10.0.0.5/24",)), Vm(enslaved=False), Vm(vf_rx=0, vf_tx=0)):
        live = check(live_tree(tmp_path / f"live{hash(vm)}", vm), interval=0)
        sos = check(sos_tree(tmp_path / f"sos{hash(vm)}", vm), interval=0)
        assert [n.verdict for n in live.nics] == [n.verdict for n in sos.nics]
        assert sorted(f.code for f in live.findings) == sorted(f.code for f in sos.findings)
        assert sos.kind == "sosreport" and sos.nics[0].key == MAC  # sos has no VMBus id: the NIC is keyed by MAC
        assert sos.nics[0].model == "Mellanox Technologies MT27710 Family [ConnectX-4 Lx Virtual Function]"


def test_sosreport_tarball_is_read_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sosreport tar.xz (with its top directory) is read without unpacking: nothing is extracted to disk."""
    archive = tarball(sos_tree(tmp_path / "sos", Vm(vf_addresses=("10.0.0.5/24",))), tmp_path / "sos.tar.xz")
    monkeypatch.setattr(tarfile.TarFile, "extract", lambda *a, **k: pytest.fail("extracted"))
    monkeypatch.setattr(tarfile.TarFile, "extractall", lambda *a, **k: pytest.fail("extracted"))
    result = check(archive, interval=0)
    assert [n.vf for n in result.nics] == [VF_NAME] and {f.code for f in result.findings} == {"ip-on-vf"}
    assert result.kind == "sosreport"


def test_tarball_members_are_bounded_and_filtered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the members a check reads are kept, each cut at MAX_FILE bytes."""
    monkeypatch.setattr("vflog.check.tree.MAX_FILE", 10)
    archive = tarball(sos_tree(tmp_path / "sos", HEALTHY), tmp_path / "sos.tar.xz")
    tree = TarTree(archive)
    assert all(len(data) <= 10 for data in tree.files.values())
    assert not any(name.startswith("sos_reports") for name in tree.files)
    assert "sys/class/net" in tree.dirs


def test_ip_on_vf(tmp_path: Path) -> None:
    """A global address on the VF is ip-on-vf (error)."""
    assert _codes(live_tree(tmp_path, Vm(vf_addresses=("10.0.0.5/24",)))) == {"ip-on-vf"}


def test_vf_not_bonded(tmp_path: Path) -> None:
    """A VF netdev with the NIC's MAC and no master (no SLAVE flag) is vf-not-bonded; the NIC is not on the VF."""
    result = check(live_tree(tmp_path, Vm(enslaved=False)), interval=0)
    assert {f.code for f in result.findings} == {"vf-not-bonded"} and result.nics[0].on_vf is False


def test_vf_traffic_idle_by_value(tmp_path: Path) -> None:
    """With one sample, vf_* packet counters at zero while the NIC carried traffic are vf-traffic-idle."""
    assert _codes(live_tree(tmp_path, Vm(vf_rx=0, vf_tx=0))) == {"vf-traffic-idle"}


def test_vf_traffic_idle_between_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live, the vf_* counters that stand still while the NIC's own counters grow are vf-traffic-idle."""
    root = live_tree(tmp_path, HEALTHY)
    monkeypatch.setattr(tree_module.LiveTree, "command", tree_module.DirTree.command)
    stats = root / "sys/class/net/eth0/statistics/rx_packets"

    def traffic(seconds: float) -> None:
        """Stand for the interval: the NIC receives 500 packets, none through the VF."""
        stats.write_text(str(int(stats.read_text()) + 500))

    facts = gather(tree_module.LiveTree(root), interval=2, sleep=traffic)
    result = check_facts(facts)
    assert result.samples == 2 and {f.code for f in result.findings} == {"vf-traffic-idle"}
    counters = {c.name: c.change for c in result.nics[0].counters}
    assert counters["rx_packets"] == 500 and counters["vf_rx_packets"] == 0


def test_vf_missing_now(tmp_path: Path) -> None:
    """The log shows a VF for the NIC, but no VF netdev or PCI device exists now: vf-missing-now."""
    result = check(live_tree(tmp_path, Vm(vf=False, vf_pci=False)), interval=0)
    assert "vf-missing-now" in {f.code for f in result.findings}
    assert result.nics[0].on_vf is False


def test_no_accelerated_networking(tmp_path: Path) -> None:
    """No VF now and none in the log: no-accelerated-networking (info) for the NIC."""
    vm = Vm(vf=False, vf_pci=False, dmesg="[    0.000000] Linux version 5.15.0-1057-azure (gcc) #65\n")
    result = check(live_tree(tmp_path, vm), interval=0)
    assert [(f.code, f.nic) for f in result.findings] == [("no-accelerated-networking", GUID)]


def test_vf_driver_not_installed(tmp_path: Path) -> None:
    """The running kernel without mlx4 modules is vf-driver-not-installed even though today's mlx5 VF works."""
    result = check(live_tree(tmp_path, Vm(modules=("mlx5_core", "mana"))), interval=0)
    assert {f.code for f in result.findings} == {"vf-driver-not-installed"}
    assert "mlx4" in result.findings[0].message and result.nics[0].on_vf is True


def test_mana_is_expected_only_on_kernels_that_have_it(tmp_path: Path) -> None:
    """A kernel older than MANA's first upstream release is not asked for the mana module."""
    assert _codes(live_tree(tmp_path, Vm(kernel="5.4.0-1109-azure", modules=("mlx4_en", "mlx5_core")))) == set()


def test_kernel_too_old(tmp_path: Path) -> None:
    """Ubuntu 16.04 with a kernel older than 4.11.0-1013, and RHEL 7.3, are kernel-too-old."""
    assert "kernel-too-old" in _codes(live_tree(tmp_path / "a", Vm(os_version="16.04", kernel="4.4.0-210-generic")))
    assert "kernel-too-old" in _codes(live_tree(tmp_path / "b", Vm(os_id="rhel", os_version="7.3",
                                                                  kernel="3.10.0-514.el7.x86_64")))
    assert "kernel-too-old" not in _codes(live_tree(tmp_path / "c", Vm(os_version="16.04", kernel="4.15.0-1113-azure")))


def test_networkmanager_without_exemption(tmp_path: Path) -> None:
    """NetworkManager running with nothing marking the VF drivers unmanaged is vf-managed-by-userspace; the drop-in fixes it."""
    assert _codes(live_tree(tmp_path / "a", Vm(nm_running=True))) == {"vf-managed-by-userspace"}
    assert _codes(live_tree(tmp_path / "b", Vm(nm_running=True, nm_dropin=True))) == set()
    assert _codes(sos_tree(tmp_path / "c", Vm(nm_running=True))) == {"vf-managed-by-userspace"}


def test_networkd_matching_the_vf(tmp_path: Path) -> None:
    """networkd with a .network file whose Name=eth* ... matches the VF only when its name matches; Unmanaged= exempts."""
    vf_name_match = (("10-all.network", "[Match]\nName=en*\n\n[Network]\nDHCP=yes\n"),)
    assert _codes(live_tree(tmp_path / "a", Vm(networkd_running=True, networkd_files=vf_name_match))) \
        == {"vf-managed-by-userspace"}
    assert _codes(live_tree(tmp_path / "b", Vm(networkd_running=True, networkd_files=(("10-eth.network", NETPLAN_ETH),)))) \
        == set()
    exempt = (("01-azure-unmanaged.network", NETWORKD_DROPIN), *vf_name_match)
    assert _codes(live_tree(tmp_path / "c", Vm(networkd_running=True, networkd_files=exempt))) == set()


def test_unclaimed_vf_without_master(tmp_path: Path) -> None:
    """A VF netdev whose MAC no synthetic NIC has, with no master, is its own entry with vf-not-bonded."""
    root = live_tree(tmp_path, Vm(enslaved=False))
    (root / f"sys/class/net/{VF_NAME}/address").write_text("00:0d:3a:00:00:99\n")
    result = check(root, interval=0)
    assert [n.key for n in result.nics] == [GUID, "00:0d:3a:00:00:99"]
    assert "vf-not-bonded" in {f.code for f in result.findings}


def test_parse_lspci_mana_and_connectx() -> None:
    """lspci -nnvv stanzas give address, IDs, model and the driver in use (MANA, ConnectX-3, ConnectX-5)."""
    text = ("7870:00:00.0 Ethernet controller [0200]: Microsoft Corporation Device [1414:00ba]\n"
            "\tSubsystem: Microsoft Corporation Device [1414:0001]\n\tKernel driver in use: mana\n\n"
            "0002:00:02.0 Ethernet controller [0200]: Mellanox Technologies MT27500/MT27520 Family "
            "[ConnectX-3/ConnectX-3 Pro Virtual Function] [15b3:1004]\n\tKernel driver in use: mlx4_core\n\n"
            "0003:00:02.0 Ethernet controller [0200]: Mellanox Technologies MT28800 Family "
            "[ConnectX-5 Ex Virtual Function] [15b3:101a] (rev 80)\n\tKernel modules: mlx5_core\n")
    devices = parse_lspci(text)
    assert [(d.address, d.vendor, d.device, d.driver) for d in devices] == [
        ("7870:00:00.0", "1414", "00ba", "mana"), ("0002:00:02.0", "15b3", "1004", "mlx4_core"),
        ("0003:00:02.0", "15b3", "101a", None)]
    assert devices[1].model == "Mellanox Technologies MT27500/MT27520 Family [ConnectX-3/ConnectX-3 Pro Virtual Function]"


def test_sos_names() -> None:
    """Command outputs are found under the names sos gives them."""
    assert sos_name("ethtool -S eth0") == "ethtool_-S_eth0" and sos_name("ip -d address") == "ip_-d_address"


def test_save_round_trip(tmp_path: Path) -> None:
    """--save writes a tarball that --root reads back into the same verdicts and findings."""
    for index, vm in enumerate((HEALTHY, Vm(vf_addresses=("10.0.0.5/24",)), Vm(enslaved=False), Vm(nm_running=True),
                                Vm(modules=("mlx5_core",)))):
        facts = gather_facts(live_tree(tmp_path / f"vm{index}", vm), interval=0)
        save(facts, tmp_path / f"saved{index}.tar.gz")
        again = gather_facts(tmp_path / f"saved{index}.tar.gz")
        first, second = check_facts(facts), check_facts(again)
        assert second.nics == first.nics
        assert second.findings == first.findings


def test_cli_check_root_json(tmp_path: Path) -> None:
    """vflog check --root DIR --format json: NICs keyed by VMBus id, findings as in report; exit 1 on an error finding."""
    status, out, err = _run("check", "--root", str(live_tree(tmp_path, Vm(vf_addresses=("10.0.0.5/24",)))),
                            "--format", "json")
    document = json.loads(out)
    assert status == 1 and err == ""
    (nic,) = document["nics"]
    assert nic["key"] == GUID and nic["vf"] == VF_NAME and nic["vf_addresses"] == ["10.0.0.5/24"]
    assert [f["code"] for f in document["findings"]] == ["ip-on-vf"]
    assert document["findings"][0]["severity"] == "error" and document["kind"] == "directory"


def test_cli_check_table_and_fail_on(tmp_path: Path) -> None:
    """The table starts each NIC with its verdict line; --fail-on never exits 0 despite errors."""
    root = live_tree(tmp_path, Vm(enslaved=False))
    status, out, _ = _run("check", "--root", str(root), "--fail-on", "never")
    assert status == 0 and f"{GUID}: NOT ON VF: not on the VF: VF {VF_NAME} is not enslaved to eth0" in out
    assert "vf-not-bonded" in out


def test_cli_check_nothing_readable(tmp_path: Path) -> None:
    """An empty directory is nothing readable: exit 2 with a message, never a traceback."""
    status, out, err = _run("check", "--root", str(tmp_path))
    assert status == 2 and out == "" and "nothing could be read" in err


def test_cli_check_missing_root(tmp_path: Path) -> None:
    """A --root that does not exist is an error message and exit 2."""
    status, _, err = _run("check", "--root", str(tmp_path / "nope"))
    assert status == 2 and "no such directory or tarball" in err


def test_cli_check_save(tmp_path: Path) -> None:
    """vflog check --save FILE writes a tarball that --root reads back to the same output."""
    root = live_tree(tmp_path / "vm", HEALTHY)
    status, first, _ = _run("check", "--root", str(root), "--save", str(tmp_path / "s.tar.gz"), "--format", "json")
    assert status == 0
    status, second, _ = _run("check", "--root", str(tmp_path / "s.tar.gz"), "--format", "json")
    assert json.loads(second)["nics"] == json.loads(first)["nics"]


def test_cli_check_live_on_this_machine() -> None:
    """Live on a machine without an Azure NIC: exit 0 with a clear note (or no-accelerated-networking), no traceback."""
    status, out, err = _run("check", "--interval", "0")
    assert status in (0, 1), err
    assert "internal error" not in err and "Traceback" not in err
    assert "hv_netvsc" in out or "no-accelerated-networking" in out or "ON VF" in out


def test_cli_check_bad_interval() -> None:
    """--interval must be a finite number of seconds from 0 to 3600: a usage error otherwise."""
    for bad in ("-1", "nan", "x"):
        status, _, err = _run("check", "--interval", bad)
        assert status == 2 and "usage error" in err


def test_live_tree_without_ethtool_says_what_was_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live without the ethtool program: the vf_* counters are named as unread and the verdict says so (no guess)."""
    monkeypatch.setattr("vflog.check.tree.program", lambda name: None)
    facts = gather(tree_module.LiveTree(live_tree(tmp_path, HEALTHY)), interval=0)
    result = check_facts(facts)
    assert any(u.startswith("ethtool: the program is not installed") for u in result.unread)
    assert result.nics[0].on_vf is None and "counters could not be read" in result.nics[0].verdict


def test_new_codes_are_explained() -> None:
    """vflog explain knows every code the check emits."""
    for code in ("vf-traffic-idle", "ip-on-vf", "vf-not-bonded", "vf-missing-now", "vf-driver-not-installed",
                 "kernel-too-old", "vf-managed-by-userspace", "no-accelerated-networking"):
        status, out, _ = _run("explain", code)
        assert status == 0 and code in out


def test_fifo_in_a_tree_does_not_hang(tmp_path: Path) -> None:
    """A FIFO where a file is expected (a hostile tree) is skipped as unreadable, never waited on."""
    root = live_tree(tmp_path, HEALTHY)
    (root / "sos_commands/kernel/dmesg").unlink()
    os.mkfifo(root / "sos_commands/kernel/dmesg")
    result = check(root, interval=0)
    assert result.kernel_log is None and any(u.startswith("kernel log") for u in result.unread)
    assert result.nics[0].on_vf is True


def test_nmcli_saying_not_running_is_not_running(tmp_path: Path) -> None:
    """A sosreport whose nmcli outputs say NetworkManager is not running does not count NetworkManager as running."""
    root = sos_tree(tmp_path, Vm(nm_running=True))
    (root / "sos_commands/networkmanager/nmcli_dev_show").write_text("Error: NetworkManager is not running.\n")
    assert _codes(root) == set()


def test_sosreport_without_ip_d_address(tmp_path: Path) -> None:
    """A sosreport with only ``ip -s -d link`` and ``ip -o addr`` still pairs the VF and sees its address."""
    root = sos_tree(tmp_path, Vm(vf_addresses=("10.0.0.5/24",)))
    blocks = (root / "sos_commands/networking/ip_-d_address").read_text()
    (root / "sos_commands/networking/ip_-d_address").unlink()
    (root / "sos_commands/networking/ip_-s_-d_link").write_text(
        "\n".join(line for line in blocks.splitlines() if " inet" not in line and "_lft" not in line) + "\n"
        "    RX:  bytes packets errors dropped  missed   mcast\n    10318224    8891      0       0       0       0\n")
    (root / "sos_commands/networking/ip_-o_addr").write_text(
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
        "2: eth0    inet 10.0.0.4/24 metric 100 brd 10.0.0.255 scope global eth0\\       valid_lft forever\n"
        f"3: {VF_NAME}    inet 10.0.0.5/24 brd 10.0.0.255 scope global {VF_NAME}\\       valid_lft forever\n")
    result = check(root, interval=0)
    assert [n.vf for n in result.nics] == [VF_NAME] and {f.code for f in result.findings} == {"ip-on-vf"}


def test_report_on_a_sosreport_adds_the_checks(tmp_path: Path) -> None:
    """vflog report on a sosreport (tarball or directory) with command outputs adds its check: JSON ``checks``."""
    archive = tarball(sos_tree(tmp_path / "sos", Vm(vf_addresses=("10.0.0.5/24",))), tmp_path / "sosreport-vm1.tar.xz")
    status, out, err = _run("report", "--format", "json", str(archive))
    document = json.loads(out)
    assert status == 1, err
    assert [f["code"] for f in document["checks"][0]["findings"]] == ["ip-on-vf"]
    assert document["boots"][0]["nics"][0]["datapath"] == "vf"
    status, out, _ = _run("report", str(tmp_path / "sos"))
    assert status == 1 and "vflog check:" in out and "ip-on-vf" in out


def test_report_on_a_plain_log_has_no_checks(tmp_path: Path) -> None:
    """A kernel log that is no sosreport gets no checks: the report is unchanged."""
    log = tmp_path / "dmesg.txt"
    log.write_text(HEALTHY.dmesg or "")
    status, out, _ = _run("report", "--format", "json", str(log))
    assert status == 0 and "checks" not in json.loads(out)


@pytest.mark.parametrize(("driver", "ids", "model"), [
    ("mlx4_core", ("15b3", "1004"), "ConnectX-3 Virtual Function"),
    ("mlx5_core", ("15b3", "101a"), "ConnectX-5 Virtual Function"),
    ("mana", ("1414", "00ba"), "MANA Virtual Function"),
])
def test_every_vf_model_is_recognised(tmp_path: Path, driver: str, ids: tuple[str, str], model: str) -> None:
    """ConnectX-3, ConnectX-5 and MANA VFs are paired and named like ConnectX-4 Lx ones."""
    result = check(live_tree(tmp_path, Vm(vf_driver=driver, vf_ids=ids)), interval=0)
    (nic,) = result.nics
    assert nic.on_vf is True and nic.vf_driver == driver and nic.model == model and result.findings == ()


#: A fake VM that shows each code only a check gives (STATE_CODES).
STATE_FIXTURES = {
    "vf-traffic-idle": Vm(vf_rx=0, vf_tx=0),
    "ip-on-vf": Vm(vf_addresses=("10.0.0.5/24",)),
    "vf-not-bonded": Vm(enslaved=False),
    "vf-missing-now": Vm(vf=False, vf_pci=False),
    "vf-driver-not-installed": Vm(modules=("mlx5_core",)),
    "kernel-too-old": Vm(os_version="16.04", kernel="4.4.0-210-generic"),
}


def test_every_state_code_has_a_fixture(tmp_path: Path) -> None:
    """Each code only a check gives has a fixture tree that produces it (as kernel-log codes have samples)."""
    assert set(STATE_FIXTURES) == STATE_CODES
    for code, vm in STATE_FIXTURES.items():
        assert code in _codes(live_tree(tmp_path / code, vm)), code
