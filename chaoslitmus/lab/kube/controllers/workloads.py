"""Deployment -> ReplicaSet -> Pod reconciliation on the lab Store.

One pass does what kube-controller-manager's Deployment and ReplicaSet
controllers do: each Deployment gets a ReplicaSet for its current template
(a new one, with the next revision, when the template changes), replicas
move from old ReplicaSets to the new one within maxSurge/maxUnavailable
(or all at once with `Recreate`), each ReplicaSet creates or deletes pods
to match its replicas, and both report status from the pods as they are.
Deleting an owner removes its dependents through the Store's garbage
collection. Not modelled: adoption of orphans, paused Deployments'
special cases beyond "no new ReplicaSet", progressDeadlineSeconds,
revisionHistoryLimit clean-up.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import chaoslitmus.lab.kube.controllers.podsets as podsets
from chaoslitmus.lab.kube.objects import now as utc_now
from chaoslitmus.lab.kube.store_client import StoreClient

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.store import Store

__all__ = ["WorkloadController"]

log = logging.getLogger("chaoslitmus.lab")

DEPLOYMENTS = "apps/v1/deployments"
REPLICASETS = "apps/v1/replicasets"
PODS = "v1/pods"


class WorkloadController:
    """The Deployment and ReplicaSet controllers; `reconcile()` is one pass."""

    WATCHES = (DEPLOYMENTS, REPLICASETS, PODS)

    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = StoreClient(store, utc_now)
        self._created: dict[str, int] = {}  # pod uid -> creation sequence
        self._sequence = itertools.count(1)

    def reconcile(self) -> float | None:
        for deployment in self.client.list(DEPLOYMENTS):
            try:
                self._deployment(deployment)
            except Exception:
                log.exception(
                    "deployment controller: %s/%s failed",
                    deployment["metadata"].get("namespace"),
                    deployment["metadata"]["name"],
                )
        wake: float | None = None
        for replicaset in self.client.list(REPLICASETS):
            try:
                after = self._replicaset(replicaset)
            except Exception:
                log.exception(
                    "replicaset controller: %s/%s failed",
                    replicaset["metadata"].get("namespace"),
                    replicaset["metadata"]["name"],
                )
                continue
            if after is not None:
                wake = after if wake is None else min(wake, after)
        for deployment in self.client.list(DEPLOYMENTS):
            self._deployment_status(deployment)
        return wake

    # -- Deployments -------------------------------------------------------------
    def _owned_replicasets(self, deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
        meta = deployment["metadata"]
        return sorted(
            (
                rs
                for rs in self.client.list(REPLICASETS, meta["namespace"])
                if podsets.controller_uid(rs) == meta["uid"]
                and not rs["metadata"].get("deletionTimestamp")
            ),
            key=lambda rs: _revision(rs),
        )

    def _deployment(self, deployment: dict[str, Any]) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        if meta.get("deletionTimestamp"):
            return
        namespace = meta["namespace"]
        replicas = int(spec.get("replicas", 1))
        owned = self._owned_replicasets(deployment)
        new_rs = next(
            (
                rs
                for rs in owned
                if podsets.same_template(rs["spec"]["template"], spec["template"])
            ),
            None,
        )
        old = [rs for rs in owned if rs is not new_rs]
        revision = max((_revision(rs) for rs in owned), default=0)
        if new_rs is None and not spec.get("paused"):
            first = 0 if any(_replicas(rs) for rs in old) else replicas
            new_rs = self.store.create(
                REPLICASETS,
                namespace,
                podsets.new_replicaset(deployment, revision + 1, first),
            )
            revision += 1
            self._scaled_event(deployment, new_rs["metadata"]["name"], first, None)
            log.info(
                "deployment controller: %s/%s scaled up new ReplicaSet %s to %d",
                namespace,
                meta["name"],
                new_rs["metadata"]["name"],
                first,
            )
        elif new_rs is not None and _revision(new_rs) < revision:
            revision += 1  # an old template is current again (rollout undo)
            self._annotate_revision(new_rs, revision)
        if new_rs is None:
            return
        wanted = str(_revision(new_rs) or revision)
        if (meta.get("annotations") or {}).get(podsets.REVISION_ANNOTATION) != wanted:
            self.client.update(
                DEPLOYMENTS,
                namespace,
                meta["name"],
                lambda obj: (
                    obj["metadata"]
                    .setdefault("annotations", {})
                    .__setitem__(podsets.REVISION_ANNOTATION, wanted)
                ),
            )
        self._rollout(deployment, new_rs, old)

    def _annotate_revision(self, replicaset: Mapping[str, Any], revision: int) -> None:
        meta = replicaset["metadata"]
        self.client.update(
            REPLICASETS,
            meta["namespace"],
            meta["name"],
            lambda obj: (
                obj["metadata"]
                .setdefault("annotations", {})
                .__setitem__(podsets.REVISION_ANNOTATION, str(revision))
            ),
        )

    def _rollout(
        self,
        deployment: Mapping[str, Any],
        new_rs: Mapping[str, Any],
        old: list[dict[str, Any]],
    ) -> None:
        spec = deployment["spec"]
        replicas = int(spec.get("replicas", 1))
        active_old = [rs for rs in old if _replicas(rs) > 0]
        if not active_old:
            self._scale(new_rs, replicas, deployment)
            return
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            for rs in active_old:
                self._scale(rs, 0, deployment)
            if not any(self._pods_of(rs) for rs in old):
                self._scale(new_rs, replicas, deployment)
            return
        surge, max_unavailable = podsets.rolling_limits(deployment)
        total = _replicas(new_rs) + sum(_replicas(rs) for rs in active_old)
        room = max(0, replicas + surge - total)
        new_target = min(replicas, _replicas(new_rs) + room)
        if new_target > _replicas(new_rs):
            self._scale(new_rs, new_target, deployment)
        available = sum(self._available(rs) for rs in [new_rs, *active_old])
        removable = max(0, available - (replicas - max_unavailable))
        # Old pods that are not available can go at once: they serve nothing.
        for rs in active_old:
            unavailable = max(0, _replicas(rs) - self._available(rs))
            target = _replicas(rs) - unavailable
            step = min(target, removable)
            target -= step
            removable -= step
            if target != _replicas(rs):
                self._scale(rs, target, deployment)

    def _scale(
        self,
        replicaset: Mapping[str, Any],
        replicas: int,
        deployment: Mapping[str, Any],
    ) -> None:
        if _replicas(replicaset) == replicas:
            return
        meta = replicaset["metadata"]

        def scale(obj: dict[str, Any]) -> None:
            obj["spec"]["replicas"] = replicas

        self.client.update(REPLICASETS, meta["namespace"], meta["name"], scale)
        self._scaled_event(deployment, meta["name"], replicas, _replicas(replicaset))
        log.info(
            "deployment controller: ReplicaSet %s/%s scaled from %d to %d",
            meta["namespace"],
            meta["name"],
            _replicas(replicaset),
            replicas,
        )

    def _scaled_event(
        self,
        deployment: Mapping[str, Any],
        replicaset: str,
        replicas: int,
        previous: int | None,
    ) -> None:
        """The Deployment controller's ScalingReplicaSet event."""
        way = "down" if previous is not None and replicas < previous else "up"
        message = f"Scaled {way} replica set {replicaset} to {replicas}"
        if previous is not None:
            message += f" from {previous}"
        self.client.event(
            deployment, "ScalingReplicaSet", message, component="deployment-controller"
        )

    def _deployment_status(self, deployment: Mapping[str, Any]) -> None:
        meta = deployment["metadata"]
        owned = self._owned_replicasets(deployment)
        new_rs = next(
            (
                rs
                for rs in owned
                if podsets.same_template(
                    rs["spec"]["template"], deployment["spec"]["template"]
                )
            ),
            None,
        )
        pods = {rs["metadata"]["uid"]: self._pods_of(rs) for rs in owned}
        status = podsets.deployment_status(
            deployment, new_rs, pods, time.time(), utc_now()
        )
        self._write_status(DEPLOYMENTS, meta, deployment.get("status"), status)

    # -- ReplicaSets ---------------------------------------------------------------
    def _pods_of(self, replicaset: Mapping[str, Any]) -> list[dict[str, Any]]:
        meta = replicaset["metadata"]
        return [
            pod
            for pod in self.client.list(PODS, meta["namespace"])
            if podsets.controller_uid(pod) == meta["uid"] and podsets.is_active(pod)
        ]

    def _available(self, replicaset: Mapping[str, Any]) -> int:
        min_ready = int(replicaset["spec"].get("minReadySeconds") or 0)
        now = time.time()
        return sum(
            1
            for pod in self._pods_of(replicaset)
            if podsets.is_available(pod, min_ready, now)
        )

    def _replicaset(self, replicaset: dict[str, Any]) -> float | None:
        meta = replicaset["metadata"]
        if meta.get("deletionTimestamp"):
            return None
        namespace = meta["namespace"]
        pods = self._pods_of(replicaset)
        wanted = _replicas(replicaset)
        if len(pods) < wanted:
            for _ in range(wanted - len(pods)):
                pod = self.store.create(
                    PODS, namespace, podsets.pod_from_template(replicaset)
                )
                self._created[pod["metadata"]["uid"]] = next(self._sequence)
                self.client.event(
                    replicaset,
                    "SuccessfulCreate",
                    f"Created pod: {pod['metadata']['name']}",
                    component="replicaset-controller",
                )
                log.info(
                    "replicaset controller: %s/%s created pod %s",
                    namespace,
                    meta["name"],
                    pod["metadata"]["name"],
                )
        elif len(pods) > wanted:
            ranked = podsets.scale_down_order(pods, self._created)
            for pod in ranked[: len(pods) - wanted]:
                self._created.pop(pod["metadata"]["uid"], None)
                self.client.delete(PODS, namespace, pod["metadata"]["name"])
                self.client.event(
                    replicaset,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    component="replicaset-controller",
                )
                log.info(
                    "replicaset controller: %s/%s deleted pod %s",
                    namespace,
                    meta["name"],
                    pod["metadata"]["name"],
                )
        pods = self._pods_of(replicaset)
        now = time.time()
        status = podsets.replicaset_status(replicaset, pods, now)
        self._write_status(REPLICASETS, meta, replicaset.get("status"), status)
        min_ready = int(replicaset["spec"].get("minReadySeconds") or 0)
        if min_ready and status.get("readyReplicas", 0) > status.get(
            "availableReplicas", 0
        ):
            return 1.0  # look again when minReadySeconds may have passed
        return None

    def _write_status(
        self,
        resource: str,
        meta: Mapping[str, Any],
        current: Mapping[str, Any] | None,
        status: dict[str, Any],
    ) -> None:
        if dict(current or {}) == status:
            return

        def change(obj: dict[str, Any]) -> None:
            obj.clear()
            obj.update(status)

        self.client.set_status(resource, meta["namespace"], meta["name"], change)


def _replicas(obj: Mapping[str, Any]) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def _revision(replicaset: Mapping[str, Any]) -> int:
    annotations = replicaset["metadata"].get("annotations") or {}
    try:
        return int(annotations.get(podsets.REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0
