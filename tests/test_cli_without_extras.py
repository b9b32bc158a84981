"""`chaoslitmus` from the core install: the lab and report extras missing.

A fresh interpreter whose import system cannot find the extras' modules
(jsonschema, aiohttp, matplotlib), as after `pip install chaostoolkit-litmus`
with no extras; the real CLI entry point runs in it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCKER = """
import sys
from importlib.abc import MetaPathFinder

EXTRAS = ("jsonschema", "aiohttp", "matplotlib")


class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in EXTRAS:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


for loaded in [m for m in sys.modules if m.partition(".")[0] in EXTRAS]:
    del sys.modules[loaded]
sys.meta_path.insert(0, NotInstalled())
from chaoslitmus.cli import main

try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help, --version
    code = exc.code
HEAVY = ("chaoslitmus.lab.kube", "chaoslitmus.lab.lab", "chaoslitmus.report.model")
heavy = sorted(
    m for m in sys.modules if m.partition(".")[0] in EXTRAS or m.startswith(HEAVY)
)
print("loaded:", ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""

LAB_LINE = (
    "chaoslitmus lab: the lab needs the 'lab' extra: "
    'pip install "chaostoolkit-litmus[lab]"'
)


def chaoslitmus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["lab", "up", "--help"]])
def test_version_and_help_need_no_extra(args: list[str]) -> None:
    done = chaoslitmus(*args)
    assert done.returncode == 0, done.stderr
    assert "chaostoolkit-litmus" in done.stdout or "usage:" in done.stdout
    assert "loaded: \n" in done.stderr  # nothing heavy was imported


@pytest.mark.parametrize(
    "args", [["lab", "up"], ["lab", "run", "--", sys.executable, "-c", "pass"]]
)
def test_the_lab_without_its_extra_says_how_to_install_it(args: list[str]) -> None:
    done = chaoslitmus(*args)
    assert done.returncode == 2
    lines = [
        line for line in done.stderr.splitlines() if not line.startswith("loaded:")
    ]
    assert lines == [LAB_LINE]
    assert done.stdout == ""


def test_a_missing_module_that_is_not_the_extra_is_not_hidden() -> None:
    """Only the extra's modules get the install hint; a real bug still shows."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['chaoslitmus.lab.mesh.envoy'] = None\n"
            "from chaoslitmus.cli import main; sys.exit(main(['lab', 'up']))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "ModuleNotFoundError" in done.stderr
    assert "extra" not in done.stderr
