"""Check the core install alone, as a new user gets it from a wheel.

    python .ci/check_core_install.py            # needs `build` in this Python

Builds the wheel, installs it WITHOUT extras (plus `chaostoolkit`, for the
`chaos` command) into a fresh virtualenv made with this Python, and checks,
from a directory outside the source tree:

- `chaoslitmus --version` and `chaoslitmus --help` work;
- every core module imports (activity modules included), and that pulls in
  neither `chaoslitmus.lab`, `chaoslitmus.report`, jsonschema nor matplotlib;
  building the `chaoslitmus` parser pulls in neither jsonschema nor matplotlib
  (it reads the argument definitions in `lab/cli_args.py` and
  `report/cli_args.py`, which need no extra);
- `chaos discover chaostoolkit-litmus --no-install` lists every activity the
  activity modules export in `__all__`;
- `chaoslitmus lab up` says, in one line, to install the `lab` extra and
  exits 2; `chaoslitmus report` still writes its report (markdown needs no
  extra) and says, in one line, that charts need the `report` extra.

Prints one line per check and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "chaostoolkit-litmus"
TIMEOUT_S = 600

# Run inside the fresh venv: import the installed core, report what came with it.
PROBE_IMPORTS = r"""
import importlib, json, pkgutil, sys
from pathlib import Path
import chaoslitmus
extras = ("chaoslitmus.lab", "chaoslitmus.report")
forbidden = (*extras, "jsonschema", "matplotlib")
within = lambda name, ps: any(name == p or name.startswith(p + ".") for p in ps)
modules, pending = ["chaoslitmus"], [(Path(chaoslitmus.__file__).parent, "chaoslitmus")]
while pending:
    path, prefix = pending.pop()
    for info in pkgutil.iter_modules([str(path)]):
        name = f"{prefix}.{info.name}"
        if within(name, extras):
            continue
        modules.append(name)
        if info.ispkg:
            pending.append((path / info.name, name))
failed = {}
for name in sorted(modules):
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
activities = sorted(
    f"{module}:{name}"
    for module, _ in chaoslitmus.ACTIVITY_MODULES
    for name in importlib.import_module(module).__all__
)
print(json.dumps({
    "file": chaoslitmus.__file__,
    "modules": sorted(modules),
    "failed": failed,
    "forbidden": sorted(n for n in sys.modules if within(n, forbidden)),
    "activities": activities,
}))
"""


# Run inside the fresh venv: what building the `chaoslitmus` parser imports.
PROBE_PARSER = r"""
import json, sys
from chaoslitmus import cli
cli.build_parser()
forbidden = ("jsonschema", "matplotlib")
print(json.dumps(sorted(n for n in sys.modules if n.partition(".")[0] in forbidden)))
"""


# The smallest journal `chaoslitmus report` reads: one run, no activities.
MINIMAL_JOURNAL = {
    "experiment": {"title": "core install check"},
    "status": "completed",
    "deviated": False,
    "run": [],
    "rollbacks": [],
    "steady_states": {},
}


class Checks:
    """Runs commands in the fresh venv and keeps a verdict per check."""

    def __init__(self, venv: Path, workdir: Path) -> None:
        self.bin = venv / ("Scripts" if os.name == "nt" else "bin")
        self.workdir = workdir
        self.failures: list[str] = []
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"PYTHONPATH", "VIRTUAL_ENV", "KUBECONFIG"}
        }
        self.env["PATH"] = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / argv[0]), *argv[1:]],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )

    def check(self, title: str, verdict: Callable[[], str | None]) -> None:
        """`verdict` returns None when the check holds, else what went wrong."""
        try:
            problem = verdict()
        except Exception as exc:  # a crashed check is a failed check
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            print(f"ok    {title}", flush=True)
        else:
            print(f"FAIL  {title}: {problem}", flush=True)
            self.failures.append(title)


def lines_of(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


def needs_extra(done: subprocess.CompletedProcess[str], extra: str) -> str | None:
    """The command said, in one line, to install `extra`, and exited 2."""
    lines = lines_of(done)
    if done.returncode != 2:
        return f"exit {done.returncode}, expected 2; output: {lines[-3:]}"
    if len(lines) != 1 or f"{DISTRIBUTION}[{extra}]" not in lines[0]:
        return f"expected one line naming {DISTRIBUTION}[{extra}], got {lines}"
    return None


def build_wheel(outdir: Path) -> Path:
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(ROOT)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        sys.exit(
            f"building the wheel failed:\n{built.stdout[-2000:]}{built.stderr[-2000:]}"
        )
    (wheel,) = outdir.glob("*.whl")
    return wheel


def make_venv(venv: Path, wheel: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = venv / ("Scripts" if os.name == "nt" else "bin") / "pip"
    subprocess.run(
        [str(pip), "install", "--quiet", "--disable-pip-version-check"]
        + [str(wheel), "chaostoolkit"],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def run_checks(checks: Checks) -> None:
    version = checks.run("chaoslitmus", "--version")
    checks.check(
        "chaoslitmus --version",
        lambda: (
            None
            if version.returncode == 0 and DISTRIBUTION in version.stdout
            else f"exit {version.returncode}: {lines_of(version)[-3:]}"
        ),
    )
    usage = checks.run("chaoslitmus", "--help")
    checks.check(
        "chaoslitmus --help",
        lambda: (
            None
            if usage.returncode == 0 and "usage:" in usage.stdout
            else f"exit {usage.returncode}: {lines_of(usage)[-3:]}"
        ),
    )

    probe = checks.run("python", "-c", PROBE_IMPORTS)
    report = json.loads(probe.stdout) if probe.returncode == 0 else None
    checks.check(
        "the wheel is what gets imported (not the source tree)",
        lambda: (
            f"probe failed: {lines_of(probe)[-3:]}"
            if report is None
            else None
            if str(checks.bin.parent) in report["file"]
            else f"imported from {report['file']}"
        ),
    )
    if report is None:
        return
    checks.check(
        f"every core module imports ({len(report['modules'])} modules)",
        lambda: None if not report["failed"] else json.dumps(report["failed"]),
    )
    checks.check(
        "core imports pull in no lab, report, jsonschema, matplotlib",
        lambda: None if not report["forbidden"] else ", ".join(report["forbidden"]),
    )

    parser = checks.run("python", "-c", PROBE_PARSER)
    checks.check(
        "building the chaoslitmus parser imports neither jsonschema nor matplotlib",
        lambda: (
            f"exit {parser.returncode}: {lines_of(parser)[-3:]}"
            if parser.returncode != 0
            else None
            if json.loads(parser.stdout) == []
            else ", ".join(json.loads(parser.stdout))
        ),
    )

    discovery_path = checks.workdir / "discovery.json"
    discover = checks.run(
        "chaos",
        "discover",
        DISTRIBUTION,
        "--no-install",
        "--no-system-info",
        "--discovery-path",
        str(discovery_path),
    )

    def discovered_all() -> str | None:
        if discover.returncode != 0:
            return f"exit {discover.returncode}: {lines_of(discover)[-3:]}"
        found = json.loads(discovery_path.read_text())["activities"]
        listed = sorted(f"{a['mod']}:{a['name']}" for a in found)
        if listed != report["activities"]:
            missing = sorted(set(report["activities"]) - set(listed))
            extra = sorted(set(listed) - set(report["activities"]))
            return f"missing {missing}, unexpected {extra}"
        return None

    checks.check(
        f"chaos discover lists all {len(report['activities'])} activities",
        discovered_all,
    )

    lab = checks.run("chaoslitmus", "lab", "up")
    checks.check(
        "chaoslitmus lab up names the lab extra", lambda: needs_extra(lab, "lab")
    )
    journal = checks.workdir / "journal.json"
    journal.write_text(json.dumps(MINIMAL_JOURNAL))
    report_run = checks.run("chaoslitmus", "report", str(journal), "-o", "report.html")

    def report_names_its_extra() -> str | None:
        lines = lines_of(report_run)
        if report_run.returncode != 0:
            return f"exit {report_run.returncode}: {lines[-3:]}"
        if not (checks.workdir / "report.html").is_file():
            return f"no report.html written: {lines}"
        if sum(f"{DISTRIBUTION}[report]" in line for line in lines) != 1:
            return f"expected one line naming {DISTRIBUTION}[report], got {lines}"
        return None

    checks.check(
        "chaoslitmus report writes the report and names the report extra",
        report_names_its_extra,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory for a look"
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="chaoslitmus-core-"))
    try:
        print(f"building the wheel ({sys.version.split()[0]})", flush=True)
        wheel = build_wheel(workdir / "dist")
        print(f"installing {wheel.name} + chaostoolkit, no extras", flush=True)
        make_venv(workdir / "venv", wheel)
        run_dir = workdir / "run"
        run_dir.mkdir()
        checks = Checks(workdir / "venv", run_dir)
        run_checks(checks)
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if checks.failures:
        print(f"core install: {len(checks.failures)} check(s) failed")
        return 1
    print("core install: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
