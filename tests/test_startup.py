"""Start-up: importing vflog and its command line, or reporting on a plain log, loads no optional machinery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Modules that only some sub-commands or output formats need: the check (live system, sosreports), tables,
#: the HTML page, process pools, databases, difflib (a command suggested for a misspelt one) and subprocess
#: (programs the live check runs).
OPTIONAL = ("vflog.check", "vflog.check.gather", "vflog.check.judge", "vflog.render_check", "tabulate", "jinja2",
            "multiprocessing", "concurrent.futures", "sqlite3", "tqdm", "vflog.fleet", "difflib", "subprocess")
#: What a report run may not load: as above, but the check package's front (whether an input is a sosreport)
#: is asked of every input, so it is allowed; its gathering and judging are not, nor its tree of files (tarballs),
#: nor the options of the other sub-commands (scan's machinery), nor glob (only for a name that is a pattern).
NOT_IN_A_REPORT = (*(name for name in OPTIONAL if name != "vflog.check"), "vflog.check.tree", "vflog.cli.scan",
                   "glob")

#: Prints which of the modules named in argv[1] (JSON) are loaded after the code in argv[2] ran.
SCRIPT = """
import contextlib, io, json, sys
exec(sys.argv[2])
print(json.dumps(sorted(name for name in json.loads(sys.argv[1]) if name in sys.modules)))
"""


def _loaded(code: str, names: tuple[str, ...]) -> list[str]:
    """Return which of *names* a fresh interpreter has loaded after running *code* with the checkout's vflog."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(names), code], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_vflog_and_its_cli_loads_no_optional_machinery() -> None:
    """`import vflog; import vflog.cli` loads neither the check, nor tabulate, jinja2, process pools nor sqlite3."""
    assert _loaded("import vflog; import vflog.cli", OPTIONAL) == []


def test_a_table_report_of_a_plain_log_loads_no_check_table_library_html_or_pool() -> None:
    """`vflog report` of a plain log (table output) loads neither the check, tabulate, jinja2, pools nor sqlite3:
    its NIC table of plain text is drawn without tabulate."""
    code = ("import vflog.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    vflog.cli.main(['report', 'samples/normal-boot.log'])")
    assert _loaded(code, (*NOT_IN_A_REPORT, "wcwidth")) == []


def test_a_json_report_of_a_plain_log_loads_no_table_library() -> None:
    """`vflog report --format json` of a plain log does not load tabulate (nor wcwidth) either."""
    code = ("import vflog.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    vflog.cli.main(['report', '--format', 'json', 'samples/normal-boot.log'])")
    assert _loaded(code, (*NOT_IN_A_REPORT, "wcwidth")) == []


def test_the_check_values_still_load_from_the_packages() -> None:
    """The check's values stay reachable as before: vflog.check.CheckResult/Facts and vflog.NicCheck load on use."""
    code = ("import vflog, vflog.check\n"
            "from vflog.check.result import CheckResult\n"
            "from vflog.check.gather import Facts\n"
            "assert vflog.check.CheckResult is CheckResult and vflog.check.Facts is Facts\n"
            "assert vflog.NicCheck.__module__ == 'vflog.check.result'\n"
            "assert {'CheckResult', 'Facts', 'check'} <= set(dir(vflog.check))")
    assert _loaded(code, ("vflog.check.result",)) == ["vflog.check.result"]


def test_the_command_list_of_help_loads_no_scan_machinery() -> None:
    """`vflog --help` lists every sub-command (scan too, by its one-line help) without loading scan's machinery."""
    code = ("import vflog.cli\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    assert vflog.cli.main(['--help']) == 0\n"
            "assert all(name in out.getvalue() for name in vflog.cli.COMMANDS)")
    assert _loaded(code, ("vflog.cli.scan", "vflog.fleet", "vflog.check.tree")) == []


def test_help_lists_the_same_commands_whether_or_not_their_options_are_defined() -> None:
    """The command list of `vflog --help` is the same text when main() defines only the command it runs."""
    from vflog.cli import build_parser
    assert build_parser(only=()).format_help() == build_parser().format_help()


def test_the_catalogue_reads_a_row_from_its_line_when_its_driver_is_looked_up() -> None:
    """The catalogue read from its file makes no row at first; a lookup reads the rows of that driver only; its rows,
    indexes and answers are those of the catalogue made from all rows at once."""
    from vflog.messages import Catalogue, _rows, catalogue_text
    text = catalogue_text()
    lazy, full = Catalogue.of_text(text), Catalogue(_rows(text))
    assert lazy._rows.count(None) == len(lazy._rows) > 2000
    message = "VF slot 1 added"
    assert lazy.match("hv_netvsc", message) == full.match("hv_netvsc", message)
    assert 0 < len(lazy._rows) - lazy._rows.count(None) < len(lazy._rows) // 2
    assert lazy.rows == full.rows and list(lazy._owned.items()) == list(full._owned.items())
    assert [(m.row, m.needle, m.weight) for m in lazy.matchers()] == [(m.row, m.needle, m.weight) for m in full.matchers()]


def test_importing_vflog_and_loading_the_parser_start_no_garbage_collection(tmp_path: Path) -> None:
    """Importing vflog and loading its parser start no collection of the cyclic garbage collector (their values are
    long-lived, so a collection would free nothing), and leave it enabled.

    As an installed vflog does, the run starts from cached bytecode (compiling a module's source is the
    interpreter's work, before the module runs), and the standard modules vflog.lazy needs to pause the
    collector are loaded first (whether loading them collects depends on what the interpreter's site loaded)."""
    code = ("import gc, contextlib, importlib, typing\n"
            "runs = []\n"
            "gc.callbacks.append(lambda phase, info: runs.append(phase) if phase == 'start' else None)\n"
            "import vflog\n"
            "from vflog import grammar\n"
            "grammar.parser()\n"
            "assert runs == [] and gc.isenabled(), (runs, gc.isenabled())\n")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(tmp_path))
    for _ in range(2):  # the first run writes the bytecode cache
        done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=600)
    assert done.returncode == 0, done.stderr


def test_a_pause_of_the_garbage_collector_keeps_the_callers_state() -> None:
    """paused_gc leaves the collector disabled when the caller had disabled it, and a caller's frozen objects frozen."""
    import gc

    from vflog.lazy import paused_gc
    enabled = gc.isenabled()
    try:
        gc.disable()
        with paused_gc():
            pass
        assert not gc.isenabled()
        gc.enable()
        gc.freeze()
        frozen = gc.get_freeze_count()
        with paused_gc():
            [object() for _ in range(100)]
        assert gc.get_freeze_count() == frozen and gc.isenabled()
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()
        else:
            gc.disable()
