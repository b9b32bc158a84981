"""Chaos Toolkit probes for LitmusChaos: results, verdicts, engine state."""

from typing import Any, Dict

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets

from chaoslitmus.k8s import Kube
from chaoslitmus.litmus import manifests as m
from chaoslitmus.litmus.leftovers import (
    active_engines,
    injected_targets,
    snapshot_holders,
)
from chaoslitmus.litmus.runs import get_object
from chaoslitmus.litmus.status import engine_summary, result_summary

__all__ = [
    "chaos_result",
    "chaos_result_verdict",
    "engine_status",
    "experiment_installed",
    "no_fault_left",
]


def chaos_result(
    engine_name: str,
    experiment_name: str,
    namespace: str,
    instance_id: str = "",
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """The ChaosResult `<engine>-<experiment>[-<instance_id>]`, summarised:
    phase, verdict, probe success percentage, failure step, error code and
    run history. Reads both the 1.x and the 3.x status shapes."""
    m.check_name(engine_name, "engine_name")
    m.check_name(experiment_name, "experiment_name")
    m.check_name(namespace, "namespace")
    name = m.result_name(engine_name, experiment_name, instance_id)
    kube = Kube(secrets)
    result = get_object(kube, namespace, m.RESULTS, name)
    if result is None:
        raise ActivityFailed(
            f"ChaosResult '{name}' not found in '{namespace}': the experiment has "
            "not started yet, or engine/experiment names are wrong"
        )
    summary = result_summary(result)
    labels = result["metadata"].get("labels") or {}
    return {
        "result_name": name,
        "namespace": namespace,
        "engine_name": engine_name,
        "experiment": experiment_name,
        "chaos_uid": labels.get("chaosUID", ""),
        **summary,
    }


def chaos_result_verdict(
    engine_name: str,
    experiment_name: str,
    namespace: str,
    instance_id: str = "",
    secrets: Secrets = None,
) -> str:
    """Just the verdict of a ChaosResult (Pass, Fail, Error, Stopped or
    Awaited), for a tolerance such as `"Pass"`."""
    return chaos_result(engine_name, experiment_name, namespace, instance_id, secrets)[
        "verdict"
    ]


def engine_status(
    engine_name: str, namespace: str, secrets: Secrets = None
) -> Dict[str, Any]:
    """A ChaosEngine's state: engineState (active/stop), engineStatus
    (initialized/completed/stopped) and each experiment's status and verdict."""
    m.check_name(engine_name, "engine_name")
    m.check_name(namespace, "namespace")
    engine = get_object(Kube(secrets), namespace, m.ENGINES, engine_name)
    if engine is None:
        raise ActivityFailed(
            f"ChaosEngine '{engine_name}' not found in namespace '{namespace}'"
        )
    return engine_summary(engine)


def experiment_installed(
    experiment_name: str, namespace: str, secrets: Secrets = None
) -> bool:
    """Whether the ChaosExperiment is installed in `namespace` (Litmus reads
    it from the engine's namespace), for a tolerance of `true`."""
    m.check_name(experiment_name, "experiment_name")
    m.check_name(namespace, "namespace")
    kube = Kube(secrets)
    found = get_object(kube, namespace, m.EXPERIMENTS, experiment_name)
    return found is not None


def no_fault_left(
    namespace: str, engine_name: str = None, secrets: Secrets = None
) -> Dict[str, Any]:
    """Check that a run left nothing behind in `namespace`; fail naming each thing.

    Passes when no ChaosEngine of ours (our managed-by label; only
    `engine_name` when given) is still active or stuck deleting, no
    ChaosResult (of `engine_name`'s runs when given) says a target is
    `injected` without `reverted`, and no mesh object (App Mesh, Istio) still
    holds the route snapshot annotation of set_retry_policy. Use it as the
    last rollback: it then runs after every outcome, interruptions included.
    """
    # Imported here: the mesh adapters are only needed by this probe.
    from chaoslitmus.mesh.cluster import ADAPTERS
    from chaoslitmus.mesh.snapshot import ORIGINAL_ROUTES

    m.check_name(namespace, "namespace")
    if engine_name is not None:
        m.check_name(engine_name, "engine_name")
    kube = Kube(secrets)
    engines = _list(kube, m.GROUP, m.VERSION, namespace, m.ENGINES)
    results = _list(kube, m.GROUP, m.VERSION, namespace, m.RESULTS)
    kinds = {(a.group, a.api_version, a.plural, a.kind) for a in ADAPTERS.values()}
    kinds.add(("appmesh.k8s.aws", "v1beta2", "virtualservices", "VirtualService"))
    mesh_objects = []
    for group, version, plural, kind in sorted(kinds):
        if kube.served(group, version, plural):
            for obj in _list(kube, group, version, namespace, plural) or []:
                mesh_objects.append((f"{kind} ({group}/{version})", obj))
    left = (
        active_engines(engines or [], engine_name)
        + injected_targets(results or [], engine_name)
        + snapshot_holders(mesh_objects, ORIGINAL_ROUTES)
    )
    if left:
        raise ActivityFailed(
            f"no_fault_left: {len(left)} thing(s) left in namespace "
            f"'{namespace}': " + "; ".join(left)
        )
    return {
        "namespace": namespace,
        "engine_name": engine_name,
        "engines_checked": len(engines or []),
        "results_checked": len(results or []),
        "mesh_objects_checked": len(mesh_objects),
        "left": [],
        "message": (
            f"nothing left in '{namespace}': no active engine, no target left "
            "injected, no route snapshot"
        ),
    }


def _list(
    kube: Kube, group: str, version: str, namespace: str, plural: str
) -> list[dict] | None:
    """Items of one kind, None when the kind is not served here."""
    if group == m.GROUP and not kube.served(group, version, plural):
        return None
    body = kube.call(
        kube.custom.list_namespaced_custom_object,
        group,
        version,
        namespace,
        plural,
        verb="list",
        group=group,
        plural=plural,
        namespace=namespace,
    )
    return list(body.get("items") or [])
