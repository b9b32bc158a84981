"""Benchmark measure_endpoint: against hey, against a thread-pool client, and
against closed-loop samplers during a stall (coordinated omission).

    python benchmarks/traffic.py                  # every section
    python benchmarks/traffic.py hey clients      # some sections
    python benchmarks/traffic.py --seconds 5 --json figures.json

Sections:
  hey       our p50/p99 and achieved rate next to hey's at 50, 100, 200,
            500, 1000, 2000 and 3000 req/s against a server answering after
            a fixed 50 ms, hey run two ways: staggered single-worker
            processes (evenly spaced requests, like ours; up to 200 req/s,
            beyond that it would take hundreds of processes) and one process
            whose workers send in bursts. Our rows add the send lag's p99 and
            the rate the sampler estimates it sustains: above that rate its
            own lag is part of the latency (and it says so in `warnings`).
            hey comes from the Debian package:
            `apt-get update && apt-get install -y hey`.
  clients   the client choice: aiohttp on a private loop (what the probes use)
            against requests + a thread pool, both open-loop, at 200 and 500
            req/s, and at 200 req/s through a 3 s stall; CPU is this process's.
  omission  a 3 s stall seen by our open loop (100 req/s) and, at the same
            time, by a closed loop like a shell curl loop (one request,
            then 0.5 s pause) and by a tight closed loop (no pause).

The server runs in a separate process (`--serve`), so it does not share the
GIL with the samplers. Figures are for one run on one machine: compare the
columns of a row, not rows across machines. Percentiles are nearest-rank for
every sampler, hey's CSV included.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaoslitmus.http.probes import measure_endpoint  # noqa: E402
from chaoslitmus.http.stats import percentile  # noqa: E402

DELAY_MS = 50
HEY_RATES = (50, 100, 200, 500, 1000, 2000, 3000)
MAX_STAGGERED_RATE = 200
STALL_S = 3.0
HEY_MISSING = (
    "hey is not installed: the comparison with hey was SKIPPED. "
    "Install it with `apt-get update && apt-get install -y hey` and run again."
)


# --- the server (runs in its own process) ---------------------------------


def serve(delay_ms: int) -> None:
    """Answer after delay_ms; /admin/stall makes every answer wait out a stall."""
    from aiohttp import web

    stall = {"from": 0.0, "until": 0.0}

    async def delayed(request: web.Request) -> web.Response:
        now = asyncio.get_running_loop().time()
        if stall["from"] <= now < stall["until"]:
            await asyncio.sleep(stall["until"] - now)
        await asyncio.sleep(delay_ms / 1000)
        return web.Response(text="ok")

    async def set_stall(request: web.Request) -> web.Response:
        now = asyncio.get_running_loop().time()
        stall["from"] = now + float(request.query.get("after_s", "0"))
        stall["until"] = stall["from"] + float(request.query["seconds"])
        return web.Response(text="stalling")

    async def main() -> None:
        app = web.Application()
        app.add_routes([web.get("/", delayed), web.post("/admin/stall", set_stall)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port = runner.addresses[0][1]
        print(port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


@contextmanager
def server_process(delay_ms: int) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--delay-ms", str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        requests.get(base + "/", timeout=5)  # warm the server up once
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def stall_in(base: str, after_s: float, seconds: float) -> None:
    requests.post(
        f"{base}/admin/stall",
        params={"after_s": after_s, "seconds": seconds},
        timeout=5,
    )


# --- measurement helpers ----------------------------------------------------


def cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def figures(latencies_ms: list[float], sent: int, window_s: float) -> dict:
    values = sorted(latencies_ms)
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p90_ms": round(percentile(values, 90), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(values[-1], 2) if values else 0.0,
        "rate": round(sent / window_s, 1) if window_s else 0.0,
        "slow_1s_pct": round(100 * sum(v >= 1000 for v in values) / len(values), 1)
        if values
        else 0.0,
    }


def ours(url: str, rate: float, seconds: float) -> dict:
    before = cpu_s()
    result = measure_endpoint(url, duration_s=seconds, rate_per_s=rate, timeout_s=10)
    used = cpu_s() - before
    out = figures([s[2] for s in result["samples"]], 0, 1)
    out["rate"] = result["achieved_rate_per_s"]
    out["errors"] = result["failed"]
    out["cpu_ms_per_req"] = round(1000 * used / max(result["total"], 1), 3)
    out["lag_p99_ms"] = result["send_lag_ms"]["p99"]
    out["sustains"] = result["sustainable_rate_per_s"]
    out["warned"] = "yes" if result["warnings"] else "no"
    return out


def run_hey(url: str, rate: float, seconds: float, staggered: bool) -> dict | None:
    """hey at `rate`: 10 req/s per worker (each worker has 100 ms for a 50 ms
    answer, so workers never limit the rate).

    One hey process starts all its workers' tickers together, so its
    requests leave in bursts of `workers` every 100 ms and queue at the
    server; `staggered` runs one single-worker hey per worker instead,
    started 1/rate apart, so requests leave evenly spaced like ours.
    """
    hey = shutil.which("hey")
    if hey is None:
        return None
    workers = max(1, math.ceil(rate / 10))
    per_worker = rate / workers
    before = cpu_s(resource.RUSAGE_CHILDREN)
    processes = []
    for _ in range(workers if staggered else 1):
        command = [hey, "-z", f"{seconds}s", "-q", f"{per_worker:g}", "-o", "csv"]
        command += ["-c", "1" if staggered else str(workers), url]
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
        if staggered:
            time.sleep(1 / rate)
    rows = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode:
            raise RuntimeError(f"hey exited with {process.returncode}")
        rows += list(csv.DictReader(io.StringIO(out)))
    used = cpu_s(resource.RUSAGE_CHILDREN) - before
    latencies = [float(row["response-time"]) * 1000 for row in rows]
    out = figures(latencies, len(rows), seconds)
    out["errors"] = sum(row["status-code"] != "200" for row in rows)
    out["cpu_ms_per_req"] = round(1000 * used / max(len(rows), 1), 3)
    return out


def threadpool_open_loop(url: str, rate: float, seconds: float, workers: int) -> dict:
    """The alternative client: requests sessions in a pool, fed on schedule."""
    local = threading.local()
    count = max(1, math.ceil(rate * seconds - 1e-9))
    latencies: list[float] = [0.0] * count
    sent_at: list[float] = [0.0] * count
    errors = [0]

    def send(index: int, due: float) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        sent_at[index] = time.perf_counter()
        try:
            session.get(url, timeout=10).content  # noqa: B018
        except requests.RequestException:
            errors[0] += 1
        latencies[index] = (time.perf_counter() - due) * 1000

    before = cpu_s()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        start = time.perf_counter()
        for index in range(count):
            due = start + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(send, index, due)
    used = cpu_s() - before
    window = max(sent_at) - start + 1 / rate
    out = figures(latencies, count, window)
    out["errors"] = errors[0]
    out["cpu_ms_per_req"] = round(1000 * used / count, 3)
    return out


def closed_loop(url: str, seconds: float, pause_s: float) -> dict:
    """Send, wait for the answer, pause, repeat: a shell curl loop."""
    session = requests.Session()
    latencies: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        began = time.perf_counter()
        session.get(url, timeout=30).content  # noqa: B018
        latencies.append((time.perf_counter() - began) * 1000)
        if pause_s:
            time.sleep(pause_s)
    return figures(latencies, len(latencies), seconds)


def in_thread(fn: Callable[[], dict]) -> Callable[[], dict]:
    box: dict[str, dict] = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", fn()))
    thread.start()

    def join() -> dict:
        thread.join()
        return box["r"]

    return join


# --- sections ----------------------------------------------------------------


COLUMNS = (
    "n",
    "rate",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "errors",
    "cpu_ms_per_req",
    "lag_p99_ms",
    "sustains",
    "warned",
)


def table(title: str, rows: list[tuple[str, dict]]) -> None:
    print(f"\n{title}")
    cols = [c for c in (*COLUMNS, "slow_1s_pct") if any(c in r for _, r in rows)]
    print(f"{'':34}" + "".join(f"{c:>15}" for c in cols))
    for name, row in rows:
        print(f"{name:34}" + "".join(f"{row.get(c, ''):>15}" for c in cols))


def section_hey(seconds: float) -> dict:
    results: dict = {}
    if shutil.which("hey") is None:
        print("\n" + HEY_MISSING)
    with server_process(DELAY_MS) as base:
        for rate in HEY_RATES:
            mine = ours(base + "/", rate, seconds)
            smooth = None
            if rate <= MAX_STAGGERED_RATE:
                smooth = run_hey(base + "/", rate, seconds, staggered=True)
            bursty = run_hey(base + "/", rate, seconds, staggered=False)
            rows = [(f"measure_endpoint @{rate}/s", mine)]
            workers = max(1, math.ceil(rate / 10))
            if smooth is not None:
                rows.append((f"hey x{workers} staggered @{rate}/s", smooth))
                mine["p50_diff_vs_hey_ms"] = round(mine["p50_ms"] - smooth["p50_ms"], 2)
            if bursty is not None:
                rows.append((f"hey -c {workers} (bursts) @{rate}/s", bursty))
            table(f"server delay {DELAY_MS} ms, {rate} req/s, {seconds:g} s", rows)
            line = f"  achieved {100 * mine['rate'] / rate:.1f}% of target"
            if smooth is not None:
                line += f"; p50 {mine['p50_diff_vs_hey_ms']:+.2f} ms vs staggered hey"
            print(line)
            results[str(rate)] = {"ours": mine, "hey_staggered": smooth, "hey": bursty}
    return results


def section_clients(seconds: float) -> dict:
    results: dict = {}
    with server_process(DELAY_MS) as base:
        for rate in (200, 500):
            rows = [
                (f"aiohttp loop @{rate}/s", ours(base + "/", rate, seconds)),
                (
                    f"requests pool 64 @{rate}/s",
                    threadpool_open_loop(base + "/", rate, seconds, 64),
                ),
            ]
            table(f"clients, server delay {DELAY_MS} ms, {rate} req/s", rows)
            results[str(rate)] = dict(rows)
        rows = []
        for name, run in (
            ("aiohttp loop", lambda: ours(base + "/", 200, seconds)),
            (
                "requests pool 64",
                lambda: threadpool_open_loop(base + "/", 200, seconds, 64),
            ),
            (
                "requests pool 1000",
                lambda: threadpool_open_loop(base + "/", 200, seconds, 1000),
            ),
        ):
            stall_in(base, 1.0, STALL_S)
            rows.append((f"{name} @200/s, {STALL_S:g} s stall", run()))
            time.sleep(STALL_S)  # let any stall left over end before the next run
        table(f"clients through a {STALL_S:g} s stall", rows)
        results["stall"] = dict(rows)
    return results


def section_omission(seconds: float) -> dict:
    seconds = max(seconds, 8.0)
    with server_process(DELAY_MS) as base:
        stall_in(base, 2.0, STALL_S)
        curl_like = in_thread(lambda: closed_loop(base + "/", seconds, 0.5))
        tight = in_thread(lambda: closed_loop(base + "/", seconds, 0.0))
        mine = ours(base + "/", 100, seconds)
        rows = [
            ("open loop, measure_endpoint 100/s", mine),
            ("closed loop, curl-like (0.5 s)", curl_like()),
            ("closed loop, tight (no pause)", tight()),
        ]
    table(
        f"a {STALL_S:g} s stall inside a {seconds:g} s window, delay {DELAY_MS} ms",
        rows,
    )
    return dict(rows)


SECTIONS = {
    "hey": section_hey,
    "clients": section_clients,
    "omission": section_omission,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)}")
    parser.add_argument("--seconds", type=float, default=10.0, help="per run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--delay-ms", type=int, default=DELAY_MS, help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.delay_ms)
        return
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; pick from {list(SECTIONS)}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    results = {
        name: SECTIONS[name](args.seconds) for name in (args.sections or SECTIONS)
    }
    if shutil.which("hey") is None:
        print("\n" + HEY_MISSING)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
