"""Chaos Toolkit actions for LitmusChaos: launch faults, wait, stop, clean up.

Engines are created through the Kubernetes API and followed with watches;
every engine launched here has an action that undoes it (stop_engine,
delete_engine). The setup chores (service account and RBAC, the chaos
annotation, installing an experiment) live in :mod:`chaoslitmus.litmus.setup`
and are re-exported here, so one module path serves every Litmus action.
"""

import logging
import time
from typing import Any, Dict, List

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets

from chaoslitmus import _args
from chaoslitmus._redact import redact_url
from chaoslitmus.k8s import Kube, NotFound
from chaoslitmus.litmus import manifests as m
from chaoslitmus.litmus.apply import Launch, check_engines, launch_all
from chaoslitmus.litmus.preflight import preflight
from chaoslitmus.litmus.runs import (
    get_object,
    litmus,
    results_of,
    wait_for_run,
    wait_until_gone,
)
from chaoslitmus.litmus.setup import (
    annotate_app,
    create_chaos_service_account,
    delete_chaos_service_account,
    install_experiment,
    restore_app_annotation,
    uninstall_experiment,
)
from chaoslitmus.litmus.status import (
    RESULT_FINAL_PHASES,
    engine_finished,
    engine_summary,
    result_summary,
)
from chaoslitmus.sources import load_documents

__all__ = [
    "run_experiment",
    "inject_network_latency",
    "create_engine_from_manifest",
    "wait_for_result",
    "wait_for_chaos_started",
    "wait_for_chaos_reverted",
    "stop_engine",
    "delete_engine",
    # setup chores, from chaoslitmus.litmus.setup (listed here for discovery)
    "create_chaos_service_account",
    "delete_chaos_service_account",
    "annotate_app",
    "restore_app_annotation",
    "install_experiment",
    "uninstall_experiment",
]

logger = logging.getLogger("chaostoolkit.litmus")

FINALIZER = "chaosengine.litmuschaos.io/finalizer"


def run_experiment(
    experiment_name: str,
    app_namespace: str,
    app_label: str,
    app_kind: str = "deployment",
    engine_name: str = None,
    namespace: str = None,
    service_account: str = None,
    env: Dict[str, Any] = None,
    probes: List[Dict[str, Any]] = None,
    annotation_check: bool = False,
    job_cleanup_policy: str = "delete",
    litmus_version: str = "3",
    wait: bool = True,
    timeout_s: float = 600,
    fail_on_verdict: bool = False,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Launch a Litmus experiment through a new ChaosEngine and, with `wait`,
    follow it until the ChaosResult of this very run is final.

    The engine goes to `namespace` (default: `app_namespace`), runs as
    `service_account` (default: `<experiment_name>-sa`) and targets the pods
    `app_label` selects (e.g. `app=ratings`) owned by an `app_kind`. `env`
    maps the experiment's variables (TOTAL_CHAOS_DURATION, ...) to values.
    Preflight first: Litmus CRDs served, the ChaosExperiment installed in the
    engine's namespace, the service account present, target pods found, and
    the `litmuschaos.io/chaos` annotation when `annotation_check` is on.
    `litmus_version` "3" builds the 2.x/3.x engine, "1" the 1.x one.
    `engine_name` defaults to `<experiment>-<random suffix>`.

    Returns the engine name and namespace, experiment, phase, verdict
    (Pass/Fail/Error/Stopped), probe success percentage, failure step,
    start/end times and `duration_s`. A Fail or Error verdict is reported,
    and raises only with `fail_on_verdict`. Results are reused across runs by
    Litmus: an earlier run's verdict is never reported as this one's.
    See https://litmuschaos.github.io/litmus/experiments/concepts/chaos-resources/chaos-engine/contents/
    """
    version = m.check_litmus_version(litmus_version)
    m.check_name(experiment_name, "experiment_name", max_len=63)
    m.check_name(app_namespace, "app_namespace", max_len=63)
    label = m.check_label_selector(app_label, single=version == "1")
    _args.choice(app_kind, "app_kind", m.APP_KINDS[version])
    namespace = m.check_name(namespace or app_namespace, "namespace", max_len=63)
    generated = engine_name in (None, "")
    name = m.engine_name_for(experiment_name) if generated else engine_name
    m.check_name(name, "engine_name", max_len=63)
    service_account = m.check_name(
        service_account or f"{experiment_name}-sa", "service_account"
    )
    _args.choice(job_cleanup_policy, "job_cleanup_policy", m.CLEANUP_POLICIES)
    annotation_check = _args.boolean(annotation_check, "annotation_check")
    wait = _args.boolean(wait, "wait")
    fail_on_verdict = _args.boolean(fail_on_verdict, "fail_on_verdict")
    timeout_s = m.check_timeout(timeout_s)
    manifest = m.engine_manifest(
        name=name,
        namespace=namespace,
        experiment_name=experiment_name,
        app_namespace=app_namespace,
        app_label=label,
        app_kind=app_kind,
        service_account=service_account,
        env=m.env_list(env),
        probes=m.check_probes(probes),
        annotation_check=annotation_check,
        job_cleanup_policy=job_cleanup_policy,
        litmus_version=version,
    )
    kube = Kube(secrets).within(timeout_s)
    found = preflight(kube, manifest, annotation_check)
    outcome = _launch(kube, manifest, generated, wait)[0]
    outcome["target_pods"] = found["target_pods"]
    # What was asked, so a journal (and the report) shows the fault's settings.
    outcome["parameters"] = {
        "app_namespace": app_namespace,
        "app_label": label,
        "app_kind": app_kind,
        "env": {e["name"]: e["value"] for e in m.env_list(env)},
    }
    return _check_verdict(outcome, fail_on_verdict)


def inject_network_latency(
    app_namespace: str,
    app_label: str,
    latency_ms: int = 3000,
    duration_s: int = 30,
    jitter_ms: int = 0,
    target_container: str = None,
    network_interface: str = "eth0",
    pods_affected_perc: int = 0,
    target_pods: List[str] = None,
    destination_hosts: List[str] = None,
    destination_ips: List[str] = None,
    ramp_time_s: int = 0,
    container_runtime: str = None,
    socket_path: str = None,
    app_kind: str = "deployment",
    engine_name: str = None,
    namespace: str = None,
    service_account: str = None,
    litmus_version: str = "3",
    wait: bool = True,
    timeout_s: float = 0,
    fail_on_verdict: bool = False,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Delay the network of pods for a while with Litmus `pod-network-latency`.

    Adds `latency_ms` (+/- `jitter_ms`) to the egress of the target pods for
    `duration_s` seconds, after `ramp_time_s`. By default Litmus picks ONE
    random pod that `app_label` selects; `pods_affected_perc` (1-100; 0, the
    default, leaves it to Litmus) or `target_pods` (names) choose more.
    `destination_hosts`/`destination_ips` limit the delay to some
    destinations. `target_container` (default: the pod's first container),
    `network_interface` (default eth0), `container_runtime` (docker,
    containerd, crio) and `socket_path` are passed to Litmus as they are.
    `timeout_s` 0 (the default) means the fault's duration plus 300 s for
    pod start-up. Numbers may be given as exact numeric strings ("1000", as
    `chaos run --var` passes them). Other arguments as in `run_experiment`.
    Returns what `run_experiment` returns.
    See https://litmuschaos.github.io/litmus/experiments/categories/pods/pod-network-latency/
    """
    env = m.network_latency_env(
        latency_ms=latency_ms,
        duration_s=duration_s,
        jitter_ms=jitter_ms,
        target_container=target_container,
        network_interface=network_interface,
        pods_affected_perc=pods_affected_perc,
        target_pods=target_pods,
        destination_hosts=destination_hosts,
        destination_ips=destination_ips,
        ramp_time_s=ramp_time_s,
        container_runtime=container_runtime,
        socket_path=socket_path,
    )
    auto = timeout_s is None or (
        _args.number(timeout_s, "timeout_s", 0, _args.MAX_SECONDS) == 0
    )
    if auto:
        timeout_s = int(env["TOTAL_CHAOS_DURATION"]) + int(env.get("RAMP_TIME", 0))
        timeout_s += 300
    return run_experiment(
        "pod-network-latency",
        app_namespace,
        app_label,
        app_kind=app_kind,
        engine_name=engine_name,
        namespace=namespace,
        service_account=service_account,
        env=env,
        litmus_version=litmus_version,
        wait=wait,
        timeout_s=timeout_s,
        fail_on_verdict=fail_on_verdict,
        secrets=secrets,
    )


def create_engine_from_manifest(
    path_or_url: str,
    namespace: str = None,
    wait: bool = True,
    timeout_s: float = 600,
    allow_insecure: bool = False,
    fail_on_verdict: bool = False,
    secrets: Secrets = None,
) -> List[Dict[str, Any]]:
    """Create the ChaosEngine(s) of a YAML file or https URL and follow them.

    Multi-document YAML is fine; every document must be a
    `litmuschaos.io/v1alpha1` ChaosEngine, and all are checked (preflight and
    a server-side dry run included) before any is created: all are created or
    none (one that fails late is undone). `namespace` overrides the
    manifests' namespace. Names are kept as written (use
    `metadata.generateName` for a fresh name each run). A URL is fetched
    within `timeout_s` (60 s at most). Returns one outcome per engine, as
    `run_experiment`, each with `created_engines`: every engine this call
    created.
    """
    _args.text(path_or_url, "path_or_url")
    namespace = _args.optional_text(namespace, "namespace")
    if namespace:
        m.check_name(namespace, "namespace", max_len=63)
    wait = _args.boolean(wait, "wait")
    timeout_s = m.check_timeout(timeout_s)
    allow_insecure = _args.boolean(allow_insecure, "allow_insecure")
    fail_on_verdict = _args.boolean(fail_on_verdict, "fail_on_verdict")
    documents = load_documents(path_or_url, allow_insecure, timeout_s)
    source = redact_url(path_or_url)
    engines = check_engines(documents, source, namespace)
    kube = Kube(secrets).within(timeout_s)
    for engine, _ in engines:
        annotation_check = (engine["spec"].get("annotationCheck") or "false") == "true"
        preflight(kube, engine, annotation_check)
    launches = launch_all(kube, engines, source)
    created = [launch.name for launch in launches]
    kube = kube.within(timeout_s)
    outcomes = []
    try:
        for launch in launches:
            outcomes.extend(_follow(kube, launch, wait))
    except ActivityFailed as exc:
        raise ActivityFailed(
            f"{exc} (engines this call created: {', '.join(created)})"
        ) from None
    for outcome in outcomes:
        outcome["created_engines"] = created
        _check_verdict(outcome, fail_on_verdict)
    return outcomes


def wait_for_result(
    engine_name: str,
    namespace: str,
    timeout_s: float = 600,
    fail_on_verdict: bool = False,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Wait until the current run of an existing ChaosEngine has its verdict.

    Use it after `run_experiment(..., wait=false)`, or in a rollback to put
    the verdict in the journal. Follows the engine's first experiment.
    """
    fail_on_verdict = _args.boolean(fail_on_verdict, "fail_on_verdict")
    timeout_s = m.check_timeout(timeout_s)
    kube, engine = _existing_engine(engine_name, namespace, timeout_s, secrets)
    return _check_verdict(
        _follow_existing(kube, engine, timeout_s, "final"), fail_on_verdict
    )


def wait_for_chaos_started(
    engine_name: str,
    namespace: str,
    timeout_s: float = 300,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Wait until this engine's run has really put its fault on a target.

    Litmus marks its ChaosResult Running before it picks targets, waits
    RAMP_TIME and starts the helper pod (seconds to minutes on a cluster);
    the fault is on only once the helper annotates the result with
    `pod/<target>=injected` (docs/litmus-behaviour.md). Returns then, with
    `targets` (the pods faulted), `injected_at` and `inject_lag_s` (from
    Running to injected). Litmus 1.x writes no such mark: its Running is
    taken instead and `injection_evidence` says so.

    Fails, with a line starting "fault NOT injected", when the engine had
    already finished when the wait began (an engine left by an earlier run),
    when this run ends before any injection, or at the timeout.
    """
    timeout_s = m.check_timeout(timeout_s)
    kube, engine = _existing_engine(engine_name, namespace, timeout_s, secrets)
    _refuse_finished(engine)
    return _follow_existing(kube, engine, timeout_s, "injected")


def wait_for_chaos_reverted(
    engine_name: str,
    namespace: str,
    timeout_s: float = 300,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Wait until every target this run injected is marked reverted, or the
    run has ended (Litmus reverts before it writes a verdict).

    Returns what `wait_for_chaos_started` returns, plus `reverted_at`.
    """
    kube, engine = _existing_engine(engine_name, namespace, timeout_s, secrets)
    if engine_finished(engine, (results_of(engine) or [("", "")])[0][0]):
        return _follow_existing(kube, engine, timeout_s, "final")
    return _follow_existing(kube, engine, timeout_s, "reverted")


def stop_engine(
    engine_name: str, namespace: str, secrets: Secrets = None
) -> Dict[str, Any]:
    """Abort a ChaosEngine's run (`engineState: stop`); Litmus reverts the fault.

    Safe as a rollback: a missing or already finished engine is not an error.
    """
    m.check_name(engine_name, "engine_name")
    m.check_name(namespace, "namespace")
    kube = Kube(secrets)
    engine = get_object(kube, namespace, m.ENGINES, engine_name)
    if engine is None:
        return {
            "engine_name": engine_name,
            "namespace": namespace,
            "stopped": False,
            "reason": "not found",
        }
    before = engine_summary(engine)
    if before["engine_state"] == "stop":
        return {
            "engine_name": engine_name,
            "namespace": namespace,
            "stopped": False,
            "reason": f"already stopped ({before['engine_status'] or 'no status'})",
        }
    try:
        after = litmus(kube, namespace, m.ENGINES).patch(
            engine_name, {"spec": {"engineState": "stop"}}
        )
    except NotFound:
        return {
            "engine_name": engine_name,
            "namespace": namespace,
            "stopped": False,
            "reason": "not found",
        }
    return {
        "engine_name": engine_name,
        "namespace": namespace,
        "stopped": True,
        "engine_status": engine_summary(after)["engine_status"],
    }


def delete_engine(
    engine_name: str,
    namespace: str,
    wait_for_cleanup: bool = True,
    timeout_s: float = 120,
    secrets: Secrets = None,
) -> Dict[str, Any]:
    """Delete a ChaosEngine; Litmus ends its fault and removes its pods.

    With `wait_for_cleanup`, waits until the operator has removed its
    finalizer and the engine is gone. Safe as a rollback: a missing engine is
    not an error. The engine's ChaosResult is kept (it has no owner).
    """
    m.check_name(engine_name, "engine_name")
    m.check_name(namespace, "namespace")
    wait_for_cleanup = _args.boolean(wait_for_cleanup, "wait_for_cleanup")
    timeout_s = m.check_timeout(timeout_s)
    kube = Kube(secrets).within(timeout_s)
    began = time.monotonic()
    base = {"engine_name": engine_name, "namespace": namespace}
    engines = litmus(kube, namespace, m.ENGINES)
    if engines.delete(engine_name) is None:
        return {**base, "deleted": False, "reason": "not found"}
    if not wait_for_cleanup:
        return {**base, "deleted": True, "gone": False}

    def still_waiting() -> None:
        logger.info(
            "waiting for ChaosEngine '%s' to be deleted: finalizer still there "
            "(%.0fs of %gs)",
            engine_name,
            time.monotonic() - began,
            timeout_s,
        )

    if not wait_until_gone(
        kube, namespace, m.ENGINES, engine_name, began + timeout_s, still_waiting
    ):
        raise ActivityFailed(
            f"ChaosEngine '{engine_name}' in '{namespace}' is still there after "
            f"{timeout_s:g}s: its finalizer {FINALIZER} is removed by the Litmus "
            "operator; check that chaos-operator runs, or remove the finalizer "
            "by hand "
            f"(kubectl patch chaosengine {engine_name} -n {namespace} --type merge "
            '-p \'{"metadata":{"finalizers":null}}\')'
        )
    return {
        **base,
        "deleted": True,
        "gone": True,
        "waited_s": round(time.monotonic() - began, 3),
    }


# --- helpers -----------------------------------------------------------------


def _launch(kube: Kube, manifest: dict, generated: bool, wait: bool) -> list[dict]:
    """Create one engine and follow each of its experiments, by ``kube.deadline``."""
    launch = Launch(manifest, generated).read_priors(kube)
    launch.create(kube)
    return _follow(kube, launch, wait)


def _follow(kube: Kube, launch: Launch, wait: bool) -> list[dict]:
    """Outcomes of a created engine: launched, or (``wait``) its verdicts."""
    engine = launch.engine or launch.manifest
    if not wait:
        return [
            {
                "engine_name": launch.name,
                "namespace": launch.namespace,
                "experiment": exp,
                "result_name": result,
                "engine_uid": engine["metadata"].get("uid", ""),
                "phase": "Launched",
                "verdict": "Awaited",
                "started_at": launch.started_at,
            }
            for exp, result in launch.pairs
        ]
    deadline = kube.deadline or time.monotonic() + 600
    outcomes = []
    for experiment, result in launch.pairs:
        outcomes.append(
            wait_for_run(
                kube,
                engine,
                experiment,
                result,
                launch.priors.get(result),
                max(1.0, deadline - time.monotonic()),
                started_at=launch.started_at,
            )
        )
    return outcomes


def _existing_engine(
    engine_name: str, namespace: str, timeout_s: float, secrets: Secrets
) -> tuple[Kube, dict]:
    m.check_name(engine_name, "engine_name")
    m.check_name(namespace, "namespace")
    timeout_s = m.check_timeout(timeout_s)
    kube = Kube(secrets).within(timeout_s)
    engine = get_object(kube, namespace, m.ENGINES, engine_name)
    if engine is None:
        raise ActivityFailed(
            f"ChaosEngine '{engine_name}' not found in namespace '{namespace}'"
        )
    return kube, engine


def _refuse_finished(engine: dict) -> None:
    """An engine already over when we start waiting is not this run's fault."""
    summary = engine_summary(engine)
    pairs = results_of(engine)
    experiment = pairs[0][0] if pairs else ""
    if engine_finished(engine, experiment) or summary["engine_state"] == "stop":
        entry = next(iter(summary["experiments"]), {})
        raise ActivityFailed(
            f"fault NOT injected: ChaosEngine '{summary['engine_name']}' in "
            f"'{summary['namespace']}' had already finished when this wait began "
            f"(engine status {summary['engine_status'] or 'none'}, state "
            f"{summary['engine_state'] or 'none'}, verdict "
            f"{entry.get('verdict') or 'none'}): it is left from an earlier run; "
            "delete it (delete_engine) and launch the fault again"
        )


def _follow_existing(kube: Kube, engine: dict, timeout_s: float, until: str) -> dict:
    namespace = engine["metadata"]["namespace"]
    pairs = results_of(engine)
    if not pairs:
        raise ActivityFailed(
            f"ChaosEngine '{engine['metadata']['name']}' lists no experiments"
        )
    experiment, result = pairs[0]
    current = get_object(kube, namespace, m.RESULTS, result)
    prior = current if _left_by_earlier_run(current, engine, experiment) else None
    return wait_for_run(kube, engine, experiment, result, prior, timeout_s, until)


def _left_by_earlier_run(result: dict | None, engine: dict, experiment: str) -> bool:
    """Whether a result still shows the verdict of an earlier, same-named engine.

    Litmus labels results with the engine's uid (chaosUID); without that label
    (old versions) a final result next to an engine still running is stale.
    """
    if not result:
        return False
    uid = (result["metadata"].get("labels") or {}).get("chaosUID")
    if uid:
        return uid != engine["metadata"].get("uid")
    final = result_summary(result)["phase"] in RESULT_FINAL_PHASES
    return final and not engine_finished(engine, experiment)


def _check_verdict(outcome: dict, fail_on_verdict: bool) -> dict:
    if fail_on_verdict and outcome.get("verdict") not in ("Pass", "Awaited"):
        raise ActivityFailed(
            f"ChaosEngine '{outcome['engine_name']}' ended with verdict "
            f"{outcome.get('verdict') or 'none'} (phase {outcome.get('phase')}, "
            f"{outcome.get('failure_step') or 'no failure step'})"
        )
    return outcome
