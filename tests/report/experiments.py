"""Small versions of the two shipped experiments, plus one that breaks.

Same shape as experiments/ratings-latency*.json (hypothesis with a traffic
probe and a pods probe, a retry policy, a Litmus fault launched without
waiting, background traffic over the fault, rollbacks), with windows of
about a second so a whole run takes a few seconds on the lab.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaoslitmus.lab.bookinfo import world

NS = world.NAMESPACE


@dataclass(frozen=True)
class Scale:
    """Latencies and windows of a run; the default is the fast test scale."""

    latency_ms: int = 400
    fault_duration_s: int = 4
    rate_per_s: float = 20
    hypothesis_window_s: float = 0.6
    fault_window_s: float = 1.5
    max_latency_ms: float = 400


# The story at full size, as experiments/ratings-latency*.json run it.
FULL_SCALE = Scale(
    latency_ms=3000,
    fault_duration_s=30,
    rate_per_s=5,
    hypothesis_window_s=5,
    fault_window_s=10,
    max_latency_ms=2500,
)


def _python(module: str, func: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "python", "module": module, "func": func, "arguments": arguments}


def _mesh(func: str, **arguments: Any) -> dict[str, Any]:
    return _python(
        "chaoslitmus.mesh.actions"
        if func != "get_retry_policy"
        else "chaoslitmus.mesh.probes",
        func,
        name=world.RATINGS_VIRTUAL_SERVICE,
        namespace=NS,
        mesh="appmesh",
        **arguments,
    )


def _hypothesis(url: str, scale: Scale) -> dict[str, Any]:
    return {
        "title": "callers of reviews get fast 200s and the ratings pods run",
        "probes": [
            {
                "type": "probe",
                "name": "reviews-answers-200-fast",
                "tolerance": {
                    "type": "probe",
                    "name": "no-errors-and-p99-under-limit",
                    "provider": _python(
                        "chaoslitmus.http.tolerances",
                        "within_slo",
                        max_error_ratio=0,
                        percentile=99,
                        max_latency_ms=scale.max_latency_ms,
                    ),
                },
                "provider": _python(
                    "chaoslitmus.http.probes",
                    "measure_endpoint",
                    url=url,
                    duration_s=scale.hypothesis_window_s,
                    rate_per_s=scale.rate_per_s,
                    timeout_s=5,
                ),
            },
            {
                "type": "probe",
                "name": "ratings-pods-running",
                "tolerance": True,
                "provider": _python(
                    "chaosk8s.pod.probes",
                    "pods_in_phase",
                    label_selector="app=ratings",
                    phase="Running",
                    ns=NS,
                    raise_on_invalid_phase=False,
                ),
            },
        ],
    }


def _launch(
    engine: str, scale: Scale, app_label: str = "app=ratings"
) -> list[dict[str, Any]]:
    return [
        {
            "type": "action",
            "name": "launch-ratings-network-latency",
            "provider": _python(
                "chaoslitmus.litmus.actions",
                "inject_network_latency",
                app_namespace=NS,
                app_label=app_label,
                latency_ms=scale.latency_ms,
                duration_s=scale.fault_duration_s,
                engine_name=engine,
                wait=False,
            ),
        },
        {
            "type": "action",
            "name": "wait-until-latency-is-injected",
            "provider": _python(
                "chaoslitmus.litmus.actions",
                "wait_for_chaos_started",
                engine_name=engine,
                namespace=NS,
                timeout_s=30,
            ),
        },
    ]


def _traffic(url: str, scale: Scale) -> dict[str, Any]:
    return {
        "type": "probe",
        "name": "reviews-traffic-during-fault",
        "background": True,
        # The result says Running a moment before the lab's delay is on.
        "pauses": {"before": 0.3},
        "provider": _python(
            "chaoslitmus.http.probes",
            "measure_endpoint",
            url=url,
            duration_s=scale.fault_window_s,
            rate_per_s=scale.rate_per_s,
            timeout_s=5,
        ),
    }


def story_experiment(
    url: str, retries: bool, engine: str, scale: Scale = Scale()
) -> dict[str, Any]:
    """ratings-latency(-retry).json in small: the fault, with or without retries."""
    method: list[dict[str, Any]] = [
        {
            "type": "probe",
            "name": "ratings-retry-policy",
            "provider": _mesh("get_retry_policy"),
        }
    ]
    rollbacks: list[dict[str, Any]] = [
        {
            "type": "action",
            "name": "record-litmus-verdict",
            "provider": _python(
                "chaoslitmus.litmus.actions",
                "wait_for_result",
                engine_name=engine,
                namespace=NS,
                timeout_s=scale.fault_duration_s + 30,
            ),
        },
        {
            "type": "action",
            "name": "delete-chaos-engine",
            "provider": _python(
                "chaoslitmus.litmus.actions",
                "delete_engine",
                engine_name=engine,
                namespace=NS,
            ),
        },
    ]
    if retries:
        method.append(
            {
                "type": "action",
                "name": "apply-mesh-retry-policy",
                "provider": _mesh(
                    "set_retry_policy",
                    max_retries=3,
                    per_retry_timeout_ms=2000,
                    http_retry_events=["server-error"],
                ),
            }
        )
        rollbacks.append(
            {
                "type": "action",
                "name": "restore-mesh-retry-policy",
                "provider": _mesh("restore_retry_policy"),
            }
        )
    method += _launch(engine, scale) + [_traffic(url, scale)]
    title = (
        "With a mesh retry policy, a slow ratings pod does not reach callers"
        if retries
        else "A slow ratings pod turns into 500s for callers of reviews"
    )
    return {
        "version": "1.0.0",
        "title": title,
        "description": "Litmus pod-network-latency on one ratings replica"
        + (
            ", with a retry policy on the ratings route."
            if retries
            else ", no retries."
        ),
        "tags": ["litmus", "app-mesh", "with-retries" if retries else "no-retries"],
        "runtime": {"rollbacks": {"strategy": "always"}},
        "steady-state-hypothesis": _hypothesis(url, scale),
        "method": method,
        "rollbacks": rollbacks,
    }


def broken_experiment(base: str, engine: str, scale: Scale = Scale()) -> dict[str, Any]:
    """A run that goes wrong twice: the fault finds no pod (the action fails,
    Chaos Toolkit carries on), then a hypothesis probe raises after the
    method, so the run ends "failed" and the default strategy skips rollbacks.
    """
    hypothesis = _hypothesis(f"{base}/reviews/0", scale)
    hypothesis["probes"].insert(
        0,
        {
            "type": "probe",
            "name": "reviews-health",
            "tolerance": 200,
            "provider": {"type": "http", "url": f"{base}/health", "timeout": 3},
        },
    )
    return {
        "title": "ratings latency with a <b>typo</b> in the label",
        "description": "app_label matches no pod & the health endpoint breaks.",
        "tags": ["litmus", "broken"],
        "steady-state-hypothesis": hypothesis,
        "method": _launch(engine, scale, app_label="app=ratingz")[:1]
        + [
            _traffic(f"{base}/reviews/0", scale),
            {
                "type": "action",
                "name": "break-health-endpoint",
                "provider": {
                    "type": "http",
                    "url": f"{base}/admin/break",
                    "method": "POST",
                    "timeout": 3,
                },
            },
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "delete-chaos-engine",
                "provider": _python(
                    "chaoslitmus.litmus.actions",
                    "delete_engine",
                    engine_name=engine,
                    namespace=NS,
                ),
            }
        ],
    }
