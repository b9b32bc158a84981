"""Bad mesh arguments: one clear line, nothing changed on the object
(issue 17 items 4, 6 and 8: unicode digits, list-typed mesh, huge numbers)."""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.mesh.actions import (
    remove_retry_policy,
    restore_retry_policy,
    set_retry_policy,
)
from chaoslitmus.mesh.probes import get_retry_policy, retry_policy_matches

from .conftest import STORY, RawApi, frozen, router


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_retries": "²"}, "max_retries must be a whole number"),
        ({"max_retries": "3.5"}, "max_retries must be a whole number"),
        ({"max_retries": float("nan")}, "max_retries must be a finite whole number"),
        ({"max_retries": 10**400}, "max_retries must be >= 0 and <="),
        ({"max_retries": True}, "max_retries must be a whole number"),
        ({"per_retry_timeout_ms": "inf"}, "per_retry_timeout_ms must be a whole"),
        ({"per_retry_timeout_ms": 10**400}, "per_retry_timeout_ms must be >= 1"),
        ({"mesh": ["appmesh"]}, "mesh must be one of appmesh, istio"),
        ({"api_version": ["v1beta2"]}, "api_version for appmesh must be"),
        ({"namespace": ["x"]}, "namespace must be a DNS-1123 label"),
        ({"name": ["ratings"]}, "name must be a Kubernetes object name"),
        ({"route_name": ["r"]}, "route_name must be a non-empty string"),
        ({"http_retry_events": "server-error;reboot"}, "http_retry_events has"),
    ],
)
def test_set_refuses_and_leaves_the_router_as_it_was(
    cluster: RawApi, v1beta2: dict, kwargs: dict, fragment: str
) -> None:
    before = router(cluster, v1beta2)
    arguments = {"name": "ratings", "namespace": v1beta2["namespace"], **STORY}
    with pytest.raises(ActivityFailed) as caught:
        set_retry_policy(**{**arguments, **kwargs})
    message = str(caught.value)
    assert fragment in message and "\n" not in message
    after = router(cluster, v1beta2)
    assert frozen(after) == frozen(before)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


@pytest.mark.parametrize(
    "call",
    [
        lambda ns: remove_retry_policy("ratings", ns, mesh=["istio"]),
        lambda ns: restore_retry_policy("ratings", ns, mesh=["istio"]),
        lambda ns: get_retry_policy("ratings", ns, mesh=["istio"]),
        lambda ns: retry_policy_matches("ratings", ns, mesh=["istio"]),
    ],
)
def test_list_typed_mesh_is_one_line_everywhere(v1beta2: dict, call) -> None:
    with pytest.raises(ActivityFailed, match="mesh must be one of appmesh, istio"):
        call(v1beta2["namespace"])


def test_probe_expectations_are_strict(v1beta2: dict) -> None:
    ns = v1beta2["namespace"]
    with pytest.raises(ActivityFailed, match="max_retries must be a whole number"):
        retry_policy_matches("ratings", ns, max_retries="²")
    with pytest.raises(ActivityFailed, match="absent must be true or false"):
        retry_policy_matches("ratings", ns, absent="yes")
    # "false" is false, and numeric strings are numbers (chaos run --var)
    set_retry_policy("ratings", ns, **STORY)
    try:
        assert retry_policy_matches("ratings", ns, max_retries="3", absent="false")
    finally:
        restore_retry_policy("ratings", ns)


def test_numbers_as_var_strings_set_the_policy(cluster: RawApi, v1beta2: dict) -> None:
    ns = v1beta2["namespace"]
    before = router(cluster, v1beta2)
    out = set_retry_policy(
        "ratings",
        ns,
        max_retries="3",
        per_retry_timeout_ms="2000",
        http_retry_events=["server-error"],
    )
    assert out["changed"]
    stored = router(cluster, v1beta2)["spec"]["routes"][0]["httpRoute"]["retryPolicy"]
    assert stored["maxRetries"] == 3
    assert stored["perRetryTimeout"] == {"unit": "ms", "value": 2000}
    restore_retry_policy("ratings", ns)
    assert frozen(router(cluster, v1beta2)) == frozen(before)


def test_router_alone_by_its_own_name(cluster: RawApi, v1beta2: dict) -> None:
    ns = v1beta2["namespace"]
    before = router(cluster, v1beta2)
    out = set_retry_policy(
        "ratings-router", ns, virtual_router="ratings-router", **STORY
    )
    assert out["virtual_service"] is None
    assert out["object"]["name"] == "ratings-router"
    restore_retry_policy("ratings-router", ns, virtual_router="ratings-router")
    assert frozen(router(cluster, v1beta2)) == frozen(before)


def test_missing_service_with_a_router_says_how_to_address_the_router(
    v1beta2: dict,
) -> None:
    with pytest.raises(ActivityFailed) as caught:
        restore_retry_policy(
            "deleted-service", v1beta2["namespace"], virtual_router="ratings-router"
        )
    assert "name='ratings-router' with virtual_router='ratings-router'" in str(
        caught.value
    )
