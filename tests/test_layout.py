"""The package's layout: data flows one way, renderers know only the report model, public names are not shadowed."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import vflog

PACKAGE = Path(vflog.__file__).resolve().parent
#: What a renderer may import: the report model, the finding catalogue and the values they are made of
#: (and the package itself, for its version).
RENDERER_IMPORTS = {"vflog", "vflog.report", "vflog.catalogue", "vflog.clock", "vflog.events", "vflog.fleet.results",
                    "vflog.render", "vflog.check.result",
                    "vflog.render_timeline",  # the HTML page shares the terminal timeline's axis
                    "vflog.render_html", "vflog.render_fleet_html"}  # the fleet page shares the report page's picture
RENDERERS = ("vflog.render", "vflog.render_scan", "vflog.render_check", "vflog.render_timeline", "vflog.render_html",
             "vflog.render_fleet_html")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Return, per vflog module, the vflog modules it imports (anywhere in its code)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                    if node.level else (node.module or "")
                for alias in node.names:  # `from . import x` names a module
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
                              or (PACKAGE.parent / candidate.replace(".", "/")).is_dir() else base)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m == "vflog" or m.startswith("vflog.")} - {name}
    return graph


def test_no_import_cycles() -> None:
    """No vflog module reaches itself through its imports (function-level imports included)."""
    graph = _imports()
    graph.pop("vflog", None)  # the package's front door imports everything and nothing imports it back
    for start in graph:
        seen, todo = set(), list(graph[start] - {"vflog"})
        while todo:
            module = todo.pop()
            assert module != start, f"{start} imports itself through {sorted(seen)}"
            if module not in seen:
                seen.add(module)
                todo.extend(graph.get(module, set()) - {"vflog"})


def test_renderers_know_only_the_report_model() -> None:
    """Renderers import the report model and the catalogue, never the pipeline or the command line."""
    graph = _imports()
    for renderer in RENDERERS:
        assert graph[renderer] <= RENDERER_IMPORTS, (renderer, graph[renderer] - RENDERER_IMPORTS)


def test_no_public_name_is_shadowed_by_a_submodule() -> None:
    """Every name in vflog.__all__ stays what it is after every submodule was imported."""
    before = {name: getattr(vflog, name) for name in vflog.__all__}
    for path in PACKAGE.rglob("*.py"):
        if path.name != "__main__.py":  # running it is the command itself
            importlib.import_module(_module_name(path))
    assert {name: getattr(vflog, name) for name in vflog.__all__} == before


def test_a_module_over_400_lines_says_why_at_its_top() -> None:
    """Every vflog module longer than about 400 lines (over 420) gives the reason in its docstring."""
    import ast
    package = Path(vflog.__file__).parent
    unexplained = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 420:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Longer than 400 lines because" not in doc:
                unexplained.append(str(path.relative_to(package)))
    assert unexplained == []
