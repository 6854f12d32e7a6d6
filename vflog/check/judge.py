"""Turn gathered facts (and the kernel log's report) into per-NIC verdicts and findings."""

from __future__ import annotations

import fnmatch
import re
from typing import Iterable, Iterator, Sequence

import attrs

from ..catalogue import CODES
from ..report import Finding, NicReport, Report
from .gather import VF_MODULES, Facts, Interface, PciDevice
from .result import CheckResult, CounterSample, NicCheck

SYNTHETIC_DRIVER = "hv_netvsc"
#: The drivers a VF netdev or VF PCI device carries, by family.
VF_DRIVERS = {"mlx4_en": "mlx4", "mlx4_core": "mlx4", "mlx5_core": "mlx5", "mana": "mana"}
#: The PCI IDs of the VFs Azure offers (vendor, device) and their model.
VF_IDS = {("15b3", "1004"): "ConnectX-3 Virtual Function", ("15b3", "1016"): "ConnectX-4 Lx Virtual Function",
          ("15b3", "101a"): "ConnectX-5 Virtual Function", ("1414", "00ba"): "MANA Virtual Function"}
#: The upstream kernel that first carries the MANA driver.
MANA_KERNEL = (5, 13)
#: Counters of the synthetic NIC that count the traffic it carried through the VF.
VF_PACKETS = ("vf_rx_packets", "vf_tx_packets")
OWN_PACKETS = ("rx_packets", "tx_packets")
#: The counters shown per NIC.
SHOWN = ("vf_rx_packets", "vf_tx_packets", "vf_rx_bytes", "vf_tx_bytes", "vf_tx_dropped", "rx_packets", "tx_packets")


@attrs.frozen
class KernelMinimum:
    """The oldest distribution release (and, for one release, the oldest kernel) that has Accelerated Networking."""

    ids: tuple[str, ...]
    release: str
    kernel: str | None = None
    kernel_release: str | None = None


#: From the Azure documents on Accelerated Networking for Linux (supported images and minimum kernels).
KERNEL_MINIMUMS = (
    KernelMinimum(("ubuntu",), "16.04", "4.11.0-1013", "16.04"),
    KernelMinimum(("sles", "sles_sap"), "12.3", "4.4.92-6.18", "12.3"),
    KernelMinimum(("rhel", "centos"), "7.4"),
    KernelMinimum(("ol",), "7.4"),
    KernelMinimum(("debian",), "9"),
)


def judge(facts: Facts, log: Report | None = None) -> CheckResult:
    """Return the verdict of every NIC in *facts* and the findings of the facts and the kernel log together."""
    logged = _last_boot_nics(log)
    nics: list[NicCheck] = []
    findings: list[Finding] = []
    synthetic = [i for i in facts.interfaces if i.driver == SYNTHETIC_DRIVER]
    claimed: set[str] = set()
    for nic in synthetic:
        vf = _vf_of(nic, facts)
        if vf is not None:
            claimed.add(vf.name)
        check, found = _judge_nic(nic, vf, facts, _logged(nic, logged))
        nics.append(check)
        findings.extend(found)
    for vf in _vfs(facts):
        if vf.name not in claimed:
            check, found = _unclaimed_vf(vf, facts)
            nics.append(check)
            findings.extend(found)
    findings.extend(_image_findings(facts, [n for n in facts.interfaces if VF_DRIVERS.get(n.driver or "")]))
    notes = [] if synthetic else ["no hv_netvsc network interface: this is not an Azure (Hyper-V) VM, "
                                  "or its interfaces could not be read"]
    notes += cloud_init_notes(facts) if synthetic else []
    findings.extend(_log_findings(log, facts, {f.code for f in findings}))
    return CheckResult(source=facts.source, kind=facts.kind, kernel=facts.kernel,
                       distribution=facts.os_release.get("PRETTY_NAME"),
                       samples=max((len(i.samples) for i in facts.interfaces), default=0), interval=facts.interval,
                       nics=tuple(nics), findings=tuple(findings), notes=tuple(notes), unread=facts.unread,
                       kernel_log=facts.kernel_log_name, cloud_init=facts.cloud_init)


def _finding(code: str, nic: str | None, message: str) -> Finding:
    """Return a finding of *code* at the catalogue's severity (no line: it is about the present state)."""
    return Finding(code=code, severity=CODES[code].severity, nic=nic, line=None, t=None, message=message)


def _vfs(facts: Facts) -> list[Interface]:
    """Return the VF netdevs: interfaces driven by mlx4, mlx5 or MANA."""
    return [i for i in facts.interfaces if i.driver in VF_DRIVERS]


def _vf_of(nic: Interface, facts: Facts) -> Interface | None:
    """Return the VF of a synthetic NIC: enslaved to it, else a VF netdev with its MAC."""
    candidates = [i for i in facts.interfaces if i.name != nic.name and i.driver != SYNTHETIC_DRIVER]
    return next((i for i in candidates if i.master == nic.name), None) or next(
        (i for i in candidates if i.mac and i.mac == nic.mac and (i.driver in VF_DRIVERS or i.slave)), None)


def _key(nic: Interface) -> str:
    """Return a NIC's key: its VMBus device where known, else its MAC, else its name."""
    return nic.device or nic.mac or nic.name


def _judge_nic(nic: Interface, vf: Interface | None, facts: Facts,
               logged: NicReport | None) -> tuple[NicCheck, list[Finding]]:
    """Return the verdict and findings of one synthetic NIC."""
    key = _key(nic)
    pci = facts.pci_device(vf.device) if vf else None
    counters = _counters(nic)
    findings: list[Finding] = []
    if vf is None:
        verdict, on_vf = _without_vf(nic, facts, logged, key, findings)
    else:
        verdict, on_vf = _with_vf(nic, vf, counters, key, findings)
    check = NicCheck(key=key, verdict=verdict, on_vf=on_vf, synthetic=nic.name, mac=nic.mac,
                     vmbus_id=nic.device, vf=vf.name if vf else None, vf_driver=vf.driver if vf else None,
                     pci=pci.address if pci else (vf.device if vf else None), model=_model(pci),
                     master=vf.master if vf else None, addresses=tuple(a.cidr for a in nic.addresses),
                     vf_addresses=tuple(a.cidr for a in vf.addresses) if vf else (), counters=counters,
                     log_datapath=logged.datapath if logged else None, log_state=logged.state if logged else None)
    return check, findings


def _without_vf(nic: Interface, facts: Facts, logged: NicReport | None, key: str,
                findings: list[Finding]) -> tuple[str, bool | None]:
    """Judge a synthetic NIC that has no VF netdev now."""
    vf_pci = [d for d in facts.pci if (d.vendor, d.device) in VF_IDS]
    if logged is not None and logged.vf is not None:
        if not vf_pci:
            findings.append(_finding("vf-missing-now", key, f"the kernel log shows VF {logged.vf.name or logged.vf.pci} "
                                     f"for {nic.name}, but no VF netdev or VF PCI device exists now"))
            return "not on the VF: the VF the kernel log shows is gone", False
        return "not on the VF: a VF PCI device exists but no VF netdev is paired with this NIC", False
    if vf_pci:
        return "not on the VF: a VF PCI device exists but no VF netdev has this NIC's MAC", False
    findings.append(_finding("no-accelerated-networking", key, f"{nic.name} has no VF now"
                             + (" and none in the kernel log" if facts.kernel_log else "")))
    return "not on the VF: no VF (Accelerated Networking off or unsupported)", False


def _with_vf(nic: Interface, vf: Interface, counters: tuple[CounterSample, ...], key: str,
             findings: list[Finding]) -> tuple[str, bool | None]:
    """Judge a synthetic NIC that has a VF netdev now."""
    global_on_vf = [a.cidr for a in vf.addresses if a.is_global]
    if global_on_vf:
        findings.append(_finding("ip-on-vf", key, f"VF {vf.name} has the address(es) {', '.join(global_on_vf)}; "
                                 f"addresses belong on the synthetic interface {nic.name}"))
    if vf.master != nic.name and not vf.slave:
        findings.append(_finding("vf-not-bonded", key, f"VF {vf.name} has {nic.name}'s MAC but no master: "
                                 "netvsc did not pair it"))
        return f"not on the VF: VF {vf.name} is not enslaved to {nic.name}", False
    idle = _idle(counters)
    if idle:
        findings.append(_finding("vf-traffic-idle", key, f"{nic.name}: {idle}"))
        return f"not on the VF: {idle}", False
    if not any(c.name in VF_PACKETS for c in counters):
        return f"VF {vf.name} is enslaved; its counters could not be read", None
    return f"on the VF {vf.name}: its packet counters " + ("grow" if _grew(counters, VF_PACKETS) else "are non-zero"), True


def _counters(nic: Interface) -> tuple[CounterSample, ...]:
    """Return the shown counters of a NIC, first and last sample."""
    if not nic.samples:
        return ()
    first, last = nic.samples[0], nic.samples[-1]
    return tuple(CounterSample(name, first[name], last.get(name, first[name])) for name in SHOWN if name in first)


def _total(counters: Iterable[CounterSample], names: Sequence[str], attr: str) -> int:
    """Return the sum of *attr* (first, last or change) over the counters called *names*."""
    return sum(getattr(c, attr) for c in counters if c.name in names)


def _grew(counters: tuple[CounterSample, ...], names: Sequence[str]) -> bool:
    """Return whether the counters called *names* grew between the first and last sample."""
    return _total(counters, names, "change") > 0


def _idle(counters: tuple[CounterSample, ...]) -> str | None:
    """Return why the VF carries no traffic while the NIC does, or None."""
    if not any(c.name in VF_PACKETS for c in counters):
        return None
    sampled = any(c.first != c.last for c in counters)
    if sampled and _grew(counters, OWN_PACKETS) and not _grew(counters, VF_PACKETS):
        return "the VF packet counters did not grow between samples while the NIC's own counters did"
    if not sampled and _total(counters, VF_PACKETS, "last") == 0 and _total(counters, OWN_PACKETS, "last") > 0:
        return "the VF packet counters are zero while the NIC carried traffic"
    return None


def _model(pci: PciDevice | None) -> str | None:
    """Return the VF's model: lspci's name, else the name of its known ID."""
    if pci is None:
        return None
    return pci.model or VF_IDS.get((pci.vendor, pci.device))


def _unclaimed_vf(vf: Interface, facts: Facts) -> tuple[NicCheck, list[Finding]]:
    """Return the check of a VF netdev that no synthetic NIC claims (its master missing)."""
    key = vf.mac or vf.name
    pci = facts.pci_device(vf.device)
    findings = [] if vf.master or vf.slave else [_finding("vf-not-bonded", key, f"VF {vf.name} has no master: "
                                                          "netvsc did not pair it with a synthetic NIC")]
    check = NicCheck(key=key, verdict=f"not on the VF: VF {vf.name} is not paired with a synthetic NIC", on_vf=False,
                     synthetic=None, mac=vf.mac, vmbus_id=None, vf=vf.name, vf_driver=vf.driver,
                     pci=pci.address if pci else vf.device, model=_model(pci), master=vf.master,
                     vf_addresses=tuple(a.cidr for a in vf.addresses), counters=_counters(vf))
    return check, findings


def _image_findings(facts: Facts, vfs: list[Interface]) -> Iterator[Finding]:
    """Yield the findings about the image: drivers it lacks, network managers on the VF, its kernel's age."""
    yield from _missing_drivers(facts)
    yield from _managed(facts, vfs)
    yield from _kernel_age(facts)


def _version(text: str) -> tuple[int, ...]:
    """Return the numbers of a version (``4.11.0-1013-azure`` -> (4, 11, 0, 1013))."""
    return tuple(int(n) for n in re.findall(r"\d+", text))


def _missing_drivers(facts: Facts) -> Iterator[Finding]:
    """Yield vf-driver-not-installed for each VF driver family the running kernel has no module for."""
    if facts.modules is None or not facts.kernel:
        return
    families = ["mlx4", "mlx5"] + (["mana"] if _version(facts.kernel)[:2] >= MANA_KERNEL else [])
    for family in families:
        if not any(m in facts.modules for m in VF_MODULES[family]):
            yield _finding("vf-driver-not-installed", None, f"kernel {facts.kernel} has no {family} module "
                           f"({' or '.join(VF_MODULES[family])}): a VM moved to hardware with that VF loses "
                           "Accelerated Networking")


#: The first cloud-init release that keeps the VF away from NetworkManager and networkd by itself.
CLOUD_INIT_EXEMPTS = (19, 4)


def _managed(facts: Facts, vfs: list[Interface]) -> Iterator[Finding]:
    """Yield vf-managed-by-userspace when a running network manager manages a VF or is not kept away from them.

    NetworkManager's own device list, where it names a VF, is the evidence; otherwise its configuration is judged.
    """
    old = _old_cloud_init(facts)
    listed = {d.device: d for d in facts.nm_devices or ()}
    reported = [vf for vf in vfs if vf.name in listed]
    for vf in reported:
        if listed[vf.name].managed:
            yield _finding("vf-managed-by-userspace", vf.mac, f"NetworkManager reports VF {vf.name} as managed "
                           f"({listed[vf.name].state}): nmcli: '{listed[vf.name].line.strip()}'" + old)
    if facts.networkmanager_running and not reported and not _nm_exempts(facts):
        yield _finding("vf-managed-by-userspace", None, "NetworkManager runs and no configuration marks the "
                       "mlx4/mlx5 VF devices unmanaged (unmanaged-devices=driver:... or an NM_UNMANAGED udev rule)"
                       + old)
    if facts.networkd_running:
        for vf in vfs:
            managing = _networkd_managing(facts, vf)
            if managing:
                yield _finding("vf-managed-by-userspace", vf.mac, f"systemd-networkd: {managing} matches VF "
                               f"{vf.name} and does not leave it unmanaged" + old)


def _old_cloud_init(facts: Facts) -> str:
    """Return a sentence saying cloud-init is older than the release that exempts the VF, or '' when it is not."""
    if facts.cloud_init and _version(facts.cloud_init)[:2] < CLOUD_INIT_EXEMPTS:
        return (f"; cloud-init {facts.cloud_init} is older than 19.4, the first release that writes this "
                "exemption itself")
    return ""


def cloud_init_notes(facts: Facts) -> list[str]:
    """Return a note when cloud-init is older than 19.4 and no NetworkManager or networkd drop-in exempts the VF."""
    if not _old_cloud_init(facts) or _nm_exempts(facts) or _networkd_exempts(facts):
        return []
    return [f"cloud-init {facts.cloud_init} is older than 19.4: it does not keep the VF away from NetworkManager "
            "or systemd-networkd, and no drop-in here does (unmanaged-devices=driver:mlx4_core;driver:mlx5_core "
            "or a .network with Driver=mlx* and Unmanaged=yes)"]


def _networkd_exempts(facts: Facts) -> bool:
    """Return whether a .network file matches the Mellanox VF drivers and leaves them unmanaged."""
    for config in facts.configs:
        if config.path.endswith(".network"):
            sections = _sections(config.text)
            if re.search(r"mlx[45]", sections.get("Match", {}).get("Driver", "")) and sections.get(
                    "Link", {}).get("Unmanaged", "").lower() in ("yes", "true", "1", "on"):
                return True
    return False


def _nm_exempts(facts: Facts) -> bool:
    """Return whether NetworkManager's configuration or a udev rule leaves both Mellanox VF drivers unmanaged."""
    listed = " ".join(m.group(1) for c in facts.configs if c.path.endswith(".conf")
                      for m in re.finditer(r"^\s*unmanaged-devices\s*=\s*(.*)$", c.text, re.M))
    by_config = all(re.search(rf"driver:{family}_\w+", listed) for family in ("mlx4", "mlx5"))
    by_udev = any(c.path.endswith(".rules") and "NM_UNMANAGED" in c.text and re.search(r"hv_pci|mlx", c.text)
                  for c in facts.configs)
    return by_config or by_udev


def _sections(text: str) -> dict[str, dict[str, str]]:
    """Return the ``[Section] Key=value`` pairs of a systemd unit file (later keys extend earlier ones)."""
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("", {})
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            current[key.strip()] = (current.get(key.strip(), "") + " " + value.strip()).strip()
    return sections


def _networkd_managing(facts: Facts, vf: Interface) -> str | None:
    """Return the first .network file (in networkd's order) that matches the VF, when it does not leave it unmanaged."""
    chosen: dict[str, str] = {}
    for config in facts.configs:  # a file in /etc overrides one of the same name elsewhere
        name = config.path.rsplit("/", 1)[-1]
        if config.path.endswith(".network") and name not in chosen:
            chosen[name] = config.text
    for name in sorted(chosen):
        sections = _sections(chosen[name])
        if _matches(sections.get("Match", {}), vf):
            unmanaged = sections.get("Link", {}).get("Unmanaged", "").lower() in ("yes", "true", "1", "on")
            return None if unmanaged else name
    return None


def _matches(match: dict[str, str], vf: Interface) -> bool:
    """Return whether a .network file's [Match] section matches the VF (by name, MAC or driver)."""
    tests = {"Name": vf.name, "OriginalName": vf.name, "Driver": vf.driver, "MACAddress": vf.mac}
    for key, value in match.items():
        if key in ("MACAddress", "PermanentMACAddress"):
            if (vf.mac or "") not in value.lower().split():
                return False
        elif key in tests:
            if not any(fnmatch.fnmatchcase(tests[key] or "", pattern) for pattern in value.split()):
                return False
    return True


def _kernel_age(facts: Facts) -> Iterator[Finding]:
    """Yield kernel-too-old when the distribution release or kernel is older than Azure's documented minimum."""
    distro, release = facts.os_release.get("ID", ""), facts.os_release.get("VERSION_ID", "")
    for minimum in KERNEL_MINIMUMS:
        if distro not in minimum.ids or not release:
            continue
        if _version(release) < _version(minimum.release):
            yield _finding("kernel-too-old", None, f"{distro} {release} is older than {minimum.release}, "
                           "the first release with Accelerated Networking")
        elif (minimum.kernel and facts.kernel and _version(release) == _version(minimum.kernel_release or "")
              and _version(facts.kernel) < _version(minimum.kernel)):
            yield _finding("kernel-too-old", None, f"kernel {facts.kernel} is older than {minimum.kernel}, "
                           f"the minimum for {distro} {release}")


def _last_boot_nics(log: Report | None) -> tuple[NicReport, ...]:
    """Return the NICs of the kernel log's last boot (the current one), or ()."""
    return log.boots[-1].nics if log is not None and log.boots else ()


def _logged(nic: Interface, logged: tuple[NicReport, ...]) -> NicReport | None:
    """Return the kernel log's NIC that is this interface (same VMBus device, else same name)."""
    by_id = [n for n in logged if n.vmbus_id and nic.device and n.vmbus_id.lower() == nic.device.lower()]
    by_name = [n for n in logged if nic.name in (n.synthetic, *n.synthetic_names)]
    return next(iter(by_id or by_name), None)


def _log_findings(log: Report | None, facts: Facts, present: set[str]) -> Iterator[Finding]:
    """Yield the last boot's kernel-log findings (marked with the log they come from), less what the facts replace."""
    if log is None or not log.boots:
        return
    for finding in log.boots[-1].findings:
        if finding.code == "no-accelerated-networking" and finding.code in present:
            continue
        origin = f"{facts.kernel_log_name}:{finding.line}" if finding.line else facts.kernel_log_name
        yield attrs.evolve(finding, origin=finding.origin or origin)
