"""The lab's world: BookInfo's reviews/ratings with Litmus and a mesh installed.

Pure functions build each object as a manifest dict (the cluster as it is after
the original setup steps: apps deployed and annotated for chaos, Litmus
experiment + service account installed, mesh objects for ratings); `seed()`
creates them in a Store in dependency order, so that Pods are owned by
ReplicaSets owned by Deployments (Litmus filters targets by owner kind).

Names are module constants so experiments, the data plane and tests import
them instead of repeating strings.
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from chaoslitmus.lab.kube.objectmeta import owner_ref
from chaoslitmus.lab.litmus.rules import CHAOS_ANNOTATION, pod_suffix
from chaoslitmus.lab.options import DEFAULT_NAMESPACE, LabOptions

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.store import Store

__all__ = [
    "APPMESH_MESH_NAME",
    "CHAOS_SERVICE_ACCOUNT",
    "GATEWAY_API_VERSION",
    "ISTIO_API_VERSION",
    "ISTIO_VIRTUAL_SERVICE",
    "NAMESPACE",
    "NETWORK_LATENCY_EXPERIMENT",
    "POD_DELETE_EXPERIMENT",
    "RATINGS_APP",
    "LINKERD_SP_VERSION",
    "RATINGS_DEPLOYMENT",
    "RATINGS_HTTPROUTE",
    "RATINGS_ROUTE",
    "RATINGS_ROUTER",
    "RATINGS_SERVICE",
    "RATINGS_VIRTUAL_NODE",
    "RATINGS_VIRTUAL_SERVICE",
    "REVIEWS_APP",
    "REVIEWS_DEPLOYMENT",
    "REVIEWS_SERVICE",
    "SERVICE_PORT",
    "resource_key",
    "seed",
    "static_manifests",
]

NAMESPACE = DEFAULT_NAMESPACE
SERVICE_PORT = 9080

REVIEWS_APP = "reviews"
REVIEWS_DEPLOYMENT = "reviews-v3"
REVIEWS_SERVICE = "reviews"
RATINGS_APP = "ratings"
RATINGS_DEPLOYMENT = "ratings-v1"
RATINGS_SERVICE = "ratings"

NETWORK_LATENCY_EXPERIMENT = "pod-network-latency"
POD_DELETE_EXPERIMENT = "pod-delete"
CHAOS_SERVICE_ACCOUNT = "pod-network-latency-sa"

# Mesh objects for ratings (same route name in every flavour).
RATINGS_ROUTE = "ratings-route"
RATINGS_ROUTER = "ratings-router"
RATINGS_VIRTUAL_NODE = "ratings-v1"
RATINGS_VIRTUAL_SERVICE = "ratings.bookinfo.svc.cluster.local"  # App Mesh name
ISTIO_VIRTUAL_SERVICE = "ratings"
APPMESH_MESH_NAME = "bookinfo"
APPMESH_V1BETA1 = "appmesh.k8s.aws/v1beta1"
APPMESH_V1BETA2 = "appmesh.k8s.aws/v1beta2"
ISTIO_API_VERSION = "networking.istio.io/v1"
GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"
LINKERD_SP_VERSION = "linkerd.io/v1alpha2"
# Gateway API (GAMMA): the HTTPRoute attached to the ratings Service.
RATINGS_HTTPROUTE = "ratings"

IMAGES = {
    REVIEWS_DEPLOYMENT: "docker.io/istio/examples-bookinfo-reviews-v3:1.20.2",
    RATINGS_DEPLOYMENT: "docker.io/istio/examples-bookinfo-ratings-v1:1.20.2",
}
NODE_NAME = "lab-node"
DEFAULT_POD_IP = "127.0.0.1"

# The Litmus reference manifests the world installs (engine, experiment, RBAC).
_MANIFESTS = Path(__file__).resolve().parents[1] / "litmus" / "manifests"

# kind -> (plural, namespaced), for the kinds the world creates.
_KINDS: dict[str, tuple[str, bool]] = {
    "Namespace": ("namespaces", False),
    "Deployment": ("deployments", True),
    "ReplicaSet": ("replicasets", True),
    "Pod": ("pods", True),
    "Service": ("services", True),
    "ServiceAccount": ("serviceaccounts", True),
    "Role": ("roles", True),
    "RoleBinding": ("rolebindings", True),
    "ChaosExperiment": ("chaosexperiments", True),
    "VirtualNode": ("virtualnodes", True),
    "VirtualRouter": ("virtualrouters", True),
    "VirtualService": ("virtualservices", True),
    "HTTPRoute": ("httproutes", True),
}


def resource_key(manifest: dict[str, Any]) -> str:
    """The Store key ("group/version/plural") for a manifest."""
    plural, _ = _KINDS[manifest["kind"]]
    return f"{manifest['apiVersion']}/{plural}"


def _namespace_of(manifest: dict[str, Any]) -> str | None:
    _, namespaced = _KINDS[manifest["kind"]]
    return manifest["metadata"].get("namespace") if namespaced else None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- apps


def namespace_manifest(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
    }


def _app_labels(deployment: str) -> dict[str, str]:
    app, version = deployment.rsplit("-", 1)
    return {"app": app, "version": version}


def deployment_manifest(name: str, replicas: int, namespace: str) -> dict[str, Any]:
    """A Deployment annotated for Litmus, with a settled, all-ready status."""
    labels = _app_labels(name)
    app = labels["app"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {CHAOS_ANNOTATION: "true"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": f"bookinfo-{app}",
                    "containers": [
                        {
                            "name": app,
                            "image": IMAGES[name],
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [
                                {"containerPort": SERVICE_PORT, "protocol": "TCP"}
                            ],
                        }
                    ],
                },
            },
        },
        "status": _workload_status(replicas, observed_generation=1),
    }


def _workload_status(replicas: int, observed_generation: int) -> dict[str, Any]:
    return {
        "observedGeneration": observed_generation,
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "updatedReplicas": replicas,
    }


def template_hash(deployment: dict[str, Any]) -> str:
    """A stable stand-in for the `pod-template-hash` Kubernetes computes."""
    template = repr(deployment["spec"]["template"]).encode()
    digest = hashlib.sha256(template).digest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def replicaset_manifest(deployment: dict[str, Any]) -> dict[str, Any]:
    """The ReplicaSet a Deployment controller creates (needs the Deployment's uid)."""
    pod_hash = template_hash(deployment)
    labels = {**deployment["spec"]["template"]["metadata"]["labels"]}
    labels["pod-template-hash"] = pod_hash
    template = copy.deepcopy(deployment["spec"]["template"])
    template["metadata"]["labels"] = dict(labels)
    replicas = deployment["spec"]["replicas"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{deployment['metadata']['name']}-{pod_hash}",
            "namespace": deployment["metadata"]["namespace"],
            "labels": dict(labels),
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [owner_ref(deployment)],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": template,
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "fullyLabeledReplicas": replicas,
            "observedGeneration": 1,
        },
    }


def pod_manifest(
    replicaset: dict[str, Any],
    suffix: str,
    pod_ip: str,
    started_at: str,
    ready: bool = True,
) -> dict[str, Any]:
    """A Pod owned by `replicaset` (needs its uid), Running and Ready or starting."""
    template = replicaset["spec"]["template"]
    name = f"{replicaset['metadata']['name']}-{suffix}"
    spec = copy.deepcopy(template["spec"])
    spec.update(
        nodeName=NODE_NAME, restartPolicy="Always", schedulerName="default-scheduler"
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": replicaset["metadata"]["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "ownerReferences": [owner_ref(replicaset)],
        },
        "spec": spec,
        "status": pod_status(spec, pod_ip, started_at, ready),
    }


def pod_status(
    spec: dict[str, Any], pod_ip: str, started_at: str, ready: bool
) -> dict[str, Any]:
    """Status of a scheduled pod: Running+Ready, or Pending while containers start."""
    flag = "True" if ready else "False"
    conditions = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": started_at},
        {"type": "Initialized", "status": "True", "lastTransitionTime": started_at},
        {"type": "ContainersReady", "status": flag, "lastTransitionTime": started_at},
        {"type": "Ready", "status": flag, "lastTransitionTime": started_at},
    ]
    if not ready:
        for condition in conditions[2:]:
            condition["reason"] = "ContainersNotReady"
    statuses = []
    for container in spec.get("containers", []):
        state: dict[str, Any] = (
            {"running": {"startedAt": started_at}}
            if ready
            else {"waiting": {"reason": "ContainerCreating"}}
        )
        statuses.append(
            {
                "name": container["name"],
                "image": container.get("image", ""),
                "imageID": "",
                "ready": ready,
                "started": ready,
                "restartCount": 0,
                "state": state,
            }
        )
    status: dict[str, Any] = {
        "phase": "Running" if ready else "Pending",
        "conditions": conditions,
        "hostIP": pod_ip,
        "startTime": started_at,
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    }
    if ready:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return status


def mark_pod_ready(status: dict[str, Any], now: str) -> None:
    """In place: a starting pod's containers are up and it passes readiness."""
    status["phase"] = "Running"
    status["podIP"] = status.get("hostIP") or DEFAULT_POD_IP
    status["podIPs"] = [{"ip": status["podIP"]}]
    for condition in status.get("conditions") or []:
        condition["status"] = "True"
        condition.pop("reason", None)
        condition["lastTransitionTime"] = now
    for container in status.get("containerStatuses") or []:
        container.update(
            ready=True, started=True, state={"running": {"startedAt": now}}
        )


def replacement_pod(pod: dict[str, Any], suffix: str, now: str) -> dict[str, Any]:
    """The pod a ReplicaSet creates when one of its pods is deleted: same
    template and owner, a new name, not ready yet."""
    meta = pod["metadata"]
    owners = meta.get("ownerReferences") or []
    base = owners[0]["name"] if owners else meta["name"].rsplit("-", 1)[0]
    spec = copy.deepcopy(pod.get("spec") or {})
    old = pod.get("status") or {}
    host_ip = old.get("hostIP") or old.get("podIP") or DEFAULT_POD_IP
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{base}-{suffix}",
            "namespace": meta["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "ownerReferences": copy.deepcopy(owners),
        },
        "spec": spec,
        "status": pod_status(spec, host_ip, now, ready=False),
    }


def service_manifest(
    name: str, app: str, namespace: str, cluster_ip: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": app, "service": name},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "selector": {"app": app},
            "ports": [
                {
                    "name": "http",
                    "port": SERVICE_PORT,
                    "targetPort": SERVICE_PORT,
                    "protocol": "TCP",
                }
            ],
        },
    }


# --------------------------------------------------------------------------- litmus


def _load_yaml_docs(filename: str) -> list[dict[str, Any]]:
    text = (_MANIFESTS / filename).read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _in_namespace(manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    manifest = copy.deepcopy(manifest)
    manifest["metadata"]["namespace"] = namespace
    for subject in manifest.get("subjects") or []:
        if "namespace" in subject:
            subject["namespace"] = namespace
    return manifest


def network_latency_experiment(namespace: str, litmus: str = "3.x") -> dict[str, Any]:
    """The chaos-charts pod-network-latency ChaosExperiment, in `namespace`."""
    filename = f"pod-network-latency-experiment-{litmus}.yaml"
    return _in_namespace(_load_yaml_docs(filename)[0], namespace)


def pod_delete_experiment(namespace: str) -> dict[str, Any]:
    """A minimal 3.x pod-delete ChaosExperiment with the chart's env values."""
    labels = {
        "name": POD_DELETE_EXPERIMENT,
        "app.kubernetes.io/part-of": "litmus",
        "app.kubernetes.io/component": "chaosexperiment",
        "app.kubernetes.io/version": "3.28.0",
    }
    env = [
        ("TOTAL_CHAOS_DURATION", "15"),
        ("RAMP_TIME", ""),
        ("FORCE", "true"),
        ("CHAOS_INTERVAL", "5"),
        ("PODS_AFFECTED_PERC", ""),
        ("TARGET_CONTAINER", ""),
        ("TARGET_PODS", ""),
        ("DEFAULT_HEALTH_CHECK", "false"),
        ("NODE_LABEL", ""),
        ("SEQUENCE", "parallel"),
    ]
    return {
        "apiVersion": "litmuschaos.io/v1alpha1",
        "kind": "ChaosExperiment",
        "description": {
            "message": "Deletes pods of a deployment, statefulset or daemonset\n"
        },
        "metadata": {
            "name": POD_DELETE_EXPERIMENT,
            "namespace": namespace,
            "labels": labels,
        },
        "spec": {
            "definition": {
                "scope": "Namespaced",
                "image": "litmuschaos.docker.scarf.sh/litmuschaos/go-runner:3.28.0",
                "imagePullPolicy": "Always",
                "command": ["/bin/bash"],
                "args": ["-c", f"./experiments -name {POD_DELETE_EXPERIMENT}"],
                "env": [{"name": name, "value": value} for name, value in env],
                "labels": {
                    **labels,
                    "app.kubernetes.io/component": "experiment-job",
                },
            }
        },
    }


def chaos_rbac(namespace: str, litmus: str = "3.x") -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding for the chaos pods, in `namespace`.

    The 1.x file uses rbac.authorization.k8s.io/v1beta1, removed in Kubernetes
    1.22 and not served by the lab, so it is created as v1 (same rules).
    """
    docs = _load_yaml_docs(f"pod-network-latency-rbac-{litmus}.yaml")
    out = []
    for doc in docs:
        doc = _in_namespace(doc, namespace)
        if doc["apiVersion"] == "rbac.authorization.k8s.io/v1beta1":
            doc["apiVersion"] = "rbac.authorization.k8s.io/v1"
        out.append(doc)
    return out


# --------------------------------------------------------------------------- mesh


def _fqdn(service: str, namespace: str) -> str:
    return f"{service}.{namespace}.svc.cluster.local"


def appmesh_v1beta2_manifests(namespace: str) -> list[dict[str, Any]]:
    """VirtualNode, VirtualRouter (one route, no retry policy) and VirtualService."""
    listener = {"portMapping": {"port": SERVICE_PORT, "protocol": "http"}}
    node = {
        "apiVersion": APPMESH_V1BETA2,
        "kind": "VirtualNode",
        "metadata": {"name": RATINGS_VIRTUAL_NODE, "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": _app_labels(RATINGS_DEPLOYMENT)},
            "listeners": [copy.deepcopy(listener)],
            "serviceDiscovery": {
                "dns": {"hostname": _fqdn(RATINGS_SERVICE, namespace)}
            },
        },
    }
    router = {
        "apiVersion": APPMESH_V1BETA2,
        "kind": "VirtualRouter",
        "metadata": {"name": RATINGS_ROUTER, "namespace": namespace},
        "spec": {
            "listeners": [copy.deepcopy(listener)],
            "routes": [
                {
                    "name": RATINGS_ROUTE,
                    "httpRoute": {
                        "match": {"prefix": "/"},
                        "action": {
                            "weightedTargets": [
                                {
                                    "virtualNodeRef": {"name": RATINGS_VIRTUAL_NODE},
                                    "weight": 1,
                                }
                            ]
                        },
                    },
                }
            ],
        },
    }
    service = {
        "apiVersion": APPMESH_V1BETA2,
        "kind": "VirtualService",
        "metadata": {"name": _fqdn(RATINGS_SERVICE, namespace), "namespace": namespace},
        "spec": {
            "awsName": _fqdn(RATINGS_SERVICE, namespace),
            "provider": {
                "virtualRouter": {"virtualRouterRef": {"name": RATINGS_ROUTER}}
            },
        },
    }
    return [node, router, service]


def appmesh_v1beta1_manifests(namespace: str) -> list[dict[str, Any]]:
    """The legacy VirtualService that carries its router and routes itself."""
    return [
        {
            "apiVersion": APPMESH_V1BETA1,
            "kind": "VirtualService",
            "metadata": {
                "name": _fqdn(RATINGS_SERVICE, namespace),
                "namespace": namespace,
            },
            "spec": {
                "meshName": APPMESH_MESH_NAME,
                "virtualRouter": {
                    "name": RATINGS_ROUTER,
                    "listeners": [
                        {"portMapping": {"port": SERVICE_PORT, "protocol": "http"}}
                    ],
                },
                "routes": [
                    {
                        "name": RATINGS_ROUTE,
                        "http": {
                            "match": {"prefix": "/"},
                            "action": {
                                "weightedTargets": [
                                    {
                                        "virtualNodeName": RATINGS_VIRTUAL_NODE,
                                        "weight": 1,
                                    }
                                ]
                            },
                        },
                    }
                ],
            },
        }
    ]


def istio_manifests(namespace: str) -> list[dict[str, Any]]:
    """An Istio VirtualService with one named http route to ratings."""
    return [
        {
            "apiVersion": ISTIO_API_VERSION,
            "kind": "VirtualService",
            "metadata": {"name": ISTIO_VIRTUAL_SERVICE, "namespace": namespace},
            "spec": {
                "hosts": [RATINGS_SERVICE],
                "http": [
                    {
                        "name": RATINGS_ROUTE,
                        "route": [{"destination": {"host": RATINGS_SERVICE}}],
                    }
                ],
            },
        }
    ]


def gateway_api_manifests(namespace: str) -> list[dict[str, Any]]:
    """A GAMMA HTTPRoute: parent the ratings Service, one named rule to it.

    Linkerd's world needs nothing more than the Service itself: its retry
    annotations go there.
    """
    service = {"name": RATINGS_SERVICE, "port": SERVICE_PORT}
    return [
        {
            "apiVersion": GATEWAY_API_VERSION,
            "kind": "HTTPRoute",
            "metadata": {"name": RATINGS_HTTPROUTE, "namespace": namespace},
            "spec": {
                "parentRefs": [{"group": "", "kind": "Service", **service}],
                "rules": [{"name": RATINGS_ROUTE, "backendRefs": [service]}],
            },
        }
    ]


def mesh_object(options: LabOptions) -> str:
    """The object that carries (or leads to) the ratings route's retry settings:
    a VirtualService, the HTTPRoute (Gateway API) or the Service (Linkerd)."""
    if options.mesh == "istio":
        return ISTIO_VIRTUAL_SERVICE
    if options.mesh == "gateway-api":
        return RATINGS_HTTPROUTE
    if options.mesh == "linkerd":
        return RATINGS_SERVICE
    return RATINGS_VIRTUAL_SERVICE


def mesh_manifests(options: LabOptions) -> list[dict[str, Any]]:
    if options.mesh == "istio":
        return istio_manifests(options.namespace)
    if options.mesh == "gateway-api":
        return gateway_api_manifests(options.namespace)
    if options.mesh == "linkerd":
        return []
    if options.appmesh_api == "v1beta1":
        return appmesh_v1beta1_manifests(options.namespace)
    return appmesh_v1beta2_manifests(options.namespace)


# --------------------------------------------------------------------------- world


def static_manifests(options: LabOptions | None = None) -> list[dict[str, Any]]:
    """Everything that needs no server-assigned uid, in creation order."""
    options = options or LabOptions()
    ns = options.namespace
    return [
        namespace_manifest(ns),
        deployment_manifest(REVIEWS_DEPLOYMENT, options.reviews_replicas, ns),
        deployment_manifest(RATINGS_DEPLOYMENT, options.ratings_replicas, ns),
        service_manifest(REVIEWS_SERVICE, REVIEWS_APP, ns, "10.96.0.20"),
        service_manifest(RATINGS_SERVICE, RATINGS_APP, ns, "10.96.0.21"),
        network_latency_experiment(ns, options.litmus),
        pod_delete_experiment(ns),
        *chaos_rbac(ns, options.litmus),
        *mesh_manifests(options),
    ]


def _create(store: Store, manifest: dict[str, Any]) -> dict[str, Any]:
    """Create; write `status` through /status when the create dropped it (a
    status subresource on a custom resource, as on a real apiserver)."""
    key = resource_key(manifest)
    namespace = _namespace_of(manifest)
    created = store.create(key, namespace, manifest)
    wanted = manifest.get("status")
    if wanted and created.get("status") != wanted:
        body = {**created, "status": copy.deepcopy(wanted)}
        name = created["metadata"]["name"]
        created = store.replace(key, namespace, name, body, subresource="status")
    return created


def seed(
    store: Store,
    options: LabOptions | None = None,
    clock: Callable[[], str] = _now,
) -> list[dict[str, Any]]:
    """Create the lab world in `store` (call on the store's loop thread).

    Returns the created objects in order. An existing namespace is reused;
    anything else already present is an error (seed a fresh store).
    """
    options = options or LabOptions()
    rng = random.Random(options.seed)
    created: list[dict[str, Any]] = []
    for manifest in static_manifests(options):
        if manifest["kind"] == "Namespace":
            try:
                created.append(_create(store, manifest))
            except Exception as exc:
                if getattr(exc, "status", None) != 409:
                    raise
            continue
        obj = _create(store, manifest)
        created.append(obj)
        if obj["kind"] == "Deployment":
            replicaset = _create(store, replicaset_manifest(obj))
            created.append(replicaset)
            for _ in range(obj["spec"]["replicas"]):
                pod = pod_manifest(replicaset, pod_suffix(rng), DEFAULT_POD_IP, clock())
                created.append(_create(store, pod))
    return created
