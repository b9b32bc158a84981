"""chaostoolkit-kubernetes, a client nobody here wrote, against the lab.

Each activity either works as on a cluster (and the lab's state shows it)
or fails with the lab's documented "does not model" Status. The README's
"What the lab models" table lists the same matrix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

chaosk8s = pytest.importorskip("chaosk8s")

from chaosk8s.deployment import actions as deployment_actions  # noqa: E402
from chaosk8s.deployment import probes as deployment_probes  # noqa: E402
from chaosk8s.node import actions as node_actions  # noqa: E402
from chaosk8s.node import probes as node_probes  # noqa: E402
from chaosk8s.pod import actions as pod_actions  # noqa: E402
from chaosk8s.pod import probes as pod_probes  # noqa: E402
from chaosk8s.replicaset import actions as replicaset_actions  # noqa: E402
from chaosk8s.service import actions as service_actions  # noqa: E402
from chaosk8s.service import probes as service_probes  # noqa: E402
from chaoslib.exceptions import ActivityFailed  # noqa: E402
from kubernetes import client  # noqa: E402
from kubernetes.config import kube_config  # noqa: E402

from chaoslitmus.lab import ControlPlane, LabOptions  # noqa: E402
from chaoslitmus.lab.bookinfo import world  # noqa: E402

NS = world.NAMESPACE
RATINGS = world.RATINGS_DEPLOYMENT
LABEL = "app=ratings"


@pytest.fixture
def plane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ControlPlane]:
    options = LabOptions(litmus_startup_s=0.1, pod_start_s=0.2, seed=13)
    with ControlPlane(options) as running:
        path = running.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
        monkeypatch.setenv("KUBECONFIG", str(path))
        # The kubernetes client reads KUBECONFIG once, when it is imported.
        monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
        monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)
        yield running


def eventually(check: Callable[[], Any], timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout_s}s")


def pod_names(label: str) -> set[str]:
    """Pods by label, read the way chaosk8s reads them (its own client)."""
    api = client.CoreV1Api(chaosk8s.create_k8s_api_client())
    return {
        p.metadata.name for p in api.list_namespaced_pod(NS, label_selector=label).items
    }


def ratings_running() -> int:
    return pod_probes.count_pods(LABEL, phase="Running", ns=NS)


# -- deployments -------------------------------------------------------------------
def test_scale_deployment_creates_and_removes_pods(plane: ControlPlane) -> None:
    deployment_actions.scale_deployment(RATINGS, 3, ns=NS)
    assert deployment_probes.deployment_fully_available(RATINGS, ns=NS, timeout=15)
    eventually(lambda: ratings_running() == 3)
    assert deployment_probes.deployment_available_and_healthy(RATINGS, ns=NS)
    deployment_actions.scale_deployment(RATINGS, 1, ns=NS)
    eventually(lambda: ratings_running() == 1)
    assert deployment_probes.deployment_available_and_healthy(RATINGS, ns=NS)


def test_deployment_probes_see_a_partial_deployment(plane: ControlPlane) -> None:
    assert deployment_probes.deployment_partially_available(RATINGS, ns=NS)
    # Cordoned, the two new pods stay Pending: the Deployment is partial
    # for as long as the test needs, whatever the machine's load.
    node_actions.cordon_node(name="lab-node")
    deployment_actions.scale_deployment(RATINGS, 4, ns=NS)
    assert deployment_probes.deployment_not_fully_available(RATINGS, ns=NS, timeout=15)
    eventually(lambda: pod_probes.count_pods(LABEL, phase="Pending", ns=NS) == 2)
    with pytest.raises(ActivityFailed, match="is not healthy"):
        deployment_probes.deployment_available_and_healthy(RATINGS, ns=NS)
    assert deployment_probes.deployment_partially_available(RATINGS, ns=NS)
    node_actions.uncordon_node(name="lab-node")
    assert deployment_probes.deployment_fully_available(RATINGS, ns=NS, timeout=15)


def test_create_rollout_and_delete_a_deployment_from_a_manifest(
    plane: ControlPlane, tmp_path: Path
) -> None:
    manifest = tmp_path / "web.json"
    labels = {"app": "web"}
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "labels": labels},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                    },
                },
            }
        )
    )
    deployment_actions.create_deployment(str(manifest), ns=NS)
    assert deployment_probes.deployment_fully_available("web", ns=NS, timeout=15)
    before = pod_names("app=web")
    assert len(before) == 2
    eventually(lambda: pod_probes.count_pods("app=web", phase="Running", ns=NS) == 2)
    logs = pod_probes.read_pod_logs(label_selector="app=web", ns=NS)
    assert set(logs) == before
    deployment_actions.rollout_deployment("web", ns=NS)
    eventually(lambda: len(names := pod_names("app=web")) == 2 and not names & before)
    deployment_actions.delete_deployment("web", ns=NS)
    eventually(lambda: pod_probes.count_pods("app=web", ns=NS) == 0)


def test_deleting_a_replicaset_lets_the_deployment_recreate_it(
    plane: ControlPlane,
) -> None:
    replicaset_actions.delete_replica_set(label_selector=LABEL, ns=NS)
    assert deployment_probes.deployment_fully_available(RATINGS, ns=NS, timeout=15)
    eventually(lambda: ratings_running() == 2)


# -- pods --------------------------------------------------------------------------
def test_terminate_pods_and_the_replacement(plane: ControlPlane) -> None:
    deleted = pod_actions.terminate_pods(label_selector=LABEL, ns=NS, qty=1)
    assert len(deleted) == 1
    eventually(lambda: ratings_running() == 2 and deleted[0] not in pod_names(LABEL))
    assert pod_probes.pods_in_phase(LABEL, "Running", ns=NS)
    assert pod_probes.pods_not_in_phase(LABEL, "Pending", ns=NS)
    assert pod_probes.count_min_pods(LABEL, "Running", 2, ns=NS)
    assert pod_probes.pods_in_conditions(
        LABEL, [{"type": "Ready", "status": "True"}], ns=NS
    )
    assert pod_probes.all_pods_healthy(ns=NS)
    assert pod_probes.pod_is_not_available(
        "nothing", ns=NS, label_selector="app={name}"
    )
    with pytest.raises(ActivityFailed, match="is in phase 'Running'"):
        pod_probes.pods_in_phase(LABEL, "Pending", ns=NS)


def test_read_pod_logs_answers_for_every_pod(plane: ControlPlane) -> None:
    logs = pod_probes.read_pod_logs(label_selector=LABEL, ns=NS)
    assert len(logs) == 2 and all(isinstance(v, str) for v in logs.values())


def test_exec_in_pods_is_refused_as_not_modelled(plane: ControlPlane) -> None:
    with pytest.raises(Exception, match="does not model pods/exec|405"):
        pod_actions.exec_in_pods(
            "ls", label_selector=LABEL, ns=NS, container_name="ratings"
        )


# -- nodes -------------------------------------------------------------------------
def test_node_probes(plane: ControlPlane) -> None:
    nodes = node_probes.get_nodes()
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["lab-node"]
    assert node_probes.all_nodes_must_be_ready_to_schedule()
    assert node_probes.nodes_must_be_healthy()
    assert node_probes.verify_nodes_condition("PIDPressure", "False")
    (conditions,) = node_probes.get_all_node_status_conditions()
    assert conditions["Ready"] == "True"


def test_cordon_then_uncordon(plane: ControlPlane) -> None:
    assert node_actions.cordon_node(name="lab-node") == ["lab-node"]
    deployment_actions.scale_deployment(RATINGS, 3, ns=NS)
    eventually(lambda: pod_probes.count_pods(LABEL, phase="Pending", ns=NS) == 1)
    assert node_actions.uncordon_node(name="lab-node") == ["lab-node"]
    eventually(lambda: ratings_running() == 3)


def test_drain_nodes_evicts_and_pods_come_back_after_uncordon(
    plane: ControlPlane,
) -> None:
    drained = node_actions.drain_nodes(
        name="lab-node", delete_pods_with_local_storage=True, timeout=30
    )
    assert drained == ["lab-node"]
    eventually(lambda: pod_probes.count_pods(LABEL, phase="Pending", ns=NS) == 2)
    node_actions.uncordon_node(name="lab-node")
    eventually(lambda: ratings_running() == 2)


def test_create_and_delete_a_node(plane: ControlPlane) -> None:
    created = node_actions.create_node(meta={"name": "extra-node"})
    assert created.metadata.name == "extra-node"
    # The node goes; chaosk8s 0.39 then reads `.status` on the dict that
    # kubernetes 37's delete_node returns, which fails on any cluster.
    with pytest.raises(AttributeError, match="'dict' object has no attribute"):
        node_actions.delete_nodes(label_selector="kubernetes.io/hostname!=lab-node")
    names = [n["metadata"]["name"] for n in node_probes.get_nodes()["items"]]
    assert names == ["lab-node"]


# -- services ----------------------------------------------------------------------
def test_service_probe_and_actions(plane: ControlPlane, tmp_path: Path) -> None:
    assert service_probes.service_is_initialized("ratings", ns=NS)
    with pytest.raises(ActivityFailed, match="not initialized"):
        service_probes.service_is_initialized("nope", ns=NS)
    spec = tmp_path / "svc.json"
    spec.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            }
        )
    )
    service_actions.create_service_endpoint(str(spec), ns=NS)
    assert service_probes.service_is_initialized("web", ns=NS)
    service_actions.delete_service("web", ns=NS)
    assert not service_probes.service_is_initialized(
        "web", ns=NS, raise_if_service_not_initialized=False
    )
