"""Chaos Toolkit probes for LitmusChaos: results, verdicts, engine state."""

from typing import Any, Dict, List

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets

from chaoslitmus.k8s import Kube
from chaoslitmus.litmus import manifests as m
from chaoslitmus.litmus.runs import get_object
from chaoslitmus.litmus.status import engine_summary, result_summary
from chaoslitmus.litmus.targets import headroom, targeted_pods

__all__ = [
    "chaos_result",
    "chaos_result_verdict",
    "engine_status",
    "experiment_installed",
    "retry_headroom",
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


def retry_headroom(
    replicas: int,
    pods_affected_perc: int = None,
    target_pods: List[str] = None,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Say whether a mesh retry can still reach a pod the fault leaves alone.

    `replicas`: pods behind the service; `pods_affected_perc` and
    `target_pods` as given to `inject_network_latency` (Litmus targets
    max(1, floor(min(perc, 100) * replicas / 100)) pods, or the named ones).
    Returns `replicas`, `targeted`, `untouched`, `retries_can_help` (false
    when every replica is slow: no retry policy can hide the fault) and a
    one-line `note`. Sends nothing to the cluster.
    """
    for name, value, low in (
        ("replicas", replicas, 1),
        ("pods_affected_perc", pods_affected_perc, 0),
    ):
        if value is None and name != "replicas":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ActivityFailed(
                f"retry_headroom: {name} must be a whole number >= {low}, got {value!r}"
            )
    if target_pods:
        return headroom(replicas, len(target_pods))
    return headroom(replicas, targeted_pods(replicas, pods_affected_perc))
