"""The SLO guard on the lab: it stops the no-retry fault when the abort limit
is below what the fault does to callers, and stays silent when it is above.

The no-retry fault makes about half the calls to reviews fail (one of two
ratings pods is 3000 ms slow, reviews gives up after 2500 ms), so an abort
limit of 0.2 is crossed and 0.9 never is.
"""

from __future__ import annotations

import pytest

from chaoslitmus.lab import Lab, LabOptions

from .lab_runs import (
    FaultWatch,
    at,
    engines,
    mesh_snapshot,
    record,
    run,
    with_guard,
)

WINDOW_S = 5
REVIEWS_TIMEOUT_S = 2.5


@pytest.fixture(scope="module")
def lab():
    with Lab(LabOptions(reviews_port=0, litmus_startup_s=0.5, seed=11)) as lab:
        yield lab


def test_guard_stops_the_fault_within_one_window(lab, tmp_path, capsys):
    before = mesh_snapshot(lab)
    experiment = with_guard(
        "ratings-latency.json",
        {"error_ratio_above": 0.2, "window_s": WINDOW_S},
        tmp_path,
    )
    with FaultWatch(lab) as watch:
        code, journal, done = run(lab, experiment, tmp_path)

    guard = journal["slo_guard"]
    assert code == 1
    assert journal["status"] == "interrupted", done.stderr[-2000:]
    assert guard["status"] == "breached"
    breach = guard["breach"]
    assert breach["reasons"][0].startswith("error ratio ")
    assert breach["window"]["error_ratio"] > 0.2
    assert breach["window"]["requests"] >= 10  # 4 req/s: half a 5 s window
    assert "broke the abort limit" in guard["message"]
    # Interrupted during the fault's traffic window, which was cut short; no
    # after-check ran.
    assert breach["during"] == "reviews-traffic-during-fault"
    assert record(journal, "reviews-traffic-during-fault")["output"]["cut_short"]
    assert journal["steady_states"]["after"] is None

    # The first error is known one reviews timeout after the fault slows a
    # call; the window then fills within window_s. 2 s of slack for a loaded
    # machine; still far less than the 20 s fault, so the guard ended it.
    fault_on, fault_off = watch.on[0], watch.off[0]
    breached = at(breach["at"])
    assert 0 < (breached - fault_on).total_seconds() <= WINDOW_S + REVIEWS_TIMEOUT_S + 2
    stopped = breach["engines"][0]
    assert stopped["engine_name"] == "ratings-latency" and stopped["stopped"] is True
    assert (fault_off - fault_on).total_seconds() < 15
    # Litmus reverted because of the stop: not before it was asked for (the
    # watch polls every 10 ms).
    asked = at(stopped["requested_at"])
    assert (fault_off - asked).total_seconds() > -0.02
    assert at(stopped["at"]) >= asked

    # The rollbacks ran: Litmus' verdict says stopped, engine deleted, and the
    # recovery checks pass.
    verdict = record(journal, "record-litmus-verdict")["output"]
    assert verdict["verdict"] == "Stopped", verdict
    assert all(r["status"] == "succeeded" for r in journal["rollbacks"]), [
        (r["activity"]["name"], r.get("exception")) for r in journal["rollbacks"]
    ]
    assert record(journal, "reviews-recovered")["output"]["recovered"] is True
    assert engines(lab) == []
    assert mesh_snapshot(lab) == before

    with capsys.disabled():
        print(
            "\nslo-guard figures: fault on -> breach "
            f"{(breached - fault_on).total_seconds():.3f}s; breach -> engine "
            f"stopped (patch accepted) {stopped['after_breach_s']:.3f}s; stop "
            f"asked -> fault reverted {(fault_off - asked).total_seconds():.3f}s"
        )
