"""What the apiserver fills in on create for built-in kinds (registry
strategies, defaulting and admission), where clients read it back.

Pods: status `Pending` from the start (the pod strategy), the ServiceAccount
admission plugin's `default` account and projected token volume (clients
such as chaostoolkit-kubernetes' drain read `spec.volumes`), and the
default not-ready/unreachable tolerations (DefaultTolerationSeconds).

Jobs: unless `spec.manualSelector`, the Job strategy generates the selector
from the new uid and labels the pod template with it (Kubernetes 1.27+
writes both the `batch.kubernetes.io/` labels and the legacy
`controller-uid`/`job-name` ones); `kubectl logs job/x` and the Job
controller find the Job's pods through it. Source: kubernetes
pkg/registry/batch/job/strategy.go (generateSelector), v1.30.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RETURNS_DELETED_OBJECT", "job_defaults", "pod_defaults"]

# Kinds whose DELETE answers the deleted object; the others answer a Status
# (the registries' ReturnDeletedObject, kubernetes pkg/registry, v1.30).
RETURNS_DELETED_OBJECT = frozenset(
    {
        "v1/pods",
        "v1/services",
        "v1/namespaces",
        "apiextensions.k8s.io/v1/customresourcedefinitions",
    }
)
SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"


def job_defaults(job: dict[str, Any]) -> None:
    """In place: selector, template labels and spec defaults of a new Job."""
    meta = job["metadata"]
    spec = job.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("completions") is None and spec["parallelism"] == 1:
        spec["completions"] = 1
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    if spec.get("manualSelector"):
        return
    uid, name = meta["uid"], meta["name"]
    template = spec.setdefault("template", {})
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {
        **(tmeta.get("labels") or {}),
        CONTROLLER_UID: uid,
        JOB_NAME: name,
        "controller-uid": uid,
        "job-name": name,
    }
    spec["selector"] = {"matchLabels": {CONTROLLER_UID: uid}}


def _suffix(uid: str) -> str:
    return "".join(ch for ch in uid if ch.isalnum())[:5]


def pod_defaults(pod: dict[str, Any]) -> None:
    """In place: what a pod carries once the apiserver admitted it."""
    spec = pod.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    status = pod.get("status")
    if not isinstance(status, dict) or not status.get("phase"):
        pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    for key, value in (
        ("restartPolicy", "Always"),
        ("dnsPolicy", "ClusterFirst"),
        ("schedulerName", "default-scheduler"),
        ("terminationGracePeriodSeconds", 30),
        ("enableServiceLinks", True),
        ("priority", 0),
    ):
        spec.setdefault(key, value)
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = account
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key for t in tolerations if isinstance(t, dict)):
            tolerations.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            )
    if spec.get("automountServiceAccountToken") is False:
        return
    volumes = spec.setdefault("volumes", [])
    if any(
        m.get("mountPath") == SERVICE_ACCOUNT_MOUNT
        for c in spec.get("containers") or []
        for m in c.get("volumeMounts") or []
    ):
        return
    name = f"kube-api-access-{_suffix(pod['metadata']['uid'])}"
    volumes.append(
        {
            "name": name,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {
                        "serviceAccountToken": {
                            "expirationSeconds": 3607,
                            "path": "token",
                        }
                    },
                    {
                        "configMap": {
                            "name": "kube-root-ca.crt",
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        }
                    },
                ],
            },
        }
    )
    for container in spec.get("containers") or []:
        container.setdefault("volumeMounts", []).append(
            {"name": name, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT}
        )
