"""The arguments of `chaoslitmus lab up|run`, and nothing else.

Imports only argparse and the lab's options (no servers, no schema
libraries), so `chaoslitmus --help` works from the core install; the lab
itself loads when `lab up` or `lab run` runs.
"""

from __future__ import annotations

import argparse

from chaoslitmus.lab.options import (
    APPMESH_APIS,
    DEFAULT_REVIEWS_PORT,
    HOST_PREDICATES,
    MESHES,
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
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed, metavar="N")
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
        "App Mesh or Istio, and BookInfo's reviews/ratings on 127.0.0.1.",
    )
    actions = lab.add_subparsers(dest="lab_command", metavar="up|run")
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
