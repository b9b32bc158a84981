"""`chaoslitmus lab up --kubeconfig FILE` writes only a file it creates.

An existing file (say ~/.kube/config) is refused unless --force, and then
put back when the lab stops; a directory or a missing folder is one line;
what the lab created goes when it stops; a file someone changed since the
lab wrote it is left alone.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chaoslitmus.lab import Lab, LabError, LabOptions
from chaoslitmus.lab.kubeconfig_file import KubeconfigFile

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--reviews-port", "0", "--litmus-startup-s", "0.1"]


def run_cli(*args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    """`chaoslitmus ...` in a subprocess, this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, "-m", "chaoslitmus.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        cwd=ROOT,
        check=False,
    )


PRECIOUS = "apiVersion: v1\nkind: Config\ncurrent-context: production\n"


def precious(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(PRECIOUS, encoding="utf-8")
    path.chmod(0o640)
    return path


def test_lab_up_refuses_an_existing_kubeconfig_and_leaves_it_as_it_was(
    tmp_path: Path,
) -> None:
    path = precious(tmp_path)
    done = run_cli("lab", "up", *FAST, "--kubeconfig", str(path), timeout_s=30)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "already exists" in lines[0], done.stderr
    assert "--force" in lines[0]
    assert path.read_text(encoding="utf-8") == PRECIOUS


def test_lab_up_with_a_directory_as_kubeconfig_is_one_line(tmp_path: Path) -> None:
    done = run_cli("lab", "up", *FAST, "--kubeconfig", str(tmp_path), timeout_s=30)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is a directory" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="does not exist"):
        KubeconfigFile.claim(tmp_path / "no-such-folder" / "kubeconfig")


def test_the_lab_removes_the_kubeconfig_it_created_when_it_stops(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lab-kubeconfig"
    options = LabOptions(kubeconfig=str(path), reviews_port=0, litmus_startup_s=0.1)
    with Lab(options) as lab:
        assert lab.kubeconfig == path and lab.server is not None
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert config["clusters"][0]["cluster"]["server"] == lab.server.url
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.exists()


def test_force_replaces_the_file_until_stop_then_puts_it_back(tmp_path: Path) -> None:
    path = precious(tmp_path)
    claim = KubeconfigFile.claim(path, force=True)
    claim.write("lab config\n")
    assert path.read_text(encoding="utf-8") == "lab config\n"
    claim.release()
    assert path.read_text(encoding="utf-8") == PRECIOUS
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    claim.release()  # twice: nothing more happens
    assert path.read_text(encoding="utf-8") == PRECIOUS


def test_a_file_changed_since_the_lab_wrote_it_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    claim = KubeconfigFile.claim(path)
    claim.write("lab config\n")
    path.write_text("someone else's now\n", encoding="utf-8")
    claim.release()
    assert path.read_text(encoding="utf-8") == "someone else's now\n"


def test_a_file_that_appears_after_the_check_is_not_overwritten(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kubeconfig"
    claim = KubeconfigFile.claim(path)
    path.write_text(PRECIOUS, encoding="utf-8")  # a race: created in between
    with pytest.raises(LabError, match="appeared"):
        claim.write("lab config\n")
    assert path.read_text(encoding="utf-8") == PRECIOUS
    claim.release()
    assert path.read_text(encoding="utf-8") == PRECIOUS
