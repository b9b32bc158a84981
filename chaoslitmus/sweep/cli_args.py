"""The arguments of `chaoslitmus sweep`, and nothing else.

Imports only argparse, so `chaoslitmus --help` stays light; the sweep's
engine (and the activities it runs) load when it runs.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_sweep_parser"]


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `sweep` on the `chaoslitmus` command's subparsers."""
    parser = subparsers.add_parser(
        "sweep",
        help="run faults x retry policies and recommend a policy",
        description=(
            "Run a grid of pod-network-latency faults x mesh retry policies, one "
            "cell at a time with every change rolled back, against the cluster of "
            "the current KUBECONFIG (`chaoslitmus lab run -- chaoslitmus sweep ...` "
            "on the lab). Writes a JSON file after every cell and recommends the "
            "cheapest policy that met the SLO in every fault."
        ),
    )
    grid = parser.add_argument_group("the grid (comma-separated lists)")
    grid.add_argument("--plan", metavar="FILE", help="a YAML/JSON plan with these keys")
    for flag, meta, text in (
        ("--latency-ms", "MS,...", "latencies to inject on the target pods"),
        (
            "--pods-affected-perc",
            "PERC,...",
            "share of target pods slowed (default 50)",
        ),
        ("--max-retries", "N,...", "retry counts to try"),
        ("--per-try-ms", "MS,...", "per-try timeouts to try"),
        ("--retry-events", "EVENT,...", "HTTP retry events (default server-error)"),
    ):
        grid.add_argument(flag, metavar=meta, help=text)
    slo = parser.add_argument_group("the callers and their SLO")
    slo.add_argument(
        "--caller-timeout-ms",
        type=float,
        help="how long callers wait (default $REVIEWS_TIMEOUT_MS, else 2500)",
    )
    slo.add_argument("--slo-error-ratio", type=float, help="default 0.01")
    slo.add_argument("--slo-p99-ms", type=float, help="default: the caller timeout")
    run = parser.add_argument_group("each cell")
    run.add_argument("--fault-s", type=float, help="fault window measured (default 10)")
    run.add_argument("--rate-per-s", type=float, help="caller requests/s (default 10)")
    run.add_argument(
        "--settle-timeout-s",
        type=float,
        help="longest wait for a policy or a fault to take effect (default 120)",
    )
    target = parser.add_argument_group(
        "where (defaults: the variables `chaoslitmus lab run` exports)"
    )
    for flag, env in (
        ("--url", "REVIEWS_URL"),
        ("--namespace", "CHAOSLITMUS_NAMESPACE"),
        ("--mesh", "CHAOSLITMUS_MESH"),
        ("--mesh-object", "CHAOSLITMUS_MESH_OBJECT"),
        ("--mesh-api-version", "CHAOSLITMUS_MESH_API_VERSION"),
        ("--app-label", "CHAOSLITMUS_RATINGS_LABEL"),
        ("--caller-label", "CHAOSLITMUS_REVIEWS_LABEL"),
        ("--upstream-cluster", "CHAOSLITMUS_UPSTREAM_CLUSTER"),
        ("--engine-name", "CHAOSLITMUS_ENGINE_NAME"),
    ):
        target.add_argument(flag, metavar="VALUE", help=f"default ${env}")
    parser.add_argument(
        "-o", "--output", default="sweep.json", help="JSON file (default sweep.json)"
    )
    parser.add_argument(
        "--emit-experiment-vars",
        metavar="FILE",
        help="write the recommended policy as a `chaos run --var-file` JSON",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the grid and the pruned policies, change nothing",
    )
    parser.set_defaults(handler=_run_sweep)
    return parser


def _run_sweep(args: argparse.Namespace) -> int:
    """`args.handler`: the engine loads only now."""
    from chaoslitmus.sweep.cli import run_sweep

    return run_sweep(args)
