"""The recommendation, from hand-made cells (pure functions)."""

from __future__ import annotations

from chaoslitmus.sweep.experiment_vars import experiment_vars
from chaoslitmus.sweep.recommend import judge_cell, recommend

SLOW = {"latency_ms": 3000, "pods_affected_perc": 50}
MILD = {"latency_ms": 1000, "pods_affected_perc": 50}


def policy(retries, per_try):
    return {
        "max_retries": retries,
        "per_retry_timeout_ms": per_try,
        "http_retry_events": ["server-error"],
    }


def cell(fault, pol, meets, attempts=1.0, p99=900.0, rescued=0):
    return {
        "fault": fault,
        "policy": pol,
        "meets_slo": meets,
        "traffic": {"total": 40, "error_ratio": 0.0 if meets else 0.5, "p99_ms": p99},
        "retries": {"attempts_per_request": attempts, "rescued": rescued},
    }


def test_judge_cell_names_what_broke_the_slo():
    assert judge_cell({"total": 10, "error_ratio": 0, "p99_ms": 100}, 0.01, 2500)[
        "meets_slo"
    ]
    verdict = judge_cell({"total": 10, "error_ratio": 0.2, "p99_ms": 3000}, 0.01, 2500)
    assert not verdict["meets_slo"]
    assert verdict["why"] == "error ratio 0.200 > 0.01; p99 3000 ms > 2500 ms"
    assert judge_cell({"total": 0}, 0.01, 2500)["why"] == "no traffic was measured"


def test_the_cheapest_policy_that_holds_everywhere_wins_then_lowest_p99():
    none, one_fast, one_slow, three = (
        policy(0, 1000),
        policy(1, 1000),
        policy(1, 2000),
        policy(3, 500),
    )
    cells = [
        cell(MILD, none, True),
        cell(SLOW, none, False),
        cell(MILD, one_fast, True, 1.0, 1000),
        cell(SLOW, one_fast, True, 1.4, 1100, 9),
        cell(MILD, one_slow, True, 1.0, 1000),
        cell(SLOW, one_slow, True, 1.4, 2100, 9),
        cell(MILD, three, True, 1.0, 600),
        cell(SLOW, three, True, 2.1, 700, 12),
    ]
    out = recommend(cells, [MILD, SLOW], [none, one_fast, one_slow, three])
    assert out["complete"]
    assert out["recommended"]["policy"] == one_fast
    assert out["recommended"]["attempts_per_request"] == 1.2
    assert out["sentence"].startswith("Use 1 x 1000 ms (1 retry, 1000 ms per try)")
    assert experiment_vars({"recommendation": out}) == {
        "configuration": {
            "max_retries": 1,
            "per_retry_timeout_ms": 1000,
            "http_retry_events": ["server-error"],
        }
    }


def test_a_pass_that_never_met_the_fault_is_luck():
    none, lucky, real = policy(0, 1000), policy(2, 1000), policy(1, 1000)
    patient = policy(1, 2000)
    cells = [
        cell(SLOW, none, False),
        # no rescue, p99 under the 3000 ms injected: no request met the slow pod
        cell(SLOW, lucky, True, 1.0, 900, rescued=0),
        cell(SLOW, real, True, 1.3, 1100, rescued=8),
        cell(SLOW, patient, True, 1.4, 2100, rescued=8),
        cell(MILD, none, False),
        cell(MILD, lucky, True, 1.1, 1020, rescued=3),
        cell(MILD, real, True, 1.1, 1020, rescued=3),
        # slow answers came back inside its per-try timeout: tested, not luck
        cell(MILD, patient, True, 1.0, 1010, rescued=0),
    ]
    out = recommend(cells, [SLOW, MILD], [none, lucky, real, patient])
    assert [x["policy"] for x in out["lucky"]] == [lucky]
    assert out["lucky"][0]["faults"] == ["3000 ms on 50% of pods"]
    assert "by luck" in out["lucky"][0]["sentence"]
    # lucky is cheaper (1.0 attempts) so it wins, but the warning goes with it
    assert out["recommended"]["policy"] == lucky
    assert "Beware" in out["sentence"]


def test_no_policy_holds_and_the_fault_that_breaks_them_all_is_named():
    a, b = policy(1, 1000), policy(2, 500)
    cells = [
        cell(MILD, a, True),
        cell(MILD, b, True),
        cell(SLOW, a, False),
        cell(SLOW, b, False),
    ]
    out = recommend(cells, [MILD, SLOW], [a, b])
    assert out["recommended"] is None
    assert out["breaking_faults"] == ["3000 ms on 50% of pods"]
    assert "3000 ms on 50% of pods broke every policy" in out["sentence"]
    assert experiment_vars({"recommendation": out}) is None


def test_each_fault_has_a_policy_but_none_holds_in_all():
    a, b = policy(1, 1000), policy(2, 500)
    cells = [
        cell(MILD, a, True),
        cell(MILD, b, False),
        cell(SLOW, a, False),
        cell(SLOW, b, True),
    ]
    out = recommend(cells, [MILD, SLOW], [a, b])
    assert out["recommended"] is None and out["breaking_faults"] == []
    assert "no single policy holds in all" in out["sentence"]


def test_an_interrupted_sweep_recommends_only_policies_measured_everywhere():
    a, b = policy(1, 1000), policy(2, 500)
    cells = [cell(MILD, a, True), cell(MILD, b, True, 0.9), cell(SLOW, a, True, 1.2)]
    out = recommend(cells, [MILD, SLOW], [a, b])
    assert not out["complete"]
    assert out["recommended"]["policy"] == a
    assert "incomplete" in out["sentence"]
