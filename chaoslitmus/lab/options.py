"""What a lab is made of: the one options type every part of the lab reads.

Kept free of servers, event loops and schema libraries so the CLI can parse
and check options before anything heavy is imported (and without the `lab`
extra installed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "APPMESH_APIS",
    "DEFAULT_NAMESPACE",
    "DEFAULT_REVIEWS_PORT",
    "HOST_PREDICATES",
    "KUBE_CONTEXT",
    "LITMUS_VERSIONS",
    "MESHES",
    "AppMeshApi",
    "Flavour",
    "HostPredicate",
    "LabError",
    "LabOptions",
    "LitmusVersion",
    "Mesh",
]

Mesh = Literal["appmesh", "istio"]
AppMeshApi = Literal["v1beta2", "v1beta1"]
LitmusVersion = Literal["3.x", "1.x"]
HostPredicate = Literal["previous_hosts", "none"]
# Which control plane programs the proxy, and through which API version.
Flavour = Literal["appmesh-v1beta2", "appmesh-v1beta1", "istio"]

DEFAULT_REVIEWS_PORT = 8080
DEFAULT_NAMESPACE = "bookinfo"
KUBE_CONTEXT = "chaoslitmus-lab"
MESHES: tuple[Mesh, ...] = ("appmesh", "istio")
APPMESH_APIS: tuple[AppMeshApi, ...] = ("v1beta2", "v1beta1")
LITMUS_VERSIONS: tuple[LitmusVersion, ...] = ("3.x", "1.x")
HOST_PREDICATES: tuple[HostPredicate, ...] = ("previous_hosts", "none")


class LabError(ValueError):
    """A lab that cannot start as asked; the message is one actionable line."""


@dataclass(frozen=True)
class LabOptions:
    """How the lab is built; every subsystem reads this one object.

    Defaults are the story's cluster. `reviews_port`: None means 8080, or a
    free port when 8080 is taken; 0 means a free port; any other number must
    be free or start fails. `kubeconfig`: a file the lab creates (and removes
    on stop); an existing one only with `force_kubeconfig`, put back on stop.
    `litmus` picks the Litmus CRDs and manifests
    (3.x, or the legacy 1.x shapes).
    """

    mesh: Mesh = "appmesh"
    appmesh_api: AppMeshApi = "v1beta2"
    litmus: LitmusVersion = "3.x"
    namespace: str = DEFAULT_NAMESPACE
    ratings_replicas: int = 2
    reviews_replicas: int = 1
    reviews_timeout_ms: int = 2500
    reviews_port: int | None = None
    litmus_startup_s: float = 3.0
    litmus_inject_delay_s: float = 2.0
    mesh_propagation_ms: int = 1000
    retry_host_predicate: HostPredicate = "previous_hosts"
    seed: int = 0
    kubeconfig: str | None = None
    force_kubeconfig: bool = False

    def __post_init__(self) -> None:
        choices = (
            ("mesh", self.mesh, MESHES),
            ("App Mesh API", self.appmesh_api, APPMESH_APIS),
            ("Litmus version", self.litmus, LITMUS_VERSIONS),
            ("retry host predicate", self.retry_host_predicate, HOST_PREDICATES),
        )
        for what, value, allowed in choices:
            if value not in allowed:
                raise LabError(
                    f"unknown {what} {value!r}: use one of {', '.join(allowed)}"
                )
        checks = (
            (1 <= self.ratings_replicas <= 20, "ratings replicas must be 1-20"),
            (1 <= self.reviews_replicas <= 20, "reviews replicas must be 1-20"),
            (self.reviews_timeout_ms > 0, "the reviews timeout must be > 0 ms"),
            (self.litmus_startup_s >= 0, "the Litmus start-up time must be >= 0 s"),
            (
                self.litmus_inject_delay_s >= 0,
                "the Litmus inject delay must be >= 0 s",
            ),
            (self.mesh_propagation_ms >= 0, "the mesh propagation must be >= 0 ms"),
            (
                self.reviews_port is None or 0 <= self.reviews_port <= 65535,
                "the reviews port must be 0-65535",
            ),
            (bool(self.namespace), "the namespace must not be empty"),
        )
        for ok, message in checks:
            if not ok:
                raise LabError(message)

    @property
    def flavour(self) -> Flavour:
        if self.mesh == "istio":
            return "istio"
        return "appmesh-v1beta1" if self.appmesh_api == "v1beta1" else "appmesh-v1beta2"

    @property
    def mesh_api_version(self) -> str:
        """The version set_retry_policy's `api_version` should name."""
        return "v1" if self.mesh == "istio" else self.appmesh_api
