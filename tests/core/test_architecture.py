"""core/ never imports Qt, pyqtgraph or app (STYLE §1): checked with Qt made unimportable."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import core

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib, sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "app"}:
            raise ImportError(f"core must not import {name}")
        return None

sys.meta_path.insert(0, Block())
for name in sys.argv[1:]:
    importlib.import_module(name)
print("ok", len(sys.argv) - 1)
"""


def core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(core.__path__, "core."))


def test_every_core_module_imports_without_qt():
    mods = core_modules()
    assert "core.train.engine" in mods and "core.tasks.frame_quality" in mods
    out = subprocess.run([sys.executable, "-c", SCRIPT, *mods], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"ok {len(mods)}"


def _top_level_imports(path: Path, module: str) -> set[str]:
    """Modules of ``core`` that ``path`` imports when it is imported (not inside functions)."""
    import ast

    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    is_pkg = path.name == "__init__.py"
    pkg = module if is_pkg else module.rpartition(".")[0]
    for node in tree.body:  # module level only: imports inside functions run later
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("core")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if base.startswith("core"):
                out.add(base)
                out |= {f"{base}.{a.name}" for a in node.names}
    return out


def test_core_has_no_import_cycles():
    files = {m: ROOT / (m.replace(".", "/") + ".py") for m in core_modules()}
    for m in list(files):
        if not files[m].exists():
            files[m] = ROOT / m.replace(".", "/") / "__init__.py"
    graph = {m: {d for d in _top_level_imports(p, m) if d in files and d != m}
             for m, p in files.items()}
    # a package's __init__ importing its own submodules is not a cycle of concern
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_modules_stay_small():
    too_long = {str(p.relative_to(ROOT)): n for d in ("core", "app")
                for p in (ROOT / d).rglob("*.py")
                if (n := len(p.read_text().splitlines())) > 450}
    assert not too_long, f"modules over 450 lines (house style: ~400): {too_long}"


def test_folders_say_what_lives_in_them():
    for folder in ("io", "store", "train", "stats", "tasks", "synth"):
        assert (ROOT / "core" / folder / "__init__.py").is_file(), folder
    assert (ROOT / "core" / "store" / "schema.py").is_file()
    assert (ROOT / "core" / "tasks" / "frame_quality").is_dir()
    assert (ROOT / "app" / "workspaces" / "base.py").is_file()
