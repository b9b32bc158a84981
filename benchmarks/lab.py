"""How fast does the lab start, and what does the mesh proxy add per request?

    python benchmarks/lab.py            # 1000 requests per path
    python benchmarks/lab.py 3000       # more requests

Startup: `Lab(...).start()` in this process (store, world, data plane, API
server, Litmus operator, until every ratings pod serves), five times; and
`chaoslitmus lab up` as a user runs it (a new interpreter, imports included)
until it prints its exports, three times.

Proxy latency: one keep-alive HTTP/1.1 connection per path, requests one
after another, in interleaved blocks of 100 so that drift of a shared
machine hits every path alike: ratings called directly on one pod's port,
ratings through the mesh proxy (what reviews calls), and reviews itself
(client -> reviews -> proxy -> ratings). Printed: p50/p99 per path, the
proxy's added time (proxy minus direct) and the ratio proxy/direct.
Figures are for one run on one machine; compare rows of the same run.
"""

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaoslitmus.lab import Lab, LabOptions  # noqa: E402

BLOCK = 100


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def startup_in_process(runs: int = 5) -> list[float]:
    times = []
    for _ in range(runs):
        lab = Lab(LabOptions(reviews_port=0))
        began = time.perf_counter()
        lab.start()
        times.append(time.perf_counter() - began)
        lab.stop()
    return times


def startup_cli(runs: int = 3) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chaoslitmus.cli",
                "lab",
                "up",
                "--reviews-port",
                "0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("# Ctrl-C"):
                break
        times.append(time.perf_counter() - began)
        process.terminate()
        process.wait(timeout=30)
    return times


class TimedPath:
    """A keep-alive connection to one URL, timed per request."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.path = parts.path
        self.connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=10
        )
        self.samples: list[float] = []

    def call(self, record: bool = True) -> None:
        began = time.perf_counter()
        self.connection.request("GET", self.path)
        response = self.connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.path} answered {response.status}")
        if record:
            self.samples.append((time.perf_counter() - began) * 1000)


def proxy_latency(requests: int) -> dict[str, list[float]]:
    with Lab(LabOptions(reviews_port=0)) as lab:
        assert lab.dataplane is not None
        port = sorted(lab.dataplane.ratings_ports().values())[0]
        paths = {
            "ratings direct": TimedPath(f"http://127.0.0.1:{port}/ratings/0"),
            "ratings via proxy": TimedPath(lab.ratings_url),
            "reviews (end to end)": TimedPath(lab.reviews_url),
        }
        for path in paths.values():  # warm up connections and code paths
            for _ in range(50):
                path.call(record=False)
        for _ in range(max(1, requests // BLOCK)):
            for path in paths.values():
                for _ in range(BLOCK):
                    path.call()
        return {name: path.samples for name, path in paths.items()}


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    inproc = startup_in_process()
    print(
        f"startup, Lab.start() in process: median {statistics.median(inproc):.3f}s, "
        f"max {max(inproc):.3f}s ({len(inproc)} runs)"
    )
    cli = startup_cli()
    print(
        f"startup, `chaoslitmus lab up` to exports printed: median "
        f"{statistics.median(cli):.3f}s, max {max(cli):.3f}s ({len(cli)} runs)"
    )
    samples = proxy_latency(requests)
    print(f"\nlatency per request, {requests} sequential keep-alive requests per path:")
    print(f"{'path':<22} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, values in samples.items():
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        print(f"{name:<22} {p50:>8.3f} {p99:>8.3f} {statistics.fmean(values):>8.3f}")
    direct, proxied = samples["ratings direct"], samples["ratings via proxy"]
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        d, p = percentile(direct, fraction), percentile(proxied, fraction)
        print(f"proxy adds {p - d:.3f} ms at {label} (proxy/direct = {p / d:.2f}x)")


if __name__ == "__main__":
    main()
