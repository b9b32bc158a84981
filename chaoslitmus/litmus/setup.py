# ruff: noqa: UP006, UP035
# chaoslib 1.44's discovery names only typing.List/Dict: keep them for `chaos discover`.
"""Setting a namespace up for Litmus, and undoing it exactly.

The chores before a fault can run: the experiment's service account and RBAC,
the `litmuschaos.io/chaos` annotation on the target workload, the
ChaosExperiment itself. Each has an undo that removes only what it made (our
objects carry the managed-by label; the annotation's earlier value is kept
on the workload). Re-exported by :mod:`chaoslitmus.litmus.actions`, where
`chaos discover` lists them.
"""

import json
from typing import Any, Dict

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets

from chaoslitmus import _args
from chaoslitmus._redact import redact_url
from chaoslitmus.k8s import Conflict, Kube, Resource
from chaoslitmus.litmus import manifests as m
from chaoslitmus.litmus.apply import check_experiments, install_all
from chaoslitmus.litmus.runs import get_object, litmus
from chaoslitmus.sources import load_documents

__all__ = [
    "create_chaos_service_account",
    "delete_chaos_service_account",
    "annotate_app",
    "restore_app_annotation",
    "install_experiment",
    "uninstall_experiment",
]

# Where annotate_app keeps the chaos annotation's earlier value (JSON).
PREVIOUS_ANNOTATION = "chaoslitmus.io/previous-chaos-annotation"


def create_chaos_service_account(
    namespace: str,
    name: str,
    experiment_name: str = "pod-network-latency",
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Create the ServiceAccount, Role and RoleBinding an experiment runs as.

    Grants only what the experiment needs: the rules the installed
    ChaosExperiment declares (`spec.definition.permissions`), or Litmus'
    published minimal RBAC for pod-network-latency. Objects that already
    exist are left as they are and reported. Undo with
    `delete_chaos_service_account`.
    """
    m.check_name(namespace, "namespace", max_len=63)
    m.check_name(name, "name")
    m.check_name(experiment_name, "experiment_name", max_len=63)
    kube = Kube(secrets)
    experiment = get_object(kube, namespace, m.EXPERIMENTS, experiment_name)
    rules = (((experiment or {}).get("spec") or {}).get("definition") or {}).get(
        "permissions"
    ) or m.KNOWN_RULES.get(experiment_name)
    if not rules:
        raise ActivityFailed(
            f"no RBAC rules known for experiment '{experiment_name}': install the "
            f"ChaosExperiment in '{namespace}' first (its permissions are used)"
        )
    created, existing = [], []
    for manifest in m.rbac_manifests(namespace, name, rules):
        try:
            kube.resource(*m.RBAC_RESOURCES[manifest["kind"]], namespace).create(
                manifest
            )
            created.append(manifest["kind"])
        except Conflict:
            existing.append(manifest["kind"])
    return {
        "namespace": namespace,
        "name": name,
        "created": created,
        "already_present": existing,
        "rules": rules,
    }


def delete_chaos_service_account(
    namespace: str, name: str, secrets: Secrets = None
) -> Dict[str, Any]:
    """Delete the ServiceAccount, Role and RoleBinding that
    `create_chaos_service_account` made (only those it labelled)."""
    m.check_name(namespace, "namespace", max_len=63)
    m.check_name(name, "name")
    kube = Kube(secrets)
    deleted, kept = [], []
    # The binding first: it must never point at a role that is gone.
    for kind in ("RoleBinding", "Role", "ServiceAccount"):
        objects = kube.resource(*m.RBAC_RESOURCES[kind], namespace)
        found = objects.find(name)
        if found is None:
            continue
        labels = found.get("metadata", {}).get("labels") or {}
        if labels.get(m.MANAGED_BY_LABEL) != m.MANAGED_BY_VALUE:
            kept.append(kind)
            continue
        if objects.delete(name) is not None:
            deleted.append(kind)
    return {
        "namespace": namespace,
        "name": name,
        "deleted": deleted,
        "kept_not_ours": kept,
    }


def _workload(kube: Kube, kind: str, namespace: str) -> Resource:
    plural = m.WORKLOAD_PLURALS[kind]
    return kube.resource("apps", "v1", plural, namespace)


def annotate_app(
    namespace: str, name: str, kind: str = "deployment", secrets: Secrets = None
) -> Dict[str, Any]:
    """Mark a workload as a chaos target (`litmuschaos.io/chaos: "true"`).

    Litmus 1.x (and annotationCheck) only injects into annotated workloads.
    The previous value is kept on the object, so `restore_app_annotation`
    (the rollback) puts back exactly what was there.
    """
    m.check_name(namespace, "namespace", max_len=63)
    m.check_name(name, "name")
    _args.choice(kind, "kind", m.WORKLOAD_PLURALS)
    workloads = _workload(Kube(secrets), kind, namespace)
    current = workloads.get(name)
    annotations = current["metadata"].get("annotations") or {}
    previous = annotations.get(m.CHAOS_ANNOTATION)
    change: dict[str, Any] = {m.CHAOS_ANNOTATION: "true"}
    if PREVIOUS_ANNOTATION not in annotations:
        change[PREVIOUS_ANNOTATION] = json.dumps(previous)
    workloads.patch(name, {"metadata": {"annotations": change}})
    return {
        "namespace": namespace,
        "name": name,
        "kind": kind,
        "previous": previous,
        "annotation": m.CHAOS_ANNOTATION,
        "value": "true",
    }


def restore_app_annotation(
    namespace: str, name: str, kind: str = "deployment", secrets: Secrets = None
) -> Dict[str, Any]:
    """Undo `annotate_app`: the chaos annotation gets its earlier value back
    (or goes away if there was none). Without a saved value, changes nothing."""
    m.check_name(namespace, "namespace", max_len=63)
    m.check_name(name, "name")
    _args.choice(kind, "kind", m.WORKLOAD_PLURALS)
    workloads = _workload(Kube(secrets), kind, namespace)
    current = workloads.find(name)
    if current is None:
        return {
            "namespace": namespace,
            "name": name,
            "restored": False,
            "reason": "workload not found",
        }
    annotations = current["metadata"].get("annotations") or {}
    if PREVIOUS_ANNOTATION not in annotations:
        return {
            "namespace": namespace,
            "name": name,
            "restored": False,
            "reason": "nothing saved by annotate_app",
        }
    previous = _saved_annotation(annotations[PREVIOUS_ANNOTATION], kind, name)
    workloads.patch(
        name,
        {
            "metadata": {
                "annotations": {m.CHAOS_ANNOTATION: previous, PREVIOUS_ANNOTATION: None}
            }
        },
    )
    return {"namespace": namespace, "name": name, "restored": True, "value": previous}


def install_experiment(
    path_or_url: str,
    namespace: str,
    allow_insecure: bool = False,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Install ChaosExperiment(s) from a YAML file or https URL into `namespace`
    (Litmus reads experiments from the engine's namespace).

    An experiment that is already there is left untouched and reported; the
    others are installed all or none. Undo with `uninstall_experiment`,
    which removes only what this installed.
    """
    _args.text(path_or_url, "path_or_url")
    m.check_name(namespace, "namespace", max_len=63)
    allow_insecure = _args.boolean(allow_insecure, "allow_insecure")
    documents = load_documents(path_or_url, allow_insecure)
    source = redact_url(path_or_url)
    bodies = check_experiments(documents, source, namespace)
    installed, present = install_all(Kube(secrets), namespace, bodies, source)
    return {"namespace": namespace, "installed": installed, "already_present": present}


def uninstall_experiment(
    experiment_name: str, namespace: str, secrets: Secrets = None
) -> Dict[str, Any]:
    """Remove a ChaosExperiment that `install_experiment` installed; one that
    was there before (not labelled by us) is kept. A missing one is fine."""
    m.check_name(experiment_name, "experiment_name", max_len=63)
    m.check_name(namespace, "namespace", max_len=63)
    kube = Kube(secrets)
    found = get_object(kube, namespace, m.EXPERIMENTS, experiment_name)
    if found is None:
        return {"experiment": experiment_name, "deleted": False, "reason": "not found"}
    labels = found["metadata"].get("labels") or {}
    if labels.get(m.MANAGED_BY_LABEL) != m.MANAGED_BY_VALUE:
        return {
            "experiment": experiment_name,
            "deleted": False,
            "reason": "not installed by chaostoolkit-litmus; kept",
        }
    litmus(kube, namespace, m.EXPERIMENTS).delete(experiment_name)
    return {"experiment": experiment_name, "deleted": True}


def _saved_annotation(saved: str, kind: str, name: str) -> str | None:
    """What annotate_app saved: the JSON of a string or null, nothing else."""
    try:
        previous = json.loads(saved)
    except ValueError:
        previous = saved  # not JSON: refused below
    else:
        if previous is None or isinstance(previous, str):
            return previous
    raise ActivityFailed(
        f"annotation {PREVIOUS_ANNOTATION} on {kind} '{name}' holds "
        f"{_args.show(saved)}, not what annotate_app saves (a JSON string or "
        f"null): it was edited by hand; set {m.CHAOS_ANNOTATION} yourself and "
        "remove that annotation"
    )
