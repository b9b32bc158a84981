"""An in-process stand-in for LitmusChaos (chaos-operator + chaos-runner + the
go-runner experiment pod) for `pod-network-latency` and `pod-delete`.

It runs as a controller on the lab API server's event loop and talks only to
the Store, so our extension sees, through the real Kubernetes API, what it
would see on a cluster: the engine's finalizer and `engineStatus`, runner and
experiment pods, the Job, `status.experiments[]`, events, and a ChaosResult
whose verdict and history follow litmus-go's rules. The fault itself is
handed to a `FaultSink` (the lab's data plane delays the chosen pods).

This module is the control loop and the run's steps; beside it,
`rules` holds the pure shapes and decisions, `targets` picks the
pods, `results` writes the ChaosResult and engine entries, and
`store_client` makes the controller-style Store calls.

Choices where the lab cannot or does not copy Litmus exactly:

* The runner and experiment pods "start" after `startup_s` (image pulls,
  scheduling). The runner's first `status.experiments[]` entry is written at
  once so the engine shows progress immediately.
* Missing chaosServiceAccount: on a cluster the runner pod is refused by
  admission and the operator retries forever (engine stuck `initialized`).
  The lab instead emits the operator's warning event at once and, after
  `startup_s`, marks the entry `Skipped`/`Fail` (event `ExperimentSkipped`)
  and completes the engine, so a waiting client ends with a clear state.
* annotationCheck "true" (1.x engines, or an explicit "true" on 3.x) with no
  annotated workload: with the 1.x CRDs served the lab reproduces 1.2.0's
  silent failure (engine stays `initialized`, no runner, one log line); with
  the 3.x CRDs it does what chaos-operator 1.7+/3.x does: `engineState: stop`
  and a `ChaosResourcesOperationFailed` event, after which the engine is
  `stopped`.
* A missing first ChaosExperiment (3.x shapes) leaves the engine
  `initialized` with no runner and a `ChaosResourcesOperationFailed` Warning
  event, as chaos-operator does since 3.0.0-beta8; the lab re-checks on the
  engine's next change instead of retrying on a timer. A missing later
  experiment still gives the runner's `ChaosExperiment Not Found` entry.
* Target selection happens before RAMP_TIME, as in litmus-go 3.28.
* After RAMP_TIME the helper pod "starts" for `inject_delay_s` before the
  fault is on; then, like litmus-go's helper, the result gets the annotation
  `pod/<target>=injected` (and `reverted` at the end) and the engine a
  `ChaosInject` event (docs/litmus-behaviour.md).
* Stop with Litmus 1.x shapes leaves the ChaosResult as the experiment last
  wrote it (Running/Awaited): the 1.2.0 ansible experiment had no abort handler.
* pod-delete waits the full CHAOS_INTERVAL after each round, as litmus-go does
  (so a run can outlast TOTAL_CHAOS_DURATION); the interval is clamped to at
  least `min_chaos_interval_s` so a 0 cannot spin the loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.kube.store_client import StoreClient, status_code
from chaoslitmus.lab.litmus import rules, steplog
from chaoslitmus.lab.litmus.faults import FaultSink, RecordingFaultSink, sink_call
from chaoslitmus.lab.litmus.results import Run, RunRecorder
from chaoslitmus.lab.litmus.rules import (
    ENGINES,
    EXPERIMENTS,
    ChaosError,
    Shape,
    StatusCheckError,
    TargetSpec,
)
from chaoslitmus.lab.litmus.targets import TargetFinder

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.store import Store

__all__ = ["LitmusOperator", "litmus_controller"]

log = logging.getLogger("chaoslitmus.lab")

PODS = "v1/pods"
SERVICE_ACCOUNTS = "v1/serviceaccounts"
JOBS = "batch/v1/jobs"
CRDS = "apiextensions.k8s.io/v1/customresourcedefinitions"
RESULT_CRD = "chaosresults.litmuschaos.io"

RUNNER_IMAGE = {
    "3.x": "litmuschaos.docker.scarf.sh/litmuschaos/chaos-runner:3.28.0",
    "1.x": "litmuschaos/chaos-runner:1.2.0",
}

# Experiment-specific code defaults (litmus-go) where they differ from the
# pod-network-latency ones in rules.CODE_DEFAULTS.
POD_DELETE_DEFAULTS = {"TOTAL_CHAOS_DURATION": "15", "CHAOS_INTERVAL": "10"}
STATUS_CHECK_TIMEOUT_S = 180.0  # litmus-go's default statusCheckTimeouts.timeout

_NAME_ARG = re.compile(r"-name\s+([a-z0-9-]+)")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class LitmusOperator:
    """The Litmus 3.x (and enough 1.x) control loop for the lab.

    Args:
        store: the lab API server's Store (call from its event loop only).
        startup_s: seconds for the runner + experiment pods to start.
        fault_sink: where latency/pod-delete faults go (None: a
            RecordingFaultSink, kept as `self.sink`, that only records).
        rng: seeded randomness for target choice and generated names.
        clock: wall-clock UTC `datetime` source for timestamps in objects.
        litmus_version: "3.x" or "1.x" to force the shapes written; None
            reads the served ChaosResult CRD (a legacy schemaless status
            means the 1.x CRDs are installed).
        status_interval_s: how often the runner re-patches its entry while
            the Job runs (Litmus: about 2 s); 0 disables.
        pod_ready_delay_s: how long a pod re-created after pod-delete takes to
            become Ready.
        min_chaos_interval_s: lower bound for pod-delete's CHAOS_INTERVAL.
        inject_delay_s: from the result's Running to the fault being on (the
            helper pod's scheduling, image pull and start on a cluster).
    """

    def __init__(
        self,
        store: Store,
        startup_s: float = 3.0,
        fault_sink: FaultSink | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = _utc_now,
        *,
        litmus_version: Shape | None = None,
        status_interval_s: float = 2.0,
        pod_ready_delay_s: float = 1.0,
        min_chaos_interval_s: float = 0.1,
        inject_delay_s: float = 0.0,
    ) -> None:
        if litmus_version not in (None, "3.x", "1.x"):
            raise ValueError(
                f"litmus_version must be '3.x', '1.x' or None: {litmus_version!r}"
            )
        self.store = store
        self.startup_s = max(0.0, startup_s)
        self.sink: FaultSink = (
            fault_sink if fault_sink is not None else RecordingFaultSink()
        )
        self.rng = rng if rng is not None else random.Random()
        # Names come from their own stream so target choice depends only on
        # the RNG seed and the number of selections, not on how many names we made.
        self._names = random.Random(self.rng.getrandbits(64))
        self.clock = clock
        self.litmus_version = litmus_version
        self.status_interval_s = status_interval_s
        self.pod_ready_delay_s = pod_ready_delay_s
        self.min_chaos_interval_s = min_chaos_interval_s
        self.inject_delay_s = max(0.0, inject_delay_s)
        self.client = StoreClient(store, self._now)
        self.targets = TargetFinder(self.client, self.rng)
        self.record = RunRecorder(self.client, self._now)
        self._runs: dict[str, Run] = {}
        self._stalled: set[str] = set()  # 1.2.0 silent annotation-check failures
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ loop

    async def run(self) -> None:
        """Watch ChaosEngines in all namespaces until cancelled."""
        log.info("litmus operator started (startup %.1fs)", self.startup_s)
        resource_version: str | None = None
        try:
            while True:
                try:
                    async for event_type, obj in self.store.watch(
                        ENGINES, resource_version=resource_version
                    ):
                        if event_type == "ERROR":
                            raise _Gone(obj)
                        resource_version = (obj.get("metadata") or {}).get(
                            "resourceVersion", resource_version
                        )
                        self._handle(event_type, obj)
                except _Gone:
                    resource_version = self._relist()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if status_code(exc) == 410:
                        resource_version = self._relist()
                        continue
                    # CRD not served yet, or a store hiccup: retry from scratch.
                    log.debug("chaosengine watch failed (%s); retrying", exc)
                    resource_version = None
                    await asyncio.sleep(0.5)
        finally:
            for run in list(self._runs.values()):
                if run.task is not None:
                    run.task.cancel()
            for task in list(self._background):
                task.cancel()
            log.info("litmus operator stopped")

    def _relist(self) -> str | None:
        """After 410 Gone: reconcile every engine, resume from the list's version."""
        try:
            items, resource_version = self.store.list(ENGINES)
        except Exception as exc:
            log.debug("chaosengine relist failed: %s", exc)
            return None
        for item in items:
            self._handle("ADDED", item)
        return resource_version

    def _handle(self, event_type: str, obj: Mapping[str, Any]) -> None:
        """Reconcile one engine from its *current* state (events may be stale)."""
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        name, uid = str(meta.get("name") or ""), str(meta.get("uid") or "")
        try:
            if event_type == "DELETED":
                run = self._runs.get(uid)
                if run is not None:
                    self._abort(None, run)
                self._stalled.discard(uid)
                return
            engine = self.client.get(ENGINES, namespace, name)
            if engine is None:
                return
            uid = engine["metadata"]["uid"]
            action = rules.decide(engine, uid in self._runs)
            if action == "initialize":
                self._initialize(engine)
            elif action == "run":
                self._start(engine)
            elif action in ("abort", "delete"):
                self._abort(engine, self._runs.get(uid))
            elif action == "restart":
                self._restart(engine)
        except Exception:
            log.exception("chaosengine %s/%s: reconcile failed", namespace, name)

    # ------------------------------------------------------------ lifecycle

    def _initialize(self, engine: dict[str, Any]) -> None:
        """initEngine: engineState active, engineStatus initialized, finalizer."""
        meta = engine["metadata"]
        log.info(
            "chaosengine %s/%s seen (uid %s): initializing",
            meta["namespace"],
            meta["name"],
            meta["uid"],
        )

        def mutate(obj: dict[str, Any]) -> None:
            obj.setdefault("spec", {})
            if not obj["spec"].get("engineState"):
                obj["spec"]["engineState"] = rules.ENGINE_ACTIVE
            obj.setdefault("status", {})["engineStatus"] = rules.STATUS_INITIALIZED
            self._add_finalizer(obj)

        updated = self.client.update(ENGINES, meta["namespace"], meta["name"], mutate)
        if updated is None:
            return
        self.client.event(
            updated,
            "ChaosEngineInitialized",
            f"Identifying app under test & launching {meta['name']}-runner",
        )
        self._start(updated)

    def _add_finalizer(self, obj: dict[str, Any]) -> None:
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if rules.FINALIZER not in finalizers:
            finalizers.append(rules.FINALIZER)

    def _start(self, engine: dict[str, Any]) -> None:
        """reconcileForCreationAndRunning: validate, launch the runner."""
        meta, spec = engine["metadata"], engine.get("spec") or {}
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        label = f"chaosengine {namespace}/{name}"
        if rules.FINALIZER not in (meta.get("finalizers") or []):
            engine = (
                self.client.update(ENGINES, namespace, name, self._add_finalizer)
                or engine
            )
            self.client.event(
                engine,
                "ChaosEngineInitialized",
                f"Identifying app under test & launching {name}-runner",
            )
        shape = self._shape()
        problem = rules.appinfo_error(spec) if shape == "3.x" else None
        if problem is None and rules.annotation_check_on(spec, shape):
            problem = self.targets.annotation_problem(engine, shape)
            if problem is not None and shape == "1.x":
                if uid not in self._stalled:
                    self._stalled.add(uid)
                    log.warning(
                        "%s: annotation check failed (%s); like Litmus 1.2.0 the "
                        "engine stays initialized with no runner",
                        label,
                        problem,
                    )
                return
        if problem is not None:
            log.warning("%s: %s; setting engineState=stop", label, problem)
            self.client.event(
                engine,
                "ChaosResourcesOperationFailed",
                f"(app identification) {problem}",
                "Warning",
            )
            self.client.update(
                ENGINES,
                namespace,
                name,
                lambda obj: obj["spec"].__setitem__("engineState", rules.ENGINE_STOP),
            )
            return
        self._stalled.discard(uid)
        if not spec.get("experiments"):
            log.warning("%s: no experiments listed; nothing to run", label)
            self.client.event(
                engine,
                "ChaosResourcesOperationFailed",
                "(chaos start) application experiment list is empty",
                "Warning",
            )
            return
        if shape == "3.x" and self._first_experiment_missing(engine, label):
            return
        run = Run(uid=uid, namespace=namespace, name=name, shape=shape)
        service_account = spec.get("chaosServiceAccount") or ""
        if not self.client.exists(SERVICE_ACCOUNTS, namespace, service_account):
            run.sa_missing = True
            log.warning(
                "%s: service account %r not found in %s; the runner pod cannot start",
                label,
                service_account,
                namespace,
            )
            self.client.event(
                engine,
                "ChaosResourcesOperationFailed",
                f"(chaos start) Unable to get chaos resources: serviceaccount "
                f'"{service_account}" not found',
                "Warning",
            )
        else:
            self._ensure_runner_pod(engine, shape)
            log.info("%s: runner pod %s-runner started", label, name)
        self._runs[uid] = run
        run.task = asyncio.get_running_loop().create_task(self._execute(run))

    def _first_experiment_missing(self, engine: dict[str, Any], label: str) -> bool:
        """chaos-operator >= 3.0.0-beta8 reads the first ChaosExperiment before
        it creates the runner: when it is missing the engine stays initialized
        with no runner and a Warning event, retried forever."""
        meta = engine["metadata"]
        first = str((engine["spec"]["experiments"][0] or {}).get("name") or "")
        if self.client.exists(EXPERIMENTS, meta["namespace"], first):
            return False
        if meta["uid"] not in self._stalled:
            self._stalled.add(meta["uid"])
            log.warning(
                "%s: ChaosExperiment %s not found; the engine stays initialized",
                label,
                first,
            )
        self.client.event(
            engine,
            "ChaosResourcesOperationFailed",
            "(chaos start) Unable to get chaos resources: "
            f'chaosexperiments.litmuschaos.io "{first}" not found',
            "Warning",
        )
        return True

    def _abort(self, engine: dict[str, Any] | None, run: Run | None) -> None:
        """reconcileForDelete: end the fault, delete chaos pods, mark stopped.

        Used for `engineState: stop` while initialized and for deletion; it is
        synchronous so no step of the run can interleave with the cleanup.
        """
        if run is not None:
            self._runs.pop(run.uid, None)
            run.aborted = True
            if run.task is not None:
                run.task.cancel()
            self._end_fault(run, aborted=True)
            if run.result_name is not None:
                self.record.finish_result(run, "Stopped")
        if engine is None:
            return
        meta = engine["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        deleted = self._delete_chaos_resources(namespace, uid)
        now = self._now()
        deleting = bool(meta.get("deletionTimestamp"))

        def mutate(obj: dict[str, Any]) -> None:
            finalizers = [
                f
                for f in obj["metadata"].get("finalizers") or []
                if f != rules.FINALIZER
            ]
            obj["metadata"]["finalizers"] = finalizers
            status = obj.setdefault("status", {})
            status["experiments"] = rules.abort_entries(
                status.get("experiments") or [], now
            )
            status["engineStatus"] = rules.STATUS_STOPPED

        updated = self.client.update(ENGINES, namespace, name, mutate)
        if deleted and updated is not None and not deleting:
            self.client.event(
                updated, "ChaosEngineStopped", "Chaos resources deleted successfully"
            )
        log.info(
            "chaosengine %s/%s %s (chaos pods deleted: %d)",
            namespace,
            name,
            "deleted: finalizer removed" if deleting else "stopped",
            deleted,
        )

    def _restart(self, engine: dict[str, Any]) -> None:
        """engineState active again on a completed/stopped engine: run again."""
        meta = engine["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        self._delete_chaos_resources(namespace, uid)

        def mutate(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            status["engineStatus"] = rules.STATUS_INITIALIZED
            status.pop("experiments", None)
            obj["metadata"]["finalizers"] = [
                f
                for f in obj["metadata"].get("finalizers") or []
                if f != rules.FINALIZER
            ]

        updated = self.client.update(ENGINES, namespace, name, mutate)
        if updated is not None:
            self.client.event(updated, "RestartInProgress", "ChaosEngine is restarted")
            log.info("chaosengine %s/%s restarted", namespace, name)

    def _complete(self, run: Run) -> None:
        """The runner exited: engine completed and stopped; clean the runner up."""
        self._runs.pop(run.uid, None)
        engine = self.client.get(ENGINES, run.namespace, run.name)
        if engine is None or engine["metadata"]["uid"] != run.uid:
            return
        runner = f"{run.name}-runner"
        self.client.set_status(PODS, run.namespace, runner, rules.terminate_pod_status)

        def mutate(obj: dict[str, Any]) -> None:
            obj.setdefault("status", {})["engineStatus"] = rules.STATUS_COMPLETED
            obj.setdefault("spec", {})["engineState"] = rules.ENGINE_STOP

        updated = self.client.update(ENGINES, run.namespace, run.name, mutate)
        if updated is None:
            return
        self.client.event(
            updated,
            "ChaosEngineCompleted",
            "ChaosEngine completed, will delete or retain the resources according "
            "to jobCleanUpPolicy",
        )
        if rules.cleanup_deletes(updated.get("spec") or {}, run.shape):
            self.client.delete(PODS, run.namespace, runner)
        log.info(
            "%s completed (verdicts: %s)", run.label, ", ".join(run.verdicts) or "none"
        )

    # ------------------------------------------------------------- the run

    async def _execute(self, run: Run) -> None:
        """The chaos-runner: each listed experiment in order, then exit."""
        try:
            engine = self.client.get(ENGINES, run.namespace, run.name)
            experiments = list(
                ((engine or {}).get("spec") or {}).get("experiments") or []
            )
            for item in experiments:
                if not await self._run_experiment(run, item):
                    break
            if not run.aborted:
                self._complete(run)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: runner failed", run.label)
            self._runs.pop(run.uid, None)

    async def _run_experiment(self, run: Run, item: Mapping[str, Any]) -> bool:
        """One experiment; False when the runner stops after it (skip/not found)."""
        exp_name = str(item.get("name") or "")
        waiting_verdict = "Waiting" if run.shape == "1.x" else "N/A"
        self.record.add_entry(run, exp_name, rules.ENTRY_WAITING, waiting_verdict)
        await self._wait(run, self.startup_s)
        engine = self.client.get(ENGINES, run.namespace, run.name)
        if engine is None:
            return False
        if run.sa_missing:
            self.record.set_entry(run, status=rules.ENTRY_SKIPPED, verdict="Fail")
            self.client.event(
                engine,
                "ExperimentSkipped",
                f"{exp_name} experiment skipped",
                "Warning",
                "chaos-runner",
            )
            run.verdicts.append(f"{exp_name}=Skipped")
            log.warning("%s: %s skipped: no chaos service account", run.label, exp_name)
            return False
        experiment = self.client.get(EXPERIMENTS, run.namespace, exp_name)
        if experiment is None:
            verdict = "Failed" if run.shape == "1.x" else "Fail"
            self.record.set_entry(run, status=rules.ENTRY_NOT_FOUND, verdict=verdict)
            self.client.event(
                engine,
                "ExperimentSkipped",
                f"{exp_name} experiment skipped",
                "Warning",
                "chaos-runner",
            )
            run.verdicts.append(f"{exp_name}=NotFound")
            log.warning(
                "%s: ChaosExperiment %s not found in %s",
                run.label,
                exp_name,
                run.namespace,
            )
            return False
        env = rules.experiment_env(experiment, item)
        job, pod = self._launch_job(run, engine, experiment, env)
        steplog.experiment_started(self.store, engine, job, pod, env)
        if run.shape == "1.x":
            self.record.set_entry(
                run,
                name=job["metadata"]["name"],
                status=rules.ENTRY_RUNNING,
                verdict="Awaited",
            )
        else:
            self.record.set_entry(
                run, status=rules.ENTRY_RUNNING, verdict="Awaited", experimentPod=pod
            )
        self.record.start_result(run, engine, experiment, env, job)
        log.info(
            "%s: experiment %s started (job %s)",
            run.label,
            exp_name,
            job["metadata"]["name"],
        )
        outcome: rules.Outcome = "Pass"
        error_code = reason = ""
        try:
            await self._inject(run, engine, experiment, env, job["metadata"]["name"])
        except ChaosError as exc:
            outcome, error_code, reason = "Error", exc.error_code, str(exc)
            log.warning(
                "%s: %s failed: %s: %s", run.label, exp_name, error_code, reason
            )
        finally:
            if not run.aborted:
                self._end_fault(run, aborted=False)
        if run.aborted:
            return False
        verdict = self.record.finish_result(run, outcome, error_code, reason)
        steplog.verdict(self.store, engine, job, pod, verdict)
        self._finish_job(run, engine, job, pod)
        done = rules.ENTRY_SUCCESS_1X if run.shape == "1.x" else rules.ENTRY_COMPLETED
        self.record.set_entry(run, status=done, verdict=verdict)
        run.verdicts.append(f"{exp_name}={verdict}")
        log.info("%s: %s verdict %s", run.label, exp_name, verdict)
        return True

    async def _inject(
        self,
        run: Run,
        engine: Mapping[str, Any],
        experiment: Mapping[str, Any],
        env: Mapping[str, str],
        job_name: str,
    ) -> None:
        """Select targets, wait RAMP_TIME, then run the fault for its duration."""
        kind = _fault_kind(experiment)
        spec = rules.target_spec(engine)
        if kind == "pod-delete":
            await self._pod_delete(run, spec, env)
            return
        if kind != "pod-network-latency":
            raise ChaosError(f"the lab does not emulate the {kind} fault")
        targets = self.targets.select(run.shape, spec, env)
        steplog.targets_chosen(self.store, run.namespace, job_name, targets)
        await self._wait(run, rules.env_int(env, "RAMP_TIME"))
        await self._wait(run, self.inject_delay_s)  # the helper pod starts
        latency = rules.env_int(env, "NETWORK_LATENCY")
        jitter = rules.env_int(env, "JITTER")
        duration = rules.env_int(env, "TOTAL_CHAOS_DURATION")
        fault_id = f"{run.namespace}/{job_name}"
        self.record.update_result_targets(run, targets, "pod", "targeted")
        run.fault_id = fault_id
        # DESTINATION_* only when set, so sinks that predate them still work.
        peers = [env.get("DESTINATION_HOSTS", ""), env.get("DESTINATION_IPS", "")]
        peers = peers if any(p.strip() for p in peers) else []
        self._sink(
            "start_latency",
            fault_id,
            spec.namespace,
            list(targets),
            latency,
            jitter,
            *peers,
        )
        self.record.update_result_targets(run, targets, "pod", "injected")
        steplog.injected(self.store, run.namespace, job_name, kind, targets, duration)
        self.record.annotate_targets(run, list(targets), "pod", "injected")
        run.injected = list(targets)
        self.client.event(
            engine,
            "ChaosInject",
            f"Injecting {_fault_kind(experiment)} chaos on target pod(s) "
            f"{','.join(targets)}",
            component="experiment",
        )
        log.info(
            "%s: pod-network-latency injected %d±%d ms on %s/%s for %ds",
            run.label,
            latency,
            jitter,
            spec.namespace,
            ",".join(targets),
            duration,
        )
        await self._wait(run, duration)
        self._end_fault(run, aborted=False)
        steplog.reverted(self.store, run.namespace, job_name, targets)
        log.info("%s: pod-network-latency reverted on %s", run.label, ",".join(targets))

    async def _pod_delete(
        self, run: Run, spec: TargetSpec, env: Mapping[str, str]
    ) -> None:
        """litmus-go pod-delete: until the duration has passed, delete the chosen
        pods, wait CHAOS_INTERVAL, then wait for their ReplicaSet's new pods to be
        Running (up to the 180 s status-check timeout)."""
        loop = asyncio.get_running_loop()
        duration = rules.env_int(
            env, "TOTAL_CHAOS_DURATION", POD_DELETE_DEFAULTS["TOTAL_CHAOS_DURATION"]
        )
        interval = rules.env_int(
            env, "CHAOS_INTERVAL", POD_DELETE_DEFAULTS["CHAOS_INTERVAL"]
        )
        force = rules.env_bool(env, "FORCE")
        targets = self.targets.select(run.shape, spec, env)
        await self._wait(run, rules.env_int(env, "RAMP_TIME"))
        start = loop.time()
        while True:
            workloads = self.targets.workload_names(spec.namespace, targets)
            kind = spec.kind or "pod"
            self.record.update_result_targets(
                run, workloads or targets, kind, "targeted"
            )
            restarts = [self._kill_pod(spec.namespace, pod, force) for pod in targets]
            log.info(
                "%s: pod-delete deleted %s/%s",
                run.label,
                spec.namespace,
                ",".join(targets),
            )
            await self._wait(run, max(float(interval), self.min_chaos_interval_s))
            pending = [task for task in restarts if task is not None]
            if pending:
                _, late = await asyncio.wait(pending, timeout=STATUS_CHECK_TIMEOUT_S)
                if late:
                    raise StatusCheckError("re-created pods did not become Running")
            if loop.time() - start >= duration:
                return
            targets = self.targets.select(run.shape, spec, env)

    # ------------------------------------------------------------- faults

    def _end_fault(self, run: Run, aborted: bool) -> None:
        """Stop the latency fault if it is on (helpers remove netem on exit/abort)."""
        if run.fault_id is None:
            return
        fault_id, run.fault_id = run.fault_id, None
        self._sink("stop", fault_id)
        if run.injected:
            self.record.annotate_targets(run, run.injected, "pod", "reverted")
            run.injected = []
        if run.result_name is not None:
            self.record.update_result(
                run,
                lambda status: status.update(
                    history=rules.revert_targets(status.get("history"))
                ),
            )
        if aborted:
            log.info("%s: fault %s ended (abort)", run.label, fault_id)

    def _kill_pod(
        self, namespace: str, name: str, force: bool
    ) -> asyncio.Task[None] | None:
        """Delete a pod and let its ReplicaSet re-create it; the returned task
        ends when the new pod is Ready."""
        pod = self.client.get(PODS, namespace, name)
        if pod is None:
            return None
        self.client.delete(PODS, namespace, name, grace_period_s=0 if force else None)
        self._sink("pod_deleted", namespace, name)
        replacement = world.replacement_pod(
            pod, rules.pod_suffix(self._names), self._now()
        )
        try:
            created = self.client.create_with_status(
                PODS, namespace, replacement, replacement.pop("status")
            )
        except Exception as exc:
            log.warning("could not re-create a pod for %s/%s: %s", namespace, name, exc)
            return None
        task = asyncio.get_running_loop().create_task(
            self._become_ready(namespace, created["metadata"]["name"])
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _become_ready(self, namespace: str, name: str) -> None:
        """The ReplicaSet's new pod starts its containers and turns Ready."""
        await asyncio.sleep(self.pod_ready_delay_s)
        now = self._now()

        def ready(status: dict[str, Any]) -> None:
            world.mark_pod_ready(status, now)

        if self.client.set_status(PODS, namespace, name, ready) is not None:
            self._sink("pod_ready", namespace, name)

    def _sink(self, method: str, *args: Any) -> None:
        try:
            sink_call(self.sink, method, *args)
        except Exception:
            log.exception("fault sink %s%r failed", method, args)

    async def _wait(self, run: Run, seconds: float) -> None:
        """Sleep to a deadline, re-patching the entry like the runner does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, float(seconds))
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            step = remaining
            if self.status_interval_s > 0:
                step = min(remaining, self.status_interval_s)
            await asyncio.sleep(step)
            if (
                deadline - loop.time() > 0
                and self.status_interval_s > 0
                and not (run.aborted or run.sa_missing)
            ):
                self.record.set_entry(run)

    # ------------------------------------------------------------ chaos pods

    def _ensure_runner_pod(self, engine: Mapping[str, Any], shape: Shape) -> None:
        meta = engine["metadata"]
        if self.client.exists(PODS, meta["namespace"], f"{meta['name']}-runner"):
            return
        pod = rules.runner_pod(engine, RUNNER_IMAGE[shape])
        self.client.create_with_status(
            PODS, meta["namespace"], pod, self._running_status(pod)
        )
        steplog.runner_started(self.store, engine)

    def _launch_job(
        self,
        run: Run,
        engine: Mapping[str, Any],
        experiment: Mapping[str, Any],
        env: Mapping[str, str],
    ) -> tuple[dict[str, Any], str]:
        """The runner's Job and the experiment pod the Job controller starts."""
        job_name = f"{experiment['metadata']['name']}-"
        job_name += rules.random_suffix(self._names)
        job = rules.job_manifest(engine, experiment, env, job_name)
        now = self._now()
        job = self.client.create_with_status(
            JOBS, run.namespace, job, {"active": 1, "startTime": now}
        )
        pod_name = f"{job_name}-{rules.pod_suffix(self._names)}"
        pod = rules.job_pod(job, pod_name)
        self.client.create_with_status(
            PODS, run.namespace, pod, self._running_status(pod)
        )
        return job, pod_name

    def _running_status(self, pod: Mapping[str, Any]) -> dict[str, Any]:
        return world.pod_status(pod["spec"], world.DEFAULT_POD_IP, self._now(), True)

    def _finish_job(
        self, run: Run, engine: Mapping[str, Any], job: Mapping[str, Any], pod: str
    ) -> None:
        """Experiment pod exits 0, Job succeeds; delete both per jobCleanUpPolicy."""
        now = self._now()
        job_name = job["metadata"]["name"]
        self.client.set_status(PODS, run.namespace, pod, rules.terminate_pod_status)

        def succeeded(status: dict[str, Any]) -> None:
            status.pop("active", None)
            status.update(
                succeeded=1,
                completionTime=now,
                conditions=[
                    {"type": "Complete", "status": "True", "lastTransitionTime": now}
                ],
            )

        self.client.set_status(JOBS, run.namespace, job_name, succeeded)
        if rules.cleanup_deletes(engine.get("spec") or {}, run.shape):
            self.client.delete(JOBS, run.namespace, job_name)
            self.client.delete(PODS, run.namespace, pod)

    def _delete_chaos_resources(self, namespace: str, uid: str) -> int:
        """Force-delete Jobs and Pods labelled chaosUID=<uid>; how many pods went."""
        selector = f"{rules.CHAOS_UID_LABEL}={uid}"
        count = 0
        for resource in (JOBS, PODS):
            try:
                items = self.client.list(resource, namespace, selector)
            except Exception:
                continue
            for item in items:
                if self.client.delete(
                    resource, namespace, item["metadata"]["name"], grace_period_s=0
                ):
                    count += resource == PODS
        return count

    # ------------------------------------------------------------ store helpers

    def _shape(self) -> Shape:
        """Which Litmus generation's shapes to write (see class docstring)."""
        if self.litmus_version is not None:
            return self.litmus_version
        crd = self.client.get(CRDS, None, RESULT_CRD)
        if crd is None:
            return "3.x"
        for version in (crd.get("spec") or {}).get("versions") or []:
            schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
            status = (schema.get("properties") or {}).get("status") or {}
            if status.get("x-kubernetes-preserve-unknown-fields"):
                return "3.x"
        return "1.x"

    def _now(self) -> str:
        return self.clock().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Gone(Exception):
    """A watch ERROR event (410 Gone: resume by relisting)."""


def _fault_kind(experiment: Mapping[str, Any]) -> str:
    """The go-runner experiment a ChaosExperiment runs (`-name <x>` in its args)."""
    definition = (experiment.get("spec") or {}).get("definition") or {}
    match = _NAME_ARG.search(" ".join(str(a) for a in definition.get("args") or []))
    if match:
        return match.group(1)
    return str(experiment["metadata"]["name"])


def litmus_controller(**options: Any) -> Callable[[Store], Awaitable[None]]:
    """A controller for `ApiServerThread(controllers=[...])`.

    `litmus_controller(startup_s=0.2, fault_sink=sink, rng=random.Random(7))`
    builds a LitmusOperator on the server's Store and runs it.
    """

    async def run(store: Store) -> None:
        await LitmusOperator(store, **options).run()

    return run
