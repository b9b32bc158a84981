"""Checks made before a ChaosEngine is created, so a run that cannot work
fails here with the fix in the message, instead of hanging in the cluster
(litmus#1828, #1214, #5059: engines stuck ``initialized``, wrong namespaces,
missing service accounts).
"""

from __future__ import annotations

from chaoslib.exceptions import ActivityFailed

from chaoslitmus.k8s import Forbidden, Kube
from chaoslitmus.litmus.manifests import (
    CHAOS_ANNOTATION,
    ENGINES,
    EXPERIMENTS,
    GROUP,
    RESULTS,
    VERSION,
    WORKLOAD_PLURALS,
)


def check_crds(kube: Kube) -> None:
    """The three Litmus CRDs are served."""
    missing = [
        p for p in (ENGINES, RESULTS, EXPERIMENTS) if not kube.served(GROUP, VERSION, p)
    ]
    if missing:
        names = ", ".join(f"{p}.{GROUP}" for p in missing)
        raise ActivityFailed(
            f"Litmus CRDs are not served by this cluster ({names}): install Litmus "
            "(chaos-operator and CRDs) first"
        )


def check_namespace(kube: Kube, namespace: str) -> None:
    """The namespace exists (skipped when we may not read namespaces)."""
    try:
        found = kube.resource("", "v1", "namespaces").find(namespace)
    except Forbidden:
        return
    if found is None:
        raise ActivityFailed(
            f"namespace '{namespace}' not found: create it or fix the namespace "
            "argument"
        )


def check_experiment(kube: Kube, namespace: str, experiment: str) -> dict:
    """The ChaosExperiment is installed in the engine's namespace."""
    found = kube.resource(GROUP, VERSION, EXPERIMENTS, namespace).find(experiment)
    if found is None:
        raise ActivityFailed(
            f"ChaosExperiment '{experiment}' is not installed in namespace "
            f"'{namespace}' (Litmus reads it from the engine's namespace): install it "
            "with install_experiment or `kubectl apply -n "
            f"{namespace} -f <chaos-charts fault.yaml>`"
        )
    return found


def check_service_account(kube: Kube, namespace: str, name: str) -> None:
    """The chaos service account exists in the engine's namespace."""
    found = kube.resource("", "v1", "serviceaccounts", namespace).find(name)
    if found is None:
        raise ActivityFailed(
            f"service account '{name}' not found in namespace '{namespace}': create "
            f"it with create_chaos_service_account(namespace='{namespace}', "
            f"name='{name}')"
        )


def target_pods(kube: Kube, namespace: str, label: str) -> list[str]:
    """Names of the pods the label selects; an error if there are none."""
    body = kube.resource("", "v1", "pods", namespace).list(label_selector=label)
    pods = [p["metadata"]["name"] for p in body.get("items", [])]
    if not pods:
        raise ActivityFailed(
            f"no pods match label '{label}' in namespace '{namespace}': check "
            f"app_label (kubectl get pods -n {namespace} --show-labels)"
        )
    return sorted(pods)


def check_annotation(
    kube: Kube, namespace: str, label: str, kind: str, single: bool
) -> list[str]:
    """The workload carries ``litmuschaos.io/chaos: "true"`` (annotationCheck)."""
    plural = WORKLOAD_PLURALS.get(kind)
    if plural is None:
        return []
    body = kube.resource("apps", "v1", plural, namespace).list(label_selector=label)
    items = body.get("items", [])
    annotated = [
        w["metadata"]["name"]
        for w in items
        if ((w["metadata"].get("annotations") or {}).get(CHAOS_ANNOTATION) == "true")
    ]
    if not annotated:
        names = ", ".join(w["metadata"]["name"] for w in items) or "none found"
        raise ActivityFailed(
            f"annotation check is on but no {kind} labelled '{label}' in "
            f"'{namespace}' has {CHAOS_ANNOTATION}=\"true\" ({names}): run "
            "annotate_app, or set annotation_check=false"
        )
    if single and len(annotated) > 1:
        raise ActivityFailed(
            f"annotation check: {len(annotated)} annotated {kind}s match '{label}' "
            f"in '{namespace}' ({', '.join(annotated)}); Litmus 1.x needs exactly one"
        )
    return annotated


def preflight(kube: Kube, engine: dict, annotation_check: bool) -> dict:
    """Run every check for one engine manifest; return what was found."""
    namespace = engine["metadata"]["namespace"]
    spec = engine.get("spec") or {}
    appinfo = spec.get("appinfo") or {}
    app_namespace = appinfo.get("appns") or namespace
    label = appinfo.get("applabel") or ""
    kind = appinfo.get("appkind") or ""

    check_crds(kube)
    check_namespace(kube, namespace)
    if app_namespace != namespace:
        check_namespace(kube, app_namespace)
    for experiment in spec.get("experiments") or []:
        check_experiment(kube, namespace, experiment.get("name", ""))
    service_account = spec.get("chaosServiceAccount")
    if service_account:
        check_service_account(kube, namespace, service_account)
    if bool(label) != bool(kind) and "selectors" not in spec:
        raise ActivityFailed(
            "appinfo needs both applabel and appkind, or neither: Litmus stops an "
            "engine that has only one"
        )
    pods = target_pods(kube, app_namespace, label) if label else []
    annotated = (
        check_annotation(
            kube,
            app_namespace,
            label,
            kind,
            single=spec.get("annotationCheck") == "true",
        )
        if annotation_check and label
        else []
    )
    return {"target_pods": pods, "annotated_workloads": annotated}
