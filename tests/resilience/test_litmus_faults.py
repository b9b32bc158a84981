"""Litmus activities through a faulty API: they finish, or fail clearly in time.

Every request goes through the fault proxy (500/503, resets, stalls, cut
watches) before the lab's API server. What must hold: each launch makes
exactly one engine, a lost answer is never mistaken for a failure or a
collision, and a dead or hung API ends the activity at its deadline with one
line saying what happened.
"""

from __future__ import annotations

import logging
import time

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus._retry import REQUEST_ID
from chaoslitmus.litmus import actions

from .conftest import ENGINES, NS

ENGINE_POSTS = "/namespaces/bookinfo/chaosengines"


def latency(**overrides):
    args = dict(app_namespace=NS, app_label="app=ratings", duration_s=1, timeout_s=60)
    args.update(overrides)
    return actions.inject_network_latency(**args)


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.strip() == text
    return text


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_launch_wait_stop_delete_complete_under_20pct_faults(lab, faults, seed):
    proxy = faults(rate=0.2, seed=seed)
    before = lab.engine_names()

    outcome = latency()
    assert outcome["verdict"] == "Pass"
    assert lab.engine_names() - before == {outcome["engine_name"]}
    assert actions.delete_engine(outcome["engine_name"], NS, timeout_s=30)["gone"]

    launched = latency(duration_s=30, wait=False)
    name = launched["engine_name"]
    assert lab.engine_names() - before == {name}
    actions.wait_for_chaos_started(name, NS, timeout_s=30)
    assert actions.stop_engine(name, NS)["stopped"] is True
    assert actions.wait_for_result(name, NS, timeout_s=30)["verdict"] == "Stopped"
    assert actions.delete_engine(name, NS, timeout_s=30)["gone"]

    assert lab.engine_names() == before
    # About a fifth of ~50 requests: none at all would mean the test proved nothing.
    assert proxy.faulted(), "the proxy injected no fault"


@pytest.mark.parametrize("fault", ["500-after", "503-after", "reset-after", "drop"])
@pytest.mark.parametrize("named", [False, True])
def test_a_create_whose_answer_is_lost_makes_exactly_one_engine(
    lab, faults, fault, named
):
    proxy = faults(rate=0.0)
    proxy.force(fault, method="POST", fragment=ENGINE_POSTS)
    before = lab.engine_names()
    name = f"lost-{fault.split('-')[0]}-{int(named)}" if named else None

    launched = latency(engine_name=name, duration_s=30, wait=False)

    assert lab.engine_names() - before == {launched["engine_name"]}
    if named:
        assert launched["engine_name"] == name
    posts = proxy.of("POST", ENGINE_POSTS)
    # The first create landed but its answer was lost; the replay met 409 and
    # the engine was recognised as ours by its request id.
    assert [p.fault for p in posts] == [fault, ""]
    assert posts[1].status == 409
    engine = lab.get(ENGINES, launched["engine_name"])
    assert engine["metadata"]["annotations"][REQUEST_ID]
    actions.delete_engine(launched["engine_name"], NS, timeout_s=30)


@pytest.mark.parametrize("fault", ["503-before", "reset-before"])
def test_a_create_refused_before_it_landed_is_simply_sent_again(lab, faults, fault):
    proxy = faults(rate=0.0)
    proxy.force(fault, method="POST", fragment=ENGINE_POSTS)
    before = lab.engine_names()

    launched = latency(duration_s=30, wait=False)

    assert lab.engine_names() - before == {launched["engine_name"]}
    assert [p.status for p in proxy.of("POST", ENGINE_POSTS)][-1] == 201
    actions.delete_engine(launched["engine_name"], NS, timeout_s=30)


def test_two_lost_answers_in_a_row_still_make_one_engine(lab, faults):
    proxy = faults(rate=0.0)
    proxy.force("500-after", method="POST", fragment=ENGINE_POSTS)
    proxy.force("reset-after", method="POST", fragment=ENGINE_POSTS)
    proxy.force("503-before", method="GET", fragment="/chaosengines/", times=2)
    before = lab.engine_names()

    launched = latency(duration_s=30, wait=False)

    assert lab.engine_names() - before == {launched["engine_name"]}
    actions.delete_engine(launched["engine_name"], NS, timeout_s=30)


def test_a_delete_whose_answer_is_lost_counts_as_done(lab, faults):
    proxy = faults(rate=0.0)
    launched = latency(duration_s=30, wait=False)
    proxy.force("reset-after", method="DELETE", fragment="/chaosengines/")

    deleted = actions.delete_engine(launched["engine_name"], NS, timeout_s=30)

    assert deleted["deleted"] is True and deleted["gone"] is True
    assert launched["engine_name"] not in lab.engine_names()
    assert len(proxy.of("DELETE")) == 2


def test_a_stop_whose_answer_is_lost_is_sent_again(lab, faults):
    proxy = faults(rate=0.0)
    launched = latency(duration_s=30, wait=False)
    name = launched["engine_name"]
    actions.wait_for_chaos_started(name, NS, timeout_s=30)
    proxy.force("503-after", method="PATCH", fragment=f"/chaosengines/{name}")

    assert actions.stop_engine(name, NS)["stopped"] is True
    assert actions.wait_for_result(name, NS, timeout_s=30)["verdict"] == "Stopped"
    assert [p.fault for p in proxy.of("PATCH")] == ["503-after", ""]
    actions.delete_engine(name, NS, timeout_s=30)


def test_watches_cut_mid_stream_are_resumed(lab, faults):
    proxy = faults(rate=0.0)
    proxy.force("drop", method="GET", fragment="watch=true", times=4)

    outcome = latency()

    assert outcome["verdict"] == "Pass"
    dropped = [r for r in proxy.of("GET", "watch=true") if r.fault == "drop"]
    assert len(dropped) == 4
    actions.delete_engine(outcome["engine_name"], NS, timeout_s=30)


def test_a_failing_api_ends_the_call_within_its_budget_in_one_line(lab, faults, caplog):
    caplog.set_level(logging.DEBUG, logger="chaostoolkit.litmus")
    proxy = faults(rate=1.0, kinds=("503",))

    with pytest.raises(ActivityFailed) as failed:
        actions.stop_engine("some-engine", NS)

    text = one_line(failed)
    assert "answered 503" in text and "try again later" in text
    assert "gave up after 6 tries" in text
    assert len(proxy.of("GET")) == 6
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying get")]
    assert len(retries) == 5 and all(r.levelno == logging.DEBUG for r in retries)


def test_a_hung_api_ends_the_activity_at_its_deadline(lab, faults):
    # Every request stalls far longer than the activity may take.
    faults(rate=1.0, kinds=("stall",), stall_s=30.0)
    began = time.monotonic()

    with pytest.raises(ActivityFailed) as failed:
        actions.wait_for_result("some-engine", NS, timeout_s=2)

    took = time.monotonic() - began
    text = one_line(failed)
    assert "cannot reach the Kubernetes API" in text
    assert "stopped retrying at the deadline" in text
    # The read timeout is cut to the 2 s left; 8 s more is slack for a busy box,
    # far below the 30 s stall that an unbounded read would wait for.
    assert took < 10


def test_a_launch_under_a_dead_api_fails_clearly(lab, faults):
    faults(rate=1.0, kinds=("reset",))
    before = lab.engine_names()

    with pytest.raises(ActivityFailed) as failed:
        latency(timeout_s=5)

    assert "cannot reach the Kubernetes API" in one_line(failed)
    assert lab.engine_names() == before
