"""The sweep's plan: flags/file/environment precedence, checks, pruning."""

from __future__ import annotations

import pytest

from chaoslitmus.sweep.cli import plan_values
from chaoslitmus.sweep.plan import PlanError, cells_of, plan_from_mapping, prune

GRID = {
    "latency_ms": "1000,3000",
    "max_retries": "0,1,2,3",
    "per_try_ms": "500,1000,2000,3000",
    "caller_timeout_ms": 2500,
    "url": "http://127.0.0.1:1/reviews/0",
}


def test_the_issue_grid_prunes_every_per_try_timeout_at_the_caller_timeout():
    plan = plan_from_mapping(GRID)
    kept, pruned = prune(plan)
    assert {p["policy"]["per_retry_timeout_ms"] for p in pruned} == {3000}
    assert len(pruned) == 4 and len(kept) == 12
    assert all("no retry can ever help" in p["reason"] for p in pruned)
    assert all(p.per_retry_timeout_ms < 2500 for p in kept)
    cells = cells_of(plan, kept)
    assert len(cells) == 24
    # fault-major: one fault's policies side by side
    assert [c.fault.latency_ms for c in cells[:12]] == [1000] * 12


def test_a_retry_that_cannot_start_before_the_caller_gives_up_is_pruned():
    plan = plan_from_mapping({**GRID, "per_try_ms": [2490], "max_retries": [1]})
    kept, pruned = prune(plan)
    assert not kept
    assert "no retry can start" in pruned[0]["reason"]


def test_defaults_and_slo_p99_follows_the_caller_timeout():
    plan = plan_from_mapping(GRID)
    assert plan.slo_p99_ms == 2500
    assert plan.slo_error_ratio == 0.01
    assert plan.pods_affected_perc == (50,)
    assert plan.http_retry_events == ("server-error",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"latency_ms": "1000,x"}, "latency_ms must be integers"),
        ({"max_retries": "-1"}, "max_retries values must be >= 0"),
        ({"per_try_ms": []}, "per_try_ms must be a non-empty list"),
        ({"pods_affected_perc": [0]}, "pods_affected_perc values must be 1-100"),
        ({"slo_error_ratio": 2}, "slo_error_ratio must be between 0 and 1"),
        ({"fault_s": 0}, "fault_s must be > 0"),
        ({"url": ""}, "no URL to measure"),
        ({"colour": "red"}, "unknown plan key(s): colour"),
    ],
)
def test_bad_plans_say_why_in_one_line(change, message):
    with pytest.raises(PlanError, match=None) as caught:
        plan_from_mapping({**GRID, **change})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_flags_beat_the_plan_file_which_beats_the_environment():
    environ = {
        "REVIEWS_URL": "http://env/reviews/0",
        "REVIEWS_TIMEOUT_MS": "2000",
        "CHAOSLITMUS_NAMESPACE": "env-ns",
        "CHAOSLITMUS_MESH": "istio",
    }
    values = plan_values(
        {"namespace": "flag-ns", "caller_timeout_ms": None},
        {"caller_timeout_ms": 1800, "latency_ms": [1000]},
        environ,
    )
    assert values["namespace"] == "flag-ns"
    assert values["caller_timeout_ms"] == 1800
    assert values["url"] == "http://env/reviews/0"
    assert values["mesh_object"] == "ratings"  # Istio's VirtualService name
    assert plan_values({}, {}, {})["caller_timeout_ms"] == 2500
