"""The lab's one node: its Node object, the scheduler and the kubelet.

The kubelet registers `lab-node` (capacity, conditions, labels, addresses,
as a kubelet reports them). The scheduler binds every pod without
`spec.nodeName` to it unless it is cordoned (`spec.unschedulable`); then
the pod stays Pending with `PodScheduled=False, reason Unschedulable`, as
on a cluster whose only node is cordoned. The kubelet starts the pods it
was given: Pending (ContainerCreating) for `pod_start_s`, then Running and
Ready. Pods created with a status already (the seeded world, the Litmus
stand-in's pods) are someone else's to run and are left as they are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chaoslitmus.lab.kube.objects import now as utc_now
from chaoslitmus.lab.kube.store_client import StoreClient, status_code

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.store import Store

__all__ = ["NODE_NAME", "Kubelet", "node_manifest", "pod_running", "pod_scheduled"]

log = logging.getLogger("chaoslitmus.lab")

NODE_NAME = "lab-node"
NODES = "v1/nodes"
PODS = "v1/pods"
NODE_IP = "127.0.0.1"
KUBELET_VERSION = "v1.30.0-chaoslitmus-lab"
UNSCHEDULABLE_TAINT = {
    "key": "node.kubernetes.io/unschedulable",
    "effect": "NoSchedule",
}


def node_manifest(name: str, now: str) -> dict[str, Any]:
    """A Ready node as its kubelet registers it."""
    capacity = {
        "cpu": "4",
        "memory": "8145440Ki",
        "ephemeral-storage": "51290592Ki",
        "pods": "110",
    }
    conditions = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        (
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        (
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "chaoslitmus-lab",
                "topology.kubernetes.io/zone": "lab-zone-a",
            },
        },
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
        "status": {
            "capacity": dict(capacity),
            "allocatable": dict(capacity),
            "conditions": [
                {
                    "type": kind,
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
                for kind, status, reason, message in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": NODE_IP},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "00000000-0000-0000-0000-000000000000",
                "containerRuntimeVersion": "containerd://1.7.15",
                "kernelVersion": "6.1.0",
                "kubeProxyVersion": KUBELET_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "machineID": "chaoslitmuslab",
                "operatingSystem": "linux",
                "osImage": "chaoslitmus lab",
                "systemUUID": "00000000-0000-0000-0000-000000000000",
            },
        },
    }


def _conditions(now: str, scheduled: bool, ready: bool) -> list[dict[str, Any]]:
    flag = "True" if ready else "False"
    out = [
        {
            "type": "PodScheduled",
            "status": "True" if scheduled else "False",
            "lastProbeTime": None,
            "lastTransitionTime": now,
        },
    ]
    if not scheduled:
        out[0].update(
            reason="Unschedulable",
            message="0/1 nodes are available: 1 node(s) were unschedulable. "
            "preemption: 0/1 nodes are available: 1 Preemption is not helpful "
            "for scheduling.",
        )
        return out
    out += [
        {
            "type": "Initialized",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": now,
        },
        {
            "type": "ContainersReady",
            "status": flag,
            "lastProbeTime": None,
            "lastTransitionTime": now,
        },
        {
            "type": "Ready",
            "status": flag,
            "lastProbeTime": None,
            "lastTransitionTime": now,
        },
    ]
    if not ready:
        for condition in out[2:]:
            condition["reason"] = "ContainersNotReady"
    return out


def pod_unschedulable(now: str) -> dict[str, Any]:
    return {
        "phase": "Pending",
        "conditions": _conditions(now, False, False),
        "qosClass": "BestEffort",
    }


def pod_scheduled(spec: Mapping[str, Any], now: str) -> dict[str, Any]:
    """Bound to the node, containers being created."""
    return {
        "phase": "Pending",
        "conditions": _conditions(now, True, False),
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "startTime": now,
        "qosClass": "BestEffort",
        "containerStatuses": [
            {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }
            for c in spec.get("containers") or []
        ],
    }


def pod_running(
    status: Mapping[str, Any], spec: Mapping[str, Any], now: str
) -> dict[str, Any]:
    """Containers up, readiness passed."""
    return {
        **status,
        "phase": "Running",
        "conditions": _conditions(now, True, True),
        "podIP": NODE_IP,
        "podIPs": [{"ip": NODE_IP}],
        "containerStatuses": [
            {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "imageID": f"{c.get('image', '')}@sha256:" + "0" * 64,
                "containerID": "containerd://" + "0" * 64,
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }
            for c in spec.get("containers") or []
        ],
    }


def _marked_unschedulable(status: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"
        for c in status.get("conditions") or []
    )


class Kubelet:
    """Scheduler + kubelet for one node; `reconcile()` is one pass."""

    WATCHES = (PODS, NODES)

    def __init__(
        self, store: Store, *, node_name: str = NODE_NAME, pod_start_s: float = 0.5
    ) -> None:
        self.store = store
        self.node_name = node_name
        self.pod_start_s = max(0.0, pod_start_s)
        self.client = StoreClient(store, utc_now)
        self._starting: dict[str, float] = {}  # pod uid -> when it runs

    def register(self) -> None:
        """Create the Node object unless it exists (a kubelet registering)."""
        try:
            self.store.create(NODES, None, node_manifest(self.node_name, utc_now()))
        except Exception as exc:
            if status_code(exc) != 409:
                raise

    def reconcile(self) -> float | None:
        node = self.client.get(NODES, None, self.node_name)
        if node is not None:
            self._taint(node)
        schedulable = node is not None and not (node.get("spec") or {}).get(
            "unschedulable"
        )
        now = time.monotonic()
        wake: float | None = None
        seen: set[str] = set()
        for pod in self.client.list(PODS):
            meta, spec = pod["metadata"], pod.get("spec") or {}
            status = pod.get("status") or {}
            if meta.get("deletionTimestamp"):
                continue
            uid = meta["uid"]
            # New pods arrive Pending with no container statuses; a pod
            # created with statuses is run by whoever wrote them.
            mine = uid in self._starting or (
                status.get("phase") in (None, "Pending")
                and not status.get("containerStatuses")
            )
            if not mine:
                continue
            seen.add(uid)
            if not spec.get("nodeName"):
                if schedulable:
                    self._bind(pod)
                    self._starting[uid] = now + self.pod_start_s
                else:
                    if not _marked_unschedulable(status):
                        self._set_status(pod, pod_unschedulable(utc_now()))
                        self.client.event(
                            pod,
                            "FailedScheduling",
                            pod_unschedulable("")["conditions"][0]["message"],
                            "Warning",
                            "default-scheduler",
                        )
                    continue
            elif uid not in self._starting:
                self._starting[uid] = now + self.pod_start_s
                self._set_status(pod, pod_scheduled(spec, utc_now()))
            due = self._starting[uid]
            if due <= now:
                self._start(pod)
                self._starting.pop(uid, None)
            else:
                wake = due - now if wake is None else min(wake, due - now)
        for uid in list(self._starting):
            if uid not in seen:
                del self._starting[uid]
        return wake

    def _taint(self, node: Mapping[str, Any]) -> None:
        """The node lifecycle controller taints a cordoned node, and untaints it."""
        spec = node.get("spec") or {}
        taints = [
            t
            for t in spec.get("taints") or []
            if t.get("key") != UNSCHEDULABLE_TAINT["key"]
        ]
        if spec.get("unschedulable"):
            taints.append(dict(UNSCHEDULABLE_TAINT))
        if taints == (spec.get("taints") or []):
            return

        def change(obj: dict[str, Any]) -> None:
            if taints:
                obj.setdefault("spec", {})["taints"] = taints
            else:
                obj.setdefault("spec", {}).pop("taints", None)

        self.client.update(NODES, None, self.node_name, change)

    def _bind(self, pod: Mapping[str, Any]) -> None:
        meta = pod["metadata"]

        def bind(obj: dict[str, Any]) -> None:
            obj.setdefault("spec", {})["nodeName"] = self.node_name

        bound = self.client.update(
            PODS, meta["namespace"], meta["name"], bind, meta["uid"]
        )
        if bound is not None:
            self._set_status(bound, pod_scheduled(bound["spec"], utc_now()))
            self.client.event(
                bound,
                "Scheduled",
                f"Successfully assigned {meta['namespace']}/{meta['name']} to "
                f"{self.node_name}",
                component="default-scheduler",
            )
            log.info(
                "scheduler: pod %s/%s bound to %s",
                meta["namespace"],
                meta["name"],
                self.node_name,
            )

    def _start(self, pod: Mapping[str, Any]) -> None:
        current = self.client.get(
            PODS, pod["metadata"]["namespace"], pod["metadata"]["name"]
        )
        if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"]:
            return
        running = pod_running(
            current.get("status") or {}, current.get("spec") or {}, utc_now()
        )
        self._set_status(current, running)
        for container in (current.get("spec") or {}).get("containers") or []:
            name, image = container.get("name", ""), container.get("image", "")
            for reason, message in (
                ("Pulled", f'Container image "{image}" already present on machine'),
                ("Created", f"Created container {name}"),
                ("Started", f"Started container {name}"),
            ):
                self.client.event(current, reason, message, component="kubelet")
        log.info(
            "kubelet: pod %s/%s is Running",
            pod["metadata"]["namespace"],
            pod["metadata"]["name"],
        )

    def _set_status(self, pod: Mapping[str, Any], status: dict[str, Any]) -> None:
        meta = pod["metadata"]

        def change(obj: dict[str, Any]) -> None:
            obj.clear()
            obj.update(status)

        self.client.set_status(PODS, meta["namespace"], meta["name"], change)
