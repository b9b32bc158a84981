"""The controllers a cluster runs, for the lab: workloads, scheduler, kubelet.

kube-controller-manager's Deployment and ReplicaSet controllers, the
scheduler and a kubelet for one node, as level-triggered loops on the API
server's event loop (like the Litmus stand-in). What each models, and
where it departs from Kubernetes, is in its module and in
`docs/lab-cluster.md`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .kubelet import NODE_NAME, Kubelet
from .loop import run_level_triggered
from .workloads import WorkloadController

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.store import Store

__all__ = ["NODE_NAME", "Kubelet", "WorkloadController", "cluster_controllers"]

Controller = Callable[["Store"], Awaitable[None]]


def cluster_controllers(
    *, pod_start_s: float = 0.5, node_name: str = NODE_NAME
) -> list[Controller]:
    """Controllers for `ApiServerThread(controllers=[...])`.

    `pod_start_s`: how long a new pod stays Pending (ContainerCreating)
    before the kubelet reports it Running and Ready.
    """

    async def workloads(store: Store) -> None:
        controller = WorkloadController(store)
        await run_level_triggered(
            store, WorkloadController.WATCHES, controller.reconcile, "workloads"
        )

    async def kubelet(store: Store) -> None:
        node = Kubelet(store, node_name=node_name, pod_start_s=pod_start_s)
        node.register()
        await run_level_triggered(store, Kubelet.WATCHES, node.reconcile, "kubelet")

    return [workloads, kubelet]
