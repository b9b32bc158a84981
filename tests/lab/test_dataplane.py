"""The data plane inside a running lab: servers tied to the world's pods,
faults from the Litmus side, mesh objects followed live, deleted pods.

Everything is real HTTP on 127.0.0.1; the mesh objects and pods are changed
through the lab's Store, as a controller or `kubectl` would change them.
"""

from __future__ import annotations

import copy
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.mesh.dataplane import PORT_ANNOTATION
from chaoslitmus.lab.mesh.envoy import RouteTable

NS = world.NAMESPACE
PODS = "v1/pods"
ROUTERS = f"{world.APPMESH_V1BETA2}/virtualrouters"
STORY_POLICY = {
    "maxRetries": 3,
    "perRetryTimeout": {"unit": "ms", "value": 2000},
    "httpRetryEvents": ["server-error"],
}


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab(LabOptions(reviews_port=0, litmus_startup_s=0.1, seed=3)) as running:
        yield running


def get(url: str, timeout_s: float = 10.0) -> tuple[int, dict[str, str], bytes, float]:
    """(status, headers, body, seconds); HTTP errors are answers too."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status, headers, body = (
                response.status,
                dict(response.headers),
                response.read(),
            )
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, dict(error.headers), error.read()
    return status, headers, body, time.monotonic() - started


def store_call(lab: Lab, fn: str, *args: Any, **kwargs: Any) -> Any:
    assert lab.server is not None
    return lab.server.call(getattr(lab.server.store, fn), *args, **kwargs)


def ratings_pods(lab: Lab) -> list[dict[str, Any]]:
    pods, _ = store_call(lab, "list", PODS, NS, "app=ratings")
    return sorted(pods, key=lambda p: p["metadata"]["name"])


def wait_until(check: Callable[[], Any], what: str, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def edit_route(lab: Lab, change: Callable[[dict[str, Any]], None]) -> None:
    """Read-modify-write the ratings route of the VirtualRouter."""
    router = store_call(lab, "get", ROUTERS, NS, world.RATINGS_ROUTER)
    routes = copy.deepcopy(router["spec"]["routes"])
    change(routes[0]["httpRoute"])
    store_call(
        lab, "patch", ROUTERS, NS, world.RATINGS_ROUTER, {"spec": {"routes": routes}}
    )


def route_of(lab: Lab) -> Callable[[], RouteTable]:
    assert lab.dataplane is not None
    return lab.dataplane.route_table


def proxy_hosts(lab: Lab, calls: int) -> list[str]:
    hosts = []
    for _ in range(calls):
        status, headers, _, _ = get(lab.ratings_url)
        assert status == 200
        hosts.append(headers["x-lab-upstream-hosts"])
    return hosts


# ------------------------------------------------------------------ servers


def test_every_ratings_pod_serves_on_its_own_port_written_on_the_pod(lab: Lab) -> None:
    assert lab.dataplane is not None
    pods = ratings_pods(lab)
    assert len(pods) == 2
    ports = lab.dataplane.ratings_ports()
    for pod in pods:
        name = pod["metadata"]["name"]
        port = int(pod["metadata"]["annotations"][PORT_ANNOTATION])
        assert ports[name] == port
        status, headers, body, _ = get(f"http://127.0.0.1:{port}/ratings/0")
        assert status == 200 and headers["x-lab-pod"] == name
        assert body == b'{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}'
    assert len(set(ports.values())) == 2
    status, _, body, _ = get(f"http://127.0.0.1:{ports[name]}/ratings/x")
    assert status == 400 and b"numeric" in body


def test_reviews_shows_the_ratings_and_names_its_pod(lab: Lab) -> None:
    status, _, body, _ = get(lab.reviews_url)
    assert status == 200
    assert b'"stars": 5' in body and b'"podname": "reviews-v3-' in body


def test_the_proxy_round_robins_over_the_replicas(lab: Lab) -> None:
    names = [p["metadata"]["name"] for p in ratings_pods(lab)]
    hosts = proxy_hosts(lab, 4)
    assert sorted(hosts) == sorted(names * 2)
    assert hosts[0] != hosts[1] and hosts[0] == hosts[2]


# ------------------------------------------------------------------- faults


def test_a_latency_fault_slows_only_its_pod_until_it_stops(lab: Lab) -> None:
    assert lab.dataplane is not None
    ports = lab.dataplane.ratings_ports()
    slow, fast = sorted(ports)
    lab.dataplane.start_latency("bookinfo/job-1", NS, [slow], 600, 100)
    slow_s = [get(f"http://127.0.0.1:{ports[slow]}/ratings/0")[3] for _ in range(3)]
    fast_s = [get(f"http://127.0.0.1:{ports[fast]}/ratings/0")[3] for _ in range(3)]
    # 600 +/- 100 ms: never under 500 ms; the upper bound leaves a second for
    # a busy machine. The other pod never waits for the fault.
    assert all(0.5 <= s < 1.7 for s in slow_s), slow_s
    assert max(fast_s) < 0.5, fast_s
    lab.dataplane.stop("bookinfo/job-1")
    lab.dataplane.stop("bookinfo/job-1")  # idempotent, as the protocol asks
    assert get(f"http://127.0.0.1:{ports[slow]}/ratings/0")[3] < 0.5


def test_reviews_answers_500_when_ratings_is_later_than_its_timeout() -> None:
    options = LabOptions(reviews_port=0, reviews_timeout_ms=300, litmus_startup_s=0.1)
    with Lab(options) as lab:
        assert lab.dataplane is not None
        pods = list(lab.dataplane.ratings_ports())
        lab.dataplane.start_latency("f", NS, pods, 1500, 0)
        status, _, body, elapsed = get(lab.reviews_url)
        assert status == 500
        assert b"ratings did not answer within 300 ms" in body
        assert 0.3 <= elapsed < 1.5


# ------------------------------------------------------------- mesh objects


def test_a_retry_policy_is_picked_up_live_and_logged(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chaoslitmus.lab")
    edit_route(lab, lambda http: http.update(retryPolicy=copy.deepcopy(STORY_POLICY)))
    table = wait_until(
        lambda: (t := route_of(lab)()).routes[0].retry.num_retries == 3 and t,
        "the retry policy in the proxy",
    )
    assert table.routes[0].retry.per_try_timeout_ms == 2000
    lines = [r.getMessage() for r in caplog.records]
    assert (
        "mesh: ratings-route retry policy now maxRetries=3 perTry=2000ms on "
        "server-error (route timeout 15000ms, retries go to other hosts)"
    ) in lines
    edit_route(lab, lambda http: http.pop("retryPolicy"))
    wait_until(
        lambda: route_of(lab)().routes[0].retry.summary.startswith("App Mesh default"),
        "the App Mesh default again",
    )


def test_the_per_try_timeout_of_the_route_hides_a_slow_pod(lab: Lab) -> None:
    assert lab.dataplane is not None
    slow = sorted(lab.dataplane.ratings_ports())[0]
    policy = {**STORY_POLICY, "perRetryTimeout": {"unit": "ms", "value": 300}}
    edit_route(lab, lambda http: http.update(retryPolicy=policy))
    wait_until(
        lambda: route_of(lab)().routes[0].retry.per_try_timeout_ms == 300, "policy"
    )
    lab.dataplane.start_latency("f", NS, [slow], 3000, 0)
    for _ in range(4):
        status, headers, _, elapsed = get(lab.ratings_url)
        assert status == 200
        tried = headers["x-lab-upstream-hosts"].split(",")
        assert tried[-1] != slow and len(set(tried)) == len(tried)
        assert elapsed < 2.0  # the 3 s pod is never waited for


def test_the_route_timeout_of_the_route_answers_504(lab: Lab) -> None:
    assert lab.dataplane is not None
    edit_route(
        lab,
        lambda http: http.update(timeout={"perRequest": {"unit": "ms", "value": 400}}),
    )
    wait_until(lambda: route_of(lab)().routes[0].timeout_ms == 400, "route timeout")
    lab.dataplane.start_latency("f", NS, list(lab.dataplane.ratings_ports()), 3000, 0)
    status, _, body, elapsed = get(lab.ratings_url)
    assert (status, body) == (504, b"upstream request timeout")
    assert 0.4 <= elapsed < 2.0


def test_an_invalid_policy_is_refused_by_the_api_and_changes_nothing(lab: Lab) -> None:
    before = route_of(lab)()
    with pytest.raises(Exception) as error:
        edit_route(lab, lambda http: http.update(retryPolicy={"maxRetries": 3}))
    assert getattr(error.value, "status", None) == 422
    time.sleep(0.2)  # nothing should arrive; give a wrong push time to land
    assert route_of(lab)() == before
    assert before.routes[0].retry.summary.startswith("App Mesh default")


# ---------------------------------------------------------------- pod churn


def test_a_deleted_pod_refuses_connections_until_its_replacement_is_ready(
    lab: Lab,
) -> None:
    assert lab.dataplane is not None
    gone, kept = ratings_pods(lab)
    gone_name = gone["metadata"]["name"]
    gone_port = lab.dataplane.ratings_ports()[gone_name]
    store_call(lab, "delete", PODS, NS, gone_name)
    wait_until(lambda: gone_name not in lab.dataplane.ratings_ports(), "server closed")  # type: ignore[union-attr]
    with pytest.raises(urllib.error.URLError) as refused:
        get(f"http://127.0.0.1:{gone_port}/ratings/0")
    assert isinstance(refused.value.reason, ConnectionRefusedError)
    # Callers through the mesh only reach the pod that is left.
    assert set(proxy_hosts(lab, 3)) == {kept["metadata"]["name"]}

    # The ReplicaSet's new pod: created not ready (no server), then Ready.
    now = "2026-01-01T00:00:00Z"
    replacement = world.replacement_pod(gone, "zz9zz", now)
    status = replacement.pop("status")
    created = store_call(lab, "create", PODS, NS, {**replacement, "status": status})
    name = created["metadata"]["name"]
    time.sleep(0.2)
    assert name not in lab.dataplane.ratings_ports()
    world.mark_pod_ready(status, now)
    store_call(
        lab,
        "replace",
        PODS,
        NS,
        name,
        {**created, "status": status},
        subresource="status",
    )
    port = wait_until(lambda: lab.dataplane.ratings_ports().get(name), "new server")  # type: ignore[union-attr]
    assert get(f"http://127.0.0.1:{port}/ratings/0")[0] == 200
    annotated = wait_until(
        lambda: store_call(lab, "get", PODS, NS, name)["metadata"].get("annotations"),
        "the port annotation",
    )
    assert annotated[PORT_ANNOTATION] == str(port)
    assert set(proxy_hosts(lab, 4)) == {name, kept["metadata"]["name"]}


def test_the_operator_s_pod_deleted_call_closes_the_server_at_once(lab: Lab) -> None:
    assert lab.dataplane is not None
    ports = lab.dataplane.ratings_ports()
    victim = sorted(ports)[0]
    lab.dataplane.pod_deleted(NS, victim)
    wait_until(lambda: victim not in lab.dataplane.ratings_ports(), "server closed")  # type: ignore[union-attr]
    with pytest.raises(urllib.error.URLError):
        get(f"http://127.0.0.1:{ports[victim]}/ratings/0")
    assert victim not in set(proxy_hosts(lab, 3))
