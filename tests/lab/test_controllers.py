"""The lab runs a cluster's controllers: Deployments own ReplicaSets own
Pods, replicas are honoured, a deleted pod is replaced, status follows the
pods, owners collect their dependents, one Node schedules (or, cordoned,
does not), Jobs get their selector; and the data plane follows the pods.
Everything is driven through the official kubernetes client over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from chaoslitmus.lab import ControlPlane, Lab, LabOptions
from chaoslitmus.lab.bookinfo import world

NS = world.NAMESPACE
RATINGS = world.RATINGS_DEPLOYMENT
POD_START_S = 0.2


def eventually(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """Poll `check` until it returns a truthy value; its last error otherwise.

    10 s is far above the ~0.2 s a pod takes to start here, so only a
    controller that never converges fails.
    """
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    if isinstance(last, AssertionError):
        raise last
    raise AssertionError(f"not reached within {timeout_s}s (last: {last!r})")


@pytest.fixture
def plane() -> Iterator[ControlPlane]:
    options = LabOptions(litmus_startup_s=0.1, pod_start_s=POD_START_S, seed=5)
    with ControlPlane(options) as running:
        yield running


@pytest.fixture
def api(plane: ControlPlane) -> Iterator[client.ApiClient]:
    with client.ApiClient(client.Configuration(host=plane.url)) as api_client:
        yield api_client


def ratings_pods(core: client.CoreV1Api) -> list[Any]:
    return core.list_namespaced_pod(NS, label_selector="app=ratings").items


def settled(apps: client.AppsV1Api, name: str, replicas: int) -> Any:
    """The Deployment once its status says `replicas` are all there."""

    def check() -> Any:
        d = apps.read_namespaced_deployment(name, NS)
        s = d.status
        ok = s is not None and (
            s.observed_generation == d.metadata.generation
            and s.replicas == replicas
            and s.ready_replicas == replicas
            and s.available_replicas == replicas
            and s.updated_replicas == replicas
        )
        return d if ok else None

    return eventually(check)


def test_scale_up_creates_owned_pods_that_start(api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    before = {p.metadata.name for p in ratings_pods(core)}
    assert len(before) == 2
    apps.patch_namespaced_deployment(RATINGS, NS, {"spec": {"replicas": 4}})
    new = eventually(
        lambda: (
            [p for p in ratings_pods(core) if p.metadata.name not in before]
            if len(ratings_pods(core)) == 4
            else None
        )
    )
    assert len(new) == 2
    replicaset = apps.list_namespaced_replica_set(NS, label_selector="app=ratings")
    rs = replicaset.items[0]
    for pod in new:
        assert pod.metadata.name.startswith(f"{rs.metadata.name}-")
        (owner,) = pod.metadata.owner_references
        assert (owner.kind, owner.uid, owner.controller) == (
            "ReplicaSet",
            rs.metadata.uid,
            True,
        )
    deployment = settled(apps, RATINGS, 4)
    assert deployment.metadata.generation == 2
    conditions = {c.type: c.reason for c in deployment.status.conditions}
    assert conditions == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }
    for pod in ratings_pods(core):
        assert pod.status.phase == "Running"
        assert pod.spec.node_name == "lab-node"
        ready = {c.type: c.status for c in pod.status.conditions}
        assert ready["Ready"] == ready["PodScheduled"] == "True"
    rs = apps.read_namespaced_replica_set(rs.metadata.name, NS)
    assert (rs.spec.replicas, rs.status.replicas, rs.status.ready_replicas) == (4, 4, 4)
    # Each controller says what it did, as `kubectl describe` shows it.
    events = {
        (e.source.component, e.reason, e.involved_object.name)
        for e in core.list_namespaced_event(NS).items
    }
    assert ("deployment-controller", "ScalingReplicaSet", RATINGS) in events
    for pod in new:
        name = pod.metadata.name
        assert ("replicaset-controller", "SuccessfulCreate", rs.metadata.name) in events
        assert ("default-scheduler", "Scheduled", name) in events
        assert ("kubelet", "Started", name) in events


def test_new_pod_is_pending_before_running(plane: ControlPlane) -> None:
    """A pod's phase moves Pending (ContainerCreating) -> Running."""
    phases: list[str] = []

    async def record() -> None:
        async for _type, pod in plane.store.watch("v1/pods", NS):
            meta = pod["metadata"]
            if meta.get("generateName", "").startswith(RATINGS) and pod.get("status"):
                phases.append(pod["status"].get("phase", ""))
            if "Running" in phases:
                return

    import asyncio

    future = asyncio.run_coroutine_threadsafe(record(), plane.server.loop)
    plane.server.call(
        plane.store.patch,
        "apps/v1/deployments",
        NS,
        RATINGS,
        {"spec": {"replicas": 3}},
    )
    future.result(timeout=10)
    assert phases[0] == "Pending" and phases[-1] == "Running"


def test_deleted_pod_is_replaced_with_a_fresh_name(api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    names = sorted(p.metadata.name for p in ratings_pods(core))
    core.delete_namespaced_pod(names[0], NS)
    after = eventually(
        lambda: (
            sorted(p.metadata.name for p in ratings_pods(core))
            if len(ratings_pods(core)) == 2
            and all(p.status.phase == "Running" for p in ratings_pods(core))
            else None
        )
    )
    assert names[0] not in after and names[1] in after
    settled(apps, RATINGS, 2)


def test_scale_down_removes_the_newest_pods(api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    original = {p.metadata.name for p in ratings_pods(core)}
    apps.patch_namespaced_deployment(RATINGS, NS, {"spec": {"replicas": 3}})
    settled(apps, RATINGS, 3)
    apps.patch_namespaced_deployment(RATINGS, NS, {"spec": {"replicas": 2}})
    settled(apps, RATINGS, 2)
    eventually(lambda: {p.metadata.name for p in ratings_pods(core)} == original)


def test_deleting_a_deployment_collects_its_replicasets_and_pods(
    api: client.ApiClient,
) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    apps.delete_namespaced_deployment(RATINGS, NS)
    eventually(lambda: not ratings_pods(core))
    assert not apps.list_namespaced_replica_set(NS, label_selector="app=ratings").items


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": "nginx:1.27"}]},
            },
        },
    }


def test_a_created_deployment_gets_a_replicaset_and_a_rollout(
    api: client.ApiClient,
) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    apps.create_namespaced_deployment(NS, _deployment("web", 2))
    first = settled(apps, "web", 2)
    annotations = first.metadata.annotations
    assert annotations["deployment.kubernetes.io/revision"] == "1"
    old_pods = {
        p.metadata.name
        for p in core.list_namespaced_pod(NS, label_selector="app=web").items
    }
    # kubectl rollout restart's patch: a new template, so a new ReplicaSet.
    restarted = {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}
    apps.patch_namespaced_deployment(
        "web", NS, {"spec": {"template": {"metadata": {"annotations": restarted}}}}
    )
    done = settled(apps, "web", 2)
    assert done.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    sets = apps.list_namespaced_replica_set(NS, label_selector="app=web").items
    assert sorted(rs.spec.replicas for rs in sets) == [0, 2]
    pods = eventually(
        lambda: (
            items
            if len(
                items := core.list_namespaced_pod(NS, label_selector="app=web").items
            )
            == 2
            else None
        )
    )
    assert not old_pods & {p.metadata.name for p in pods}


def test_the_node_and_cordoning(api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    (node,) = core.list_node().items
    assert node.metadata.name == "lab-node"
    assert node.metadata.labels["kubernetes.io/hostname"] == "lab-node"
    assert node.status.capacity["pods"] == "110"
    conditions = {c.type: c.status for c in node.status.conditions}
    assert conditions["Ready"] == "True" and conditions["MemoryPressure"] == "False"
    core.patch_node("lab-node", {"spec": {"unschedulable": True}})
    eventually(lambda: core.read_node("lab-node").spec.taints)
    apps.patch_namespaced_deployment(RATINGS, NS, {"spec": {"replicas": 3}})

    def pending() -> Any:
        waiting = [
            p for p in ratings_pods(core) if p.status and p.status.phase == "Pending"
        ]
        return waiting[0] if waiting else None

    pod = eventually(pending)
    assert pod.spec.node_name is None
    eventually(
        lambda: any(
            c.type == "PodScheduled" and c.reason == "Unschedulable"
            for c in core.read_namespaced_pod(pod.metadata.name, NS).status.conditions
            or []
        )
    )
    core.patch_node("lab-node", {"spec": {"unschedulable": False}})
    settled(apps, RATINGS, 3)
    assert core.read_node("lab-node").spec.taints is None


def test_a_job_gets_its_selector_and_controller_uid_labels(
    api: client.ApiClient,
) -> None:
    batch = client.BatchV1Api(api)
    job = batch.create_namespaced_job(
        NS,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                }
            },
        },
    )
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    labels = job.spec.template.metadata.labels
    assert (
        labels["controller-uid"] == labels["batch.kubernetes.io/controller-uid"] == uid
    )
    assert labels["job-name"] == "once"
    assert (job.spec.backoff_limit, job.spec.completions) == (6, 1)


def serving(lab: Lab, count: int) -> dict[str, int] | None:
    ports = lab.dataplane.ratings_ports()
    return ports if len(ports) == count else None


def test_the_data_plane_follows_the_pods() -> None:
    """A new ratings pod gets its own server and joins the mesh; a removed
    one leaves."""
    import urllib.request

    options = LabOptions(reviews_port=0, litmus_startup_s=0.1, pod_start_s=0.1, seed=4)
    with (
        Lab(options) as lab,
        client.ApiClient(client.Configuration(host=lab.server.url)) as api,
    ):
        apps = client.AppsV1Api(api)
        assert len(lab.dataplane.ratings_ports()) == 2
        apps.patch_namespaced_deployment(RATINGS, NS, {"spec": {"replicas": 3}})
        ports = eventually(lambda: serving(lab, 3))
        seen = set()
        for _ in range(60):
            with urllib.request.urlopen(lab.ratings_url, timeout=5) as response:
                seen.add(response.headers["x-lab-upstream-hosts"].split(",")[-1])
        assert seen == set(ports), "the mesh spreads calls over every serving pod"
        apps.patch_namespaced_deployment(RATINGS, NS, {"spec": {"replicas": 2}})
        left = eventually(lambda: serving(lab, 2))
        assert set(left) < set(ports)
        seen = set()
        for _ in range(30):
            with urllib.request.urlopen(lab.ratings_url, timeout=5) as response:
                seen.add(response.headers["x-lab-upstream-hosts"].split(",")[-1])
        assert seen == set(left)
