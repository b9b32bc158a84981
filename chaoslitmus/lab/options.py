"""What a lab is made of: the options of `chaoslitmus lab` and their checks.

Kept free of servers and event loops so the CLI can parse and validate
options before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaoslitmus.lab import schemas, world
from chaoslitmus.lab.mesh_routes import Flavour

__all__ = [
    "APPMESH_APIS",
    "DEFAULT_REVIEWS_PORT",
    "HOST_PREDICATES",
    "KUBE_CONTEXT",
    "MESHES",
    "LabError",
    "LabOptions",
]

DEFAULT_REVIEWS_PORT = 8080
KUBE_CONTEXT = "chaoslitmus-lab"
MESHES = ("appmesh", "istio")
APPMESH_APIS = ("v1beta2", "v1beta1")
HOST_PREDICATES = ("previous_hosts", "none")


class LabError(Exception):
    """A lab that cannot start as asked; the message is one actionable line."""


@dataclass(frozen=True)
class LabOptions:
    """How the lab is built. Defaults are the story's cluster.

    `reviews_port`: None means 8080, or a free port when 8080 is taken;
    0 means a free port; any other number must be free or start fails.
    """

    mesh: str = "appmesh"
    appmesh_api: str = "v1beta2"
    ratings_replicas: int = 2
    reviews_timeout_ms: int = 2500
    reviews_port: int | None = None
    litmus_startup_s: float = 3.0
    litmus_inject_delay_s: float = 2.0
    mesh_propagation_ms: int = 1000
    retry_host_predicate: str = "previous_hosts"
    seed: int = 0
    kubeconfig: str | None = None

    def __post_init__(self) -> None:
        if self.mesh not in MESHES:
            raise LabError(
                f"unknown mesh {self.mesh!r}: use one of {', '.join(MESHES)}"
            )
        if self.appmesh_api not in APPMESH_APIS:
            raise LabError(
                f"unknown App Mesh API {self.appmesh_api!r}: "
                f"use one of {', '.join(APPMESH_APIS)}"
            )
        if self.retry_host_predicate not in HOST_PREDICATES:
            raise LabError(
                f"unknown retry host predicate {self.retry_host_predicate!r}: "
                f"use one of {', '.join(HOST_PREDICATES)}"
            )
        checks = (
            (1 <= self.ratings_replicas <= 20, "ratings replicas must be 1-20"),
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

    @property
    def mesh_object(self) -> str:
        """The VirtualService that carries (or leads to) the ratings route."""
        if self.mesh == "istio":
            return world.ISTIO_VIRTUAL_SERVICE
        return world.RATINGS_VIRTUAL_SERVICE

    def crd_files(self) -> list[Path]:
        return schemas.default_crd_files(
            litmus="3.x",
            appmesh=(self.appmesh_api,) if self.mesh == "appmesh" else (),
            istio=self.mesh == "istio",
        )
