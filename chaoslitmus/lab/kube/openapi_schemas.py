"""OpenAPI v3 schemas the lab publishes, for `kubectl explain`.

Custom resources publish their CRD's `openAPIV3Schema` (with `metadata`
pointing at ObjectMeta), as the apiserver does. Built-in kinds get a
short schema of the fields chaos experiments touch, with list merge keys
where Kubernetes declares them; the rest of a built-in object is left
open (`x-kubernetes-preserve-unknown-fields`). Descriptions are ours.
"""

from __future__ import annotations

import copy
from typing import Any

from .resources import ResourceType

__all__ = ["OBJECT_META", "schema_name", "schemas_for"]

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_META_REF = {"allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}]}


def _s(description: str, type_: str = "string", **more: Any) -> dict[str, Any]:
    return {"description": description, "type": type_, **more}


def _obj(description: str, **properties: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "type": "object", "properties": properties}


def _map(description: str) -> dict[str, Any]:
    return _s(description, "object", additionalProperties={"type": "string"})


def _list(description: str, item: dict[str, Any], key: str | None = None) -> dict:
    out: dict[str, Any] = {"description": description, "type": "array", "items": item}
    if key:
        out["x-kubernetes-patch-merge-key"] = key
        out["x-kubernetes-patch-strategy"] = "merge"
        out["x-kubernetes-list-map-keys"] = [key]
        out["x-kubernetes-list-type"] = "map"
    return out


_OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

OBJECT_META_SCHEMA = _obj(
    "Standard object metadata: identity, labels, annotations, ownership.",
    name=_s("Name, unique within a namespace for a kind."),
    generateName=_s("Prefix the server completes with a random suffix on create."),
    namespace=_s("The namespace the object lives in (namespaced kinds)."),
    uid=_s("Unique id the server assigns on create; never reused."),
    resourceVersion=_s("Opaque version for optimistic concurrency and watches."),
    generation=_s("Sequence number of the desired state (spec).", "integer"),
    creationTimestamp=_s("When the server created the object.", format="date-time"),
    deletionTimestamp=_s("When deletion was requested (finalizers pending)."),
    labels=_map("Key/value pairs selectors match."),
    annotations=_map("Key/value pairs for tools; not used to select."),
    ownerReferences=_list(
        "Objects this one depends on; garbage collection follows them.",
        _OPEN,
        "uid",
    ),
    finalizers=_list("Must be empty before the object is removed.", {"type": "string"}),
    managedFields=_list("Which manager owns which fields (server-side apply).", _OPEN),
)

_SELECTOR = _obj(
    "A label query over pods.",
    matchLabels=_map("Labels a pod must carry, all of them."),
    matchExpressions=_list("Set-based requirements, all of them.", _OPEN),
)
_CONTAINER = _obj(
    "One container of a pod.",
    name=_s("Container name, unique in the pod."),
    image=_s("Container image reference."),
    command=_list("Entrypoint.", {"type": "string"}),
    args=_list("Arguments to the entrypoint.", {"type": "string"}),
    env=_list("Environment variables.", _OPEN, "name"),
    ports=_list("Ports the container exposes.", _OPEN, "containerPort"),
    resources=_s("CPU and memory requests and limits.", "object"),
    readinessProbe=_s("When the container is ready for traffic.", "object"),
)
_POD_SPEC = _obj(
    "What runs in a pod and where.",
    containers=_list("The pod's containers.", _CONTAINER, "name"),
    initContainers=_list(
        "Containers run to completion before the others.", _CONTAINER, "name"
    ),
    nodeName=_s("The node the pod is bound to (set by the scheduler)."),
    nodeSelector=_map("Labels a node must carry to run the pod."),
    serviceAccountName=_s("The service account the pod runs as."),
    restartPolicy=_s("Always, OnFailure or Never."),
    terminationGracePeriodSeconds=_s("Seconds to stop gracefully.", "integer"),
    volumes=_list("Volumes the containers may mount.", _OPEN, "name"),
    tolerations=_list("Taints the pod tolerates.", _OPEN),
)
_TEMPLATE = _obj(
    "The pod a controller creates.",
    metadata=copy.deepcopy(_META_REF),
    spec=_POD_SPEC,
)
_CONDITIONS = _list("Observed conditions.", _OPEN, "type")
_WORKLOAD_STATUS = _obj(
    "Observed state, written by the controller.",
    observedGeneration=_s("The generation the controller last acted on.", "integer"),
    replicas=_s("Pods that exist.", "integer"),
    readyReplicas=_s("Pods that are Ready.", "integer"),
    availableReplicas=_s("Pods Ready for at least minReadySeconds.", "integer"),
    updatedReplicas=_s("Pods of the current template.", "integer"),
    conditions=_CONDITIONS,
)

_BUILTIN: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "apps/v1/deployments": (
        "Declares pods by template and replica count; rolls out template changes.",
        _obj(
            "The desired state.",
            replicas=_s("How many pods to run (default 1).", "integer"),
            selector=_SELECTOR,
            template=_TEMPLATE,
            strategy=_s("RollingUpdate (default) or Recreate, with limits.", "object"),
            minReadySeconds=_s(
                "Seconds Ready before a pod counts as available.", "integer"
            ),
            paused=_s("Stop rolling out template changes.", "boolean"),
            revisionHistoryLimit=_s("Old ReplicaSets to keep.", "integer"),
        ),
        _WORKLOAD_STATUS,
    ),
    "apps/v1/replicasets": (
        "Keeps a number of identical pods running.",
        _obj(
            "The desired state.",
            replicas=_s("How many pods to run.", "integer"),
            selector=_SELECTOR,
            template=_TEMPLATE,
            minReadySeconds=_s(
                "Seconds Ready before a pod counts as available.", "integer"
            ),
        ),
        _WORKLOAD_STATUS,
    ),
    "v1/pods": (
        "A group of containers scheduled together on a node.",
        _POD_SPEC,
        _obj(
            "Observed state, written by the kubelet.",
            phase=_s("Pending, Running, Succeeded, Failed or Unknown."),
            conditions=_CONDITIONS,
            podIP=_s("The pod's IP address."),
            hostIP=_s("The node's IP address."),
            startTime=_s("When the kubelet accepted the pod."),
            containerStatuses=_list("One entry per container.", _OPEN),
        ),
    ),
    "v1/services": (
        "A stable name and virtual IP in front of the pods a selector matches.",
        _obj(
            "The desired state.",
            selector=_map("Labels of the pods traffic goes to."),
            ports=_list("Ports the service exposes.", _OPEN, "port"),
            type=_s("ClusterIP, NodePort, LoadBalancer or ExternalName."),
            clusterIP=_s("The virtual IP."),
        ),
        _obj("Observed state.", loadBalancer=_s("Load balancer status.", "object")),
    ),
    "v1/nodes": (
        "A machine that runs pods.",
        _obj(
            "The desired state.",
            unschedulable=_s("Cordoned: no new pods are scheduled here.", "boolean"),
            taints=_list("Taints pods must tolerate.", _OPEN),
            podCIDR=_s("The pod IP range of this node."),
        ),
        _obj(
            "Observed state, written by the kubelet.",
            capacity=_map("Total resources."),
            allocatable=_map("Resources available to pods."),
            conditions=_CONDITIONS,
            addresses=_list("The node's addresses.", _OPEN, "type"),
            nodeInfo=_s("Versions and identity of the node.", "object"),
        ),
    ),
    "batch/v1/jobs": (
        "Runs pods until a number of them complete.",
        _obj(
            "The desired state.",
            template=_TEMPLATE,
            selector=_SELECTOR,
            backoffLimit=_s("Retries before the Job fails (default 6).", "integer"),
            completions=_s("Successful pods wanted.", "integer"),
            parallelism=_s("Pods running at once.", "integer"),
            manualSelector=_s("Do not generate the selector.", "boolean"),
        ),
        _obj(
            "Observed state, written by the Job controller.",
            active=_s("Running pods.", "integer"),
            succeeded=_s("Pods that succeeded.", "integer"),
            failed=_s("Pods that failed.", "integer"),
            conditions=_CONDITIONS,
        ),
    ),
}


def schema_name(rtype: ResourceType) -> str:
    """The component name the apiserver uses (reversed group, version, kind)."""
    if rtype.is_builtin:
        group = rtype.group.split(".")[0] if rtype.group else "core"
        return f"io.k8s.api.{group}.{rtype.version}.{rtype.kind}"
    reverse = ".".join(reversed(rtype.group.split(".")))
    return f"{reverse}.{rtype.version}.{rtype.kind}"


def _top(description: str, rtype: ResourceType) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "properties": {
            "apiVersion": _s("The versioned schema of this representation."),
            "kind": _s("The REST resource this object represents."),
            "metadata": copy.deepcopy(_META_REF),
        },
        "x-kubernetes-group-version-kind": [
            {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
        ],
    }


def schemas_for(types: list[ResourceType]) -> dict[str, Any]:
    """components.schemas for one group-version document."""
    out: dict[str, Any] = {OBJECT_META: copy.deepcopy(OBJECT_META_SCHEMA)}
    for rtype in types:
        if rtype.verbs:
            continue  # create-only reviews: nothing to explain
        if rtype.is_builtin:
            description, spec, status = _BUILTIN.get(
                rtype.key, (f"A Kubernetes {rtype.kind}.", _OPEN, _OPEN)
            )
            schema = _top(description, rtype)
            if rtype.key in ("v1/configmaps", "v1/secrets"):
                schema["properties"]["data"] = _map("The stored values.")
            elif rtype.key != "v1/events":
                schema["properties"]["spec"] = copy.deepcopy(spec)
                if rtype.has_status_subresource:
                    schema["properties"]["status"] = copy.deepcopy(status)
        else:
            crd = copy.deepcopy(rtype.schema or {"type": "object"})
            schema = _top(crd.get("description") or f"A {rtype.kind}.", rtype)
            for key, value in (crd.get("properties") or {}).items():
                if key not in ("apiVersion", "kind", "metadata"):
                    schema["properties"][key] = value
            for key in ("required", "x-kubernetes-preserve-unknown-fields"):
                if key in crd:
                    schema[key] = crd[key]
        out[schema_name(rtype)] = schema
    return out
