"""Chaos Toolkit probes for LitmusChaos: results, verdicts, engine state."""

from typing import Any, Dict

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets

from chaoslitmus.k8s import Kube
from chaoslitmus.litmus import manifests as m
from chaoslitmus.litmus.runs import get_object
from chaoslitmus.litmus.status import engine_summary, result_summary

__all__ = [
    "chaos_result",
    "chaos_result_verdict",
    "engine_status",
    "experiment_installed",
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
