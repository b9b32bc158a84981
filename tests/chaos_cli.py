"""`chaos`, the Chaos Toolkit command line, run as a user runs it: a child
process with an empty settings file, no version check and no log file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def chaos_command(settings: Path, *args: str) -> list[str]:
    """The command line of `chaos *args` reading `settings`."""
    return [
        sys.executable,
        "-c",
        "from chaostoolkit.cli import cli; cli()",
        "--no-version-check",
        "--no-log-file",
        "--settings",
        str(settings),
        *args,
    ]


def chaos(
    args: list[str], env: dict, cwd: Path, timeout_s: float = 180
) -> subprocess.CompletedProcess:
    """Run `chaos *args` in `cwd` to its end (empty settings in `cwd`)."""
    settings = cwd / "settings.yaml"
    settings.write_text("{}\n")
    return subprocess.run(
        chaos_command(settings, *args),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
