"""Wall time of each experiment on the lab against what it is configured to wait.

What an experiment must wait for, at the least: the hypothesis window before
the method, Litmus' start-up time (the lab's --litmus-startup-s), and the
whole fault (the rollback waits for the verdict, which lands when the fault
ends; the background and after-method windows run inside the fault).
Everything above that is overhead: chaos' own start-up, API calls, watches,
request tails. Target: overhead <= 10% of the configured waits.

Usage: python benchmarks/experiment.py [--fault-s 30] [--window-s 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chaoslitmus.lab import Lab, LabOptions

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def run(lab: Lab, name: str, env_overrides: dict, workdir: Path) -> tuple[float, dict]:
    journal = workdir / f"{name}.journal.json"
    env = {**os.environ, **lab.env(), **env_overrides}
    began = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from chaostoolkit.cli import cli; cli()",
            "--no-version-check",
            "--no-log-file",
            "run",
            "--journal-path",
            str(journal),
            str(EXPERIMENTS / name),
        ],
        env=env,
        cwd=workdir,
        capture_output=True,
        check=False,
    )
    return time.monotonic() - began, json.loads(journal.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault-s", type=int, default=30)
    parser.add_argument("--window-s", type=int, default=5)
    parser.add_argument("--startup-s", type=float, default=3.0)
    args = parser.parse_args()
    overrides = {
        "FAULT_DURATION_S": str(args.fault_s),
        "HYPOTHESIS_WINDOW_S": str(args.window_s),
    }
    configured = args.window_s + args.startup_s + args.fault_s
    workdir = Path(tempfile.mkdtemp(prefix="chaoslitmus-bench-"))
    print(
        f"configured waits: hypothesis {args.window_s} s + Litmus start-up "
        f"{args.startup_s:g} s + fault {args.fault_s} s = {configured:g} s"
    )
    with Lab(LabOptions(reviews_port=0, litmus_startup_s=args.startup_s)) as lab:
        for name in ("ratings-latency.json", "ratings-latency-retry.json"):
            wall, journal = run(lab, name, overrides, workdir)
            inside = float(journal["duration"])
            print(
                f"{name:28s} wall {wall:6.1f} s (overhead {wall / configured - 1:+.1%})"
                f"  journal duration {inside:6.1f} s (overhead "
                f"{inside / configured - 1:+.1%})  deviated={journal['deviated']}"
            )


if __name__ == "__main__":
    main()
