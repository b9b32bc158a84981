"""Chaos Toolkit probes for LitmusChaos: results, verdicts, engine state."""

from typing import Any, Dict

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets

from chaoslitmus import _args
from chaoslitmus._retry import Backoff
from chaoslitmus.k8s import Forbidden, Kube, KubeError
from chaoslitmus.litmus import manifests as m
from chaoslitmus.litmus.leftovers import (
    active_engines,
    injected_targets,
    snapshot_holders,
)
from chaoslitmus.litmus.preflight import check_crds
from chaoslitmus.litmus.runs import get_object
from chaoslitmus.litmus.status import engine_summary, result_summary
from chaoslitmus.mesh.cluster import MESH_VERSIONS, resolve_adapter

__all__ = [
    "cluster_ready",
    "fresh_engine_name",
    "chaos_result",
    "chaos_result_verdict",
    "engine_status",
    "experiment_installed",
    "no_fault_left",
]


# A readiness check answers fast: two tries, not the activities' full budget.
READY_BACKOFF = Backoff(attempts=2, base_s=0.2, cap_s=0.5, budget_s=5.0)
MESHES = ("appmesh", "istio", "none")


def cluster_ready(
    namespace: str,
    mesh: str = "appmesh",
    mesh_api_version: str = "auto",
    secrets: Secrets = None,
) -> bool:
    """Whether the cluster can run these experiments: put it first in the
    steady-state hypothesis, with `"tolerance": true`.

    Checks, in order, and stops at the first miss with one line naming the
    fix: the Kubernetes API answers (KUBECONFIG / KUBERNETES_CONTEXT), the
    namespace exists, the Litmus CRDs are served, and the mesh's CRDs are
    served (`mesh` "appmesh", "istio", or "none" to skip; `mesh_api_version`
    "auto" or a version, as in set_retry_policy). Returns true when all hold.
    """
    m.check_name(namespace, "namespace", max_len=63)
    _args.choice(mesh, "mesh", MESHES)
    if mesh != "none":
        versions = ("auto", *MESH_VERSIONS[mesh])
        _args.choice(mesh_api_version, "mesh_api_version", versions)
    kube = Kube(secrets, backoff=READY_BACKOFF)
    try:
        found = kube.resource("", "v1", "namespaces").find(namespace)
    except Forbidden:
        found = {}  # may not read namespaces: the activities will say more
    except KubeError as exc:
        if exc.status:
            raise
        raise ActivityFailed(
            f"the Kubernetes API at {kube.host} does not answer, so nothing can "
            "run: start the cluster, or point KUBECONFIG (and KUBERNETES_CONTEXT) "
            "at one; for the local lab run `chaoslitmus lab run -- chaos run "
            f"<experiment>` ({exc})"
        ) from None
    if found is None:
        raise ActivityFailed(
            f"namespace '{namespace}' not found in the cluster at {kube.host}: "
            "deploy the application there, or set the experiment's namespace"
        )
    check_crds(kube)
    if mesh != "none":
        resolve_adapter(kube, mesh, mesh_api_version, uses_virtual_service=True)
    return True


def fresh_engine_name(prefix: str = "chaos") -> str:
    """A new engine name, `<prefix>-<5 random characters>`, for a dynamic
    configuration entry: the method's action, the control and the rollbacks
    then all refer to the same `${engine_name}`, and two runs never collide.
    """
    prefix = m.check_name(prefix, "prefix", max_len=40)
    return m.check_name(m.engine_name_for(prefix), "engine_name", max_len=63)


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
    if instance_id:
        m.check_name(instance_id, "instance_id")
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

    m.check_name(namespace, "namespace", max_len=63)
    engine_name = _args.optional_text(engine_name, "engine_name")
    if engine_name:
        m.check_name(engine_name, "engine_name", max_len=63)
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
    body = kube.resource(group, version, plural, namespace).list()
    return list(body.get("items") or [])
