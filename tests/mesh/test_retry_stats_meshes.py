"""Did the retries happen, on the Gateway API and on Linkerd? The lab's
proxy keeps one set of counters and serves them as the mesh would: Envoy's
names on the Gateway API implementation's stats port (Envoy Gateway:
19001), Linkerd's `outbound_http_route_*` names on the proxy's 4191/metrics,
both through the lab API's pods/proxy subresource."""

from __future__ import annotations

import threading

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.http.probes import measure_endpoint
from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus import actions as litmus
from chaoslitmus.mesh import actions as mesh
from chaoslitmus.mesh.probes import retry_stats, retry_stats_during

NS = world.NAMESPACE
CALLERS = "app=reviews"
WINDOW_S = 4
STATS = {"gateway-api": {"port": 19001}, "linkerd": {}}


@pytest.fixture(scope="module", params=["gateway-api", "linkerd"])
def lab(request):
    options = LabOptions(
        mesh=request.param,
        reviews_port=0,
        litmus_startup_s=0.2,
        litmus_inject_delay_s=0.2,
        mesh_propagation_ms=0,
        seed=13,
    )
    with Lab(options) as lab:
        yield lab


@pytest.fixture
def env(lab, monkeypatch):
    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    return {**lab.env(), "mesh": lab.options.mesh}


def stats_args(env: dict) -> dict:
    return {
        "namespace": NS,
        "caller_label": CALLERS,
        "upstream": "ratings",
        "mesh": env["mesh"],
        **STATS[env["mesh"]],
    }


def test_the_counters_are_served_as_the_mesh_names_them(env):
    stats = retry_stats(**stats_args(env))
    assert len(stats["pods"]) == 1 and stats["pods"][0].startswith("reviews-")
    assert stats["clusters"] and all("ratings" in c for c in stats["clusters"])
    for counter in ("upstream_rq_total", "upstream_rq_retry", "upstream_rq_5xx"):
        assert isinstance(stats[counter], int)
    if env["mesh"] == "linkerd":
        assert stats["source"] == "pods/proxy :4191/metrics"
        assert stats["upstream_rq_per_try_timeout"] is None
        assert stats["not_counted"] == ["upstream_rq_per_try_timeout"]
        assert all(c.startswith(f"{NS}/ratings:9080 ") for c in stats["clusters"])
    else:
        assert stats["source"] == "pods/proxy :19001/stats/prometheus"
        assert isinstance(stats["upstream_rq_per_try_timeout"], int)
        # Which Envoy depends on the implementation: no default port.
        args = {**stats_args(env), "port": 0}
        with pytest.raises(ActivityFailed, match="needs port=.*15090.*19001") as e:
            retry_stats(**args)
        assert "\n" not in str(e.value)


def test_with_the_policy_retries_are_counted_and_rescue_calls(env):
    name = env["CHAOSLITMUS_MESH_OBJECT"]
    policy = mesh.set_retry_policy(
        name=name,
        namespace=NS,
        mesh=env["mesh"],
        max_retries=3,
        per_retry_timeout_ms=2000,
        http_retry_events=["server-error"],
    )
    assert policy["changed"]
    measured: dict = {}
    try:
        litmus.inject_network_latency(
            app_namespace=NS,
            app_label="app=ratings",
            latency_ms=3000,
            duration_s=WINDOW_S + 6,
            engine_name="stats-meshes",
            wait=False,
        )
        litmus.wait_for_chaos_started("stats-meshes", NS, timeout_s=30)

        def load() -> None:
            measured.update(
                measure_endpoint(
                    env["REVIEWS_URL"], duration_s=WINDOW_S - 0.5, rate_per_s=5
                )
            )

        thread = threading.Thread(target=load)
        thread.start()
        stats = retry_stats_during(WINDOW_S, **stats_args(env))
        thread.join(30)
    finally:
        litmus.delete_engine("stats-meshes", NS, timeout_s=30)
        mesh.restore_retry_policy(name=name, namespace=NS, mesh=env["mesh"])
    assert stats["upstream_rq_retry"] > 0, stats
    assert 0 < stats["rescued"] <= stats["upstream_rq_retry"]
    assert stats["requests"] >= stats["rescued"]
    assert stats["attempts_per_request"] > 1
    if env["mesh"] == "gateway-api":
        # Envoy Gateway retries the expired backendRequest on the other pod.
        assert measured["error_rate"] == 0, measured["statuses"]
        assert stats["upstream_rq_per_try_timeout"] == stats["upstream_rq_retry"]
    else:
        assert stats["upstream_rq_per_try_timeout"] is None
        assert stats["not_counted"] == ["upstream_rq_per_try_timeout"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"upstream": "details"}, "no .* matching 'details'"),
        ({"port": 1234}, "nothing answers on reviews-.*:1234"),
        ({"path": "nope"}, "not found .*check path="),
    ],
)
def test_bad_input_gives_one_clear_line(env, kwargs, message):
    with pytest.raises(ActivityFailed, match=message) as failed:
        retry_stats(**{**stats_args(env), **kwargs})
    assert "\n" not in str(failed.value)
