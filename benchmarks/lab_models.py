"""Error rates of the lab's data-plane models, with and without retries.

    python benchmarks/lab_models.py [--seed N] [--window-s S]

Each row runs the scenario of tests/lab/test_scenarios.py with the same
scale (reviews gives up after 1000 ms, 1500 ms of latency on the slow pod(s),
the story's policy with a 600 ms per-try timeout, 20 req/s) and prints the
error rate callers saw without a retry policy and with it, and the share of
ratings requests the slow pod(s) received. Figures are for one seeded run
on one machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "lab")]

from scenario_rig import (  # noqa: E402
    UNAVAILABLE,
    measure,
    ratings_pods,
    running_lab,
    story_policy,
)

SCALE = {"reviews_timeout_ms": 1000}
ROWS = [
    ("App Mesh endpoints (the story)", {}, 1, {}),
    ("App Mesh dns, keep-alive", {"appmesh_discovery": "dns"}, 1, {}),
    (
        "App Mesh dns, no keep-alive",
        {"appmesh_discovery": "dns", "max_requests_per_connection": 1},
        1,
        {},
    ),
    ("App Mesh endpoints, no keep-alive", {"max_requests_per_connection": 1}, 1, {}),
    ("endpoints, netem on connection set-up", {"netem_connection_setup": True}, 1, {}),
    ("Istio least-request", {"mesh": "istio"}, 1, {}),
    ("Istio round-robin", {"mesh": "istio", "istio_lb": "round-robin"}, 1, {}),
    (
        "degraded 200s, status-only probe",
        {"reviews_on_ratings_error": "degraded"},
        1,
        {},
    ),
    (
        "degraded 200s, body-aware probe",
        {"reviews_on_ratings_error": "degraded"},
        1,
        {"body_must_not_contain": UNAVAILABLE},
    ),
    ("3 replicas, all slow", {"ratings_replicas": 3}, 3, {}),
    ("400 ms, under reviews' 1000 ms", {}, 1, {"latency_ms": 400}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--window-s", type=float, default=2.5)
    parser.add_argument("--latency-ms", type=int, default=1500)
    parser.add_argument("--only", default="", help="rows whose name holds this")
    args = parser.parse_args()
    patch = pytest.MonkeyPatch()
    print(f"{'scenario':42}{'no retries':>12}{'retries':>10}{'slow share':>12}")
    for name, options, slow_count, extra in ROWS:
        if args.only not in name:
            continue
        probe = dict(extra)
        latency_ms = probe.pop("latency_ms", args.latency_ms)
        with running_lab(patch, seed=args.seed, **SCALE, **options) as lab:
            slow = ratings_pods(lab)[:slow_count]
            runs = [
                measure(
                    lab,
                    slow=slow,
                    latency_ms=latency_ms,
                    window_s=args.window_s,
                    rate_per_s=20,
                    policy=policy,
                    **probe,
                )
                for policy in (None, story_policy(600))
            ]
        share = runs[0].share_served_by(slow)
        print(
            f"{name:42}{runs[0].error_rate:>12.2f}{runs[1].error_rate:>10.2f}"
            f"{share:>12.2f}",
            flush=True,
        )
    patch.undo()


if __name__ == "__main__":
    main()
