"""`chaoslitmus sweep` from a plan file, and its refusals, without a cluster
(--dry-run prints the cells and the pruned policies and changes nothing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def sweep(tmp_path, *args, env=None):
    environ = {k: v for k, v in os.environ.items() if k != "REVIEWS_URL"}
    return subprocess.run(
        [sys.executable, "-m", "chaoslitmus.cli", "sweep", *args],
        env={**environ, **(env or {})},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_yaml_plan_with_the_flags_keys(tmp_path):
    (tmp_path / "grid.yaml").write_text(
        "latency_ms: [1000, 3000]\n"
        "max-retries: [0, 1, 2, 3]\n"
        "per_try_ms: [500, 1000, 2000, 3000]\n"
        "caller_timeout_ms: 2500\n"
        "fault_s: 4\n"
    )
    done = sweep(
        tmp_path,
        "--plan",
        "grid.yaml",
        "--dry-run",
        env={"REVIEWS_URL": "http://127.0.0.1:9/reviews/0"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("pruned ") == 4
    assert "24 cell(s) of 4 s; nothing run" in done.stderr
    assert not (tmp_path / "sweep.json").exists()


def test_flags_override_the_plan_file(tmp_path):
    (tmp_path / "grid.json").write_text(
        json.dumps(
            {
                "latency_ms": [1000],
                "max_retries": [1],
                "per_try_ms": [1000],
                "url": "http://127.0.0.1:9/reviews/0",
            }
        )
    )
    done = sweep(
        tmp_path, "--plan", "grid.json", "--latency-ms", "500,700", "--dry-run"
    )
    assert done.returncode == 0, done.stderr
    assert "1 x 1000 ms under 700 ms on 50% of pods" in done.stderr
    assert "2 cell(s)" in done.stderr


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "bad.yaml").write_text("latency_ms: [1000\n")
    done = sweep(tmp_path, "--plan", "bad.yaml")
    assert done.returncode == 2
    assert done.stderr.startswith("chaoslitmus sweep: bad.yaml: not a JSON/YAML plan")
    assert len(done.stderr.strip().splitlines()) == 1
    done = sweep(
        tmp_path, "--latency-ms", "1000", "--max-retries", "1", "--per-try-ms", "1000"
    )
    assert done.returncode == 2
    assert "no URL to measure" in done.stderr
    done = sweep(
        tmp_path,
        "--latency-ms",
        "1000",
        "--max-retries",
        "1",
        "--per-try-ms",
        "1000",
        "--url",
        "http://x/",
        "-o",
        "no/such.json",
    )
    assert done.returncode == 2
    assert "folder no does not exist" in done.stderr


def test_sweep_is_listed_in_the_help(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "chaoslitmus.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "sweep" in done.stdout
