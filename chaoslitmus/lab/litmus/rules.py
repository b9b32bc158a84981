"""Pure decisions of the lab's Litmus stand-in (no I/O, no clock, no asyncio).

Each function mirrors one rule of chaos-operator / chaos-runner / litmus-go as
described in docs/litmus-behaviour.md, so the rules can be tested
directly and the operator loop (`operator.py`) stays plumbing.
"""

from __future__ import annotations

import copy
import random
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chaoslitmus.lab.kube.objectmeta import owner_ref

Shape = Literal["3.x", "1.x"]

# The lab Store's names for the Litmus kinds ("group/version/plural").
ENGINES = "litmuschaos.io/v1alpha1/chaosengines"
EXPERIMENTS = "litmuschaos.io/v1alpha1/chaosexperiments"
RESULTS = "litmuschaos.io/v1alpha1/chaosresults"

FINALIZER = "chaosengine.litmuschaos.io/finalizer"
CHAOS_ANNOTATION = "litmuschaos.io/chaos"
CHAOS_UID_LABEL = "chaosUID"

ENGINE_ACTIVE = "active"
ENGINE_STOP = "stop"
STATUS_INITIALIZED = "initialized"
STATUS_COMPLETED = "completed"
STATUS_STOPPED = "stopped"

# status.experiments[].status values (3.x) and the 1.2.0 success spelling.
ENTRY_WAITING = "Waiting for Job Creation"
ENTRY_RUNNING = "Running"
ENTRY_COMPLETED = "Completed"
ENTRY_ABORTED = "Forcefully Aborted"
ENTRY_SKIPPED = "Skipped"
ENTRY_NOT_FOUND = "ChaosExperiment Not Found"
ENTRY_SUCCESS_1X = "Execution Successful"
YET_TO_BE_LAUNCHED = "Yet to be launched"

# What litmus-go uses when an env value is empty or unset (3.28 code defaults).
CODE_DEFAULTS: dict[str, str] = {
    "NETWORK_LATENCY": "2000",
    "JITTER": "0",
    "TOTAL_CHAOS_DURATION": "60",
    "RAMP_TIME": "0",
    "PODS_AFFECTED_PERC": "0",
    "TARGET_PODS": "",
    "CHAOS_INTERVAL": "10",
    "FORCE": "false",
}

_NAME_CHARS = string.ascii_lowercase + string.digits
# Kubernetes' own alphabet for generated name suffixes (no vowels, no 0/1/3).
_K8S_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


# --------------------------------------------------------------------------- engine


Action = Literal["none", "initialize", "run", "abort", "restart", "delete"]


def decide(engine: Mapping[str, Any], has_run: bool) -> Action:
    """What the operator does next for this engine (chaos-operator's Reconcile).

    The order of checks is the operator's: deletion first, then init, running,
    forceful stop, restart after completion or abort. Stopping a completed
    engine does nothing: completion already set `engineState: stop`.
    """
    meta = engine.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return "delete" if FINALIZER in (meta.get("finalizers") or []) else "none"
    state = (engine.get("spec") or {}).get("engineState") or ENGINE_ACTIVE
    status = (engine.get("status") or {}).get("engineStatus") or ""
    if state == ENGINE_ACTIVE and status == "":
        return "initialize"
    if state == ENGINE_ACTIVE and status == STATUS_INITIALIZED:
        return "none" if has_run else "run"
    if state == ENGINE_STOP and status == STATUS_INITIALIZED:
        return "abort"
    if state == ENGINE_ACTIVE and status in (STATUS_COMPLETED, STATUS_STOPPED):
        return "restart"
    return "none"


def appinfo_error(spec: Mapping[str, Any]) -> str | None:
    """3.x rule: appkind and applabel are both set or both empty."""
    info = spec.get("appinfo") or {}
    kind, label = info.get("appkind") or "", info.get("applabel") or ""
    if bool(kind) != bool(label):
        return (
            "appinfo needs both appkind and applabel or neither "
            f"(appkind={kind!r}, applabel={label!r})"
        )
    return None


def app_namespace(engine: Mapping[str, Any]) -> str:
    """`appinfo.appns`, defaulting to the engine's namespace (3.x operator)."""
    info = (engine.get("spec") or {}).get("appinfo") or {}
    return info.get("appns") or engine["metadata"]["namespace"]


def annotation_check_on(spec: Mapping[str, Any], shape: Shape) -> bool:
    """Whether the target workload must carry `litmuschaos.io/chaos: "true"`.

    The key defaults to "true" up to 1.13.3 (our 1.x shape is 1.2.0) and is
    absent from 3.x, where only an explicit "true" turns it on.
    """
    value = spec.get("annotationCheck")
    if value in (None, ""):
        return shape == "1.x"
    return str(value).lower() == "true"


def cleanup_deletes(spec: Mapping[str, Any], shape: Shape) -> bool:
    """jobCleanUpPolicy: 3.x deletes only on "delete"; 1.2.0 treats empty as delete."""
    policy = spec.get("jobCleanUpPolicy") or ""
    return policy == "delete" or (shape == "1.x" and policy == "")


# --------------------------------------------------------------------------- env


def env_to_dict(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """A k8s EnvVar list as a dict; `valueFrom` entries cannot be resolved here
    and are skipped (the lab has no secrets/configmap resolution)."""
    out: dict[str, str] = {}
    for item in items or []:
        name = item.get("name")
        if not name or "value" not in item:
            continue
        value = item.get("value")
        out[str(name)] = "" if value is None else str(value)
    return out


def merge_env(*layers: Mapping[str, str]) -> dict[str, str]:
    """Later layers win (experiment definition < engine components.env)."""
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def env_value(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    """litmus-go's Getenv: empty string means unset, so the code default applies."""
    value = env.get(name, "")
    if value.strip() == "":
        return CODE_DEFAULTS.get(name, "") if default is None else default
    return value.strip()


def env_int(env: Mapping[str, str], name: str, default: str | None = None) -> int:
    """An integer env value; a non-number reads as 0, like litmus-go's ignored
    `strconv.Atoi` error."""
    try:
        return int(env_value(env, name, default))
    except ValueError:
        return 0


def env_bool(env: Mapping[str, str], name: str, default: str | None = None) -> bool:
    return env_value(env, name, default).lower() == "true"


def experiment_env(
    experiment: Mapping[str, Any] | None, engine_experiment: Mapping[str, Any]
) -> dict[str, str]:
    """The env the experiment pod sees: definition env, then engine overrides."""
    definition = ((experiment or {}).get("spec") or {}).get("definition") or {}
    components = (engine_experiment.get("spec") or {}).get("components") or {}
    return merge_env(
        env_to_dict(definition.get("env")), env_to_dict(components.get("env"))
    )


def result_name(engine_name: str, experiment_name: str, env: Mapping[str, str]) -> str:
    """`<engine>-<experiment>`, plus `-<INSTANCE_ID>` when the env sets one."""
    instance = env.get("INSTANCE_ID", "").strip()
    base = f"{engine_name}-{experiment_name}"
    return f"{base}-{instance}" if instance else base


# --------------------------------------------------------------------------- names


def random_suffix(rng: random.Random, length: int = 6) -> str:
    """The lowercase suffix the runner appends to Job names."""
    return "".join(rng.choice(_NAME_CHARS) for _ in range(length))


def pod_suffix(rng: random.Random, length: int = 5) -> str:
    """A suffix in the alphabet Kubernetes uses for generated pod names."""
    return "".join(rng.choice(_K8S_SUFFIX_CHARS) for _ in range(length))


# --------------------------------------------------------------------------- targets


class ChaosError(Exception):
    """A failed run: the result gets phase/verdict Error and this errorCode."""

    error_code = "CHAOS_INJECT_ERROR"


class TargetSelectionError(ChaosError):
    """No usable target."""

    error_code = "TARGET_SELECTION_ERROR"


class StatusCheckError(ChaosError):
    """The application did not come back (pods not Running in time)."""

    error_code = "STATUS_CHECKS_ERROR"


# Owner chains from an app kind down to the pod's direct owner.
_KIND_CHAINS: dict[str, tuple[str, ...]] = {
    "deployment": ("Deployment", "ReplicaSet"),
    "rollout": ("Rollout", "ReplicaSet"),
    "deploymentconfig": ("DeploymentConfig", "ReplicationController"),
    "statefulset": ("StatefulSet",),
    "daemonset": ("DaemonSet",),
}


def controller_of(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the controlling owner, or the first owner."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    chosen = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    return (chosen["kind"], chosen["name"]) if chosen else None


def pod_workload(
    pod: Mapping[str, Any], intermediates: Mapping[tuple[str, str], Mapping[str, Any]]
) -> tuple[str, str] | None:
    """The workload (kind, name) owning a pod, walking through a ReplicaSet or
    ReplicationController when there is one (`intermediates` maps (kind, name)
    to those objects in the pod's namespace)."""
    owner = controller_of(pod)
    if owner is None:
        return None
    if owner[0] in ("ReplicaSet", "ReplicationController"):
        parent = intermediates.get(owner)
        top = controller_of(parent) if parent else None
        return top or owner
    return owner


def is_candidate(pod: Mapping[str, Any]) -> bool:
    """A pod chaos may pick: not being deleted, not a chaos pod, Running."""
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    if CHAOS_UID_LABEL in (meta.get("labels") or {}):
        return False
    return (pod.get("status") or {}).get("phase") == "Running"


def filter_by_kind(
    pods: Iterable[Mapping[str, Any]],
    appkind: str,
    intermediates: Mapping[tuple[str, str], Mapping[str, Any]],
    names: Sequence[str] | None = None,
) -> list[Mapping[str, Any]]:
    """Pods whose workload is of `appkind` (and, if given, one of `names`)."""
    chain = _KIND_CHAINS.get(appkind.lower())
    if chain is None:
        raise TargetSelectionError(f"unsupported app kind {appkind!r}")
    out = []
    for pod in pods:
        workload = pod_workload(pod, intermediates)
        if workload is None or workload[0] != chain[0]:
            continue
        if names is not None and workload[1] not in names:
            continue
        out.append(pod)
    return out


def affected_count(perc: int, total: int) -> int:
    """litmus-go: max(1, floor(min(perc, 100) * total / 100))."""
    perc = max(0, min(perc, 100))
    return max(1, perc * total // 100)


def pick_targets(candidates: Sequence[str], perc: int, rng: random.Random) -> list[str]:
    """Consecutive pods (wrapping) from a random index, as litmus-go picks them.

    `candidates` must be in a stable order (the operator sorts by name, as an
    apiserver list does).
    """
    if not candidates:
        return []
    count = min(affected_count(perc, len(candidates)), len(candidates))
    start = rng.randrange(len(candidates))
    return [candidates[(start + i) % len(candidates)] for i in range(count)]


def split_names(value: str) -> list[str]:
    """A comma-separated list as litmus writes them ("a, b,,c" -> [a, b, c])."""
    return [part.strip() for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class TargetSpec:
    """Where a run looks for targets, derived from the engine."""

    namespace: str
    label: str
    kind: str
    selectors: Mapping[str, Any] | None

    def describe(self) -> str:
        if self.selectors:
            return f"selectors {dict(self.selectors)}"
        return (
            f"{{kind: {self.kind or '-'}, namespace: {self.namespace}, "
            f"label: {self.label or '-'}}}"
        )


def target_spec(engine: Mapping[str, Any]) -> TargetSpec:
    spec = engine.get("spec") or {}
    info = spec.get("appinfo") or {}
    return TargetSpec(
        namespace=app_namespace(engine),
        label=info.get("applabel") or "",
        kind=info.get("appkind") or "",
        selectors=spec.get("selectors") or None,
    )


# --------------------------------------------------------------------------- status


def engine_entry(
    name: str,
    engine_name: str,
    status: str,
    verdict: str,
    experiment_pod: str,
    now: str,
    shape: Shape,
) -> dict[str, Any]:
    """One `status.experiments[]` entry (1.2.0 entries carry no runner/pod)."""
    if shape == "1.x":
        return {
            "name": name,
            "status": status,
            "verdict": verdict,
            "lastUpdateTime": now,
        }
    return {
        "name": name,
        "runner": f"{engine_name}-runner",
        "experimentPod": experiment_pod,
        "status": status,
        "verdict": verdict,
        "lastUpdateTime": now,
    }


def abort_entries(
    entries: Iterable[Mapping[str, Any]], now: str
) -> list[dict[str, Any]]:
    """Running or waiting entries become Forcefully Aborted / Stopped."""
    out = []
    for entry in entries:
        entry = dict(entry)
        if entry.get("status") in (ENTRY_RUNNING, ENTRY_WAITING):
            entry.update(status=ENTRY_ABORTED, verdict="Stopped", lastUpdateTime=now)
        out.append(entry)
    return out


def empty_history() -> dict[str, Any]:
    return {"passedRuns": 0, "failedRuns": 0, "stoppedRuns": 0, "targets": []}


def merge_targets(
    history: Mapping[str, Any] | None,
    names: Iterable[str],
    kind: str,
    chaos_status: str,
) -> dict[str, Any]:
    """history with these targets set to `chaos_status` (added if new)."""
    out = copy.deepcopy(dict(history or empty_history()))
    targets: list[dict[str, Any]] = list(out.get("targets") or [])
    for name in names:
        for target in targets:
            if target.get("name") == name and target.get("kind") == kind:
                target["chaosStatus"] = chaos_status
                break
        else:
            targets.append({"name": name, "kind": kind, "chaosStatus": chaos_status})
    out["targets"] = targets
    return out


def revert_targets(history: Mapping[str, Any] | None) -> dict[str, Any]:
    """Injected targets become reverted (helpers remove netem on exit or abort)."""
    out = copy.deepcopy(dict(history or empty_history()))
    for target in out.get("targets") or []:
        if target.get("chaosStatus") == "injected":
            target["chaosStatus"] = "reverted"
    return out


def result_running(status: Mapping[str, Any] | None, shape: Shape) -> dict[str, Any]:
    """Start-of-run result status: history kept, errorOutput cleared."""
    if shape == "1.x":
        return {
            "experimentstatus": {
                "phase": "Running",
                "verdict": "Awaited",
                "failStep": "N/A",
            }
        }
    history = copy.deepcopy(dict((status or {}).get("history") or empty_history()))
    for key in ("passedRuns", "failedRuns", "stoppedRuns"):
        history.setdefault(key, 0)
    history.setdefault("targets", [])
    return {
        "experimentStatus": {
            "phase": "Running",
            "verdict": "Awaited",
            "probeSuccessPercentage": "Awaited",
        },
        "history": history,
    }


Outcome = Literal["Pass", "Error", "Stopped"]


def result_final(
    status: Mapping[str, Any] | None,
    outcome: Outcome,
    shape: Shape,
    error_code: str = "",
    reason: str = "",
) -> dict[str, Any]:
    """End-of-run result status (litmus-go 3.28 phase/verdict table)."""
    status = copy.deepcopy(dict(status or {}))
    if shape == "1.x":
        if outcome == "Stopped":
            # The 1.2.0 ansible experiment has no abort handler: whatever it
            # last wrote (Running/Awaited) stays (docs/litmus-behaviour.md, unsure).
            return status
        verdict = "Pass" if outcome == "Pass" else "Fail"
        fail_step = "N/A" if outcome == "Pass" else (reason or outcome)
        status["experimentstatus"] = {
            "phase": "Completed",
            "verdict": verdict,
            "failStep": fail_step,
        }
        return status
    history = dict(status.get("history") or empty_history())
    experiment_status: dict[str, Any]
    if outcome == "Pass":
        experiment_status = {
            "phase": "Completed",
            "verdict": "Pass",
            "probeSuccessPercentage": "100",
        }
        history["passedRuns"] = int(history.get("passedRuns") or 0) + 1
    elif outcome == "Stopped":
        experiment_status = {
            "phase": "Stopped",
            "verdict": "Stopped",
            "probeSuccessPercentage": "0",
        }
        history["stoppedRuns"] = int(history.get("stoppedRuns") or 0) + 1
    else:
        experiment_status = {
            "phase": "Error",
            "verdict": "Error",
            "probeSuccessPercentage": "0",
            "errorOutput": {"errorCode": error_code, "reason": reason},
        }
    status["experimentStatus"] = experiment_status
    status["history"] = history
    return status


def result_verdict(result: Mapping[str, Any] | None) -> str:
    """The verdict of a result in either shape ("" when there is none)."""
    status = (result or {}).get("status") or {}
    block = status.get("experimentStatus") or status.get("experimentstatus") or {}
    return str(block.get("verdict") or "")


# --------------------------------------------------------------------------- objects


def runner_pod(engine: Mapping[str, Any], default_image: str) -> dict[str, Any]:
    """`<engine>-runner` as chaos-operator builds it (owned by the engine)."""
    meta, spec = engine["metadata"], engine.get("spec") or {}
    runner = (spec.get("components") or {}).get("runner") or {}
    labels = {
        "app": meta["name"],
        CHAOS_UID_LABEL: meta["uid"],
        "app.kubernetes.io/component": "chaos-runner",
        "app.kubernetes.io/part-of": "litmus",
        **(runner.get("runnerLabels") or {}),
    }
    env = {
        "CHAOSENGINE": meta["name"],
        "APP_LABEL": ((spec.get("appinfo") or {}).get("applabel") or ""),
        "APP_KIND": ((spec.get("appinfo") or {}).get("appkind") or ""),
        "APP_NAMESPACE": app_namespace(engine),
        "EXPERIMENT_LIST": ",".join(
            e.get("name", "") for e in spec.get("experiments") or []
        ),
        "CHAOS_SVC_ACC": spec.get("chaosServiceAccount") or "",
        "CHAOS_NAMESPACE": meta["namespace"],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-runner",
            "namespace": meta["namespace"],
            "labels": labels,
            "ownerReferences": [owner_ref(engine)],
        },
        "spec": {
            "serviceAccountName": spec.get("chaosServiceAccount") or "",
            "restartPolicy": "OnFailure",
            "containers": [
                {
                    "name": "chaos-runner",
                    "image": runner.get("image") or default_image,
                    "imagePullPolicy": "IfNotPresent",
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                }
            ],
        },
    }


def job_manifest(
    engine: Mapping[str, Any],
    experiment: Mapping[str, Any],
    env: Mapping[str, str],
    job_name: str,
) -> dict[str, Any]:
    """The experiment Job the runner creates (runner env first, then `env`)."""
    meta, spec = engine["metadata"], engine.get("spec") or {}
    exp_name = experiment["metadata"]["name"]
    definition = (experiment.get("spec") or {}).get("definition") or {}
    labels = {
        **(definition.get("labels") or {}),
        "name": exp_name,
        "job-name": job_name,
        CHAOS_UID_LABEL: meta["uid"],
    }
    runner_env = {
        "CHAOSENGINE": meta["name"],
        "CHAOS_NAMESPACE": meta["namespace"],
        "CHAOS_UID": meta["uid"],
        "EXPERIMENT_NAME": exp_name,
        "CHAOS_SERVICE_ACCOUNT": spec.get("chaosServiceAccount") or "",
    }
    container = {
        "name": exp_name,
        "image": definition.get("image") or "",
        "command": list(definition.get("command") or []),
        "args": list(definition.get("args") or []),
        "env": [{"name": k, "value": v} for k, v in merge_env(runner_env, env).items()],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name,
            "namespace": meta["namespace"],
            "labels": labels,
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": spec.get("chaosServiceAccount") or "",
                    "restartPolicy": "Never",
                    "containers": [container],
                },
            },
        },
    }


def job_pod(job: Mapping[str, Any], pod_name: str) -> dict[str, Any]:
    """The pod the Job controller starts for `job` (needs the Job's uid)."""
    template = job["spec"]["template"]
    labels = {
        **template["metadata"]["labels"],
        "controller-uid": job["metadata"]["uid"],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": job["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [owner_ref(job)],
        },
        "spec": copy.deepcopy(template["spec"]),
    }


def terminate_pod_status(status: dict[str, Any]) -> None:
    """In place: the containers exited 0 (what the operator waits for)."""
    status["phase"] = "Succeeded"
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Ready", "ContainersReady"):
            condition["status"] = "False"
            condition["reason"] = "PodCompleted"
    for container in status.get("containerStatuses") or []:
        running = (container.get("state") or {}).get("running") or {}
        container["ready"] = False
        container["started"] = False
        container["state"] = {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": running.get("startedAt", ""),
            }
        }
