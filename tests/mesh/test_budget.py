"""The retry budget, before any traffic: pure arithmetic, and in
set_retry_policy's output against the lab's API."""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.mesh.actions import set_retry_policy
from chaoslitmus.mesh.probes import retry_budget

from .conftest import STORY


def test_the_story_policy_leaves_one_short_retry():
    budget = retry_budget(
        caller_timeout_ms=2500, max_retries=3, per_retry_timeout_ms=2000
    )
    assert budget["useful_retries"] == 1
    assert budget["fits"] is False
    assert budget["worst_case_ms"] == 3 * 25 + 4 * 2000
    (window,) = budget["retry_windows"]
    assert window == {"retry": 1, "starts_at_ms": 2025, "must_answer_within_ms": 475}
    sentence = budget["sentence"]
    assert "only the first retry can help" in sentence
    assert "within 475 ms" in sentence


def test_a_policy_inside_the_caller_timeout_fits():
    budget = retry_budget(2500, 2, 500, backoff_ms=0)
    assert budget["fits"] is True
    assert budget["useful_retries"] == 2
    assert budget["worst_case_ms"] == 1500
    assert "every retry fits" in budget["sentence"]


def test_no_retry_can_start_when_one_try_outlasts_the_caller():
    budget = retry_budget(1000, 3, 2000)
    assert budget["useful_retries"] == 0
    assert "no retry can start" in budget["sentence"]


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 3, 2000), "caller_timeout_ms must be >= 1"),
        ((2500, -1, 2000), "max_retries must be an integer"),
        ((2500, 3, "2000"), "per_retry_timeout_ms must be a number"),
        ((2500, 3, 2000, -5), "backoff_ms must be >= 0"),
    ],
)
def test_bad_input_is_one_clear_line(args, message):
    with pytest.raises(ActivityFailed, match=message):
        retry_budget(*args)


def test_set_retry_policy_reports_the_budget(cluster, v1beta2):
    out = set_retry_policy(
        name="ratings",
        namespace=v1beta2["namespace"],
        mesh="appmesh",
        route_name="ratings-route",
        caller_timeout_ms=2500,
        **STORY,
    )
    assert out["budget"]["useful_retries"] == 1
    assert "only the first retry can help" in out["budget"]["sentence"]


def test_a_budget_without_per_try_timeout_is_refused_before_any_change(
    cluster, istio_vs
):
    with pytest.raises(ActivityFailed, match="caller_timeout_ms needs"):
        set_retry_policy(
            name=istio_vs["name"],
            namespace=istio_vs["namespace"],
            mesh="istio",
            max_retries=2,
            http_retry_events=["server-error"],
            caller_timeout_ms=2500,
        )
