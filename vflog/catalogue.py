"""The finding codes vflog can report: severity, meaning, likely cause and what to check."""

from __future__ import annotations

import enum
from typing import Mapping

import attrs


class Severity(str, enum.Enum):
    """How much a finding matters; ordered info < warning < error."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Return 0 for info, 1 for warning, 2 for error."""
        return ("info", "warning", "error").index(self.value)


@attrs.frozen
class Code:
    """One finding code: its usual severity, a one-line summary, the likely cause and what to check."""

    code: str
    severity: Severity
    summary: str
    cause: str
    check: str


E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

_CODES = (
    Code("slot-without-device", E,
         "The host offered a VF slot but no VF PCI device followed.",
         "The vPCI offer never arrived or hv_pci is not loaded (hv_vmbus never registered hv_pci).",
         "Check that the image loads pci-hyperv (hv_pci) and look for hv_pci errors after the slot offer."),
    Code("device-without-driver", E,
         "A VF PCI device appeared but no VF driver took it: the image lacks the driver.",
         "The mlx4_core, mlx5_core or mana module is missing from the image or initramfs, or blacklisted.",
         "Check `lspci -k` for the VF and `modinfo mlx5_core mlx4_core mana`; install the driver for the device ID shown."),
    Code("driver-probe-failed", E,
         "The VF driver failed to initialise the device.",
         "Firmware not ready or the device was withdrawn during probe (firmware 65535.65535.65535, FW init timeout, probe error).",
         "Read the evidence lines; a 65535 firmware version means the device was already gone; check for a slot removal nearby."),
    Code("vf-not-registered", E,
         "The VF driver bound the device but netvsc never paired the VF with a synthetic NIC.",
         "Serial/MAC pairing failed (no netdev found for vf serial, no PCI slot information) or the VF netdev was not created.",
         "Look for pairing errors on the VF and compare the VF and synthetic MAC addresses."),
    Code("datapath-not-switched", E,
         "The VF registered but the data path never switched to it.",
         "netvsc_vf_setup could not open the VF (unable to open, MTU sync) or the synthetic NIC was down.",
         "Check that the synthetic interface is up and look for 'unable to open' or MTU errors on the VF."),
    Code("ends-on-synthetic", W,
         "The data path switched back to the synthetic NIC and stayed there while the VF was still present.",
         "The VF was brought down (ifdown, NetworkManager or networkd managing the VF) or lost carrier.",
         "Make sure no network manager configures the VF interface; check `ip link` for the VF state."),
    Code("datapath-flapping", W,
         "The data path switched between VF and synthetic more often than start-up explains.",
         "Something keeps bringing the VF down and up (network manager, carrier changes, MTU changes).",
         "Find which agent touches the VF interface around the evidence times."),
    Code("switch-failed", E,
         "netvsc failed to switch the data path.",
         "The host did not answer the SWITCH_DATA_PATH request (error or timeout).",
         "Check host health; repeated failures need an Azure support case with the evidence lines."),
    Code("vf-not-readded", E,
         "The VF was removed and not offered again within the expected time.",
         "Host servicing did not complete, the VM was moved to hardware without Accelerated Networking, or AN was disabled on the NIC.",
         "Check the NIC's Accelerated Networking setting and the VM's activity log around the removal time."),
    Code("long-outage", W,
         "Traffic ran on the synthetic path for longer than a host-servicing outage normally lasts.",
         "Slow host servicing or a slow VF re-initialisation in the guest.",
         "Compare with the Azure activity log; check the guest's VF driver start-up lines in the re-add."),
    Code("unexpected-event", W,
         "A lifecycle event arrived in a state the lifecycle does not allow.",
         "Lines missing from the log, two writers interleaved, or a driver bug.",
         "Read the evidence line with the state shown; check whether the log was filtered or truncated."),
    Code("surprise-removal", E,
         "The VF disappeared while it was still registered or carrying traffic.",
         "The host withdrew the device without the orderly eject (switch-from, unregister) first.",
         "Look for VF driver errors around the evidence lines; report repeated cases to Azure support."),
    Code("pci-domain-collision", W,
         "hv_pci found the PCI domain derived from the VF's GUID already used and chose another.",
         "Several vPCI devices (VFs, GPUs, NVMe) map to the same domain number.",
         "Usually harmless; udev names based on the domain (enP<domain>...) will differ from other VMs."),
    Code("driver-changed", I,
         "After a re-add the VF has another driver or device ID: the VM moved to other hardware.",
         "Host servicing or redeployment placed the VM on a host with a different NIC model.",
         "Make sure the image carries both mlx4 and mlx5 (and mana) drivers."),
    Code("association-wait", E,
         "netvsc waited for the host's VF association message, which never came.",
         "The VF came up before the host's 'VF slot added' message (6.1+ race) and the association was lost.",
         "Check for a 'VF slot N added' line; a stuck wait blocks the data path switch until the host resends it."),
    Code("vf-driver-error", E,
         "The VF driver (mlx4, mlx5 or MANA) logged an error.",
         "Firmware health problems, command timeouts or a device reset, often when the host withdraws the VF.",
         "Read the evidence lines; check whether a removal followed and whether the data path recovered."),
    Code("hv-pci-error", E,
         "The Hyper-V virtual PCI driver logged an error.",
         "vPCI protocol negotiation, D0 entry, MMIO space or interrupt setup with the host failed.",
         "Read the evidence line; MMIO errors need a VM size or configuration change, others an Azure support case."),
    Code("netvsc-error", E,
         "The synthetic NIC driver (hv_netvsc) logged an error.",
         "VMBus channel, NVSP/RNDIS setup, VF pairing or enslaving failed.",
         "Read the evidence line; pairing errors mean the VF stays unused."),
    Code("isolated-vm", W,
         "netvsc refused the VF offer because the VM is isolated (confidential VM).",
         "Confidential VMs do not accept VF offers; Accelerated Networking cannot work there.",
         "Expected on CVM/SNP VM sizes; disable Accelerated Networking on the NIC or choose another size."),
    Code("vf-temp-name", W,
         "The VF carried a kernel temporary name (renameN).",
         "A udev rename failed half-way (name clash between udev rules and the kernel's ethN names).",
         "Check udev rules (70-persistent-net, cloud-init) that rename interfaces by MAC: VF and synthetic share the MAC."),
    Code("udev-rename-failed", W,
         "systemd-udevd failed to rename a VF interface.",
         "The VF was already up (busy) or the target name existed; a rule matched the VF by MAC.",
         "Make udev/cloud-init rules match on driver hv_netvsc only, not on MAC alone."),
    Code("kernel-trace", E,
         "A kernel warning, oops or call trace names the VF drivers or follows a VF lifecycle event.",
         "A driver bug hit during VF hot-add, removal or data path switching.",
         "Report the trace with the kernel version to the distribution; check for a newer kernel."),
    Code("time-regression", W,
         "Timestamps went backwards by a little within one boot.",
         "Two writers interleaved, lines were duplicated or pasted out of order.",
         "Results near the evidence lines may be out of order; check how the log was collected."),
    Code("vf-managed-by-userspace", W,
         "A network manager (systemd-networkd, NetworkManager) configures the VF interface itself.",
         "A configuration matches the VF by name pattern or MAC; the VF is an enslaved port of the synthetic NIC.",
         "Exclude the VF from network configuration (match driver hv_netvsc, or mark mlx4/mlx5/mana devices unmanaged)."),
    Code("no-accelerated-networking", I,
         "The log shows the NIC's whole boot and no VF at all: its traffic runs on the synthetic path.",
         "Accelerated Networking is off for this NIC, the VM size does not support it, or the host had no VF to offer.",
         "Check the NIC's Accelerated Networking setting and whether the VM size supports it."),
    Code("vf-traffic-idle", W,
         "The synthetic NIC has a VF but its vf_* packet counters stand still while the NIC carries traffic.",
         "The data path is on the synthetic NIC although the VF is present (VF down, not switched, or switched back).",
         "Run `ethtool -S` on the synthetic NIC twice and compare vf_rx_packets and vf_tx_packets; check the VF is up."),
    Code("ip-on-vf", E,
         "A global IP address is configured on the VF interface.",
         "A network configuration matches the VF (by name or MAC) and assigns it an address; only the synthetic NIC should have one.",
         "Remove the address from the VF and exclude the VF from network configuration (match driver hv_netvsc)."),
    Code("vf-not-bonded", E,
         "A VF interface with the synthetic NIC's MAC has no master: netvsc did not pair it.",
         "The VF registration with hv_netvsc failed, or something released the VF from its synthetic NIC.",
         "Check `ip -d address` for the VF's master and the kernel log for VF registering lines."),
    Code("vf-missing-now", E,
         "The current boot's kernel log shows a VF for the NIC, but no VF interface or VF PCI device exists now.",
         "The host removed the VF (servicing, redeployment to hardware without it, Accelerated Networking disabled) and did not offer it again.",
         "Check the NIC's Accelerated Networking setting and the VM's activity log; read the log's last VF lines."),
    Code("vf-driver-not-installed", W,
         "The running kernel has no module for one of the VF drivers a VM can be moved to.",
         "The image carries only the driver of today's hardware; after a redeployment the other VF model finds no driver.",
         "Install the kernel's modules for mlx4 (mlx4_core, mlx4_en), mlx5 (mlx5_core) and MANA (mana) where the kernel has them."),
    Code("kernel-too-old", W,
         "The distribution release or kernel is older than the minimum Azure documents for Accelerated Networking.",
         "The image predates the VF support of its distribution (or runs a kernel without it).",
         "Update the image or install the distribution's Azure kernel."),
    Code("incomplete", I,
         "A NIC's lifecycle was still in progress when the log ended.",
         "The log ends too soon after the last event to tell whether the step finished.",
         "Collect a longer log (dmesg after the VM has settled) if the state matters."),
)

#: Every finding code, by name.
CODES: Mapping[str, Code] = {code.code: code for code in _CODES}

#: The codes only ``vflog check`` gives: they judge the VM's present state, which no kernel log shows.
STATE_CODES = frozenset({"vf-traffic-idle", "ip-on-vf", "vf-not-bonded", "vf-missing-now", "vf-driver-not-installed",
                         "kernel-too-old"})


def explain(code: str) -> Code:
    """Return the catalogue entry for *code*; raise KeyError for an unknown code."""
    return CODES[code]
