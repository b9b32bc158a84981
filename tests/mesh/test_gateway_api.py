"""Gateway API HTTPRoute retries: the translation, and set/restore over HTTP.

The lab's API server serves the real v1.6.1 HTTPRoute CRDs: experimental
(with ``rules[].retry``) in the shared server, standard (without it) in one
of its own, where a retry policy must be refused before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.lab import ApiServerThread
from chaoslitmus.lab.kube.schemas import default_crd_files
from chaoslitmus.mesh import cluster, gateway_api
from chaoslitmus.mesh.actions import (
    remove_retry_policy,
    restore_retry_policy,
    set_retry_policy,
)
from chaoslitmus.mesh.crd_fields import dropped_routes
from chaoslitmus.mesh.istio import parse_duration_ms
from chaoslitmus.mesh.policy import PolicyError, RetryPolicy, make_policy
from chaoslitmus.mesh.probes import get_retry_policy, retry_policy_matches
from chaoslitmus.mesh.routes import RouteError, RouteInfo, apply_policy, select_routes
from chaoslitmus.mesh.snapshot import ORIGINAL_ROUTES, plan_change, routes_of

from . import samples
from .conftest import STORY, RawApi, frozen, point_kubeconfig

GROUP_VERSION = "gateway.networking.k8s.io/v1"
ADAPTER = gateway_api.ADAPTERS["v1"]
INFO = RouteInfo(0, "ratings-route", "http")


# ----------------------------------------------------------------- translation


def test_story_policy_becomes_attempts_codes_and_backend_request() -> None:
    raw = gateway_api.from_policy(make_policy(**STORY), INFO, None)
    assert raw == {
        "retry": {
            "attempts": 3,
            "codes": [500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511],
        },
        "timeouts": {"backendRequest": "2s"},
    }
    back = gateway_api.to_policy(raw)
    assert back.max_retries == 3
    assert back.per_retry_timeout_ms == 2000
    assert back.http_retry_events == ("server-error",)
    assert back.other_events == ()


def test_codes_read_back_as_events_and_leftovers() -> None:
    events, others = gateway_api.events_for([502, 503, 504, 409, 429])
    assert events == ("gateway-error", "client-error")
    assert others == ("429",)


def test_backoff_is_kept_and_the_request_timeout_untouched() -> None:
    rule = {"retry": {"backoff": "100ms", "attempts": 1}, "timeouts": {"request": "9s"}}
    new_raw = gateway_api.from_policy(
        make_policy(2, 1500, ["gateway-error"]), INFO, gateway_api.get_raw(rule)
    )
    new = gateway_api.set_raw(rule, new_raw)
    assert new["retry"] == {"backoff": "100ms", "attempts": 2, "codes": [502, 503, 504]}
    assert new["timeouts"] == {"request": "9s", "backendRequest": "1500ms"}
    assert gateway_api.set_raw(new, gateway_api.get_raw(rule)) == rule


@pytest.mark.parametrize(
    "rule",
    [
        {"name": "a"},
        {"name": "a", "timeouts": {}},
        {"name": "a", "timeouts": {"request": "5s"}},
        {"name": "a", "timeouts": {"backendRequest": "1s"}},
        {"name": "a", "retry": {"attempts": 1}, "timeouts": {}},
    ],
)
def test_set_then_original_back_is_the_same_rule(rule: dict) -> None:
    original = gateway_api.get_raw(rule)
    ours = gateway_api.from_policy(make_policy(**STORY), INFO, original)
    changed = gateway_api.set_raw(rule, ours)
    assert gateway_api.get_raw(changed) == ours
    assert gateway_api.set_raw(changed, original) == rule


@pytest.mark.parametrize(
    ("events", "fragment"),
    [
        ({"http_retry_events": ["stream-error"]}, "cannot select 'stream-error'"),
        ({"tcp_retry_events": ["connection-error"]}, "cannot select 'connection-err"),
        ({"grpc_retry_events": ["unavailable"]}, "cannot retry on gRPC status"),
    ],
)
def test_what_httproute_cannot_say_is_refused_naming_what_it_can(
    events: dict, fragment: str
) -> None:
    policy = make_policy(2, 1000, **events)
    with pytest.raises(PolicyError) as caught:
        gateway_api.check(policy)
    message = str(caught.value)
    assert fragment in message
    assert "it can express: server-error, gateway-error, client-error" in message
    assert "\n" not in message


def test_durations_fit_the_crd_pattern() -> None:
    for ms in (1, 999, 1000, 2500, 99_999, 100_000, 123_456, 7_200_000):
        text = gateway_api.format_duration(ms)
        assert gateway_api.valid_duration(text), text
        assert parse_duration_ms(text) == ms


def test_backend_request_longer_than_request_is_refused() -> None:
    rule = {"name": "r", "timeouts": {"request": "1s"}}
    raw = gateway_api.from_policy(make_policy(**STORY), INFO, None)
    with pytest.raises(RouteError, match="longer than its timeouts.request"):
        gateway_api.set_raw(rule, raw)


def test_a_dropped_retry_block_is_seen() -> None:
    sent = [{"name": "r", "retry": {"attempts": 1, "codes": [503]}}]
    assert dropped_routes(ADAPTER, sent, [{"name": "r"}]) == ["r"]
    assert dropped_routes(ADAPTER, sent, sent) == []


# ------------------------------------------------------------------- over HTTP


@pytest.fixture
def route(cluster: RawApi, kubeconfig: Path) -> dict[str, str]:
    ns = cluster.namespace()
    cluster.create(samples.gateway_httproute(namespace=ns))
    return {"namespace": ns, "name": "ratings", "mesh": "gateway-api"}


def _get(cluster: RawApi, target: dict) -> dict:
    return cluster.get(GROUP_VERSION, "httproutes", target["namespace"], target["name"])


def test_set_then_restore_leaves_spec_and_annotations_identical(
    cluster: RawApi, route: dict
) -> None:
    before = frozen(_get(cluster, route))
    out = set_retry_policy(**route, **STORY)
    assert out["mesh"] == "gateway-api"
    assert out["kind"] == "HTTPRoute"
    assert [r["name"] for r in out["routes"]] == ["ratings-route", "rules[1]"]
    stored = _get(cluster, route)
    assert stored["spec"]["rules"][0]["retry"]["attempts"] == 3
    assert stored["spec"]["rules"][0]["timeouts"] == {
        "request": "10s",
        "backendRequest": "2s",
    }
    assert retry_policy_matches(**route, **STORY)
    restore_retry_policy(**route)
    assert frozen(_get(cluster, route)) == before


def test_restore_after_a_crash_between_set_and_restore(
    cluster: RawApi, route: dict
) -> None:
    """The run that set the policy died; a new run adopts its snapshot."""
    before = frozen(_get(cluster, route))
    set_retry_policy(**route, route_name="ratings-route", **STORY)
    again = set_retry_policy(**route, **STORY)
    assert again["snapshot"] == "adopted"
    assert restore_retry_policy(**route)["restored"] is True
    assert frozen(_get(cluster, route)) == before


def _content(obj: dict) -> str:
    """Spec and annotations, keys sorted: a real apiserver (Go maps) sorts them."""
    return json.dumps([obj["spec"], obj["metadata"].get("annotations")], sort_keys=True)


def test_remove_then_restore_is_exact(cluster: RawApi, route: dict) -> None:
    before = _content(_get(cluster, route))
    remove_retry_policy(**route)
    # the empty timeouts object of the unnamed rule counts as its block
    assert "timeouts" not in _get(cluster, route)["spec"]["rules"][1]
    restore_retry_policy(**route)
    assert _content(_get(cluster, route)) == before


def test_get_reports_each_rule(cluster: RawApi, route: dict) -> None:
    set_retry_policy(**route, route_name="ratings-route", **STORY)
    found = get_retry_policy(**route)
    first, second = found["routes"]
    assert first["policy"]["http_retry_events"] == ["server-error"]
    assert first["raw"]["timeouts"] == {"backendRequest": "2s"}
    # An empty timeouts object is kept in the block, so it reads as "nothing set".
    assert second["raw"] == {"timeouts": {}}
    assert second["policy"]["max_retries"] is None
    restore_retry_policy(**route)


def test_zero_attempts_is_refused_by_the_served_v1_6_crd(
    cluster: RawApi, route: dict
) -> None:
    before = frozen(_get(cluster, route))
    with pytest.raises(ActivityFailed) as caught:
        set_retry_policy(**{**route, **STORY, "max_retries": 0})
    assert "requires retry.attempts >= 1" in str(caught.value)
    assert frozen(_get(cluster, route)) == before


def test_bad_event_changes_nothing(cluster: RawApi, route: dict) -> None:
    before = frozen(_get(cluster, route))
    with pytest.raises(PolicyError, match="Gateway API HTTPRoute cannot select"):
        set_retry_policy(**route, **{**STORY, "tcp_retry_events": ["connection-error"]})
    assert frozen(_get(cluster, route)) == before


# ------------------------------------------------ a standard-channel CRD


@pytest.fixture(scope="module")
def standard_server() -> Iterator[ApiServerThread]:
    files = default_crd_files(appmesh=(), istio=False, gateway_api="standard")
    with ApiServerThread(crd_files=files) as server:
        yield server


def test_standard_channel_crd_without_retry_is_refused_before_writing(
    standard_server: ApiServerThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    point_kubeconfig(monkeypatch, tmp_path, standard_server.url)
    lab = RawApi(standard_server.url)
    try:
        ns = lab.namespace()
        lab.create(samples.gateway_httproute(namespace=ns))
        target = {"namespace": ns, "name": "ratings"}
        before = frozen(_get(lab, target))
        with pytest.raises(ActivityFailed) as caught:
            set_retry_policy(mesh="gateway-api", **target, **STORY)
        message = str(caught.value)
        assert "Gateway API v1.6.1 (standard channel)" in message
        assert "no spec.rules[].retry" in message
        assert "nothing was changed" in message
        assert "\n" not in message
        assert frozen(_get(lab, target)) == before
        assert ORIGINAL_ROUTES not in json.dumps(_get(lab, target))
    finally:
        lab.close()


def test_policy_dataclass_round_trip_is_json_friendly() -> None:
    raw = gateway_api.from_policy(RetryPolicy(1, None, ("client-error",)), INFO, None)
    assert json.loads(json.dumps(raw)) == {"retry": {"attempts": 1, "codes": [409]}}


def test_a_write_the_server_drops_is_undone_and_refused(
    standard_server: ApiServerThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The read-back, for identities that cannot read CRDs: the same edit as
    set_retry_policy, sent without the CRD check, to the standard channel."""
    point_kubeconfig(monkeypatch, tmp_path, standard_server.url)
    lab = RawApi(standard_server.url)
    try:
        ns = lab.namespace()
        lab.create(samples.gateway_httproute(namespace=ns))
        target = {"namespace": ns, "name": "ratings"}
        before = frozen(_get(lab, target))
        kube, located = cluster.connect(None, "ratings", ns, "gateway-api", "auto")
        adapter = located.adapter

        def plan(obj: dict) -> cluster.Plan:
            routes = routes_of(obj, adapter) or []
            chosen, _ = select_routes(adapter, routes, None, located.label)
            new, _ = apply_policy(adapter, routes, chosen, make_policy(**STORY))
            change = plan_change(obj, adapter, new, "2026-12-01T00:00:00Z", {})
            return cluster.Plan(change.patch)

        with pytest.raises(ActivityFailed) as caught:
            cluster.edit(kube, located, plan)
        message = str(caught.value)
        assert "did not keep the retry settings" in message
        assert "'ratings-route'" in message and "the write was undone" in message
        assert frozen(_get(lab, target)) == before
    finally:
        lab.close()
