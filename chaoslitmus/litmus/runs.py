"""Creating ChaosEngines and following one run to its end, with watches."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from chaoslib.exceptions import ActivityFailed

from chaoslitmus.k8s import SYNCED, Conflict, Kube, Resource, follow_many
from chaoslitmus.litmus.manifests import (
    ENGINES,
    GROUP,
    RESULTS,
    VERSION,
    engine_name_for,
    env_value,
    result_name,
)
from chaoslitmus.litmus.status import (
    RunTracker,
    engine_entry,
    engine_finished,
    engine_summary,
    result_summary,
)

NAME_ATTEMPTS = 5


def now_iso() -> str:
    return (
        datetime.now(timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def litmus(kube: Kube, namespace: str, plural: str) -> Resource:
    """Litmus objects of one kind in one namespace."""
    return kube.resource(GROUP, VERSION, plural, namespace)


def get_object(kube: Kube, namespace: str, plural: str, name: str) -> dict | None:
    """A Litmus object, or None when it does not exist."""
    return litmus(kube, namespace, plural).find(name)


def results_of(engine: dict) -> list[tuple[str, str]]:
    """(experiment, ChaosResult name) for each experiment of an engine."""
    name = engine["metadata"]["name"]
    pairs = []
    for experiment in (engine.get("spec") or {}).get("experiments") or []:
        env = ((experiment.get("spec") or {}).get("components") or {}).get("env") or []
        instance = env_value(env, "INSTANCE_ID") or ""
        pairs.append(
            (experiment["name"], result_name(name, experiment["name"], instance))
        )
    return pairs


def create_engine(kube: Kube, manifest: dict, generated_name: bool) -> dict:
    """Create the engine, exactly once per call.

    A create whose answer was lost is recognised by its request id
    (:meth:`Resource.create`), so a retry never leaves a second engine behind; a
    generated name that collides with someone else's engine is drawn again.
    """
    namespace = manifest["metadata"]["namespace"]
    experiment = manifest["spec"]["experiments"][0]["name"]
    for _ in range(NAME_ATTEMPTS):
        name = manifest["metadata"]["name"]
        try:
            return litmus(kube, namespace, ENGINES).create(manifest)
        except Conflict:
            if not generated_name:
                raise ActivityFailed(
                    f"ChaosEngine '{name}' already exists in "
                    f"'{namespace}': delete it first (delete_engine) or leave "
                    "engine_name unset to get a unique name"
                ) from None
            manifest["metadata"]["name"] = engine_name_for(experiment)
    raise ActivityFailed(
        f"could not find a free ChaosEngine name in '{namespace}' after "
        f"{NAME_ATTEMPTS} tries"
    )


def wait_for_run(
    kube: Kube,
    engine: dict,
    experiment: str,
    result: str,
    prior_result: dict | None,
    timeout_s: float,
    until: str = "final",
    started_at: str | None = None,
) -> dict:
    """Follow one run of ``experiment`` in ``engine`` until it ends (or starts).

    Watches the engine and its ChaosResult at once; never reports a verdict
    left by an earlier run (see :class:`RunTracker`).
    """
    namespace = engine["metadata"]["namespace"]
    name = engine["metadata"]["name"]
    started_at = started_at or now_iso()
    began = time.monotonic()
    deadline = began + timeout_s
    tracker = RunTracker(
        engine_uid=engine["metadata"].get("uid", ""),
        experiment=experiment,
        prior_result=prior_result,
    )
    tracker.observe_engine(engine)

    engines = litmus(kube, namespace, ENGINES)
    results = litmus(kube, namespace, RESULTS)
    streams = {
        "engine": lambda stop: engines.watch(name, deadline, stop),
        "result": lambda stop: results.watch(result, deadline, stop),
    }
    outcome = None
    for event in follow_many(streams, deadline):
        if event.type == SYNCED:
            continue
        if event.source == "engine":
            tracker.observe_engine(event.object, deleted=event.type == "DELETED")
        elif event.type != "DELETED":
            tracker.observe_result(event.object)
        if until == "started" and tracker.started():
            outcome = {"phase": "Running", "verdict": "Awaited", "source": "watch"}
            outcome.update(
                {k: v for k, v in result_summary(tracker.result).items() if v}
                if tracker.result_is_ours()
                else {}
            )
            break
        if (
            engine_finished(tracker.engine, experiment)
            and tracker.final_result() is None
        ):
            # The engine may end before its result's event reaches us (the
            # runner copies the verdict from the result): read it directly.
            tracker.observe_result(get_object(kube, namespace, RESULTS, result))
            outcome = tracker.outcome(force=True)
        else:
            outcome = tracker.outcome()
        if outcome is not None:
            break
        if tracker.engine_deleted:
            raise ActivityFailed(
                f"ChaosEngine '{name}' in '{namespace}' was deleted before its run "
                "ended; no verdict"
            )
    if outcome is None:
        raise ActivityFailed(
            _timeout_message(tracker, name, namespace, timeout_s, until)
        )
    ended = time.monotonic()
    summary = engine_summary(tracker.engine)
    return {
        "engine_name": name,
        "namespace": namespace,
        "experiment": experiment,
        "result_name": result,
        "phase": outcome.get("phase", ""),
        "verdict": outcome.get("verdict", ""),
        "probe_success_percentage": outcome.get("probe_success_percentage", ""),
        "failure_step": outcome.get("failure_step", ""),
        "error_code": outcome.get("error_code", ""),
        "history": outcome.get("history") or result_summary(None)["history"],
        "engine_status": summary["engine_status"],
        "engine_state": summary["engine_state"],
        "decided_by": outcome.get("source", ""),
        "started_at": started_at,
        "ended_at": now_iso(),
        "duration_s": round(ended - began, 3),
    }


def _timeout_message(
    tracker: RunTracker, name: str, namespace: str, timeout_s: float, until: str
) -> str:
    engine = engine_summary(tracker.engine)
    entry = engine_entry(tracker.engine, tracker.experiment)
    phase = (
        result_summary(tracker.result).get("phase") if tracker.result_is_ours() else ""
    )
    goal = "start" if until == "started" else "finish"
    return (
        f"ChaosEngine '{name}' in '{namespace}' did not {goal} within {timeout_s:g}s "
        f"(engine status: {engine['engine_status'] or 'none'}, experiment status: "
        f"{entry.get('status') or 'none'}, result phase: {phase or 'none'}); is the "
        "Litmus operator running? The engine is left in place: stop_engine or "
        "delete_engine removes it"
    )
