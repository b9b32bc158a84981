"""The core stands alone: importing it pulls in neither the lab, the report,
nor their dependencies, and every third-party package it imports is declared.

Core modules are found by walking the source tree (without importing it), so
a new module is covered the day it is added.
"""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import json
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import chaoslitmus

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(chaoslitmus.__file__).resolve().parent
# Optional parts of the distribution: each needs its extra.
EXTRA_PACKAGES = ("chaoslitmus.lab", "chaoslitmus.report")
# What only the extras bring; the core must not import any of it.
FORBIDDEN = (*EXTRA_PACKAGES, "jsonschema", "matplotlib")


def is_within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def core_modules() -> list[str]:
    """Every module of `chaoslitmus` outside the extras, from the file tree."""
    found = ["chaoslitmus"]
    pending = [(PACKAGE, "chaoslitmus")]
    while pending:
        path, prefix = pending.pop()
        for module in pkgutil.iter_modules([str(path)]):
            name = f"{prefix}.{module.name}"
            if is_within(name, EXTRA_PACKAGES):
                continue
            found.append(name)
            if module.ispkg:
                pending.append((path / module.name, name))
    return sorted(found)


def test_the_walk_finds_the_core_packages_and_activity_modules():
    modules = core_modules()
    for expected in (
        "chaoslitmus.cli",
        "chaoslitmus.k8s",
        "chaoslitmus.sources",
        "chaoslitmus.controls.safe_interrupt",
        "chaoslitmus.http._client",
        "chaoslitmus.mesh.snapshot",
        *(module for module, _ in chaoslitmus.ACTIVITY_MODULES),
    ):
        assert expected in modules
    assert not [m for m in modules if is_within(m, EXTRA_PACKAGES)]


def test_importing_every_core_module_imports_no_extra():
    script = (
        "import importlib, json, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert "chaoslitmus.litmus.actions" in loaded  # the imports did run
    assert [name for name in loaded if is_within(name, FORBIDDEN)] == []


def third_party_imports() -> dict[str, set[str]]:
    """Top-level names the core imports (anywhere in a module), by file."""
    names: dict[str, set[str]] = {}
    for module in core_modules():
        parts = module.split(".")[1:]
        path = PACKAGE.joinpath(*parts)
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                tops = [(node.module or "").split(".")[0]]
            else:
                continue
            for top in tops:
                if top not in sys.stdlib_module_names and top != "chaoslitmus":
                    names.setdefault(top, set()).add(module)
    return names


def canonical(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def install_requires() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = config["options"]["install_requires"].strip().splitlines()
    names = (re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0] for line in lines)
    return {canonical(name) for name in names if name and not name.startswith("#")}


def test_every_package_the_core_imports_is_declared():
    declared = install_requires()
    providers = importlib.metadata.packages_distributions()
    undeclared = {
        top: sorted(users)
        for top, users in third_party_imports().items()
        if not {canonical(d) for d in providers.get(top, [top])} & declared
    }
    assert undeclared == {}, "add these to install_requires in setup.cfg"
