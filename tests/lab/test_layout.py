"""The lab's shape: every module imports on its own, and no two import each
other (not even for type checking), so a newcomer can read it bottom-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import chaoslitmus.lab

LAB = Path(chaoslitmus.lab.__file__).resolve().parent
PACKAGE = "chaoslitmus.lab"


def lab_modules() -> list[str]:
    names = []
    for path in sorted(LAB.rglob("*.py")):
        parts = path.relative_to(LAB).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join((PACKAGE, *parts)))
    return names


def module_file(name: str) -> Path:
    rel = Path(*name.split(".")[2:])
    package = LAB / rel / "__init__.py"
    return package if package.exists() else (LAB / rel).with_suffix(".py")


def imported_lab_modules(name: str, known: set[str]) -> set[str]:
    """Lab modules `name` imports anywhere in its text (TYPE_CHECKING and
    function bodies included); importing the package face counts as nothing."""
    path = module_file(name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m in known and m != PACKAGE and m != name}


def test_no_lab_module_imports_one_that_imports_it_back() -> None:
    known = set(lab_modules())
    graph = {name: imported_lab_modules(name, known) for name in known}
    cycles = []

    def visit(node: str, path: list[str], done: set[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in done:
                visit(nxt, [*path, nxt], done)
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name], done)
    assert cycles == []


def test_every_lab_module_imports_alone_in_a_fresh_interpreter() -> None:
    """One interpreter, the lab's modules forgotten before each import, so
    each is the first lab module loaded (an import-order bug shows here)."""
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('chaoslitmus')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {exc!r}')\n"
        "print('\\n'.join(failed))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *lab_modules()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_each_subsystem_says_what_it_stands_in_for() -> None:
    for sub in ("kube", "litmus", "mesh", "bookinfo"):
        text = (LAB / sub / "__init__.py").read_text(encoding="utf-8").strip()
        docstring = ast.get_docstring(ast.parse(text))
        assert docstring and "\n" not in docstring, sub


def test_the_face_exports_what_starting_a_lab_needs() -> None:
    for name in chaoslitmus.lab.__all__:
        assert getattr(chaoslitmus.lab, name) is not None, name
