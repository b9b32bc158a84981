"""The arguments of `chaoslitmus lab up|run`, and nothing else.

Imports only argparse and the lab's options (no servers, no schema
libraries), so `chaoslitmus --help` works from the core install; the lab
itself loads when `lab up` or `lab run` runs.
"""

from __future__ import annotations

import argparse

from chaoslitmus.lab.options import (
    APPMESH_APIS,
    APPMESH_DISCOVERIES,
    DEFAULT_REVIEWS_PORT,
    GATEWAY_API_CHANNELS,
    GATEWAY_API_IMPLEMENTATIONS,
    HOST_PREDICATES,
    ISTIO_BALANCERS,
    MESHES,
    RATINGS_ERROR_ANSWERS,
    LabOptions,
)

__all__ = ["add_lab_parser"]

# The CLI's defaults are LabOptions' own, so the two can never drift apart.
_DEFAULTS = LabOptions()


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mesh", choices=MESHES, default=_DEFAULTS.mesh)
    parser.add_argument(
        "--appmesh-api",
        choices=APPMESH_APIS,
        default=_DEFAULTS.appmesh_api,
        help="App Mesh CRD version the lab serves (default: v1beta2)",
    )
    parser.add_argument(
        "--gateway-api-channel",
        choices=GATEWAY_API_CHANNELS,
        default=_DEFAULTS.gateway_api_channel,
        help="HTTPRoute CRD served with --mesh gateway-api (only experimental "
        "has rules[].retry before Gateway API v1.7)",
    )
    parser.add_argument(
        "--gateway-api-implementation",
        choices=GATEWAY_API_IMPLEMENTATIONS,
        default=_DEFAULTS.gateway_api_implementation,
        help="with --mesh gateway-api: whether a backendRequest expiry is "
        "retried (envoy-gateway) or not (istio's translation)",
    )
    parser.add_argument(
        "--ratings-replicas", type=int, default=_DEFAULTS.ratings_replicas, metavar="N"
    )
    parser.add_argument(
        "--reviews-timeout-ms",
        type=int,
        default=_DEFAULTS.reviews_timeout_ms,
        metavar="MS",
        help="how long reviews waits for ratings before answering 500",
    )
    parser.add_argument(
        "--reviews-port",
        type=int,
        default=None,
        metavar="PORT",
        help=f"reviews' port (default {DEFAULT_REVIEWS_PORT}, or a free port when "
        "it is taken; 0: a free port)",
    )
    parser.add_argument(
        "--litmus-startup-s",
        type=float,
        default=_DEFAULTS.litmus_startup_s,
        metavar="S",
        help="seconds Litmus' runner and experiment pods take to start",
    )
    parser.add_argument(
        "--pod-start-s",
        type=float,
        default=_DEFAULTS.pod_start_s,
        metavar="S",
        help="seconds a new pod stays Pending before it runs (scale-ups, replacements)",
    )
    parser.add_argument(
        "--litmus-inject-delay-s",
        type=float,
        default=_DEFAULTS.litmus_inject_delay_s,
        metavar="S",
        help="seconds from the ChaosResult's Running to the fault being on "
        "(Litmus' helper pod start-up)",
    )
    parser.add_argument(
        "--mesh-propagation-ms",
        type=int,
        default=_DEFAULTS.mesh_propagation_ms,
        metavar="MS",
        help="milliseconds before a changed route reaches the callers' proxy",
    )
    parser.add_argument(
        "--retry-host-predicate",
        choices=HOST_PREDICATES,
        default=_DEFAULTS.retry_host_predicate,
        help="whether a retry avoids the hosts this request already tried",
    )
    parser.add_argument(
        "--appmesh-discovery",
        choices=APPMESH_DISCOVERIES,
        default=_DEFAULTS.appmesh_discovery,
        help="endpoints: every ratings pod is a host of the caller's Envoy; dns: "
        "one host (a ClusterIP), kube-proxy picks a pod per new connection, so a "
        "retry may land on the slow pod again (default: endpoints)",
    )
    parser.add_argument(
        "--istio-lb",
        choices=ISTIO_BALANCERS,
        default=_DEFAULTS.istio_lb,
        help="Istio's load balancer (default: least-request, Istio's own default)",
    )
    parser.add_argument(
        "--reviews-on-ratings-error",
        choices=RATINGS_ERROR_ANSWERS,
        default=_DEFAULTS.reviews_on_ratings_error,
        help="500 (the story's build) or degraded: 200 with an error entry in "
        "place of the stars, as upstream BookInfo reviews-v3 (default: 500)",
    )
    parser.add_argument(
        "--netem-connection-setup",
        action="store_true",
        help="a latency fault also delays the set-up of new connections to and "
        "from the pod (SYN, SYN-ACK), as real netem does, before Envoy's "
        "per-try timer starts; off by default so the story's figures hold",
    )
    parser.add_argument(
        "--max-requests-per-connection",
        type=int,
        default=_DEFAULTS.max_requests_per_connection,
        metavar="N",
        help="the caller's Envoy closes an upstream connection after N requests "
        "(0: never, Envoy's default; 1: no keep-alive, every try connects anew)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=_DEFAULTS.seed,
        metavar="N",
        help="seeds every random choice of the lab (targets, balancing, jitter)",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        metavar="PATH",
        help="create the kubeconfig here, removed when the lab stops (default: a "
        "temporary file); an existing file is refused without --force",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="let --kubeconfig replace an existing file until the lab stops "
        "(its content is put back then)",
    )


def add_lab_parser(commands: argparse._SubParsersAction) -> None:
    """Register `lab up` and `lab run` under the top-level parser."""
    lab = commands.add_parser(
        "lab",
        help="a local Kubernetes API, Litmus, mesh and BookInfo to experiment on",
        description="The embedded lab: Kubernetes API emulator, Litmus operator, "
        "App Mesh, Istio, Gateway API or Linkerd, and BookInfo's "
        "reviews/ratings on 127.0.0.1.",
    )
    actions = lab.add_subparsers(dest="lab_command", metavar="up|run|reset")
    actions.required = True
    up = actions.add_parser("up", help="start the lab and keep it running until Ctrl-C")
    _add_options(up)
    run = actions.add_parser(
        "run",
        help="start the lab, run a command in it, stop the lab",
        usage="%(prog)s [options] -- CMD [ARG...]",
    )
    _add_options(run)
    run.add_argument("cmd", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    reset = actions.add_parser(
        "reset",
        help="put a running lab's world back as `lab up` seeded it",
        description="Deletes chaos engines, results, Jobs and what was added to "
        "the namespace, restores every seeded object and uncordons the node, "
        "on the lab that CHAOSLITMUS_LAB_API (exported by `lab up`) names.",
    )
    reset.add_argument(
        "--api",
        default=None,
        metavar="URL",
        help="the lab API server (default: $CHAOSLITMUS_LAB_API)",
    )
