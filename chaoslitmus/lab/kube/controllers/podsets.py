"""Pure rules of the Deployment and ReplicaSet controllers.

Facts follow kube-controller-manager 1.30 (pkg/controller/deployment,
pkg/controller/replicaset, pkg/controller/controller_utils.go); see
`docs/lab-cluster.md`. Objects are plain dicts as the Store holds them.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from chaoslitmus.lab.kube.objectmeta import owner_ref

__all__ = [
    "HASH_LABEL",
    "REVISION_ANNOTATION",
    "controller_uid",
    "deployment_status",
    "is_active",
    "is_ready",
    "new_replicaset",
    "owner_ref",
    "pod_from_template",
    "replicaset_status",
    "rolling_limits",
    "same_template",
    "scale_down_order",
    "template_hash",
]

HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the object's controlling owner, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def template_hash(template: Mapping[str, Any]) -> str:
    """A stable `pod-template-hash` for a pod template (10 safe characters)."""
    text = json.dumps(_without_hash(template), sort_keys=True)
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def _pruned(value: Any) -> Any:
    """Without null and empty values: Go clients send `resources: {}` or
    `creationTimestamp: null` where others send nothing, and the apiserver's
    typed round trip makes them equal."""
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    out = _pruned(copy.deepcopy(dict(template)))
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return out


def same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal but for the pod-template-hash label (EqualIgnoreHash)."""
    return _without_hash(a) == _without_hash(b)


def new_replicaset(
    deployment: Mapping[str, Any], revision: int, replicas: int
) -> dict[str, Any]:
    """The ReplicaSet a Deployment's current template gets."""
    template = copy.deepcopy(deployment["spec"]["template"])
    pod_hash = template_hash(template)
    template.setdefault("metadata", {})
    template["metadata"]["labels"] = {
        **(template["metadata"].get("labels") or {}),
        HASH_LABEL: pod_hash,
    }
    selector = copy.deepcopy(deployment["spec"].get("selector") or {})
    selector["matchLabels"] = {
        **(selector.get("matchLabels") or {}),
        HASH_LABEL: pod_hash,
    }
    meta = deployment["metadata"]
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": selector,
        "template": template,
    }
    if deployment["spec"].get("minReadySeconds"):
        spec["minReadySeconds"] = deployment["spec"]["minReadySeconds"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {
                REVISION_ANNOTATION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(
                    deployment["spec"].get("replicas", 1)
                ),
            },
            "ownerReferences": [owner_ref(deployment)],
        },
        "spec": spec,
    }


def pod_from_template(replicaset: Mapping[str, Any]) -> dict[str, Any]:
    """A new pod of `replicaset`: fresh generated name, no status (the
    scheduler and kubelet take it from there)."""
    template = replicaset["spec"]["template"]
    tmeta = template.get("metadata") or {}
    spec = copy.deepcopy(template.get("spec") or {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    meta: dict[str, Any] = {
        "generateName": f"{replicaset['metadata']['name']}-",
        "namespace": replicaset["metadata"]["namespace"],
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [owner_ref(replicaset)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def is_active(pod: Mapping[str, Any]) -> bool:
    """Counts toward replicas: not terminating, not Succeeded/Failed."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _ready_condition(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition
    return None


def is_ready(pod: Mapping[str, Any]) -> bool:
    condition = _ready_condition(pod)
    return bool(condition) and condition.get("status") == "True"


def _epoch(timestamp: str | None) -> float:
    if not timestamp:
        return 0.0
    try:
        parsed = dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return 0.0
    return parsed.replace(tzinfo=dt.timezone.utc).timestamp()


def is_available(pod: Mapping[str, Any], min_ready_s: int, now: float) -> bool:
    if not is_ready(pod):
        return False
    if min_ready_s <= 0:
        return True
    since = _epoch((_ready_condition(pod) or {}).get("lastTransitionTime"))
    return now - since >= min_ready_s


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def scale_down_order(
    pods: Iterable[Mapping[str, Any]], created: Mapping[str, int] | None = None
) -> list[Mapping[str, Any]]:
    """Pods in the order a ReplicaSet deletes them (ActivePods ranking):
    unscheduled, then Pending, not Ready, Ready for less time, more
    restarts, newer. Timestamps have whole seconds, so `created` (pod uid ->
    creation sequence, higher is newer) breaks ties, then the name."""
    created = created or {}

    def key(pod: Mapping[str, Any]) -> tuple[Any, ...]:
        status = pod.get("status") or {}
        ready = is_ready(pod)
        ready_since = _epoch((_ready_condition(pod) or {}).get("lastTransitionTime"))
        restarts = sum(
            int(c.get("restartCount") or 0)
            for c in status.get("containerStatuses") or []
        )
        created_at = _epoch((pod.get("metadata") or {}).get("creationTimestamp"))
        return (
            bool((pod.get("spec") or {}).get("nodeName")),
            _PHASE_RANK.get(status.get("phase") or "Pending", 0),
            ready,
            -ready_since if ready else 0.0,
            -restarts,
            -created_at,
            -created.get(pod["metadata"].get("uid", ""), 0),
            [-ord(ch) for ch in pod["metadata"]["name"]],
        )

    return sorted(pods, key=key)


def replicaset_status(
    replicaset: Mapping[str, Any], pods: list[Mapping[str, Any]], now: float
) -> dict[str, Any]:
    """status of a ReplicaSet from its active pods."""
    labels = ((replicaset["spec"].get("template") or {}).get("metadata") or {}).get(
        "labels"
    ) or {}
    min_ready = int(replicaset["spec"].get("minReadySeconds") or 0)
    fully_labeled = [
        p
        for p in pods
        if all(
            ((p.get("metadata") or {}).get("labels") or {}).get(k) == v
            for k, v in labels.items()
        )
    ]
    status: dict[str, Any] = {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(fully_labeled),
        "readyReplicas": sum(1 for p in pods if is_ready(p)),
        "availableReplicas": sum(1 for p in pods if is_available(p, min_ready, now)),
        "observedGeneration": replicaset["metadata"].get("generation", 1),
    }
    return {
        k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")
    }


def _resolve(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        fraction = int(value[:-1]) * total / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(value or 0)


def rolling_limits(deployment: Mapping[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) for a RollingUpdate Deployment (25 % each
    by default; both 0 means maxUnavailable 1)."""
    spec = deployment["spec"]
    replicas = int(spec.get("replicas", 1))
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _resolve(
        rolling.get("maxUnavailable", "25%"), replicas, round_up=False
    )
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _condition(
    kind: str,
    ok: bool,
    reason: str,
    message: str,
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    status = "True" if ok else "False"
    same = previous is not None and previous.get("status") == status
    changed_reason = previous is None or previous.get("reason") != reason
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": now
        if changed_reason
        else previous.get("lastUpdateTime", now),
        "lastTransitionTime": (
            previous.get("lastTransitionTime", now) if same and previous else now
        ),
        "reason": reason,
        "message": message,
    }


def deployment_status(
    deployment: Mapping[str, Any],
    new_rs: Mapping[str, Any] | None,
    rs_pods: Mapping[str, list[Mapping[str, Any]]],
    now_epoch: float,
    now: str,
) -> dict[str, Any]:
    """status of a Deployment from its ReplicaSets' pods (by ReplicaSet uid)."""
    spec = deployment["spec"]
    replicas = int(spec.get("replicas", 1))
    min_ready = int(spec.get("minReadySeconds") or 0)
    pods = [p for group in rs_pods.values() for p in group]
    new_pods = rs_pods.get(new_rs["metadata"]["uid"], []) if new_rs else []
    ready = sum(1 for p in pods if is_ready(p))
    available = sum(1 for p in pods if is_available(p, min_ready, now_epoch))
    updated = len(new_pods)
    _, max_unavailable = rolling_limits(deployment)
    if (spec.get("strategy") or {}).get("type") == "Recreate":
        max_unavailable = replicas
    previous = {
        c.get("type"): c
        for c in (deployment.get("status") or {}).get("conditions") or []
    }
    has_min = available >= replicas - max_unavailable
    conditions = [
        _condition(
            "Available",
            has_min,
            "MinimumReplicasAvailable" if has_min else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if has_min
            else "Deployment does not have minimum availability.",
            previous.get("Available"),
            now,
        )
    ]
    done = (
        new_rs is not None
        and updated == replicas == len(pods)
        and sum(1 for p in new_pods if is_available(p, min_ready, now_epoch))
        == replicas
    )
    name = new_rs["metadata"]["name"] if new_rs else deployment["metadata"]["name"]
    conditions.append(
        _condition(
            "Progressing",
            True,
            "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
            f'ReplicaSet "{name}" has successfully progressed.'
            if done
            else f'ReplicaSet "{name}" is progressing.',
            previous.get("Progressing"),
            now,
        )
    )
    status: dict[str, Any] = {
        "observedGeneration": deployment["metadata"].get("generation", 1),
        "replicas": len(pods),
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "unavailableReplicas": max(0, replicas - available),
        "conditions": conditions,
    }
    return {
        k: v
        for k, v in status.items()
        if v or k in ("observedGeneration", "conditions")  # Go omitempty
    }
