"""The lab's BookInfo stand-ins (ratings, reviews) and the latency they suffer.

`ratings` answers `GET /ratings/{id}` like BookInfo's ratings-v1; `reviews`
answers `GET /reviews/{id}` by calling ratings through the mesh proxy and,
like the story's reviews-v3, gives up after `timeout_ms` and answers 500.
A latency fault (Litmus pod-network-latency: netem on the pod's egress)
delays every response the faulted pod sends by latency +/- jitter.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

__all__ = ["LatencyFaults", "ratings_app", "reviews_app"]

RATINGS = {"Reviewer1": 5, "Reviewer2": 4}
REVIEWS = (
    ("Reviewer1", "A sharp, quick comedy that never loses its pace."),
    ("Reviewer2", "Clever writing, though the middle act drags a little."),
)
POD_HEADER = "x-lab-pod"
# At module level: aiohttp's AppKey looks for a module frame when created,
# and a data plane thread has none.
SESSION_KEY = web.AppKey("session", aiohttp.ClientSession)


@dataclass(frozen=True)
class _Fault:
    namespace: str
    pods: frozenset[str]
    latency_ms: int
    jitter_ms: int


class LatencyFaults:
    """Active latency faults by id; safe to use from any thread.

    The Litmus operator starts and stops faults on the API server's thread;
    the servers read them on the data plane's thread.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self._faults: dict[str, _Fault] = {}

    def start(
        self,
        fault_id: str,
        namespace: str,
        pods: Iterable[str],
        latency_ms: int,
        jitter_ms: int,
    ) -> None:
        fault = _Fault(namespace, frozenset(pods), int(latency_ms), int(jitter_ms))
        with self._lock:
            self._faults[fault_id] = fault

    def stop(self, fault_id: str) -> bool:
        """End a fault; False when it was not active (stop is idempotent)."""
        with self._lock:
            return self._faults.pop(fault_id, None) is not None

    def delay_ms(self, namespace: str, pod: str) -> float:
        """A sampled delay for one response of this pod (0 without a fault).

        Several faults on one pod do not add up (one netem qdisc per
        interface): the largest sampled delay wins.
        """
        with self._lock:
            delays = [
                max(0.0, f.latency_ms + self._rng.uniform(-f.jitter_ms, f.jitter_ms))
                for f in self._faults.values()
                if f.namespace == namespace and pod in f.pods
            ]
        return max(delays, default=0.0)

    def active(self) -> dict[str, dict[str, object]]:
        """What is on now, for status output."""
        with self._lock:
            return {
                fault_id: {
                    "namespace": f.namespace,
                    "pods": sorted(f.pods),
                    "latency_ms": f.latency_ms,
                    "jitter_ms": f.jitter_ms,
                }
                for fault_id, f in self._faults.items()
            }


async def _egress_delay(faults: LatencyFaults, namespace: str, pod: str) -> None:
    delay = faults.delay_ms(namespace, pod)
    if delay > 0:
        await asyncio.sleep(delay / 1000.0)


def _product_id(request: web.Request) -> int | None:
    try:
        return int(request.match_info["id"])
    except ValueError:
        return None


def ratings_app(
    namespace: str, pod: str, faults: LatencyFaults, served: Counter[str]
) -> web.Application:
    """One ratings replica, tied to pod `pod`; counts its requests in `served`."""

    async def ratings(request: web.Request) -> web.Response:
        served[pod] += 1
        product = _product_id(request)
        await _egress_delay(faults, namespace, pod)
        headers = {POD_HEADER: pod}
        if product is None:
            return web.json_response(
                {"error": "please provide a numeric product id"},
                status=400,
                headers=headers,
            )
        return web.json_response(
            {"id": product, "ratings": dict(RATINGS)}, headers=headers
        )

    app = web.Application()
    app.router.add_get("/ratings/{id}", ratings)
    return app


def reviews_app(
    namespace: str,
    pod: Callable[[], str],
    faults: LatencyFaults,
    ratings_base_url: str,
    timeout_ms: float,
) -> web.Application:
    """reviews-v3: ratings through the mesh proxy, 500 when they fail or are late.

    `pod()` names the reviews pod now (it changes if the pod is replaced).
    """

    async def session_context(app: web.Application):  # type: ignore[no-untyped-def]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            app[SESSION_KEY] = session
            yield

    async def fetch_ratings(
        session: aiohttp.ClientSession, product: int
    ) -> tuple[dict | None, str]:
        url = f"{ratings_base_url}/ratings/{product}"
        timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000.0)
        try:
            async with session.get(url, timeout=timeout) as response:
                if response.status != 200:
                    text = (await response.text())[:200]
                    return None, f"ratings answered {response.status}: {text}"
                return await response.json(), ""
        except asyncio.TimeoutError:
            return None, f"ratings did not answer within {timeout_ms:g} ms"
        except (aiohttp.ClientError, ValueError) as exc:
            return None, f"ratings call failed: {type(exc).__name__}"

    async def reviews(request: web.Request) -> web.Response:
        product = _product_id(request)
        name = pod()
        headers = {POD_HEADER: name}
        if product is None:
            await _egress_delay(faults, namespace, name)
            return web.json_response(
                {"error": "please provide a numeric product id"},
                status=400,
                headers=headers,
            )
        ratings, problem = await fetch_ratings(request.app[SESSION_KEY], product)
        await _egress_delay(faults, namespace, name)
        if ratings is None:
            return web.json_response(
                {"id": str(product), "podname": name, "error": problem},
                status=500,
                headers=headers,
            )
        stars = ratings.get("ratings") or {}
        body = {
            "id": str(product),
            "podname": name,
            "reviews": [
                {
                    "reviewer": reviewer,
                    "text": text,
                    "rating": {"stars": stars.get(reviewer), "color": "red"},
                }
                for reviewer, text in REVIEWS
            ],
        }
        return web.json_response(body, headers=headers)

    app = web.Application()
    app.cleanup_ctx.append(session_context)
    app.router.add_get("/reviews/{id}", reviews)
    return app
