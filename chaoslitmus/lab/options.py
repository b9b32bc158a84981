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
    "APPMESH_DISCOVERIES",
    "DEFAULT_NAMESPACE",
    "GATEWAY_API_CHANNELS",
    "GATEWAY_API_IMPLEMENTATIONS",
    "DEFAULT_REVIEWS_PORT",
    "HOST_PREDICATES",
    "ISTIO_BALANCERS",
    "KUBE_CONTEXT",
    "LITMUS_VERSIONS",
    "MESHES",
    "RATINGS_ERROR_ANSWERS",
    "RATINGS_UNAVAILABLE",
    "AppMeshApi",
    "AppMeshDiscovery",
    "Flavour",
    "GatewayApiChannel",
    "GatewayApiImplementation",
    "HostPredicate",
    "IstioBalancer",
    "LabError",
    "LabOptions",
    "LitmusVersion",
    "Mesh",
    "RatingsErrorAnswer",
    "degraded_marker",
]

Mesh = Literal["appmesh", "istio", "gateway-api", "linkerd"]
AppMeshApi = Literal["v1beta2", "v1beta1"]
LitmusVersion = Literal["3.x", "1.x"]
HostPredicate = Literal["previous_hosts", "none"]
# How the caller's Envoy sees ratings (docs/mesh-behaviour.md, "What the lab
# models"): every pod as a host, or one DNS name behind kube-proxy.
AppMeshDiscovery = Literal["endpoints", "dns"]
IstioBalancer = Literal["least-request", "round-robin"]
# What reviews answers when ratings fails: the story's 500, or upstream
# BookInfo reviews-v3's 200 with an error entry in place of the stars.
RatingsErrorAnswer = Literal["500", "degraded"]
# Which control plane programs the proxy, and through which API version.
Flavour = Literal[
    "appmesh-v1beta2", "appmesh-v1beta1", "istio", "gateway-api", "linkerd"
]
# Which HTTPRoute CRD the lab serves (v1.6.1; only experimental has `retry`).
GatewayApiChannel = Literal["experimental", "standard"]
# How an Envoy-based Gateway API implementation treats a backendRequest expiry.
GatewayApiImplementation = Literal["envoy-gateway", "istio"]

DEFAULT_REVIEWS_PORT = 8080
DEFAULT_NAMESPACE = "bookinfo"
KUBE_CONTEXT = "chaoslitmus-lab"
MESHES: tuple[Mesh, ...] = ("appmesh", "istio", "gateway-api", "linkerd")
GATEWAY_API_CHANNELS: tuple[GatewayApiChannel, ...] = ("experimental", "standard")
GATEWAY_API_IMPLEMENTATIONS: tuple[GatewayApiImplementation, ...] = (
    "envoy-gateway",
    "istio",
)
APPMESH_APIS: tuple[AppMeshApi, ...] = ("v1beta2", "v1beta1")
LITMUS_VERSIONS: tuple[LitmusVersion, ...] = ("3.x", "1.x")
HOST_PREDICATES: tuple[HostPredicate, ...] = ("previous_hosts", "none")
APPMESH_DISCOVERIES: tuple[AppMeshDiscovery, ...] = ("endpoints", "dns")
ISTIO_BALANCERS: tuple[IstioBalancer, ...] = ("least-request", "round-robin")
RATINGS_ERROR_ANSWERS: tuple[RatingsErrorAnswer, ...] = ("500", "degraded")


# Upstream BookInfo reviews-v3's rating entry when ratings fails.
RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"


def degraded_marker(options: LabOptions) -> str:
    """What a body-aware probe must not find: reviews' degraded answer, or ""."""
    if options.reviews_on_ratings_error == "degraded":
        return RATINGS_UNAVAILABLE
    return ""


class LabError(ValueError):
    """A lab that cannot start as asked; the message is one actionable line."""


@dataclass(frozen=True)
class LabOptions:
    """How the lab is built; every subsystem reads this one object.

    Defaults are the story's cluster. `reviews_port`: None means 8080, or a
    free port when 8080 is taken; 0 means a free port; any other number must
    be free or start fails. `kubeconfig`: a file the lab creates (and removes
    on stop); an existing one only with `force_kubeconfig`, put back on stop.
    `litmus` picks the Litmus CRDs and manifests (3.x, or the legacy 1.x
    shapes). `pod_start_s`: how long a pod that a controller creates stays
    Pending before the kubelet runs it. With `mesh="gateway-api"`,
    `gateway_api_channel` picks the HTTPRoute CRD served and
    `gateway_api_implementation` whether a backendRequest expiry is retried
    (Envoy Gateway: yes; Istio's translation: no).
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
    appmesh_discovery: AppMeshDiscovery = "endpoints"
    istio_lb: IstioBalancer = "least-request"
    reviews_on_ratings_error: RatingsErrorAnswer = "500"
    netem_connection_setup: bool = False
    max_requests_per_connection: int = 0
    seed: int = 0
    kubeconfig: str | None = None
    gateway_api_channel: GatewayApiChannel = "experimental"
    gateway_api_implementation: GatewayApiImplementation = "envoy-gateway"
    force_kubeconfig: bool = False
    pod_start_s: float = 0.5

    def __post_init__(self) -> None:
        choices = (
            ("mesh", self.mesh, MESHES),
            ("App Mesh API", self.appmesh_api, APPMESH_APIS),
            ("Litmus version", self.litmus, LITMUS_VERSIONS),
            ("retry host predicate", self.retry_host_predicate, HOST_PREDICATES),
            ("Gateway API channel", self.gateway_api_channel, GATEWAY_API_CHANNELS),
            (
                "Gateway API implementation",
                self.gateway_api_implementation,
                GATEWAY_API_IMPLEMENTATIONS,
            ),
            ("App Mesh discovery", self.appmesh_discovery, APPMESH_DISCOVERIES),
            ("Istio load balancer", self.istio_lb, ISTIO_BALANCERS),
            (
                "answer to a ratings error",
                self.reviews_on_ratings_error,
                RATINGS_ERROR_ANSWERS,
            ),
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
            (self.pod_start_s >= 0, "the pod start-up time must be >= 0 s"),
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
            (
                0 <= self.max_requests_per_connection <= 1_000_000,
                "max requests per connection must be 0 (unlimited) to 1000000",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise LabError(message)

    @property
    def flavour(self) -> Flavour:
        if self.mesh in ("istio", "gateway-api", "linkerd"):
            return self.mesh
        return "appmesh-v1beta1" if self.appmesh_api == "v1beta1" else "appmesh-v1beta2"

    @property
    def discovery(self) -> AppMeshDiscovery:
        """How the caller's Envoy sees ratings: Istio always sees endpoints."""
        return self.appmesh_discovery if self.mesh == "appmesh" else "endpoints"

    @property
    def balancer(self) -> IstioBalancer:
        """How Envoy picks among hosts: App Mesh programs round robin."""
        return self.istio_lb if self.mesh == "istio" else "round-robin"

    def data_plane_model(self) -> str:
        """One line naming the data-plane model this lab runs (for `lab up`)."""
        if self.discovery == "dns":
            hosts = (
                "DNS discovery: one upstream host (the ratings ClusterIP), "
                "kube-proxy picks a random pod per new connection"
            )
        else:
            hosts = "endpoint discovery: every ratings pod is an Envoy host"
        pooling = (
            "connections kept alive"
            if self.max_requests_per_connection == 0
            else f"{self.max_requests_per_connection} request(s) per connection"
        )
        setup = (
            "delays responses, outbound calls and connection set-ups"
            if self.netem_connection_setup
            else "delays responses and outbound calls, not connection set-ups"
        )
        return (
            f"data plane: {hosts}; {self.balancer} balancing; {pooling}; "
            f"netem {setup}; "
            f"reviews answers {self.reviews_on_ratings_error} when ratings fails"
        )

    @property
    def mesh_api_version(self) -> str:
        """The version set_retry_policy's `api_version` should name."""
        return self.appmesh_api if self.mesh == "appmesh" else "v1"
