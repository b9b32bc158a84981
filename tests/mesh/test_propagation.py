"""Is the policy in the data plane? The lab's mesh applies a changed route
after --mesh-propagation-ms and then writes the controller's status;
wait_for_retry_policy_applied reads that signal."""

from __future__ import annotations

import time

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.mesh import actions as mesh

from . import samples
from .conftest import STORY

NS = world.NAMESPACE
PROPAGATION_MS = 1500
GATEWAY = "gateway.networking.k8s.io/v1"


def retries_in_proxy(lab: Lab) -> int:
    table = lab.dataplane.route_table()
    return max(route.retry.num_retries for route in table.routes)


@pytest.fixture(scope="module", params=["appmesh", "istio", "gateway-api"])
def lab(request):
    options = LabOptions(
        mesh=request.param,
        reviews_port=0,
        litmus_startup_s=0.2,
        mesh_propagation_ms=PROPAGATION_MS,
        seed=17,
    )
    with Lab(options) as lab:
        yield lab


@pytest.fixture
def target(lab, monkeypatch):
    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    return {
        "name": lab.env()["CHAOSLITMUS_MESH_OBJECT"],
        "namespace": NS,
        "mesh": lab.options.mesh,
    }


def test_the_wait_reports_the_propagation_time(lab, target):
    before = retries_in_proxy(lab)  # the mesh's default policy
    assert before != STORY["max_retries"]
    mesh.set_retry_policy(**target, **STORY)
    assert retries_in_proxy(lab) == before  # accepted by the API, not in Envoy
    try:
        applied = mesh.wait_for_retry_policy_applied(**target, **STORY, timeout_s=30)
        assert retries_in_proxy(lab) == STORY["max_retries"]
        # Generous upper bound: a loaded machine adds its own delay.
        assert PROPAGATION_MS / 1000 - 0.3 <= applied["propagation_s"] <= 8
        assert "observedGeneration" in applied["evidence"]
        condition = {
            "istio": "Reconciled",
            "appmesh": "Active",
            "gateway-api": "Accepted=True, ResolvedRefs=True",
        }[target["mesh"]]
        assert condition in applied["evidence"]
    finally:
        mesh.restore_retry_policy(**target)
    restored = mesh.wait_for_retry_policy_applied(**target, timeout_s=30)
    assert restored["propagation_s"] >= PROPAGATION_MS / 1000 - 0.3
    assert retries_in_proxy(lab) == before


def test_an_object_without_the_policy_is_refused_at_once(target):
    began = time.monotonic()
    with pytest.raises(ActivityFailed, match="does not carry the expected retry"):
        mesh.wait_for_retry_policy_applied(**target, **STORY, timeout_s=30)
    assert time.monotonic() - began < 5


def test_no_controller_status_means_no_signal(cluster, istio_vs):
    # A bare API server: nothing ever writes the VirtualService's status.
    with pytest.raises(ActivityFailed, match="no propagation signal.*PILOT_ENABLE"):
        mesh.wait_for_retry_policy_applied(
            name=istio_vs["name"],
            namespace=istio_vs["namespace"],
            mesh="istio",
            timeout_s=1,
        )


def test_a_route_no_implementation_reports_on_means_no_signal(cluster, kubeconfig):
    # A bare API server: nothing writes the HTTPRoute's status.parents[].
    ns = cluster.namespace()
    cluster.create(samples.gateway_httproute(namespace=ns))
    with pytest.raises(ActivityFailed, match="no propagation signal.*parentRef"):
        mesh.wait_for_retry_policy_applied(
            name="ratings", namespace=ns, mesh="gateway-api", timeout_s=1
        )


def _write_parents(cluster, ns: str, accepted: str, observed: int) -> None:
    route = cluster.get(GATEWAY, "httproutes", ns, "ratings")
    conditions = [
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "observedGeneration": observed,
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
        for kind, status, reason, message in (
            ("Accepted", accepted, "NotAllowedByListeners", "no listener allows it"),
            ("ResolvedRefs", "True", "ResolvedRefs", ""),
        )
    ]
    route["status"] = {
        "parents": [
            {
                "parentRef": route["spec"]["parentRefs"][0],
                "controllerName": "example.net/gateway-controller",
                "conditions": conditions,
            }
        ]
    }
    group, version = GATEWAY.split("/")
    cluster.custom.replace_namespaced_custom_object_status(
        group, version, ns, "httproutes", "ratings", route
    )


def test_a_route_refused_by_its_controller_fails_at_once(cluster, kubeconfig):
    ns = cluster.namespace()
    created = cluster.create(samples.gateway_httproute(namespace=ns))
    _write_parents(cluster, ns, "False", created["metadata"]["generation"])
    began = time.monotonic()
    with pytest.raises(ActivityFailed, match="did not accept generation") as failed:
        mesh.wait_for_retry_policy_applied(
            name="ratings", namespace=ns, mesh="gateway-api", timeout_s=30
        )
    assert "NotAllowedByListeners" in str(failed.value)
    assert "example.net/gateway-controller" in str(failed.value)
    assert time.monotonic() - began < 5


def test_an_older_generation_accepted_is_not_evidence(cluster, kubeconfig):
    ns = cluster.namespace()
    created = cluster.create(samples.gateway_httproute(namespace=ns))
    generation = created["metadata"]["generation"]
    _write_parents(cluster, ns, "True", generation - 1)
    with pytest.raises(ActivityFailed, match=f"generation {generation}, observed"):
        mesh.wait_for_retry_policy_applied(
            name="ratings", namespace=ns, mesh="gateway-api", timeout_s=1
        )
    _write_parents(cluster, ns, "True", generation)
    applied = mesh.wait_for_retry_policy_applied(
        name="ratings", namespace=ns, mesh="gateway-api", timeout_s=5
    )
    assert "example.net/gateway-controller" in applied["evidence"]


@pytest.mark.parametrize("kind_args", [{}, {"max_retries": 2}])
def test_linkerd_has_no_signal_and_says_so_at_once(cluster, kubeconfig, kind_args):
    ns = cluster.namespace()
    began = time.monotonic()
    with pytest.raises(ActivityFailed, match="no propagation signal for Linkerd") as e:
        mesh.wait_for_retry_policy_applied(
            name="ratings", namespace=ns, mesh="linkerd", timeout_s=30, **kind_args
        )
    assert "fixed" in str(e.value) and "\n" not in str(e.value)
    assert time.monotonic() - began < 2


def test_linkerd_waits_a_fixed_time_only_when_asked(cluster, kubeconfig):
    ns = cluster.namespace()
    began = time.monotonic()
    waited = mesh.wait_for_retry_policy_applied(
        name="ratings", namespace=ns, mesh="linkerd", no_signal_wait_s=0.5
    )
    assert time.monotonic() - began >= 0.5
    assert waited["propagation_s"] is None and waited["fixed_wait_s"] == 0.5
    assert (
        waited["evidence"]
        == "none: linkerd has no propagation signal; waited a fixed 0.5s"
    )


@pytest.mark.parametrize("wait", [-1, "5", 90])
def test_a_bad_fixed_wait_is_refused(cluster, kubeconfig, wait):
    with pytest.raises(ActivityFailed, match="no_signal_wait_s must be"):
        mesh.wait_for_retry_policy_applied(
            name="ratings", namespace="x", mesh="linkerd", no_signal_wait_s=wait
        )
