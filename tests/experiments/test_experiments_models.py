"""The experiment files on labs that do not flatter: reviews that degrades
with a 200, and a fault on every replica. Same short windows as
test_experiments_e2e.py."""

from __future__ import annotations

from chaoslitmus.lab import Lab, LabOptions

from .test_experiments_e2e import engines, outputs, run_experiment

UNAVAILABLE = "Ratings service is currently unavailable"


def test_degraded_200s_are_errors_once_the_marker_is_set(tmp_path):
    options = LabOptions(
        reviews_port=0,
        litmus_startup_s=0.5,
        seed=3,
        reviews_on_ratings_error="degraded",
    )
    with Lab(options) as lab:
        assert lab.env()["REVIEWS_DEGRADED_MARKER"] == UNAVAILABLE
        code, journal = run_experiment(lab, "ratings-latency.json", tmp_path)
        assert engines(lab) == []
    assert code == 1 and journal["deviated"] is True
    during = outputs(journal, "reviews-traffic-during-fault")["output"]
    # Every answer was a 200: a status-only probe would have seen no error.
    assert set(during["statuses"]) == {"200"}
    assert during["errors"]["body"] > 0 and 0.2 <= during["error_rate"] <= 0.8
    assert UNAVAILABLE in during["error_examples"]["body"]


def test_with_every_replica_slow_the_retry_experiment_says_retries_cannot_help(
    tmp_path, monkeypatch
):
    options = LabOptions(
        reviews_port=0, litmus_startup_s=0.5, seed=3, ratings_replicas=3
    )
    monkeypatch.setenv("PODS_AFFECTED_PERC", "100")
    with Lab(options) as lab:
        assert lab.env()["RATINGS_REPLICAS"] == "3"
        code, journal = run_experiment(lab, "ratings-latency-retry.json", tmp_path)
        assert engines(lab) == []
    headroom = outputs(journal, "can-retries-reach-a-healthy-pod")["output"]
    assert headroom["targeted"] == 3 and headroom["retries_can_help"] is False
    assert code == 1 and journal["deviated"] is True
    during = outputs(journal, "reviews-traffic-during-fault")["output"]
    assert during["error_rate"] >= 0.9, during["statuses"]
