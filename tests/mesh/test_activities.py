"""The mesh activities against the lab's API server, over HTTP.

Every object is validated by the server against the real CRDs, so a retry
policy the mesh would reject fails here too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.mesh.actions import (
    remove_retry_policy,
    restore_retry_policy,
    set_retry_policy,
)
from chaoslitmus.mesh.probes import get_retry_policy, retry_policy_matches
from chaoslitmus.mesh.snapshot import ORIGINAL_ROUTES

from . import samples
from .conftest import STORY, V1BETA2, RawApi, frozen, router

# -- the story: App Mesh v1beta2, set then restore ----------------------------


def test_story_policy_is_set_through_the_virtual_service_and_restored_exactly(
    cluster: RawApi, v1beta2: dict
) -> None:
    before = router(cluster, v1beta2)

    out = set_retry_policy(
        name="ratings",
        namespace=v1beta2["namespace"],
        mesh="appmesh",
        route_name="ratings-route",
        **STORY,
    )

    assert out["mesh"] == "appmesh"
    assert out["api_version"] == V1BETA2
    assert out["object"]["kind"] == "VirtualRouter"
    assert out["object"]["name"] == "ratings-router"
    assert out["virtual_service"] == {
        "kind": "VirtualService",
        "name": "ratings",
        "namespace": v1beta2["namespace"],
    }
    assert out["changed"] is True and out["snapshot"] == "taken"
    [entry] = out["routes"]
    assert entry["name"] == "ratings-route" and entry["before"] is None
    assert entry["after"]["max_retries"] == 3
    json.dumps(out)  # journal-safe

    changed = router(cluster, v1beta2)
    assert changed["spec"]["routes"][0]["httpRoute"]["retryPolicy"] == {
        "maxRetries": 3,
        "perRetryTimeout": {"unit": "ms", "value": 2000},
        "httpRetryEvents": ["server-error"],
    }
    annotations = changed["metadata"]["annotations"]
    assert list(annotations) == [ORIGINAL_ROUTES]
    saved = json.loads(annotations[ORIGINAL_ROUTES])
    assert saved["version"] == 2 and saved["field"] == "spec.routes"
    assert saved["taken_by"]["field_manager"] == "chaostoolkit-litmus"
    # every route is known (for drift); only the changed one has retry blocks
    assert [r["name"] for r in saved["routes"]] == [
        r["name"] for r in before["spec"]["routes"]
    ]
    [ours] = [r for r in saved["routes"] if "ours" in r]
    assert ours["name"] == "ratings-route" and ours["original"] is None
    assert ours["ours"] == changed["spec"]["routes"][0]["httpRoute"]["retryPolicy"]

    assert retry_policy_matches(
        name="ratings",
        namespace=v1beta2["namespace"],
        route_name="ratings-route",
        **STORY,
    )

    back = restore_retry_policy(name="ratings", namespace=v1beta2["namespace"])
    assert back["restored"] is True and back["snapshot"] == "removed"
    assert {r["name"]: r["after"] for r in back["routes"]}["ratings-route"] is None

    after = router(cluster, v1beta2)
    assert frozen(after) == frozen(before)
    assert "annotations" not in after["metadata"]


def test_existing_policy_second_set_adopts_the_first_snapshot(
    cluster: RawApi, v1beta2: dict
) -> None:
    before = router(cluster, v1beta2)
    ns = v1beta2["namespace"]

    first = set_retry_policy(
        name="ratings", namespace=ns, route_name="ratings-admin", **STORY
    )
    [entry] = first["routes"]
    assert entry["before"]["max_retries"] == 2
    assert entry["before"]["per_retry_timeout_ms"] == 1000
    assert entry["before"]["http_retry_events"] == ["gateway-error"]

    second = set_retry_policy(
        name="ratings",
        namespace=ns,
        max_retries=5,
        per_retry_timeout_ms=700,
        http_retry_events=["gateway-error", "stream-error"],
        tcp_retry_events=["connection-error"],
    )
    assert second["snapshot"] == "adopted"
    assert [r["name"] for r in second["routes"]] == [
        "ratings-route",
        "ratings-admin",
        "ratings-grpc",
    ]
    assert [r["name"] for r in second["skipped_routes"]] == ["ratings-tcp"]
    saved = router(cluster, v1beta2)["metadata"]["annotations"][ORIGINAL_ROUTES]
    originals = {r["name"]: r.get("original") for r in json.loads(saved)["routes"]}
    # the first set's original stays; routes changed only now start from here
    assert originals == {
        "ratings-route": None,
        "ratings-admin": samples.RATINGS_POLICY_V1BETA2,
        "ratings-grpc": None,
        "ratings-tcp": None,
    }

    restore_retry_policy(name="ratings", namespace=ns)
    assert frozen(router(cluster, v1beta2)) == frozen(before)


def test_same_policy_again_sends_nothing(cluster: RawApi, v1beta2: dict) -> None:
    ns = v1beta2["namespace"]
    set_retry_policy(name="ratings", namespace=ns, route_name="ratings-route", **STORY)
    version = router(cluster, v1beta2)["metadata"]["resourceVersion"]
    again = set_retry_policy(
        name="ratings", namespace=ns, route_name="ratings-route", **STORY
    )
    assert again["changed"] is False and "nothing changed" in again["message"]
    assert router(cluster, v1beta2)["metadata"]["resourceVersion"] == version


def test_other_annotations_survive_set_and_restore(
    cluster: RawApi, kubeconfig: Path
) -> None:
    ns = cluster.namespace()
    obj = samples.appmesh_v1beta2_router(name="direct", namespace=ns)
    obj["metadata"]["annotations"] = {"owner": "team-ratings"}
    cluster.create(obj)
    before = cluster.get(V1BETA2, "virtualrouters", ns, "direct")

    out = set_retry_policy(
        name="direct", virtual_router="direct", namespace=ns, **STORY
    )
    assert out["virtual_service"] is None and out["object"]["name"] == "direct"
    restore_retry_policy(name="direct", virtual_router="direct", namespace=ns)

    after = cluster.get(V1BETA2, "virtualrouters", ns, "direct")
    assert frozen(after) == frozen(before)
    assert after["metadata"]["annotations"] == {"owner": "team-ratings"}


def test_remove_then_restore(cluster: RawApi, v1beta2: dict) -> None:
    before = router(cluster, v1beta2)
    ns = v1beta2["namespace"]
    out = remove_retry_policy(name="ratings", namespace=ns)
    assert [r["changed"] for r in out["routes"]] == [False, True, False]
    assert "default retry policy" in out["note"]
    assert (
        "retryPolicy" not in router(cluster, v1beta2)["spec"]["routes"][1]["http2Route"]
    )
    assert retry_policy_matches(name="ratings", namespace=ns, absent=True)
    restore_retry_policy(name="ratings", namespace=ns)
    assert frozen(router(cluster, v1beta2)) == frozen(before)


def test_restore_without_snapshot_changes_nothing(
    cluster: RawApi, v1beta2: dict
) -> None:
    before = router(cluster, v1beta2)
    out = restore_retry_policy(name="ratings", namespace=v1beta2["namespace"])
    assert out["restored"] is False and out["changed"] is False
    assert out["message"].startswith("nothing to restore")
    assert router(cluster, v1beta2) == before


def test_get_retry_policy_reports_neutral_and_raw(v1beta2: dict) -> None:
    out = get_retry_policy(name="ratings", namespace=v1beta2["namespace"])
    by_name = {r["name"]: r for r in out["routes"]}
    assert by_name["ratings-route"]["policy"] is None
    assert by_name["ratings-admin"]["raw"] == samples.RATINGS_POLICY_V1BETA2
    assert by_name["ratings-admin"]["policy"]["per_retry_timeout_ms"] == 1000
    assert out["snapshot_saved"] is False
    assert "default retry policy" in out["note"]
    assert not retry_policy_matches(
        name="ratings", namespace=v1beta2["namespace"], max_retries=2
    )
    assert retry_policy_matches(
        name="ratings",
        namespace=v1beta2["namespace"],
        route_name="ratings-admin",
        max_retries=2,
        per_retry_timeout_ms=1000,
        http_retry_events=["gateway-error"],
    )


# -- errors: one line, nothing changed ----------------------------------------


def test_unknown_route_lists_the_routes(cluster: RawApi, v1beta2: dict) -> None:
    before = router(cluster, v1beta2)
    with pytest.raises(ActivityFailed) as caught:
        set_retry_policy(
            name="ratings", namespace=v1beta2["namespace"], route_name="nope", **STORY
        )
    assert str(caught.value) == (
        f"VirtualRouter 'ratings-router' in namespace '{v1beta2['namespace']}' has no "
        "route named 'nope'; its routes: 'ratings-route', 'ratings-admin', "
        "'ratings-grpc', 'ratings-tcp'"
    )
    assert router(cluster, v1beta2) == before


def test_tcp_route_cannot_retry(cluster: RawApi, v1beta2: dict) -> None:
    before = router(cluster, v1beta2)
    with pytest.raises(
        ActivityFailed, match="a tcpRoute has no retry policy in App Mesh"
    ):
        set_retry_policy(
            name="ratings",
            namespace=v1beta2["namespace"],
            route_name="ratings-tcp",
            **STORY,
        )
    assert router(cluster, v1beta2) == before


def test_grpc_events_alone_on_http_routes_are_refused(
    cluster: RawApi, v1beta2: dict
) -> None:
    before = router(cluster, v1beta2)
    with pytest.raises(
        ActivityFailed, match="grpc_retry_events apply to gRPC routes only"
    ):
        set_retry_policy(
            name="ratings",
            namespace=v1beta2["namespace"],
            max_retries=1,
            per_retry_timeout_ms=100,
            grpc_retry_events=["unavailable"],
        )
    assert router(cluster, v1beta2) == before


def test_missing_virtual_service(kubeconfig: Path, cluster: RawApi) -> None:
    ns = cluster.namespace()
    with pytest.raises(ActivityFailed) as caught:
        set_retry_policy(name="absent", namespace=ns, **STORY)
    message = str(caught.value)
    assert "virtualservices.appmesh.k8s.aws 'absent' not found" in message
    assert f"namespace '{ns}'" in message and "\n" not in message


def test_missing_router_names_the_reference(kubeconfig: Path, cluster: RawApi) -> None:
    ns = cluster.namespace()
    cluster.create(samples.appmesh_v1beta2_service(namespace=ns, router="gone"))
    with pytest.raises(ActivityFailed) as caught:
        restore_retry_policy(name="ratings", namespace=ns)
    assert str(caught.value) == (
        f"VirtualRouter 'gone' in namespace '{ns}' not found; VirtualService "
        "'ratings' refers to it in spec.provider.virtualRouter.virtualRouterRef: "
        "create the VirtualRouter or fix the reference"
    )


def test_virtual_node_provider_says_what_to_do(
    kubeconfig: Path, cluster: RawApi
) -> None:
    ns = cluster.namespace()
    service = samples.appmesh_v1beta2_service(namespace=ns)
    service["spec"]["provider"] = {
        "virtualNode": {"virtualNodeRef": {"name": "ratings-v1"}}
    }
    cluster.create(service)
    with pytest.raises(
        ActivityFailed, match="served directly by virtual node 'ratings-v1'"
    ):
        set_retry_policy(name="ratings", namespace=ns, **STORY)


def test_virtual_router_that_disagrees_with_the_service(
    cluster: RawApi, v1beta2: dict
) -> None:
    cluster.create(
        samples.appmesh_v1beta2_router(name="other", namespace=v1beta2["namespace"])
    )
    with pytest.raises(
        ActivityFailed, match="routes through VirtualRouter 'ratings-router'"
    ):
        set_retry_policy(
            name="ratings",
            namespace=v1beta2["namespace"],
            virtual_router="other",
            **STORY,
        )


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_retries": None}, "max_retries is required"),
        ({"per_retry_timeout_ms": None}, "App Mesh requires per_retry_timeout_ms"),
        ({"http_retry_events": ["5xx"]}, "use 'server-error'"),
        ({"mesh": "linkerd"}, "mesh must be one of appmesh, istio"),
        ({"api_version": "v1"}, "api_version for appmesh must be"),
        ({"namespace": "Bad_NS"}, "namespace must be a DNS-1123 label"),
        ({"name": None}, "name is required"),
        ({"route_name": ""}, "route_name must be a non-empty string"),
        ({"mesh": "istio", "virtual_router": "r"}, "virtual_router only applies"),
        ({"mesh": "istio", "max_retries": 2**31}, "max_retries must be <= 2147483647"),
    ],
)
def test_invalid_arguments_fail_before_any_request(
    kwargs: dict, fragment: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # no server at all: a request would fail differently, so none is sent
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    arguments = {"name": "ratings", "namespace": "bookinfo", **STORY, **kwargs}
    with pytest.raises(ActivityFailed) as caught:
        set_retry_policy(**arguments)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_probe_refuses_absent_with_expectations(kubeconfig: Path) -> None:
    with pytest.raises(
        ActivityFailed, match="absent=true checks that there is no policy"
    ):
        retry_policy_matches(
            name="ratings", namespace="bookinfo", absent=True, max_retries=1
        )


# -- Istio --------------------------------------------------------------------


def test_istio_set_and_restore(cluster: RawApi, istio_vs: dict) -> None:
    ns = istio_vs["namespace"]
    before = cluster.get("networking.istio.io/v1", "virtualservices", ns, "ratings")

    out = set_retry_policy(name="ratings", namespace=ns, mesh="istio", **STORY)
    assert out["api_version"] == "networking.istio.io/v1"
    assert [r["name"] for r in out["routes"]] == ["primary", "http[1]"]
    changed = cluster.get("networking.istio.io/v1", "virtualservices", ns, "ratings")
    assert changed["spec"]["http"][0]["retries"] == {
        "attempts": 3,
        "perTryTimeout": "2s",
        "retryOn": "5xx",
        "retryRemoteLocalities": True,
    }
    assert changed["spec"]["http"][1]["retries"] == {
        "attempts": 3,
        "perTryTimeout": "2s",
        "retryOn": "5xx",
    }
    assert retry_policy_matches(name="ratings", namespace=ns, mesh="istio", **STORY)

    # an older client asking for v1beta1 sees and restores the same object
    back = restore_retry_policy(
        name="ratings", namespace=ns, mesh="istio", api_version="v1beta1"
    )
    assert back["api_version"] == "networking.istio.io/v1beta1" and back["restored"]
    after = cluster.get("networking.istio.io/v1", "virtualservices", ns, "ratings")
    assert frozen(after) == frozen(before)


def test_istio_reads_envoy_tokens_it_has_no_name_for(istio_vs: dict) -> None:
    out = get_retry_policy(
        name="ratings",
        namespace=istio_vs["namespace"],
        mesh="istio",
        route_name="primary",
    )
    [entry] = out["routes"]
    assert entry["policy"]["other_events"] == ["reset", "503"]
    assert entry["policy"]["tcp_retry_events"] == ["connection-error"]
    assert entry["raw"]["retryOn"] == "gateway-error,connect-failure,reset,503"
