"""How fast does run_experiment notice a verdict?

Runs pod-network-latency N times on the lab (API emulator + Litmus operator
loop, in this process) and measures, for each run, the time from the moment
the operator writes the final verdict into the ChaosResult to the moment the
caller has it:

- watch: `run_experiment(wait=True)` (what the extension does);
- poll: create the engine, then GET the ChaosResult every 2 s (what a plain
  polling loop would do), measured in the same run for reference.

Target: watch p50 < 250 ms. Usage: python benchmarks/verdict_latency.py [N]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from chaoslitmus.lab import (
    ControlPlane,
    LabOptions,
    write_kubeconfig,
)
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus import actions
from chaoslitmus.litmus.manifests import engine_name_for

RESULTS = "litmuschaos.io/v1alpha1/chaosresults"
FINAL = {"Completed", "Completed_With_Probe_Failure", "Error", "Stopped"}
verdict_written: dict[str, float] = {}


async def verdict_clock(store) -> None:
    """Server side: note when each result's final verdict lands."""
    async for _kind, obj in store.watch(RESULTS):
        status = (obj.get("status") or {}).get("experimentStatus") or {}
        name = obj["metadata"]["name"]
        if status.get("phase") in FINAL and name not in verdict_written:
            verdict_written[name] = time.monotonic()
        elif status.get("phase") == "Running":
            verdict_written.pop(name, None)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered)))
    return ordered[rank - 1]


def poll_run(name: str, interval_s: float = 2.0) -> float:
    from kubernetes import client, config

    api = client.CustomObjectsApi(
        config.new_client_from_config(config_file=os.environ["KUBECONFIG"])
    )
    actions.inject_network_latency(
        world.NAMESPACE, "app=ratings", duration_s=1, engine_name=name, wait=False
    )
    result = f"{name}-pod-network-latency"
    while True:
        time.sleep(interval_s)
        try:
            obj = api.get_namespaced_custom_object(
                "litmuschaos.io", "v1alpha1", world.NAMESPACE, "chaosresults", result
            )
        except client.ApiException:
            continue
        phase = (obj.get("status") or {}).get("experimentStatus", {}).get("phase")
        if phase in FINAL:
            return time.monotonic() - verdict_written[result]


def main(runs: int) -> None:
    options = LabOptions(litmus_startup_s=0.2, litmus_inject_delay_s=0)
    with ControlPlane(options, operator_seed=1, controllers=[verdict_clock]) as plane:
        server = plane.server
        kubeconfig = write_kubeconfig(Path(tempfile.mkdtemp()) / "kc", server.url)
        os.environ["KUBECONFIG"] = str(kubeconfig)
        watch, poll = [], []
        for i in range(runs):
            outcome = actions.inject_network_latency(
                world.NAMESPACE, "app=ratings", duration_s=1, timeout_s=60
            )
            returned = time.monotonic()
            watch.append(returned - verdict_written[outcome["result_name"]])
            if i % 4 == 0:  # polling is slow: sample a quarter of the runs
                poll.append(poll_run(engine_name_for("poll")))
        for label, values in (
            ("watch (run_experiment)", watch),
            ("poll every 2 s", poll),
        ):
            ms = [v * 1000 for v in values]
            print(
                f"{label:24s} n={len(ms):3d}  p50={percentile(ms, 50):8.1f} ms  "
                f"p95={percentile(ms, 95):8.1f} ms  mean={statistics.mean(ms):8.1f} ms"
            )
        ratio = percentile(poll, 50) / max(percentile(watch, 50), 1e-6)
        print(f"poll p50 / watch p50 = {ratio:.0f}x; target watch p50 < 250 ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
