"""Tests of vflog.grammar: every catalogued message variant becomes the right event."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Callable

import lark
import pytest

from vflog import grammar, lexing, machine
from vflog.errors import ParseError
from vflog.events import Level

GOLDEN = Path(__file__).parent / "golden" / "messages.txt"
#: The dmesg lines of the seed document 000 (the log lines only, not its prose).
SEED = Path(__file__).resolve().parent / "corpus" / "seed-000-lines.log"


def _golden() -> list[tuple[str, str]]:
    rows = []
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            kind, text = line.split("\t")
            rows.append((kind, text))
    return rows


@pytest.mark.parametrize(("kind", "text"), _golden(), ids=lambda v: v[:60])
def test_catalogued_message_has_its_kind(kind: str, text: str) -> None:
    """Each message variant of the catalogue parses to the documented event kind."""
    assert grammar.parse_message(text).kind == kind


def test_every_kind_of_the_grammar_has_a_golden_example() -> None:
    """No grammar alternative is untested: the golden list covers every kind."""
    assert grammar.kinds() - {kind for kind, _ in _golden()} == set()


def test_machine_inputs_are_grammar_kinds() -> None:
    """The state table only names kinds the grammar can produce."""
    assert machine.INPUTS <= grammar.kinds()


def test_prefix_fields() -> None:
    """The printk prefix gives driver, device, interface and registration state."""
    event = grammar.parse_message(
        "mlx5_core 468b:00:02.0 enP18059s1 (unregistering): Disabling LRO, not supported in legacy RQ")
    assert (event.driver, event.device, event.ifname, event.regstate) == (
        "mlx5_core", "468b:00:02.0", "enP18059s1", "unregistering")
    assert event.pci_domain == "468b"


def test_message_fields() -> None:
    """Message captures become typed fields."""
    assert grammar.parse_message(
        "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added").fields == {"slot": 1}
    event = grammar.parse_message("mana 7870:00:00.0 vf_eth0: Configured vPort 2 PD 18 DB 16")
    assert event.fields == {"vport": 2, "pd": 18, "db": 16}
    event = grammar.parse_message("mlx5_core cf63:00:02.0 enP53091s1np0: renamed from eth1 (while UP)")
    assert event.get("old") == "eth1" and event.get("while_up")
    event = grammar.parse_message("mlx4_en: 0001:00:02.0: Port 1: Using 8 TX rings")
    assert event.device == "0001:00:02.0" and event.get("port") == 1


@pytest.mark.parametrize("text", [
    "systemd-networkd[779]: rename3: Interface name change detected, rename3 has been renamed to eth1.",
    "systemd-networkd[779]: rename3: Interface name change detected, renamed to eth1.",
])
def test_networkd_rename_notice_is_a_renamed_event_of_the_new_name(text: str) -> None:
    """networkd's rename notice (both wordings) is a `renamed` event: the new name is the interface, the old a field."""
    event = grammar.parse_message(text)
    assert (event.kind, event.driver, event.ifname, event.get("old")) == ("renamed", "systemd-networkd", "eth1", "rename3")


def test_networkd_rename_keeps_dots_of_the_new_name() -> None:
    """The sentence's final full stop is not part of a dotted new name (a VLAN-style `eth0.100`)."""
    event = grammar.parse_message("systemd-networkd[1]: eth0: Interface name change detected, renamed to eth0.100.")
    assert event.ifname == "eth0.100" and event.get("old") == "eth0"


def test_old_vmbus_device_names() -> None:
    """4.x kernels name the synthetic NIC vmbus_N instead of a GUID."""
    event = grammar.parse_message("hv_netvsc vmbus_16 eth1: VF registering: eth2")
    assert (event.kind, event.device, event.ifname, event.get("vf")) == ("vf_registering", "vmbus_16", "eth1", "eth2")


def test_levels_follow_the_naming_convention() -> None:
    """Kinds named err_ are errors, warn_ warnings, the rest information."""
    assert grammar.parse_message("hv_pci e9ac9b28-cf63-4466-9ae3-4b849c3ee03b: the device is being ejected").level is Level.WARNING
    assert grammar.parse_message("hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: unable to open channel: -19").level is Level.ERROR
    assert grammar.parse_message("pci cf63:00:02.0: enabling Extended Tags").level is Level.INFO


@pytest.mark.parametrize("text", [
    "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: something new the catalogue lacks",
    "mlx5_core cf63:00:02.0: totally new message",
    "hv_pci e9ac9b28-cf63-4466-9ae3-4b849c3ee03b:",
    "",
])
def test_unknown_message_is_a_parse_error(text: str) -> None:
    """An unknown message raises ParseError, which is also a ValueError."""
    with pytest.raises(ParseError) as info:
        grammar.parse_message(text)
    assert isinstance(info.value, ValueError)
    assert info.value.text == text


def test_parse_results_are_cached() -> None:
    """The same message text is parsed once and the same event value is returned."""
    text = "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 7 added"
    assert grammar.parse_message(text) is grammar.parse_message(text)


def test_every_seed_line_is_recognised() -> None:
    """Every dmesg line of the reference document (boot and servicing) is a known event."""
    from vflog import framing
    lines = [line for line in SEED.read_text(encoding="utf-8").splitlines() if line.startswith("[ ")]
    assert len(lines) > 40
    for line in lines:
        framed = framing.frame(line.strip())
        assert framed is not None, line
        grammar.parse_message(framed.message)


# -- the compiled parser's cache: nothing from a place someone else can write ---------------------

SLOT_ADDED = "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added"


class _Marker:
    """A pickle payload whose unpickling creates the file *path* (what an attacker would plant)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (self.path, "w")


def _hostile_pickle(marker: Path) -> bytes:
    """Return a file in Lark's cache layout (hash line, then pickles) that creates *marker* when read."""
    return b"0" * 64 + b"\n" + pickle.dumps(_Marker(marker)) + pickle.dumps(_Marker(marker))


def _old_cache_path() -> Path:
    """Return where vflog up to 0.1.0 kept the parser: the system temp dir, a predictable name."""
    digest = hashlib.sha256((grammar.grammar_text() + lark.__version__).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"vflog-{os.getuid()}-{digest}.lark"


def _planted_parser() -> lark.Lark:
    """Return a parser of another grammar that turns every line into a 'planted' event."""
    return lark.Lark("start: /.+/ -> planted", parser="lalr", lexer="contextual",
                     transformer=grammar.EventBuilder(), maybe_placeholders=False)


@pytest.fixture()
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the user's cache home and the system temp dir into *tmp_path*."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path / "cache"


def _plant(home: Path) -> Path:
    """Save the planted parser under the current cache name in *home*/vflog; return the file."""
    directory = home / grammar.CACHE_SUBDIR
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory, os.O_RDONLY)
    try:
        grammar._write_cached(fd, grammar.cache_key(), _planted_parser())
    finally:
        os.close(fd)
    return directory / grammar.cache_key()


def test_parser_is_built_once_per_process() -> None:
    """parser() returns the same parser object on every call."""
    assert grammar.parser() is grammar.parser()


def test_parser_in_the_old_temp_location_is_never_loaded(cache_home: Path, tmp_path: Path) -> None:
    """A pickle planted at the old predictable temp-dir name is never read: no code of it runs."""
    marker = tmp_path / "pwned"
    _old_cache_path().write_bytes(_hostile_pickle(marker))
    assert grammar.load_or_build().parse(SLOT_ADDED).kind == "slot_added"
    assert not marker.exists()


def test_fresh_process_never_loads_the_old_temp_location(cache_home: Path, tmp_path: Path) -> None:
    """A new vflog process with a pickle planted in its temp dir parses normally and runs none of it."""
    marker = tmp_path / "pwned"
    _old_cache_path().write_bytes(_hostile_pickle(marker))
    env = {**os.environ, "TMPDIR": tempfile.gettempdir(), "XDG_CACHE_HOME": str(cache_home),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    script = "import sys, vflog; print(vflog.parse_message(sys.argv[1]).kind)"
    for _ in range(2):  # the first run may write the new cache, the second reads it
        done = subprocess.run([sys.executable, "-c", script, SLOT_ADDED], env=env, capture_output=True, text=True,
                              timeout=120)
        assert (done.returncode, done.stdout.strip()) == (0, "slot_added"), done.stderr
    assert not marker.exists()


def test_pickle_at_the_new_location_is_never_unpickled(cache_home: Path, tmp_path: Path) -> None:
    """A pickle planted under the cache name in the user's own cache dir runs nothing: the cache is plain data."""
    marker = tmp_path / "pwned"
    directory = cache_home / grammar.CACHE_SUBDIR
    directory.mkdir(parents=True, mode=0o700)
    (directory / grammar.cache_key()).write_bytes(pickle.dumps(_Marker(marker)))
    assert grammar.load_or_build().parse(SLOT_ADDED).kind == "slot_added"
    assert not marker.exists()


def test_cache_dir_is_private_and_reused(cache_home: Path) -> None:
    """The first run creates a 0700 cache dir owned by the user and a 0600 file; the next run loads it."""
    os.umask(old := os.umask(0o022))
    grammar.load_or_build()
    directory = cache_home / grammar.CACHE_SUBDIR
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700 and directory.stat().st_uid == os.geteuid()
    saved = directory / grammar.cache_key()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    fd = os.open(directory, os.O_RDONLY)
    try:
        assert grammar._read_cached(fd, grammar.cache_key()) is not None
    finally:
        os.close(fd)
    assert grammar.load_or_build().parse(SLOT_ADDED).kind == "slot_added"


def test_private_cache_is_what_gets_loaded(cache_home: Path) -> None:
    """A parser saved in the user's private cache dir is the one used (so the refusals below are real)."""
    _plant(cache_home)
    assert grammar.load_or_build().parse(SLOT_ADDED).kind == "planted"


def _foreign_file(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    os.chown(saved, 4242, -1)


def _shared_file(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved.chmod(0o666)


def _shared_dir(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved.parent.chmod(0o777)


def _foreign_dir(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda real=os.geteuid(): real + 1)


def _symlinked_file(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = saved.parent.parent / "elsewhere"
    saved.rename(target)
    saved.symlink_to(target)


def _symlinked_dir(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = saved.parent
    target = directory.parent / "elsewhere"
    directory.rename(target)
    directory.symlink_to(target)


@pytest.mark.parametrize("spoil", [_foreign_file, _shared_file, _shared_dir, _foreign_dir, _symlinked_file,
                                   _symlinked_dir], ids=lambda f: f.__name__.strip("_"))
def test_cache_someone_else_could_write_is_never_loaded(cache_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                        spoil: Callable[[Path, pytest.MonkeyPatch], None]) -> None:
    """A cached parser another user owns or could have written (or reached by a symlink) is ignored and rebuilt."""
    saved = _plant(cache_home)
    spoil(saved, monkeypatch)
    assert grammar.load_or_build().parse(SLOT_ADDED).kind == "slot_added"


def test_unusable_cache_home_still_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache home that cannot hold a directory (a plain file) only costs the cache: the parser is built."""
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert grammar.load_or_build().parse(SLOT_ADDED).kind == "slot_added"


def test_damaged_cache_file_is_rebuilt(cache_home: Path) -> None:
    """A truncated cache file is ignored and replaced by a good one."""
    saved = _plant(cache_home)
    saved.write_bytes(saved.read_bytes()[:1000])
    assert grammar.load_or_build().parse(SLOT_ADDED).kind == "slot_added"
    assert grammar.load_or_build().parse(SLOT_ADDED).kind == "slot_added"


# -- failures are cached as values --------------------------------------------------------------

def test_repeated_unknown_line_raises_fresh_errors_and_keeps_no_traceback() -> None:
    """An unknown line seen many times raises a new ParseError each time; the cache holds no exception."""
    text = "mlx5_core cf63:00:02.0: a message no catalogue knows"
    raised = []
    for _ in range(3):
        with pytest.raises(ParseError) as info:
            grammar.parse_message(text)
        raised.append(info.value)
    assert raised[0] is not raised[1] and raised[0].text == text and "column" in str(raised[0])
    assert not isinstance(grammar._parsed(text), BaseException)


def test_repeated_unknown_line_keeps_memory_flat() -> None:
    """Re-raising the same unknown line 20,000 times allocates (almost) nothing that stays."""
    text = "hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: an unknown line repeated"

    def burst(count: int) -> None:
        for _ in range(count):
            try:
                grammar.parse_message(text)
            except ParseError:
                pass

    burst(10)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        burst(20_000)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 64 * 1024


def test_long_messages_are_not_kept_in_the_cache() -> None:
    """Distinct long lines (lines may be up to 1 MiB) are parsed each time and not cached: memory stays flat."""
    def unknown(i: int) -> None:
        with pytest.raises(ParseError):
            grammar.parse_message(f"mlx5_core cf63:00:02.0: firmware version: 14.25.8362 {i} " + "x" * 50_000)

    unknown(-1)  # the lexer compiles its patterns on first use
    tracemalloc.start()
    try:
        for i in range(200):  # each text is dropped by the caller right after parsing, as the analyzer does
            unknown(i)
        grown = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert grown < 1 << 20
    event = grammar.parse_message("hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 2 added" + " " * 2000)
    assert event.kind == "slot_added"


@pytest.mark.parametrize("mac", ["00:15:5d:XX:XX:XX", "00:15:5D:43:D6:D4", "xx:xx:xx:xx:xx:xx"])
def test_redacted_or_re_cased_mac_is_read(mac: str) -> None:
    """A MAC redacted with x/X where digits stood, or printed in capitals, is still a MAC (FreeBSD and Linux wordings)."""
    assert grammar.parse_message(f"hn0: Ethernet address: {mac}").kind == "bsd_mac_address"
    event = grammar.parse_message(f"hv_netvsc 000d3a43-d6d4-000d-3a43-d6d4000d3a43: Device MAC {mac} link state up")
    assert event.kind == "synthetic_link_state"


# -- the contextual lexer (vflog.lexing): Lark's readings at a lower start-up cost -------------------

ROOT = Path(__file__).resolve().parents[1]


def _texts_to_read() -> list[str]:
    """Return messages of the golden list, the seed, the samples and the real corpus: each line from the
    message after its stamp and from every driver or program name on, and each of those cut short."""
    import re
    texts = {text for _, text in _golden()}
    paths = [SEED, *sorted((ROOT / "samples").glob("*.log")), *sorted((ROOT / "tests" / "corpus" / "real").glob("*.log"))]
    starts = re.compile(r"\] |hv_|mlx|mana|pci|vmbus|systemd|Network|kernel: |hn\d|mce\d")
    for path in paths:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            for match in starts.finditer(line[:400]):
                texts.add(line[match.end() if match.group() == "] " else match.start():400].strip())
    for text in sorted(texts):
        texts.update(text[:cut] for cut in range(len(text) // 3, len(text), max(1, len(text) // 3)))
    return sorted(texts)


def _reading(parser: lark.Lark, text: str) -> tuple[str, object]:
    """Return what *parser* makes of *text*: its event, or the kind of error and the column it names."""
    try:
        return "event", parser.parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        return type(exc).__name__, getattr(exc, "column", None)


def test_the_lexer_reads_every_text_as_larks_own_contextual_lexer() -> None:
    """The parser (its lexer made per state on first use, each state's terminals tried in Lark's order without one
    compiled alternation) reads every message of the golden list, seed, samples and real corpus, whole or cut
    short, exactly as Lark's own contextual lexer does: the same event, or the same error at the same column."""
    lark_own = lark.Lark(grammar.grammar_text(), parser="lalr", lexer="contextual", transformer=grammar.EventBuilder(),
                         maybe_placeholders=False)
    ours = grammar.parser()
    texts = _texts_to_read()
    readings = [(_reading(ours, text), _reading(lark_own, text)) for text in texts]
    assert len(texts) > 3000 and sum(theirs[0] == "event" for _, theirs in readings) > 500
    assert [text for text, (mine, theirs) in zip(texts, readings) if mine != theirs] == []


def test_a_loaded_parser_makes_a_states_lexer_when_the_state_first_reads() -> None:
    """Loading the parser makes no state's lexer; parsing a message makes those of the states it reads in, and
    states that accept the same terminals share one lexer."""
    fresh = grammar.load_or_build()
    lexer = fresh.parser.lexer
    assert isinstance(lexer, lexing._ContextualLexer) and len(lexer.lexers) == 0
    fresh.parse("hv_netvsc 000d3af5-76bd-000d-3af5-76bd000d3af5 eth0: VF slot 1 added")
    made = len(lexer.lexers)
    assert 0 < made < 30
    assert len({id(state_lexer) for state_lexer in lexer.lexers.values()}) <= made


def test_the_scanner_returns_the_first_terminal_in_larks_order_that_matches() -> None:
    """Of the terminals a state accepts, the scanner returns the first in Lark's order that matches at the position,
    as Lark's alternation does: a longer string is tried before its prefix, a pattern before a string it covers."""
    import re

    import lark.utils
    from lark.lexer import PatternRE, PatternStr, TerminalDef
    text_slice = getattr(lark.utils, "TextSlice", None)  # what Lark 1.2 and later give a scanner; Lark 1.1 a str
    terminals = [TerminalDef("LONG", PatternStr("VF slot")), TerminalDef("WORD", PatternRE(r"[A-Za-z]+")),
                 TerminalDef("SHORT", PatternStr("VF")), TerminalDef("SPACE", PatternStr(" "))]
    scanner = lexing._FirstCharScanner(terminals, 0, re, False)
    lark_scanner = lark.lexer.Scanner(terminals, 0, re, False)
    for text in ("VF slot 1", "VF 1", "Vx", " slot", "1"):
        given = text_slice(text, 0, len(text)) if text_slice is not None else text
        for pos in range(len(text)):
            assert scanner.match(given, pos) == lark_scanner.match(given, pos)
        if hasattr(lark_scanner, "fullmatch"):  # Lark 1.2 and later
            assert scanner.fullmatch(text) == lark_scanner.fullmatch(text)


def test_a_lark_whose_internals_the_fast_lexer_does_not_fit_gets_larks_own_lexer(monkeypatch) -> None:
    """When the fast lexer fails on the probe message (another Lark's internals), the parser uses Lark's own."""
    from vflog import lexing

    def broken(self, text, pos):  # what a renamed Lark internal would look like at the first token
        raise AttributeError("no such Lark internal")

    monkeypatch.setattr(lexing._FirstCharScanner, "match", broken)
    grammar.parser.cache_clear()
    try:
        made = grammar.parser()
        assert not isinstance(made.parser.lexer, lexing._ContextualLexer)
        assert made.parse(grammar.PROBE).kind == "vf_registering"
    finally:
        grammar.parser.cache_clear()
