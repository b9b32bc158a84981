"""Linkerd: retry annotations on a Service or an HTTPRoute, and ServiceProfiles.

Over HTTP on the lab's API server: the Service is a core object (annotations
edited by merge patch), the HTTPRoute and ServiceProfile are custom objects
validated against their real CRDs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoslitmus.mesh import linkerd
from chaoslitmus.mesh.actions import (
    remove_retry_policy,
    restore_retry_policy,
    set_retry_policy,
)
from chaoslitmus.mesh.policy import PolicyError, make_policy
from chaoslitmus.mesh.probes import get_retry_policy, retry_policy_matches
from chaoslitmus.mesh.routes import RouteError, RouteInfo
from chaoslitmus.mesh.snapshot import ORIGINAL_ROUTES

from . import samples
from .conftest import STORY, RawApi

INFO = RouteInfo(0, "ratings", "service")
OTHERS = {"team": "ratings", "timeout.linkerd.io/request": "10s"}


# ----------------------------------------------------------------- translation


def test_story_policy_becomes_annotations() -> None:
    raw = linkerd.from_policy(make_policy(**STORY), INFO, None)
    assert raw == {
        "retry.linkerd.io/http": "5xx",
        "retry.linkerd.io/limit": "3",
        "retry.linkerd.io/timeout": "2s",
    }
    back = linkerd.to_policy(raw)
    assert (back.max_retries, back.per_retry_timeout_ms) == (3, 2000)
    assert back.http_retry_events == ("server-error",)


def test_unset_limit_reads_as_linkerds_default_of_one() -> None:
    assert linkerd.to_policy({"retry.linkerd.io/http": "504"}).max_retries == 1
    assert linkerd.to_policy({"retry.linkerd.io/http": "504"}).other_events == ("504",)


def test_timeout_annotations_are_kept_when_a_policy_is_set() -> None:
    old = {"timeout.linkerd.io/request": "10s", "retry.linkerd.io/http": "504"}
    raw = linkerd.from_policy(make_policy(1, 500, ["gateway-error"]), INFO, old)
    assert raw == {
        "timeout.linkerd.io/request": "10s",
        "retry.linkerd.io/http": "gateway-error",
        "retry.linkerd.io/limit": "1",
        "retry.linkerd.io/timeout": "500ms",
    }


@pytest.mark.parametrize(
    ("kind", "arguments", "fragment"),
    [
        ("service", {"tcp_retry_events": ["connection-error"]}, "never retries"),
        ("service", {"http_retry_events": ["stream-error"]}, "always retries"),
        ("httproute", {"grpc_retry_events": ["unavailable"]}, "ignores retry"),
        ("service", {"max_retries": 0}, "reads retry.linkerd.io/limit"),
    ],
)
def test_what_linkerd_cannot_say_is_refused(
    kind: str, arguments: dict, fragment: str
) -> None:
    values = {**STORY, **arguments}
    if "http_retry_events" not in arguments and arguments.keys() != {"max_retries"}:
        values.pop("http_retry_events")
    policy = make_policy(**values)
    adapter = (
        linkerd.SERVICE_ADAPTER
        if kind == "service"
        else linkerd.HTTPROUTE_ADAPTERS["v1"]
    )
    with pytest.raises(PolicyError) as caught:
        adapter.check(policy)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_durations_are_one_number_and_one_unit() -> None:
    assert linkerd.parse_duration_ms("300ms") == 300
    assert linkerd.parse_duration_ms("2s") == 2000
    assert linkerd.parse_duration_ms("1m30s") is None
    assert linkerd.format_duration(1500) == "1500ms"


# ------------------------------------------------------------------- Service


def _service(cluster: RawApi, ns: str, name: str = "ratings") -> dict:
    response = cluster.core.read_namespaced_service(name, ns, _preload_content=False)
    return json.loads(response.data)


def _annotations(obj: dict) -> str:
    return json.dumps(obj["metadata"].get("annotations"), sort_keys=True)


@pytest.fixture
def service(cluster: RawApi, kubeconfig: Path) -> dict[str, str]:
    ns = cluster.namespace()
    cluster.core.create_namespaced_service(
        ns, samples.core_service(namespace=ns, annotations=OTHERS)
    )
    return {"namespace": ns, "name": "ratings", "mesh": "linkerd"}


def test_service_annotations_set_and_restored_exactly(
    cluster: RawApi, service: dict
) -> None:
    before = _service(cluster, service["namespace"])
    out = set_retry_policy(**service, **STORY)
    assert (out["mesh"], out["kind"], out["api_version"]) == (
        "linkerd",
        "Service",
        "v1",
    )
    now = _service(cluster, service["namespace"])["metadata"]["annotations"]
    assert now["retry.linkerd.io/http"] == "5xx"
    assert now["retry.linkerd.io/limit"] == "3"
    assert now["retry.linkerd.io/timeout"] == "2s"
    assert now["timeout.linkerd.io/request"] == "10s"
    assert ORIGINAL_ROUTES in now
    assert retry_policy_matches(**service, **STORY)
    restore_retry_policy(**service)
    after = _service(cluster, service["namespace"])
    assert after["spec"] == before["spec"]
    assert _annotations(after) == _annotations(before)


def test_service_restore_after_a_crash(cluster: RawApi, service: dict) -> None:
    before = _service(cluster, service["namespace"])
    set_retry_policy(**service, **STORY)
    assert set_retry_policy(**service, **STORY)["snapshot"] == "adopted"
    restore_retry_policy(**service)
    assert _annotations(_service(cluster, service["namespace"])) == _annotations(before)


def test_service_without_annotations_ends_without_any(cluster: RawApi, kubeconfig):
    ns = cluster.namespace()
    cluster.core.create_namespaced_service(ns, samples.core_service(namespace=ns))
    target = {"namespace": ns, "name": "ratings", "mesh": "linkerd"}
    set_retry_policy(**target, **STORY)
    assert get_retry_policy(**target)["routes"][0]["policy"]["max_retries"] == 3
    restore_retry_policy(**target)
    assert _service(cluster, ns)["metadata"].get("annotations") is None
    assert retry_policy_matches(**target, absent=True)


def test_remove_takes_only_the_retry_block(cluster: RawApi, service: dict) -> None:
    set_retry_policy(**service, **STORY)
    restore_retry_policy(**service)
    removed = remove_retry_policy(**service)
    assert removed["changed"] is True  # timeout.linkerd.io/request is in the block
    now = _service(cluster, service["namespace"])["metadata"]["annotations"]
    assert now["team"] == "ratings"
    assert "timeout.linkerd.io/request" not in now
    restore_retry_policy(**service)
    assert _service(cluster, service["namespace"])["metadata"]["annotations"] == OTHERS


def test_a_service_profile_is_reported_as_overriding(
    cluster: RawApi, service: dict
) -> None:
    cluster.create(samples.service_profile(namespace=service["namespace"]))
    out = set_retry_policy(**service, **STORY)
    assert any("ServiceProfile 'ratings." in w for w in out["warnings"])
    assert get_retry_policy(**service)["warnings"] == out["warnings"]
    restore_retry_policy(**service)


def test_bad_event_changes_nothing(cluster: RawApi, service: dict) -> None:
    before = _service(cluster, service["namespace"])
    with pytest.raises(PolicyError, match="Linkerd cannot select 'connection-error'"):
        set_retry_policy(
            **service, **{**STORY, "tcp_retry_events": ["connection-error"]}
        )
    assert _annotations(_service(cluster, service["namespace"])) == _annotations(before)


# ------------------------------------------------------------------ HTTPRoute


def test_httproute_annotations_set_and_restored_exactly(
    cluster: RawApi, kubeconfig: Path
) -> None:
    ns = cluster.namespace()
    cluster.create(samples.gateway_httproute(namespace=ns, annotations=OTHERS))
    target = {
        "namespace": ns,
        "name": "ratings",
        "mesh": "linkerd",
        "kind": "httproute",
    }
    before = cluster.get("gateway.networking.k8s.io/v1", "httproutes", ns, "ratings")
    out = set_retry_policy(**target, **STORY)
    assert out["kind"] == "HTTPRoute"
    assert out["routes"][0]["changed"] is True
    restore_retry_policy(**target)
    after = cluster.get("gateway.networking.k8s.io/v1", "httproutes", ns, "ratings")
    assert json.dumps(after["spec"]) == json.dumps(before["spec"])
    assert _annotations(after) == _annotations(before)


def test_httproute_without_a_service_parent_is_refused(
    cluster: RawApi, kubeconfig: Path
) -> None:
    ns = cluster.namespace()
    gateway = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}
    cluster.create(samples.gateway_httproute(namespace=ns, parent=gateway))
    target = {
        "namespace": ns,
        "name": "ratings",
        "mesh": "linkerd",
        "kind": "httproute",
    }
    before = cluster.get("gateway.networking.k8s.io/v1", "httproutes", ns, "ratings")
    with pytest.raises(RouteError) as caught:
        set_retry_policy(**target, **STORY)
    assert "parentRefs name no Service" in str(caught.value)
    assert "\n" not in str(caught.value)
    after = cluster.get("gateway.networking.k8s.io/v1", "httproutes", ns, "ratings")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


# -------------------------------------------------------------- ServiceProfile


def test_service_profile_is_retryable_and_restored_exactly(
    cluster: RawApi, kubeconfig: Path
) -> None:
    ns = cluster.namespace()
    cluster.create(samples.service_profile(namespace=ns))
    name = f"ratings.{ns}.svc.cluster.local"
    target = {
        "namespace": ns,
        "name": name,
        "mesh": "linkerd",
        "kind": "serviceprofile",
    }
    before = cluster.get("linkerd.io/v1alpha2", "serviceprofiles", ns, name)
    out = set_retry_policy(**target, max_retries=1, http_retry_events=["server-error"])
    assert any("budgeted, not counted" in w for w in out["warnings"])
    stored = cluster.get("linkerd.io/v1alpha2", "serviceprofiles", ns, name)
    assert [r.get("isRetryable") for r in stored["spec"]["routes"]] == [True, True]
    restore_retry_policy(**target)
    after = cluster.get("linkerd.io/v1alpha2", "serviceprofiles", ns, name)
    assert json.dumps(after["spec"]) == json.dumps(before["spec"])
    assert after["metadata"].get("annotations") is None


def test_service_profile_has_no_per_try_timeout(cluster: RawApi, kubeconfig) -> None:
    with pytest.raises(PolicyError, match="ServiceProfile has no per-try timeout"):
        set_retry_policy(
            name="ratings.bookinfo.svc.cluster.local",
            namespace="bookinfo",
            mesh="linkerd",
            kind="serviceprofile",
            **STORY,
        )


def test_unknown_kind_is_refused_naming_the_kinds() -> None:
    with pytest.raises(PolicyError, match="service, httproute, serviceprofile"):
        set_retry_policy(
            name="ratings",
            namespace="bookinfo",
            mesh="linkerd",
            kind="grpcroute",
            **STORY,
        )
