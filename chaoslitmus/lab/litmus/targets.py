"""Which pods a lab Litmus run hits, and whether the annotation check passes.

litmus-go picks targets from the engine's appinfo (label, kind) or its
selectors, or takes TARGET_PODS as given; PODS_AFFECTED_PERC decides how many
of the candidates a run takes. The rules themselves are pure functions in
`rules`; this module reads the pods and workloads they need.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from chaoslitmus.lab.kube.store_client import StoreClient, status_code
from chaoslitmus.lab.litmus import rules
from chaoslitmus.lab.litmus.rules import Shape, TargetSelectionError, TargetSpec

__all__ = ["TargetFinder", "WORKLOAD_RESOURCES"]

PODS = "v1/pods"
REPLICASETS = "apps/v1/replicasets"

WORKLOAD_RESOURCES = {
    "deployment": "apps/v1/deployments",
    "statefulset": "apps/v1/statefulsets",
    "daemonset": "apps/v1/daemonsets",
}


class TargetFinder:
    """Target selection over the lab's objects; `rng` is the seeded stream the
    operator shares, so a seed fixes which pods each run picks."""

    def __init__(self, client: StoreClient, rng: random.Random) -> None:
        self.client = client
        self.rng = rng

    def select(
        self, shape: Shape, spec: TargetSpec, env: Mapping[str, str]
    ) -> list[str]:
        """Target pod names in `spec.namespace` (TARGET_PODS, or a random pick)."""
        if shape == "1.x":
            # 1.2.0 ansible: one random pod of the labelled app, nothing else.
            return rules.pick_targets(self.candidates(spec), 0, self.rng)
        named = rules.split_names(rules.env_value(env, "TARGET_PODS"))
        if named:
            missing = [
                n for n in named if not self.client.exists(PODS, spec.namespace, n)
            ]
            if missing:
                raise TargetSelectionError(
                    f"target pods {', '.join(missing)} not found "
                    f"in namespace {spec.namespace}"
                )
            return named
        return rules.pick_targets(
            self.candidates(spec), rules.env_int(env, "PODS_AFFECTED_PERC"), self.rng
        )

    def candidates(self, spec: TargetSpec) -> list[str]:
        """Running, non-chaos pods matching the engine's app info or selectors."""
        namespace = spec.namespace
        if spec.selectors:
            pods = self._selector_pods(spec)
        else:
            items = self._list_pods(namespace, spec.label)
            pods = [p for p in items if rules.is_candidate(p)]
            if spec.kind:
                pods = rules.filter_by_kind(
                    pods, spec.kind, self._intermediates(namespace)
                )
        names = sorted(p["metadata"]["name"] for p in pods)
        if not names:
            raise TargetSelectionError(
                f"no pod found for specified target {spec.describe()}"
            )
        return names

    def workload_names(self, namespace: str, pods: list[str]) -> list[str]:
        """The workloads owning these pods (pod-delete reports its targets so)."""
        intermediates = self._intermediates(namespace)
        names: list[str] = []
        for name in pods:
            pod = self.client.get(PODS, namespace, name)
            workload = rules.pod_workload(pod, intermediates) if pod else None
            if workload and workload[1] not in names:
                names.append(workload[1])
        return names

    def annotation_problem(self, engine: Mapping[str, Any], shape: Shape) -> str | None:
        """Why the annotation check fails, or None when it passes."""
        spec = engine.get("spec") or {}
        info = spec.get("appinfo") or {}
        kind, label = info.get("appkind") or "", info.get("applabel") or ""
        namespace = rules.app_namespace(engine)
        if not (kind and label):
            return (
                "incomplete appinfo: annotationCheck needs appns, applabel and appkind"
            )
        resource = WORKLOAD_RESOURCES.get(kind.lower())
        if resource is None:
            return f"appkind {kind!r} cannot be checked for the chaos annotation"
        try:
            items = self.client.list(resource, namespace, label)
        except Exception as exc:
            return f"cannot list {kind}s with {label} in {namespace}: {exc}"
        annotated = [
            w
            for w in items
            if ((w["metadata"].get("annotations") or {}).get(rules.CHAOS_ANNOTATION))
            == "true"
        ]
        if not annotated:
            return (
                f"no {kind} with label {label} in {namespace} is annotated "
                f'{rules.CHAOS_ANNOTATION}="true"'
            )
        if shape == "1.x" and len(annotated) > 1:
            return f"more than one annotated {kind} matches {label} in {namespace}"
        return None

    def _selector_pods(self, spec: TargetSpec) -> list[Mapping[str, Any]]:
        selectors = spec.selectors or {}
        out: list[Mapping[str, Any]] = []
        for item in selectors.get("pods") or []:
            namespace = self._selector_namespace(item, spec)
            for name in rules.split_names(item.get("names") or ""):
                pod = self.client.get(PODS, namespace, name)
                if pod is not None and rules.is_candidate(pod):
                    out.append(pod)
        for item in selectors.get("workloads") or []:
            namespace = self._selector_namespace(item, spec)
            items = self._list_pods(namespace, item.get("labels") or "")
            pods = [p for p in items if rules.is_candidate(p)]
            names = rules.split_names(item.get("names") or "") or None
            out.extend(
                rules.filter_by_kind(
                    pods, item.get("kind") or "", self._intermediates(namespace), names
                )
            )
        return out

    @staticmethod
    def _selector_namespace(item: Mapping[str, Any], spec: TargetSpec) -> str:
        namespace = item.get("namespace") or spec.namespace
        if namespace != spec.namespace:
            raise TargetSelectionError(
                "the lab supports selectors in the app namespace only"
            )
        return namespace

    def _list_pods(self, namespace: str, label: str) -> list[dict[str, Any]]:
        """Pods by label selector; a selector the apiserver refuses is the
        engine's mistake, so it fails target selection, not the operator."""
        try:
            return self.client.list(PODS, namespace, label)
        except Exception as exc:
            if status_code(exc) in (400, 404):
                raise TargetSelectionError(
                    f"cannot list pods with {label!r} in {namespace}: {exc}"
                ) from None
            raise

    def _intermediates(
        self, namespace: str
    ) -> dict[tuple[str, str], Mapping[str, Any]]:
        try:
            items = self.client.list(REPLICASETS, namespace)
        except Exception:
            return {}
        return {("ReplicaSet", rs["metadata"]["name"]): rs for rs in items}
