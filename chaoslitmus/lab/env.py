"""The environment variables `chaoslitmus lab run` exports to its command.

The experiments in `experiments/` read these (with defaults that match the
story), so the same JSON runs against the lab and against a real cluster.

==============================  ===============================================
variable                        value in the lab
==============================  ===============================================
``KUBECONFIG``                  kubeconfig of the lab API server
``KUBERNETES_CONTEXT``          ``chaoslitmus-lab`` (the context in that file;
                                wins over a context set for another cluster)
``REVIEWS_URL``                 ``http://127.0.0.1:8080/reviews/0`` (or the
                                free port used when 8080 is taken)
``REVIEWS_TIMEOUT_MS``          how long reviews waits for ratings (2500)
``REVIEWS_DEGRADED_MARKER``     the text of reviews' degraded answer when the
                                lab runs ``--reviews-on-ratings-error
                                degraded``; not exported otherwise
``RATINGS_REPLICAS``            how many ratings pods the lab runs (2)
``CHAOSLITMUS_NAMESPACE``       ``bookinfo``
``CHAOSLITMUS_MESH``            ``appmesh``, ``istio``, ``gateway-api`` or
                                ``linkerd``
``CHAOSLITMUS_MESH_API_VERSION``  ``v1beta2``, ``v1beta1`` (App Mesh) or ``v1``
                                (the others): the version the lab serves
``CHAOSLITMUS_MESH_OBJECT``     the object to give set_retry_policy
                                (``ratings.bookinfo.svc.cluster.local`` for
                                App Mesh, ``ratings`` for Istio, Gateway API
                                (the HTTPRoute) and Linkerd (the Service))
``CHAOSLITMUS_RATINGS_ROUTE``   ``ratings-route``, the route name in it
``CHAOSLITMUS_RATINGS_LABEL``   ``app=ratings`` (Litmus' app label)
``CHAOSLITMUS_RATINGS_URL``     ratings through the mesh proxy, as reviews
                                calls it: ``http://127.0.0.1:<port>/ratings/0``
``CHAOSLITMUS_STATS_PORT``      the reviews proxy's metrics port, for
                                retry_stats: 9901 (App Mesh), 15090 (Istio),
                                19001 (Gateway API on Envoy Gateway; 15090 on
                                Istio), 4191 (Linkerd)
``CHAOSLITMUS_LAB_API``         the lab API server's URL
``NO_PROXY`` / ``no_proxy``     extended with ``127.0.0.1,localhost`` so an
                                HTTP proxy set for the internet is not used
==============================  ===============================================
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "CHAOSLITMUS_LAB_API",
    "CHAOSLITMUS_MESH",
    "CHAOSLITMUS_MESH_API_VERSION",
    "CHAOSLITMUS_MESH_OBJECT",
    "CHAOSLITMUS_NAMESPACE",
    "CHAOSLITMUS_RATINGS_LABEL",
    "CHAOSLITMUS_RATINGS_ROUTE",
    "CHAOSLITMUS_RATINGS_URL",
    "CHAOSLITMUS_STATS_PORT",
    "EXPORTED",
    "KUBECONFIG",
    "KUBERNETES_CONTEXT",
    "RATINGS_REPLICAS",
    "REVIEWS_DEGRADED_MARKER",
    "REVIEWS_TIMEOUT_MS",
    "REVIEWS_URL",
    "with_no_proxy",
]

KUBECONFIG = "KUBECONFIG"
KUBERNETES_CONTEXT = "KUBERNETES_CONTEXT"
REVIEWS_URL = "REVIEWS_URL"
REVIEWS_TIMEOUT_MS = "REVIEWS_TIMEOUT_MS"
REVIEWS_DEGRADED_MARKER = "REVIEWS_DEGRADED_MARKER"
RATINGS_REPLICAS = "RATINGS_REPLICAS"
CHAOSLITMUS_NAMESPACE = "CHAOSLITMUS_NAMESPACE"
CHAOSLITMUS_MESH = "CHAOSLITMUS_MESH"
CHAOSLITMUS_MESH_API_VERSION = "CHAOSLITMUS_MESH_API_VERSION"
CHAOSLITMUS_MESH_OBJECT = "CHAOSLITMUS_MESH_OBJECT"
CHAOSLITMUS_RATINGS_ROUTE = "CHAOSLITMUS_RATINGS_ROUTE"
CHAOSLITMUS_RATINGS_LABEL = "CHAOSLITMUS_RATINGS_LABEL"
CHAOSLITMUS_RATINGS_URL = "CHAOSLITMUS_RATINGS_URL"
CHAOSLITMUS_LAB_API = "CHAOSLITMUS_LAB_API"
CHAOSLITMUS_STATS_PORT = "CHAOSLITMUS_STATS_PORT"

# In the order `lab up` prints them.
EXPORTED = (
    KUBECONFIG,
    KUBERNETES_CONTEXT,
    REVIEWS_URL,
    REVIEWS_TIMEOUT_MS,
    RATINGS_REPLICAS,
    CHAOSLITMUS_NAMESPACE,
    CHAOSLITMUS_MESH,
    CHAOSLITMUS_MESH_API_VERSION,
    CHAOSLITMUS_MESH_OBJECT,
    CHAOSLITMUS_RATINGS_ROUTE,
    CHAOSLITMUS_RATINGS_LABEL,
    CHAOSLITMUS_RATINGS_URL,
    CHAOSLITMUS_STATS_PORT,
    CHAOSLITMUS_LAB_API,
)

_LOOPBACK = ("127.0.0.1", "localhost")


def with_no_proxy(environ: Mapping[str, str]) -> dict[str, str]:
    """NO_PROXY and no_proxy with the loopback names added (kept if present)."""
    out = {}
    for key in ("NO_PROXY", "no_proxy"):
        current = [p.strip() for p in environ.get(key, "").split(",") if p.strip()]
        out[key] = ",".join(current + [h for h in _LOOPBACK if h not in current])
    return out
