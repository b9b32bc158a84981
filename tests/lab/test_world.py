"""The lab world: every object valid for the real CRDs, owned like in Kubernetes,
and visible through the real Kubernetes API with the official client."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from chaoslitmus.lab import ApiServerThread, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.kube import schemas
from chaoslitmus.lab.kube.resources import ResourceRegistry
from chaoslitmus.lab.kube.store import Store

OPTIONS = [
    pytest.param(LabOptions(), id="appmesh-v1beta2"),
    pytest.param(LabOptions(appmesh_api="v1beta1"), id="appmesh-v1beta1"),
    pytest.param(LabOptions(mesh="istio"), id="istio"),
    pytest.param(LabOptions(litmus="1.x"), id="litmus-1.x"),
]


@functools.cache
def _crds(litmus: str) -> tuple[dict[str, Any], ...]:
    return tuple(schemas.load_crd_files(schemas.default_crd_files(litmus=litmus)))


def registry_for(options: LabOptions) -> ResourceRegistry:
    """A fresh registry (stores may change theirs) from CRD files read once."""
    return ResourceRegistry.with_crds(copy.deepcopy(list(_crds(options.litmus))))


def custom_objects(options: LabOptions) -> list[dict[str, Any]]:
    return [
        m
        for m in world.static_manifests(options)
        if m["apiVersion"].split("/")[0].endswith((".io", ".aws"))
    ]


@pytest.mark.parametrize("options", OPTIONS)
def test_every_custom_object_validates_and_loses_nothing(options: LabOptions) -> None:
    registry = registry_for(options)
    objects = custom_objects(options)
    kinds = {m["kind"] for m in objects}
    assert "ChaosExperiment" in kinds and "VirtualService" in kinds
    for manifest in objects:
        rtype = registry.resolve(world.resource_key(manifest))
        assert rtype is not None, manifest["apiVersion"]
        assert schemas.validate(rtype, manifest) == [], manifest["metadata"]["name"]
        pruned = copy.deepcopy(manifest)
        assert schemas.prune(rtype, pruned) == [], manifest["metadata"]["name"]


def test_validation_would_catch_a_broken_route() -> None:
    """The check above can fail: the same router with a weight over 100 does."""
    router = next(
        m
        for m in world.appmesh_v1beta2_manifests("bookinfo")
        if m["kind"] == "VirtualRouter"
    )
    broken = copy.deepcopy(router)
    target = broken["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"][0]
    target["weight"] = 101
    rtype = registry_for(LabOptions()).resolve(world.resource_key(broken))
    assert rtype is not None
    causes = schemas.validate(rtype, broken)
    assert any("weight" in cause["field"] for cause in causes)


def test_mesh_objects_name_the_ratings_route() -> None:
    v1beta2 = {m["kind"]: m for m in world.appmesh_v1beta2_manifests("bookinfo")}
    route = v1beta2["VirtualRouter"]["spec"]["routes"][0]
    assert route["name"] == world.RATINGS_ROUTE
    assert "retryPolicy" not in route["httpRoute"]
    assert route["httpRoute"]["action"]["weightedTargets"] == [
        {"virtualNodeRef": {"name": world.RATINGS_VIRTUAL_NODE}, "weight": 1}
    ]
    provider = v1beta2["VirtualService"]["spec"]["provider"]
    assert provider == {
        "virtualRouter": {"virtualRouterRef": {"name": world.RATINGS_ROUTER}}
    }
    assert (
        v1beta2["VirtualService"]["metadata"]["name"] == world.RATINGS_VIRTUAL_SERVICE
    )

    (legacy,) = world.appmesh_v1beta1_manifests("bookinfo")
    assert legacy["spec"]["virtualRouter"]["name"] == world.RATINGS_ROUTER
    assert legacy["spec"]["routes"][0]["name"] == world.RATINGS_ROUTE
    assert legacy["spec"]["routes"][0]["http"]["action"]["weightedTargets"] == [
        {"virtualNodeName": world.RATINGS_VIRTUAL_NODE, "weight": 1}
    ]

    (istio,) = world.istio_manifests("bookinfo")
    assert istio["spec"]["hosts"] == ["ratings"]
    assert istio["spec"]["http"][0]["name"] == world.RATINGS_ROUTE


def test_experiments_and_rbac_are_rewritten_into_the_namespace() -> None:
    manifests = world.static_manifests(LabOptions(namespace="shop"))
    namespaced = [m for m in manifests if m["kind"] != "Namespace"]
    assert {m["metadata"]["namespace"] for m in namespaced} == {"shop"}
    binding = next(m for m in manifests if m["kind"] == "RoleBinding")
    assert binding["subjects"][0]["namespace"] == "shop"
    assert binding["apiVersion"] == "rbac.authorization.k8s.io/v1"
    pod_delete = next(
        m for m in manifests if m["metadata"]["name"] == world.POD_DELETE_EXPERIMENT
    )
    env = {e["name"]: e["value"] for e in pod_delete["spec"]["definition"]["env"]}
    assert env["TOTAL_CHAOS_DURATION"] == "15"
    assert env["CHAOS_INTERVAL"] == "5"
    assert env["FORCE"] == "true"
    assert env["PODS_AFFECTED_PERC"] == ""


@pytest.mark.parametrize(
    "bad",
    [
        {"mesh": "linkerd"},
        {"appmesh_api": "v1"},
        {"litmus": "2.x"},
        {"ratings_replicas": 0},
    ],
)
def test_bad_options_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LabOptions(**bad)


@pytest.mark.parametrize("options", OPTIONS)
def test_seed_creates_everything_in_a_real_store(options: LabOptions) -> None:
    store = Store(registry_for(options))
    created = world.seed(store, options)
    kinds = [obj["kind"] for obj in created]
    assert kinds.count("Pod") == options.ratings_replicas + options.reviews_replicas
    assert kinds.count("ReplicaSet") == 2


def test_pods_are_owned_by_replicasets_owned_by_deployments() -> None:
    options = LabOptions(ratings_replicas=3)
    store = Store(registry_for(options))
    world.seed(store, options)
    pods, _ = store.list("v1/pods", "bookinfo", label_selector="app=ratings")
    assert len(pods) == 3
    deployment = store.get("apps/v1/deployments", "bookinfo", world.RATINGS_DEPLOYMENT)
    for pod in pods:
        (owner,) = pod["metadata"]["ownerReferences"]
        assert owner["kind"] == "ReplicaSet"
        replicaset = store.get("apps/v1/replicasets", "bookinfo", owner["name"])
        assert owner["uid"] == replicaset["metadata"]["uid"]
        (top,) = replicaset["metadata"]["ownerReferences"]
        assert (top["kind"], top["uid"]) == (
            "Deployment",
            deployment["metadata"]["uid"],
        )
        assert pod["status"]["phase"] == "Running"
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready["Ready"] == "True"
        assert pod["status"]["containerStatuses"][0]["ready"] is True
    assert deployment["metadata"]["annotations"]["litmuschaos.io/chaos"] == "true"
    assert deployment["status"]["readyReplicas"] == 3


def test_seeding_is_deterministic_for_a_seed() -> None:
    names = []
    for _ in range(2):
        store = Store(registry_for(LabOptions()))
        world.seed(store, LabOptions(seed=5))
        pods, _ = store.list("v1/pods", "bookinfo")
        names.append(sorted(p["metadata"]["name"] for p in pods))
    assert names[0] == names[1]


@pytest.fixture
def api() -> Iterator[client.ApiClient]:
    with ApiServerThread() as server:
        server.call(world.seed, server.store, LabOptions())
        configuration = client.Configuration(host=server.url)
        with client.ApiClient(configuration) as api_client:
            yield api_client


def test_the_world_is_visible_through_the_kubernetes_api(api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)
    pods = core.list_namespaced_pod("bookinfo", label_selector="app=ratings,version=v1")
    assert len(pods.items) == 2
    assert {p.status.phase for p in pods.items} == {"Running"}
    service = core.read_namespaced_service(world.RATINGS_SERVICE, "bookinfo")
    assert service.spec.ports[0].port == world.SERVICE_PORT
    assert core.read_namespaced_service_account(world.CHAOS_SERVICE_ACCOUNT, "bookinfo")
    deployment = apps.read_namespaced_deployment(world.REVIEWS_DEPLOYMENT, "bookinfo")
    assert deployment.metadata.labels == {"app": "reviews", "version": "v3"}
    experiment = custom.get_namespaced_custom_object(
        "litmuschaos.io",
        "v1alpha1",
        "bookinfo",
        "chaosexperiments",
        world.NETWORK_LATENCY_EXPERIMENT,
    )
    assert experiment["spec"]["definition"]["image"].endswith("go-runner:3.28.0")
    router = custom.get_namespaced_custom_object(
        "appmesh.k8s.aws", "v1beta2", "bookinfo", "virtualrouters", world.RATINGS_ROUTER
    )
    assert router["spec"]["routes"][0]["name"] == world.RATINGS_ROUTE
