"""What the Litmus stand-in's pods print, so `kubectl logs` tells a run.

The chaos-runner pod (`<engine>-runner`) and the experiment pod (the Job's
pod) write logrus-style lines at each step, worded after what chaos-runner
and litmus-go 3.x log (see `docs/lab-cluster.md`). The operator calls one
function per step; each writes to the pods' logs in the Store and never
fails the run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chaoslitmus.lab.kube.podlogs import logrus_line

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.store import Store

__all__ = [
    "experiment_started",
    "injected",
    "reverted",
    "runner_started",
    "targets_chosen",
    "verdict",
]

log = logging.getLogger("chaoslitmus.lab")


def _write(store: Store, namespace: str, pod: str, lines: Sequence[str]) -> None:
    try:
        for line in lines:
            store.logs.write(namespace, pod, line)
    except Exception:  # logs are best effort; a run never fails on them
        log.debug("could not log to pod %s/%s", namespace, pod, exc_info=True)


def _experiment_pods(store: Store, namespace: str, job_name: str) -> list[str]:
    try:
        pods, _ = store.list("v1/pods", namespace, f"job-name={job_name}")
    except Exception:
        return []
    return [p["metadata"]["name"] for p in pods]


def _write_experiment_pods(
    store: Store, namespace: str, job_name: str, lines: Sequence[str]
) -> None:
    """The same lines in the log of each pod of the experiment's Job."""
    for pod in _experiment_pods(store, namespace, job_name):
        _write(store, namespace, pod, lines)


def runner_started(store: Store, engine: Mapping[str, Any]) -> None:
    meta, spec = engine["metadata"], engine.get("spec") or {}
    info = spec.get("appinfo") or {}
    names = ",".join(e.get("name", "") for e in spec.get("experiments") or [])
    _write(
        store,
        meta["namespace"],
        f"{meta['name']}-runner",
        [
            logrus_line(
                "Experiments details are as follows",
                **{
                    "Experiments List": f"[{names}]",
                    "Engine Name": meta["name"],
                    "appLabels": info.get("applabel", ""),
                    "appKind": info.get("appkind", ""),
                    "Service Account Name": spec.get("chaosServiceAccount", ""),
                    "Engine Namespace": meta["namespace"],
                },
            ),
            logrus_line("Getting the ENV Variables"),
        ],
    )


def _job_names(job: Mapping[str, Any]) -> tuple[str, str]:
    """(experiment, job name) of the runner's Job."""
    meta = job["metadata"]
    return (meta.get("labels") or {}).get("name", ""), meta["name"]


def experiment_started(
    store: Store,
    engine: Mapping[str, Any],
    job: Mapping[str, Any],
    pod_name: str,
    env: Mapping[str, str],
) -> None:
    experiment, job_name = _job_names(job)
    meta = engine["metadata"]
    namespace = meta["namespace"]
    info = (engine.get("spec") or {}).get("appinfo") or {}
    _write(
        store,
        namespace,
        f"{meta['name']}-runner",
        [
            logrus_line(f"Preparing to run Chaos Experiment: {experiment}"),
            logrus_line(
                f"Started Chaos Experiment Name: {experiment}, with Job Name: "
                f"{job_name}"
            ),
        ],
    )
    _write(
        store,
        namespace,
        pod_name,
        [
            logrus_line(f"Experiment Name: {experiment}"),
            logrus_line(f"[PreReq]: Getting the ENV for the {experiment} experiment"),
            logrus_line(
                f"[PreReq]: Updating the chaos result of {experiment} experiment (SOT)"
            ),
            logrus_line(
                "The application information is as follows",
                Namespace=info.get("appns", namespace),
                Label=info.get("applabel", ""),
                **{"Chaos Duration": env.get("TOTAL_CHAOS_DURATION", "")},
            ),
            logrus_line(
                "[Status]: Verify that the AUT (Application Under Test) is running "
                "(pre-chaos)"
            ),
        ],
    )


def targets_chosen(
    store: Store, namespace: str, job_name: str, targets: Sequence[str]
) -> None:
    _write_experiment_pods(
        store,
        namespace,
        job_name,
        [
            logrus_line(f"[Chaos]:Number of pods targeted: {len(targets)}"),
            logrus_line(f"[Info]: Target pods list for chaos, [{' '.join(targets)}]"),
        ],
    )


def injected(
    store: Store,
    namespace: str,
    job_name: str,
    fault: str,
    targets: Sequence[str],
    duration_s: int,
) -> None:
    lines = [
        logrus_line(
            "[Info]: Details of application under chaos injection",
            PodName=target,
            NodeName="lab-node",
        )
        for target in targets
    ]
    lines.append(logrus_line(f"[Confirmation]: {fault} chaos has been injected"))
    wait = f"[Wait]: Wait for the chaos duration of {duration_s}s"
    lines.append(logrus_line(wait))
    _write_experiment_pods(store, namespace, job_name, lines)


def reverted(
    store: Store, namespace: str, job_name: str, targets: Sequence[str]
) -> None:
    _write_experiment_pods(
        store,
        namespace,
        job_name,
        [
            logrus_line(f"[Chaos]: Revert Started on [{' '.join(targets)}]"),
            logrus_line("[Chaos]: Revert Completed"),
        ],
    )


def verdict(
    store: Store,
    engine: Mapping[str, Any],
    job: Mapping[str, Any],
    pod_name: str,
    outcome: str,
) -> None:
    experiment, job_name = _job_names(job)
    meta = engine["metadata"]
    namespace = meta["namespace"]
    _write(
        store,
        namespace,
        pod_name,
        [
            logrus_line(
                "[Status]: Verify that the AUT (Application Under Test) is running "
                "(post-chaos)"
            ),
            logrus_line(
                f"[The End]: Updating the chaos result of {experiment} experiment (EOT)"
            ),
            logrus_line(f"[Verdict]: The chaos verdict is {outcome}"),
        ],
    )
    _write(
        store,
        namespace,
        f"{meta['name']}-runner",
        [
            logrus_line(
                f"Chaos Pod Completed, Experiment Name: {experiment}, Job Name: "
                f"{job_name}"
            ),
            logrus_line(
                f"Chaos Engine has been updated with result, Experiment Name: "
                f"{experiment}"
            ),
        ],
    )
