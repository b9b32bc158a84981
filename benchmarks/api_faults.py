"""What do API faults cost? Success rate and time of two cycles, faults vs none.

Runs on the lab (API emulator + Litmus operator loop + BookInfo world, in this
process), with the fault proxy of tests/resilience between the extension and
the API server:

- litmus: inject_network_latency (1 s of chaos, wait for the verdict) then
  delete_engine (wait until gone);
- mesh: set_retry_policy (the story's policy) then restore_retry_policy.

Each cycle runs N times without faults and N times with faults on 20% of the
requests (500/503 before or after the server acted, resets, 2 s stalls, cut
watch streams; a new seed per run). A cycle succeeds when every activity
returns and the cluster ends as it began (one engine made and removed; the
route restored byte for byte).

Usage: python benchmarks/api_faults.py [N] [RATE]   (defaults: 5, 0.2)
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaoslib.exceptions import ActivityFailed  # noqa: E402

from chaoslitmus.lab import (
    world,  # noqa: E402
    write_kubeconfig,  # noqa: E402
)
from chaoslitmus.litmus import actions  # noqa: E402
from chaoslitmus.mesh.actions import (  # noqa: E402
    restore_retry_policy,
    set_retry_policy,
)
from tests.resilience.conftest import STORY, Lab, start_lab  # noqa: E402
from tests.resilience.faultproxy import FaultProxy  # noqa: E402

NS = world.NAMESPACE


def litmus_cycle(lab: Lab) -> bool:
    before = lab.engine_names()
    outcome = actions.inject_network_latency(
        NS, "app=ratings", duration_s=1, timeout_s=60
    )
    made = lab.engine_names() - before
    actions.delete_engine(outcome["engine_name"], NS, timeout_s=30)
    return (
        outcome["verdict"] == "Pass"
        and made == {outcome["engine_name"]}
        and lab.engine_names() == before
    )


def mesh_cycle(lab: Lab) -> bool:
    namespace = lab.mesh_namespace()
    target = {
        "name": f"{world.RATINGS_SERVICE}.{namespace}.svc.cluster.local",
        "namespace": namespace,
        "mesh": "appmesh",
    }

    def frozen() -> str:
        router = lab.router(namespace)
        return json.dumps([router["spec"], router["metadata"].get("annotations")])

    original = frozen()
    changed = set_retry_policy(**target, **STORY)["changed"]
    restored = restore_retry_policy(**target)["restored"]
    return changed and restored and frozen() == original


def measure(
    lab: Lab, cycle: Callable[[Lab], bool], runs: int, rate: float, folder: str
) -> dict:
    times, ok, faults, requests = [], 0, 0, 0
    for run in range(runs):
        with FaultProxy(lab.server.url, rate=rate, seed=1000 + run) as proxy:
            os.environ["KUBECONFIG"] = str(
                write_kubeconfig(f"{folder}/kc-{rate}-{run}", proxy.url)
            )
            began = time.monotonic()
            try:
                success = cycle(lab)
            except ActivityFailed as exc:
                print(f"    run {run}: failed: {exc}", file=sys.stderr)
                success = False
            times.append(time.monotonic() - began)
            ok += success
            faults += len(proxy.faulted())
            requests += len(proxy.records)
    return {
        "success": ok / runs,
        "median_s": statistics.median(times),
        "mean_s": statistics.fmean(times),
        "max_s": max(times),
        "faults": faults,
        "requests": requests,
    }


def main(runs: int, rate: float) -> None:
    logging.getLogger("chaostoolkit").setLevel(logging.ERROR)
    lab = start_lab()
    try:
        with tempfile.TemporaryDirectory() as folder:
            print(
                f"{'cycle':<28}{'faults':>8}{'success':>9}{'median s':>10}"
                f"{'mean s':>8}{'max s':>7}{'injected':>10}{'ratio':>7}"
            )
            for title, cycle in (
                ("launch+wait+delete", litmus_cycle),
                ("set+restore retry policy", mesh_cycle),
            ):
                clean = measure(lab, cycle, runs, 0.0, folder)
                faulty = measure(lab, cycle, runs, rate, folder)
                for label, figures in (("none", clean), (f"{rate:.0%}", faulty)):
                    ratio = figures["median_s"] / clean["median_s"]
                    print(
                        f"{title:<28}{label:>8}{figures['success']:>9.0%}"
                        f"{figures['median_s']:>10.2f}{figures['mean_s']:>8.2f}"
                        f"{figures['max_s']:>7.2f}"
                        f"{figures['faults']:>4}/{figures['requests']:<5}"
                        f"{ratio:>7.2f}"
                    )
    finally:
        lab.server.stop()
    print(
        f"\n{runs} runs per line; 'injected' = faulted/all requests through the "
        "proxy; ratio = median / median without faults"
    )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 5,
        float(sys.argv[2]) if len(sys.argv) > 2 else 0.2,
    )
