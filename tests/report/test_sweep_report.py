"""`chaoslitmus report sweep.json`: recognised by its kind, heatmaps per fault,
the recommendation on top; markdown without matplotlib."""

from __future__ import annotations

import json
import subprocess
import sys

from chaoslitmus.report.sweep_model import fault_grids
from chaoslitmus.report.sweep_render import render_sweep_markdown
from chaoslitmus.sweep.recommend import recommend

FAULTS = [
    {"latency_ms": 1000, "pods_affected_perc": 50},
    {"latency_ms": 3000, "pods_affected_perc": 50},
]


def _policy(r, p):
    return {
        "max_retries": r,
        "per_retry_timeout_ms": p,
        "http_retry_events": ["server-error"],
    }


def _cell(fault, r, p, meets, ratio, p99, attempts, rescued):
    return {
        "fault": fault,
        "policy": _policy(r, p),
        "traffic": {"total": 40, "error_ratio": ratio, "p99_ms": p99},
        "retries": {"attempts_per_request": attempts, "rescued": rescued},
        "meets_slo": meets,
        "why": "within the SLO" if meets else f"error ratio {ratio:.3f} > 0.01",
    }


def sweep_document() -> dict:
    policies = [_policy(0, 1000), _policy(1, 1000)]
    cells = [
        _cell(FAULTS[0], 0, 1000, True, 0.0, 1005, 1.0, 0),
        _cell(FAULTS[0], 1, 1000, True, 0.0, 1010, 1.2, 8),
        _cell(FAULTS[1], 0, 1000, False, 0.5, 1006, 1.0, 0),
        _cell(FAULTS[1], 1, 1000, True, 0.0, 1030, 1.4, 11),
    ]
    return {
        "kind": "chaoslitmus-sweep",
        "version": 1,
        "status": "complete",
        "plan": {
            "max_retries": [0, 1],
            "per_try_ms": [1000, 3000],
            "caller_timeout_ms": 2500,
            "slo_error_ratio": 0.01,
            "slo_p99_ms": 2500,
            "fault_s": 4,
        },
        "faults": FAULTS,
        "policies": policies,
        "pruned": [
            {
                "policy": _policy(r, 3000),
                "label": f"{r} x 3000 ms",
                "reason": "too long",
            }
            for r in (0, 1)
        ],
        "cells": cells,
        "recommendation": recommend(cells, FAULTS, policies),
        "timing": {
            "wall_s": 20.0,
            "fault_windows_s": 16,
            "cells_done": 4,
            "cells_planned": 4,
        },
    }


def test_grids_hold_every_planned_policy_pruned_ones_empty():
    grids = fault_grids(sweep_document())
    assert [g.label for g in grids] == [
        "1000 ms on 50% of pods",
        "3000 ms on 50% of pods",
    ]
    slow = grids[1]
    assert slow.at(0, 1000).meets_slo is False
    assert slow.at(1, 1000).attempts_per_request == 1.4
    assert slow.at(1, 3000).meets_slo is None
    assert slow.at(1, 3000).why == "pruned: too long"


def test_markdown_puts_the_recommendation_first():
    text = render_sweep_markdown(sweep_document())
    lines = text.splitlines()
    assert lines[2].startswith("- Use 1 x 1000 ms (1 retry, 1000 ms per try)")
    assert "Pruned 1 x 3000 ms: too long." in text
    assert "| 0 x 1000 ms | missed | 0.500 | 1006 | 1.00 | 0 |" in text
    assert "| 1 x 3000 ms | – | pruned | pruned | pruned | – |" in text


def _report(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "chaoslitmus.cli", "report", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_report_command_recognises_a_sweep_file(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps(sweep_document()))
    done = _report(tmp_path, "sweep.json", "-o", "sweep.html")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "sweep.html").read_text()
    assert page.index("Use 1 x 1000 ms") < page.index("<h2>1000 ms on 50% of pods")
    assert page.count("<svg") == 2  # one heatmap figure per fault
    assert "class='missed'" in page and "class='met'" in page
    done = _report(tmp_path, "sweep.json", "--format", "markdown", "-o", "sweep.md")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "sweep.md").read_text().startswith("# Retry policy sweep")


def test_a_sweep_is_reported_alone_and_only_as_html_or_markdown(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps(sweep_document()))
    done = _report(tmp_path, "sweep.json", "sweep.json")
    assert done.returncode == 2
    assert "a sweep file is reported alone" in done.stderr
    done = _report(tmp_path, "sweep.json", "--format", "junit")
    assert done.returncode == 2
    assert "renders as html or markdown" in done.stderr
    broken = {**sweep_document(), "cells": None}
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    done = _report(tmp_path, "broken.json")
    assert done.returncode == 2 and "'cells' is missing" in done.stderr
