"""Creating ChaosEngines and following one run to its end, with watches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from chaoslib.exceptions import ActivityFailed

from chaoslitmus.k8s import (
    HEARTBEAT,
    SYNCED,
    Conflict,
    Kube,
    Resource,
    follow_many,
)
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
from chaoslitmus.litmus.stuck import STUCK_GRACE_S, looks_stuck, stuck_cause

NAME_ATTEMPTS = 5

logger = logging.getLogger("chaostoolkit.litmus")


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
    """Follow one run of ``experiment`` in ``engine`` until ``until``:

    - ``"final"``: its verdict is written;
    - ``"injected"``: a helper marked a target injected on this run's
      ChaosResult (Litmus 1.x writes no marks: the runner's Running counts);
      a run that ends first raises, since nothing was measured under it;
    - ``"reverted"``: every injected target is reverted, or the run ended.

    Watches the engine and its ChaosResult at once; never reports a verdict
    or a mark left by an earlier run (see :class:`RunTracker`). Logs one INFO
    line about every ``PROGRESS_EVERY_S``.
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
    clock = _WallClock(began)

    engines = litmus(kube, namespace, ENGINES)
    results = litmus(kube, namespace, RESULTS)
    streams = {
        "engine": lambda stop: engines.watch(name, deadline, stop),
        "result": lambda stop: results.watch(result, deadline, stop),
    }
    outcome = None
    last_note = last_check = began
    for event in follow_many(streams, deadline, heartbeat_s=CHECK_EVERY_S):
        now = time.monotonic()
        if now - last_note >= PROGRESS_EVERY_S:
            last_note = now
            logger.info(_progress(tracker, name, until, began, timeout_s))
        if (
            now - began >= STUCK_GRACE_S
            and now - last_check >= CHECK_EVERY_S
            and looks_stuck(tracker.engine)
        ):
            last_check = now
            cause = stuck_cause(kube, tracker.engine)
            if cause:
                prefix = "fault NOT injected: " if until == "injected" else ""
                raise ActivityFailed(prefix + cause)
        if event.type in (SYNCED, HEARTBEAT):
            continue
        if event.source == "engine":
            tracker.observe_engine(event.object, deleted=event.type == "DELETED")
        elif event.type != "DELETED":
            tracker.observe_result(event.object)
        if until == "injected" and _injected(tracker):
            outcome = {"phase": "Running", "verdict": "Awaited", "source": "watch"}
            if tracker.result_is_ours():
                outcome.update(
                    {k: v for k, v in result_summary(tracker.result).items() if v}
                )
            break
        if until == "reverted" and tracker.reverted_at is not None:
            outcome = {"phase": "Running", "verdict": "Awaited", "source": "watch"}
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
            if until == "injected":
                raise ActivityFailed(_ended_before_injection(tracker, name, outcome))
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
        "engine_uid": engine["metadata"].get("uid", ""),
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
        **_evidence(tracker, clock),
        "started_at": started_at,
        "ended_at": now_iso(),
        "duration_s": round(ended - began, 3),
    }


PROGRESS_EVERY_S = 10.0
CHECK_EVERY_S = 2.0


class _WallClock:
    """Turns monotonic instants of this wait into ISO-8601 UTC times."""

    def __init__(self, began: float) -> None:
        self.began = began
        self.wall = datetime.now(timezone.utc)

    def iso(self, instant: float | None) -> str:
        if instant is None:
            return ""
        moment = self.wall + timedelta(seconds=instant - self.began)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _injected(tracker: RunTracker) -> bool:
    if tracker.injected_at is not None:
        return True
    # Litmus 1.x: no marks are ever written; Running is the best evidence.
    return not tracker.annotations_expected() and tracker.running_at is not None


def _evidence(tracker: RunTracker, clock: _WallClock) -> dict:
    """What shows the fault was on in this run, for outputs and the report."""
    targets = tracker.injected_targets()
    if targets:
        evidence = "chaosresult-annotations"
    elif not tracker.annotations_expected():
        evidence = "runner-state (Litmus 1.x writes no injection annotation)"
    else:
        evidence = "none"
    lag = None
    if tracker.injected_at is not None and tracker.running_at is not None:
        lag = round(tracker.injected_at - tracker.running_at, 3)
    return {
        "targets": targets,
        "injection_evidence": evidence,
        "running_at": clock.iso(tracker.running_at),
        "injected_at": clock.iso(tracker.injected_at),
        "inject_lag_s": lag,
        "reverted_at": clock.iso(tracker.reverted_at),
    }


def _progress(
    tracker: RunTracker, name: str, until: str, began: float, timeout_s: float
) -> str:
    engine = engine_summary(tracker.engine)
    entry = engine_entry(tracker.engine, tracker.experiment)
    phase = (
        result_summary(tracker.result).get("phase") if tracker.result_is_ours() else ""
    )
    marks = ",".join(f"{n}={s}" for n, s in sorted(tracker.targets.items()))
    return (
        f"waiting for ChaosEngine '{name}' to be {until}: engine "
        f"{engine['engine_status'] or 'no status'}, experiment "
        f"{entry.get('status') or 'not started'}, result {phase or 'not yet ours'}, "
        f"targets {marks or 'none marked'} "
        f"({time.monotonic() - began:.0f}s of {timeout_s:g}s)"
    )


def _ended_before_injection(tracker: RunTracker, name: str, outcome: dict) -> str:
    detail = ", ".join(
        x
        for x in (
            f"phase {outcome.get('phase') or 'none'}",
            f"verdict {outcome.get('verdict') or 'none'}",
            outcome.get("error_code", ""),
            outcome.get("failure_step", ""),
        )
        if x
    )
    return (
        f"fault NOT injected: the run of ChaosEngine '{name}' ended ({detail}) "
        "before any target was marked injected on its ChaosResult; nothing "
        "measured after this sees the fault"
    )


def _timeout_message(
    tracker: RunTracker, name: str, namespace: str, timeout_s: float, until: str
) -> str:
    engine = engine_summary(tracker.engine)
    entry = engine_entry(tracker.engine, tracker.experiment)
    phase = (
        result_summary(tracker.result).get("phase") if tracker.result_is_ours() else ""
    )
    goal = {"injected": "inject its fault", "reverted": "revert its fault"}.get(
        until, "finish"
    )
    prefix = "fault NOT injected: " if until == "injected" else ""
    return (
        f"{prefix}ChaosEngine '{name}' in '{namespace}' did not {goal} within "
        f"{timeout_s:g}s "
        f"(engine status: {engine['engine_status'] or 'none'}, experiment status: "
        f"{entry.get('status') or 'none'}, result phase: {phase or 'none'}); is the "
        "Litmus operator running? The engine is left in place: stop_engine or "
        "delete_engine removes it"
    )


def wait_until_gone(
    kube: Kube,
    namespace: str,
    plural: str,
    name: str,
    deadline: float,
    on_wait: Callable[[], None] | None = None,
) -> bool:
    """Follow one Litmus object until it is deleted (a finalizer may hold it).

    True once it is gone; False when it is still there at ``deadline`` after
    one last look with a few seconds of its own. ``on_wait`` is called about
    every PROGRESS_EVERY_S while nothing happens, so a caller can say so.
    """
    objects = litmus(kube, namespace, plural)
    seen = False  # the object showed up since the last listing
    stream = {"object": lambda stop: objects.watch(name, deadline, stop)}
    heartbeat_s = PROGRESS_EVERY_S if on_wait else None
    for event in follow_many(stream, deadline, heartbeat_s=heartbeat_s):
        if event.type == HEARTBEAT:
            on_wait()
            continue
        if event.type == "DELETED" or (event.type == SYNCED and not seen):
            return True
        seen = event.type != SYNCED
    return get_object(kube.within(5), namespace, plural, name) is None
