"""Istio: a fault injected by the VirtualService on the route it retries.

Istio injects such a fault in the caller's sidecar, before the router that
retries, so the retries never see it (istio#13705): set_retry_policy says so
in its output and get_retry_policy reports it, without refusing.
"""

from __future__ import annotations

from pathlib import Path

from chaoslitmus.mesh.actions import restore_retry_policy, set_retry_policy
from chaoslitmus.mesh.istio import fault_warning
from chaoslitmus.mesh.probes import get_retry_policy

from . import samples
from .conftest import STORY, RawApi, frozen

FAULT = {"delay": {"fixedDelay": "3s", "percentage": {"value": 50.0}}}


def test_a_route_without_fault_has_no_warning() -> None:
    assert fault_warning({"name": "r"}) is None
    assert "istio#13705" in (fault_warning({"fault": {"abort": {}}}) or "")


def test_set_warns_and_get_reports_a_fault_on_the_route(
    cluster: RawApi, kubeconfig: Path
) -> None:
    ns = cluster.namespace()
    vs = samples.istio_service(namespace=ns)
    vs["spec"]["http"][0]["fault"] = FAULT
    cluster.create(vs)
    target = {"name": "ratings", "namespace": ns, "mesh": "istio"}
    before = frozen(
        cluster.get("networking.istio.io/v1", "virtualservices", ns, "ratings")
    )
    out = set_retry_policy(**target, **STORY)
    primary, other = out["routes"]
    assert "never retries it" in primary["fault_warning"]
    assert "fault_warning" not in other
    assert out["warnings"] == [f"route 'primary': {primary['fault_warning']}"]
    found = get_retry_policy(**target)
    assert found["routes"][0]["fault_warning"] == primary["fault_warning"]
    assert found["warnings"] == out["warnings"]
    restore_retry_policy(**target)
    after = cluster.get("networking.istio.io/v1", "virtualservices", ns, "ratings")
    assert frozen(after) == before
