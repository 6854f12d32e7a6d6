"""Self-checks of the log generator in tests/strategies.py (not of vflog itself)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, seed, settings

try:
    from tests.strategies import FAULTS, GeneratedLog, faulty_logs, valid_logs
except ImportError:  # tests/ is not a package: pytest puts tests/ itself on sys.path
    from strategies import FAULTS, GeneratedLog, faulty_logs, valid_logs

SETTINGS = settings(max_examples=30, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

LINE_RE = re.compile(r"^\[ *(\d+)\.(\d{6})\] (.*)$")

# token letter -> message pattern, checked in this order
TOKENS = [
    ("A", r"VF slot \d+ added$"),
    ("X", r"VF slot \d+ removed$"),
    ("R", r": VF registering: "),
    ("E", r": Data path failed to switch to VF: "),
    ("T", r": Data path switched to VF: "),
    ("F", r": Data path switched from VF: "),
    ("U", r": VF unregistering: "),
    ("P", r"PCI VMBus probing: Using version"),
    ("B", r"PCI host bridge to bus "),
    ("r", r"root bus resource "),
    ("D", r"\] type 00 class 0x020000$"),
    ("Z", r"busn_res: \[bus 00\] is released$"),
    ("J", r": joined to eth\d+$"),
    ("L", r"Disabling LRO, not supported in legacy RQ$"),
    ("N", r": renamed from eth\d+$"),
    ("K", r"(: Link up|: Link Up|: Configured vPort \d+ PD \d+ DB \d+)$"),
    ("S", r": Configured steering vPort"),
    ("b", r"^pci [0-9a-f]{4}:00:0[02]\.0: (reg 0x|enabling Extended Tags|.*PCIe bandwidth|BAR \d+: assigned)"),
    ("I", r"firmware version|MLX5E:|handle_hca_cap|mlx4_core: Initializing|slave mode|Sending |"
          r"HCA minimum|Timestamping|Activating port|: Port 1: |protocol version"),
]
TOKEN_RES = [(tok, re.compile(p)) for tok, p in TOKENS]

BRINGUP = r"APBrDb+I+RJL*N?L*KS?T"
VALID_NIC_RE = re.compile(rf"^{BRINGUP}(?:FL?KS?T){{0,2}}(?:FUL?XZ?{BRINGUP})*$")


def parse(text: str) -> list[tuple[int, str]]:
    assert text.endswith("\n")
    out = []
    for line in text[:-1].split("\n"):
        m = LINE_RE.match(line)
        assert m, line
        t = int(m[1]) * 1_000_000 + int(m[2])
        assert line.startswith("[%12.6f] " % (t / 1e6)), line
        out.append((t, m[3]))
    return out


def token(msg: str) -> str:
    for tok, rx in TOKEN_RES:
        if rx.search(msg):
            return tok
    raise AssertionError(f"unclassified relevant line: {msg}")


def netvsc_events(lines, guid):
    """[(time, token)] of the hv_netvsc lines of one NIC."""
    return [(t, token(m)) for t, m in lines if m.startswith(f"hv_netvsc {guid} ")]


def nic_tokens(lines, guid) -> str:
    """All relevant lines of one NIC (netvsc, hv_pci, PCI, VF driver), as a token string."""
    syn = next(re.match(rf"hv_netvsc {guid} (\S+): ", m)[1] for _, m in lines
               if m.startswith(f"hv_netvsc {guid} "))
    doms = {m2[1] for _, m in lines if (m2 := re.match(rf"\S+ ([0-9a-f]{{4}}):00:0[02]\.0 \S+: joined to {syn}$", m))}
    assert len(doms) == 1, doms
    dom = doms.pop()
    pci_guid = next(m.split()[1][:-1] for _, m in lines
                    if m.startswith("hv_pci ") and m.endswith(f"PCI host bridge to bus {dom}:00"))
    vfs = {m.rsplit(" ", 1)[1] for _, m in lines
           if m.startswith(f"hv_netvsc {guid} ") and ("VF: " in m or "registering: " in m)}
    dom_re = re.compile(rf"\b{dom}:00\b")
    mlx4_re = re.compile(r"^mlx4_en: (\S+): Link Up$")
    toks = []
    for _, m in lines:
        m4 = mlx4_re.match(m)
        if guid in m or pci_guid in m or dom_re.search(m) or (m4 and m4[1] in vfs):
            toks.append(token(m))
    return "".join(toks)


def check_common(log: GeneratedLog) -> list[tuple[int, str]]:
    lines = parse(log.text)
    times = [t for t, _ in lines]
    assert all(a < b for a, b in zip(times, times[1:])), "timestamps not strictly increasing"
    msgs = [m for _, m in lines]
    i_netvsc = msgs.index("hv_vmbus: registering driver hv_netvsc")
    i_pci = msgs.index("hv_vmbus: registering driver hv_pci")
    first_netvsc = min(i for i, m in enumerate(msgs) if m.startswith("hv_netvsc "))
    first_hv_pci = min((i for i, m in enumerate(msgs) if m.startswith("hv_pci ")), default=len(msgs))
    assert i_netvsc < first_netvsc and i_netvsc < i_pci < first_hv_pci
    assert set(log.final_datapath) == set(log.servicing_cycles)
    assert set(log.vf_drivers) <= set(log.final_datapath)
    for guid in log.final_datapath:
        assert re.fullmatch(r"000d3a(?P<a>[0-9a-f]{2})-(?P<b>[0-9a-f]{4})-000d-3a(?P=a)-(?P=b)000d3a(?P=a)", guid)
        assert f"hv_netvsc {guid} " in log.text
    assert set(log.final_datapath.values()) <= {"vf", "synthetic"}
    assert set(log.vf_drivers.values()) <= {"mlx5_core", "mlx4_core", "mana"}
    # the unrelated docker/veth rename never carries a driver prefix
    for m in msgs:
        if "renamed from veth" in m:
            assert re.fullmatch(r"eth0: renamed from veth[0-9a-f]{7}", m)
    return lines


@SETTINGS
@given(valid_logs())
def test_valid_logs_lifecycle_order(log):
    lines = check_common(log)
    assert log.expected_codes == frozenset()
    assert set(log.final_datapath.values()) == {"vf"}
    assert 1 <= len(log.final_datapath) <= 4
    last_relevant = max(t for t, m in lines if m.startswith(("hv_netvsc ", "hv_pci ", "pci", "mlx", "mana")))
    assert 1_000_000 <= lines[-1][0] - last_relevant <= 100_000_000
    for guid in log.final_datapath:
        toks = nic_tokens(lines, guid)
        assert VALID_NIC_RE.match(toks), (guid, toks)
        assert toks.count("X") == log.servicing_cycles[guid] <= 3
        # every servicing removal comes >= 600 s after the previous switch to VF
        ev = netvsc_events(lines, guid)
        for k in range(1, len(ev) - 1):
            (t0, a), (t1, b), (_, c) = ev[k - 1], ev[k], ev[k + 1]
            if (a, b, c) == ("T", "F", "U"):
                assert t1 - t0 >= 600_000_000
            if (a, b) == ("X", "A"):
                assert 20_000_000 <= t1 - t0 <= 200_010_000


@SETTINGS
@given(valid_logs(max_nics=1, max_cycles=0))
def test_single_nic_no_servicing(log):
    lines = check_common(log)
    (guid,) = log.final_datapath
    assert log.servicing_cycles == {guid: 0}
    assert "X" not in nic_tokens(lines, guid)


def _outages(ev):
    """Time from each 'switched from VF' to the next 'switched to VF' of the same NIC."""
    gaps = []
    for k, (t0, tok) in enumerate(ev):
        if tok == "F":
            gaps += [next((t1 - t0 for t1, tok1 in ev[k:] if tok1 == "T"), None)]
    return [g for g in gaps if g is not None]


def check_fault(fault: str, log: GeneratedLog, lines) -> None:
    end = lines[-1][0]
    per_nic = {g: netvsc_events(lines, g) for g in log.final_datapath}
    seqs = {g: "".join(tok for _, tok in ev) for g, ev in per_nic.items()}
    synthetic = [g for g, dp in log.final_datapath.items() if dp == "synthetic"]
    if fault in ("missing-readd", "no-switch", "no-driver", "no-device"):
        (g,) = synthetic
        assert end - per_nic[g][-1][0] >= 400_000_000
        expected_tail = {"missing-readd": "X", "no-switch": "AR", "no-driver": "A", "no-device": "A"}[fault]
        assert seqs[g].endswith(expected_tail), seqs[g]
        if fault in ("no-driver", "no-device"):
            assert seqs[g] == "A" and g not in log.vf_drivers
    else:
        assert not synthetic
    if fault == "no-driver":
        doms = {m.split()[1][:4] for _, m in lines if token_safe(m) == "D"}
        joined = {m.split()[1][:4] for _, m in lines if token_safe(m) == "J"}
        assert len(doms - joined) == 1
    if fault == "no-device":
        bridges = {m.rsplit(" ", 1)[1] for _, m in lines if m.startswith("hv_pci ") and "host bridge" in m}
        assert len(bridges) == len(log.final_datapath) - 1
    if fault == "duplicated-switch":
        assert sum("TT" in s for s in seqs.values()) == 1
    else:
        assert not any("TT" in s for s in seqs.values())
    if fault == "surprise-removal":
        assert sum("TX" in s for s in seqs.values()) == 1
    else:
        assert not any("TX" in s for s in seqs.values())
    if fault == "switch-failed":
        assert sum("ET" in s for s in seqs.values()) == 1
    else:
        assert "failed to switch" not in log.text
    if fault == "driver-swap":
        by_dom: dict[str, set[str]] = {}
        for _, m in lines:
            if token_safe(m) == "D":
                by_dom.setdefault(m.split()[1][:4], set()).add(m.split()[2])
        assert sum(ids == {"[15b3:1016]", "[15b3:1004]"} for ids in by_dom.values()) == 1
    outages = [gap for ev in per_nic.values() for gap in _outages(ev) if gap > 60_000_000]
    if fault == "long-outage":
        assert sum(400_000_000 <= gap <= 900_000_000 for gap in outages) == 1
    else:
        assert all(gap <= 205_000_000 for gap in outages)
    if fault == "flapping":
        flappy = []
        for ev in per_nic.values():
            froms = [t for t, tok in ev if tok == "F" and t >= 1_000_000_000]
            flappy += [i for i in range(len(froms) - 4) if froms[i + 4] - froms[i] <= 120_000_000]
        assert flappy
    if fault in ("missing-readd", "surprise-removal", "driver-swap", "long-outage"):
        assert sum(log.servicing_cycles.values()) >= (0 if fault == "missing-readd" else 1)


def token_safe(msg: str) -> str:
    try:
        return token(msg)
    except AssertionError:
        return ""


@SETTINGS
@given(faulty_logs())
def test_faulty_logs(case):
    log, fault = case
    assert fault in FAULTS
    assert log.expected_codes == frozenset({FAULTS[fault]})
    lines = check_common(log)
    check_fault(fault, log, lines)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault(fault):
    @settings(max_examples=8, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(faulty_logs(faults=(fault,)))
    def run(case):
        log, name = case
        assert name == fault and log.expected_codes == frozenset({FAULTS[fault]})
        check_fault(fault, log, check_common(log))

    run()


def test_faults_table():
    """Each injectable fault names its own finding code, one a real log can show and vflog gives on that code's shipped sample.

    The fault -> code mapping is the generator's design, so its values are not re-typed here: they are checked
    against independent sources, the finding catalogue and the hand-written samples/finding-<code>.log files;
    test_each_fault checks that the generator injects each fault.
    """
    from pathlib import Path

    import vflog
    from vflog.catalogue import CODES, STATE_CODES

    samples = Path(__file__).resolve().parents[1] / "samples"
    assert len(set(FAULTS.values())) == len(FAULTS)
    assert set(FAULTS.values()) <= set(CODES) - STATE_CODES
    for fault, code in FAULTS.items():
        report = vflog.analyze(samples / f"finding-{code}.log")
        assert code in {f.code for f in report.findings}, (fault, code)


def test_deterministic_given_seed():
    def collect():
        texts = []

        @seed(20240607)
        @settings(max_examples=10, database=None, deadline=None)
        @given(valid_logs(max_nics=3, max_cycles=2))
        def run(log):
            texts.append(log.text)

        run()
        return texts

    assert collect() == collect()
