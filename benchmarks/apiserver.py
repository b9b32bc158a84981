"""How fast is the lab API server, and does it stay fast as the store grows?

    python benchmarks/apiserver.py            # N = 200 and N = 2000
    python benchmarks/apiserver.py 200 5000   # other sizes

For each N, a fresh server in a thread; the official kubernetes client (the
same one the extension uses) creates N ChaosEngines, each followed by a GET
of it, and the script prints per-pair latency (mean, p50, p99) for the first
and the last tenth of the pairs: flat means the last tenth costs about what
the first tenth did. Also printed: the time to load all lab CRDs, a LIST of
all N objects, a watch resumed from the first resourceVersion (replaying the
log), and how long stop() takes with a watch open.

Figures are for one run on one machine; compare rows of the same run. The
reference (kmock 0.8, measured in /work/shared/reference/k8s-emulator.md):
362 ms per create+get pair at 1000 objects, growing with the store.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes import client, watch  # noqa: E402

from chaoslitmus.lab import ApiServerThread  # noqa: E402
from chaoslitmus.lab.kube.schemas import default_crd_files, load_crd_files  # noqa: E402

GROUP, VERSION, PLURAL, NS = "litmuschaos.io", "v1alpha1", "chaosengines", "default"


def engine(index: int) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ChaosEngine",
        "metadata": {"name": f"engine-{index:05d}", "labels": {"run": str(index % 7)}},
        "spec": {
            "engineState": "active",
            "chaosServiceAccount": "pod-network-latency-sa",
            "experiments": [
                {
                    "name": "pod-network-latency",
                    "spec": {
                        "components": {
                            "env": [{"name": "NETWORK_LATENCY", "value": "3000"}]
                        }
                    },
                }
            ],
        },
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[rank]


def since_ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def summary(label: str, samples_ms: list[float]) -> str:
    return (
        f"{label:<22} mean {statistics.fmean(samples_ms):6.2f} ms   "
        f"p50 {percentile(samples_ms, 0.5):6.2f} ms   "
        f"p99 {percentile(samples_ms, 0.99):6.2f} ms"
    )


def run(n: int) -> None:
    with ApiServerThread() as server:
        api = client.CustomObjectsApi(
            client.ApiClient(client.Configuration(host=server.url))
        )
        pairs_ms: list[float] = []
        first_rv = None
        started = time.perf_counter()
        for index in range(n):
            t0 = time.perf_counter()
            created = api.create_namespaced_custom_object(
                GROUP, VERSION, NS, PLURAL, engine(index)
            )
            api.get_namespaced_custom_object(
                GROUP, VERSION, NS, PLURAL, created["metadata"]["name"]
            )
            pairs_ms.append((time.perf_counter() - t0) * 1000)
            first_rv = first_rv or created["metadata"]["resourceVersion"]
        total_s = time.perf_counter() - started
        tenth = max(1, n // 10)
        print(f"\nN = {n}: {n} create+get pairs in {total_s:.2f} s")
        print("  " + summary("all pairs", pairs_ms))
        print("  " + summary("first tenth", pairs_ms[:tenth]))
        print("  " + summary("last tenth", pairs_ms[-tenth:]))
        ratio = statistics.fmean(pairs_ms[-tenth:]) / statistics.fmean(pairs_ms[:tenth])
        print(f"  last/first tenth mean ratio: {ratio:.2f} (1.0 = flat)")

        t0 = time.perf_counter()
        listed = api.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)
        print(f"  LIST of {len(listed['items'])} objects: {since_ms(t0):.1f} ms")
        t0 = time.perf_counter()
        selected = api.list_namespaced_custom_object(
            GROUP, VERSION, NS, PLURAL, label_selector="run=3"
        )
        print(
            f"  LIST -l run=3 ({len(selected['items'])} objects): "
            f"{(time.perf_counter() - t0) * 1000:.1f} ms"
        )

        t0 = time.perf_counter()
        replayed = sum(
            1
            for _ in watch.Watch().stream(
                api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NS,
                PLURAL,
                resource_version=first_rv,
                timeout_seconds=1,
            )
        )
        print(
            f"  watch resumed from the first RV: {replayed} events replayed; stream "
            f"(incl. its 1 s timeout) took {time.perf_counter() - t0:.2f} s"
        )

        def open_watch() -> None:
            try:
                for _ in watch.Watch().stream(
                    api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    NS,
                    PLURAL,
                    label_selector="run=99",
                ):
                    pass
            except Exception:  # noqa: BLE001 - the server goes away under it
                pass

        threading.Thread(target=open_watch, daemon=True).start()
        deadline = time.monotonic() + 10
        while (
            server.call(server.store.watcher_count) == 0 and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        t0 = time.perf_counter()
        server.stop()
        print(
            f"  stop() with an open watch: {(time.perf_counter() - t0) * 1000:.0f} ms"
        )


def main(argv: list[str]) -> None:
    sizes = [int(arg) for arg in argv] or [200, 2000]
    t0 = time.perf_counter()
    crds = load_crd_files(default_crd_files())
    print(f"load all lab CRDs ({len(crds)} CRDs, first parse): {since_ms(t0):.0f} ms")
    t0 = time.perf_counter()
    load_crd_files(default_crd_files())
    print(f"load all lab CRDs again (parse cached): {since_ms(t0):.0f} ms")
    for n in sizes:
        run(n)


if __name__ == "__main__":
    main(sys.argv[1:])
