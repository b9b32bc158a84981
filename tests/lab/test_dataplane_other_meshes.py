"""The lab's Gateway API and Linkerd data planes: translation and real proxying.

Translation is checked as pure functions; the semantics where the meshes
differ from Envoy's (Linkerd: limit 1 by default, no exclusion of the failed
endpoint, connection errors not retried, no per-try timeout on the last try;
Gateway API: attempts count retries, backendRequest is per try and its
expiry retried or not by implementation) through the real proxy.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from test_dataplane_proxy import NS, rig, run  # tests/lab has no package

from chaoslitmus.lab import LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.mesh.envoy import (
    PER_TRY_TIMEOUT_TOKEN,
    Outcome,
    OutcomeKind,
    should_retry,
)
from chaoslitmus.lab.mesh.other_meshes import (
    gateway_api_retry,
    linkerd_retry,
    linkerd_status_codes,
)
from chaoslitmus.lab.mesh.routes import route_table

TIMEOUT = Outcome(OutcomeKind.PER_TRY_TIMEOUT)
CONNECT = Outcome(OutcomeKind.CONNECT_FAILURE)
RESET = Outcome(OutcomeKind.RESET)
STORY_ANNOTATIONS = {
    "retry.linkerd.io/http": "5xx",
    "retry.linkerd.io/limit": "3",
    "retry.linkerd.io/timeout": "2s",
}
STORY_RULE = {
    "name": "ratings-route",
    "retry": {"attempts": 3, "codes": [500, 502, 503, 504]},
    "timeouts": {"backendRequest": "2s"},
}


def _service(annotations: dict | None = None) -> dict[str, Any]:
    service = world.service_manifest("ratings", "ratings", NS, "10.96.0.21")
    if annotations:
        service["metadata"]["annotations"] = dict(annotations)
    return service


def _httproute(rule: dict, annotations: dict | None = None) -> dict[str, Any]:
    route = world.gateway_api_manifests(NS)[0]
    route["spec"]["rules"] = [rule]
    if annotations:
        route["metadata"]["annotations"] = dict(annotations)
    return route


# ------------------------------------------------------------------ translation


def test_linkerd_limit_defaults_to_one_and_zero_means_unset() -> None:
    assert linkerd_retry({"retry.linkerd.io/http": "5xx"}).num_retries == 1
    zero = {"retry.linkerd.io/http": "5xx", "retry.linkerd.io/limit": "0"}
    assert linkerd_retry(zero).num_retries == 1
    assert linkerd_retry({}).num_retries == 0


def test_linkerd_status_ranges() -> None:
    assert linkerd_status_codes("gateway-error,409") == {409, 502, 503, 504}
    assert linkerd_status_codes("500-502") == {500, 501, 502}
    assert linkerd_status_codes("502-500") is None
    assert len(linkerd_status_codes("5xx") or ()) == 100


def test_linkerd_retries_timeouts_but_never_connection_errors() -> None:
    policy = linkerd_retry(STORY_ANNOTATIONS)
    assert should_retry(TIMEOUT, policy)
    assert should_retry(Outcome.response(503), policy)
    assert not should_retry(CONNECT, policy)
    assert not should_retry(RESET, policy)
    assert policy.endpoint_choice == "random"
    assert policy.last_try_unbounded and not policy.previous_hosts


@pytest.mark.parametrize(
    ("implementation", "retried"), [("envoy-gateway", True), ("istio", False)]
)
def test_gateway_api_backend_request_expiry_by_implementation(
    implementation: str, retried: bool
) -> None:
    policy = gateway_api_retry(STORY_RULE, implementation, True)
    assert policy is not None
    assert policy.num_retries == 3  # attempts count retries
    assert policy.per_try_timeout_ms == 2000.0
    assert should_retry(TIMEOUT, policy) is retried
    assert should_retry(CONNECT, policy)  # always, on Envoy implementations
    assert should_retry(Outcome.response(503), policy)
    assert not should_retry(Outcome.response(501), policy)


def test_route_annotations_replace_the_services_as_a_block() -> None:
    objects = {
        "services": [_service(STORY_ANNOTATIONS)],
        "httproutes": [
            _httproute({"name": "r"}, {"retry.linkerd.io/http": "gateway-error"})
        ],
    }
    table = route_table("linkerd", NS, "ratings", objects)
    (route,) = table.routes
    # limit and timeout are not inherited from the Service: the block replaces.
    assert route.retry.num_retries == 1
    assert route.retry.per_try_timeout_ms is None
    assert route.retry.retriable_status_codes == {502, 503, 504}


def test_linkerd_without_annotations_does_not_retry() -> None:
    table = route_table("linkerd", NS, "ratings", {"services": [_service()]})
    assert table.routes[0].retry.num_retries == 0


def test_a_service_profile_is_reported_not_modelled() -> None:
    profile = {"metadata": {"name": f"ratings.{NS}.svc.cluster.local"}}
    objects = {"services": [_service(STORY_ANNOTATIONS)], "serviceprofiles": [profile]}
    table = route_table("linkerd", NS, "ratings", objects)
    assert "overrides the retry annotations" in table.problems[0]
    assert table.routes[0].retry.num_retries == 0


def test_gateway_api_route_table_follows_the_service_parent() -> None:
    objects = {"services": [_service()], "httproutes": [_httproute(STORY_RULE)]}
    table = route_table("gateway-api", NS, "ratings", objects)
    (route,) = table.routes
    assert route.name == "ratings-route"
    assert route.clusters[0].selector == (("app", "ratings"),)
    assert route.retry.num_retries == 3


def test_lab_options_name_the_new_meshes() -> None:
    assert LabOptions(mesh="linkerd").flavour == "linkerd"
    assert LabOptions(mesh="gateway-api").mesh_api_version == "v1"
    assert world.mesh_object(LabOptions(mesh="linkerd")) == "ratings"


# ------------------------------------------------------------- through the proxy


def test_linkerd_retry_does_not_avoid_the_endpoint_that_failed() -> None:
    """With one slow pod of two, some retries go back to it (seeded)."""

    async def scenario() -> None:
        policy = linkerd_retry(
            {**STORY_ANNOTATIONS, "retry.linkerd.io/timeout": "200ms"}
        )
        async with rig(policy, {"a-slow": "slow", "b-ok": "ok"}) as lab:
            lab.proxy.rng = random.Random(7)
            lab.faults.start("f", NS, ["a-slow"], 1500, 0)
            for _ in range(12):
                await lab.get()
            assert lab.proxy.stats["retries_to_a_tried_host"] > 0
            assert lab.proxy.stats["per_try_timeouts"] > 0

    run(scenario)


def test_linkerd_does_not_retry_a_refused_connection() -> None:
    async def scenario() -> None:
        policy = linkerd_retry(STORY_ANNOTATIONS)
        async with rig(policy, {"a-dead": "dead"}) as lab:
            status, _, headers, _ = await lab.get()
            assert status == 503
            assert headers["x-envoy-attempt-count"] == "1"

    run(scenario)


def test_linkerd_last_try_runs_without_the_per_try_timeout() -> None:
    async def scenario() -> None:
        annotations = {
            "retry.linkerd.io/http": "5xx",
            "retry.linkerd.io/limit": "1",
            "retry.linkerd.io/timeout": "200ms",
        }
        async with rig(linkerd_retry(annotations), {"a-slow": "slow"}) as lab:
            lab.faults.start("f", NS, ["a-slow"], 700, 0)
            status, _, headers, elapsed = await lab.get()
            # try 1 cut at 200 ms, try 2 (the last) waits the whole 700 ms
            assert status == 200
            assert headers["x-envoy-attempt-count"] == "2"
            assert 0.85 <= elapsed < 3.0
            assert lab.proxy.stats["per_try_timeouts"] == 1

    run(scenario)


def test_gateway_api_on_istio_answers_504_on_backend_request_expiry() -> None:
    async def scenario() -> None:
        rule = {**STORY_RULE, "timeouts": {"backendRequest": "200ms"}}
        policy = gateway_api_retry(rule, "istio", True)
        assert policy is not None
        async with rig(policy, {"a-slow": "slow", "b-ok": "ok"}) as lab:
            lab.faults.start("f", NS, ["a-slow"], 1500, 0)
            status, text, headers, _ = await lab.get()
            assert (status, text) == (504, "upstream request timeout")
            assert headers["x-envoy-attempt-count"] == "1"
        policy = gateway_api_retry(rule, "envoy-gateway", True)
        assert policy is not None and PER_TRY_TIMEOUT_TOKEN in policy.retry_on
        async with rig(policy, {"a-slow": "slow", "b-ok": "ok"}) as lab:
            lab.faults.start("f", NS, ["a-slow"], 1500, 0)
            status, _, headers, _ = await lab.get()
            assert status == 200
            assert headers["x-lab-upstream-hosts"] == "a-slow,b-ok"

    run(scenario)
