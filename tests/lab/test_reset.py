"""`chaoslitmus lab reset` puts a running lab's world back as it was seeded,
after the kind of mess manual experiments leave."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world

NS = world.NAMESPACE
ROUTER = "appmesh.k8s.aws/v1beta2/virtualrouters"


def eventually(check: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout_s}s")


def test_reset_undoes_scales_restarts_policies_extras_and_cordons() -> None:
    options = LabOptions(reviews_port=0, litmus_startup_s=0.2, pod_start_s=0.1, seed=2)
    with Lab(options) as lab:
        server = lab.server
        assert server is not None
        store = server.store

        def call(fn: str, *args: Any, **kwargs: Any) -> Any:
            return server.call(getattr(store, fn), *args, **kwargs)

        seeded = {
            m["metadata"]["name"]: m
            for m in world.static_manifests(options)
            if m["kind"] in ("Deployment", "VirtualRouter")
        }
        call(
            "patch", "apps/v1/deployments", NS, "ratings-v1", {"spec": {"replicas": 3}}
        )
        restarted = {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}
        call(
            "patch",
            "apps/v1/deployments",
            NS,
            "reviews-v3",
            {"spec": {"template": {"metadata": {"annotations": restarted}}}},
        )
        router = call("get", ROUTER, NS, world.RATINGS_ROUTER)
        route = router["spec"]["routes"][0]
        route["httpRoute"]["retryPolicy"] = {
            "maxRetries": 3,
            "perRetryTimeout": {"unit": "ms", "value": 2000},
            "httpRetryEvents": ["server-error"],
        }
        call("replace", ROUTER, NS, world.RATINGS_ROUTER, router)
        web = {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        }
        call("create", "apps/v1/deployments", NS, web)
        call("patch", "v1/nodes", None, "lab-node", {"spec": {"unschedulable": True}})
        call("create", "v1/nodes", None, {"metadata": {"name": "extra"}})
        engine = {
            "metadata": {
                "name": "left-behind",
                "finalizers": ["chaosengine.litmuschaos.io/finalizer"],
            },
            "spec": {"engineState": "stop", "experiments": []},
        }
        call("create", "litmuschaos.io/v1alpha1/chaosengines", NS, engine)

        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "chaoslitmus.cli",
                "lab",
                "reset",
                "--api",
                server.url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "chaosengine/left-behind" in done.stdout
        assert "deployment/web" in done.stdout

        for name in ("ratings-v1", "reviews-v3"):
            current = call("get", "apps/v1/deployments", NS, name)
            assert current["spec"] == seeded[name]["spec"]
        current_router = call("get", ROUTER, NS, world.RATINGS_ROUTER)
        assert current_router["spec"] == seeded[world.RATINGS_ROUTER]["spec"]
        assert not call("list", "litmuschaos.io/v1alpha1/chaosengines", NS)[0]
        names = [
            d["metadata"]["name"] for d in call("list", "apps/v1/deployments", NS)[0]
        ]
        assert sorted(names) == ["ratings-v1", "reviews-v3"]
        nodes = call("list", "v1/nodes")[0]
        assert [n["metadata"]["name"] for n in nodes] == ["lab-node"]
        assert not nodes[0]["spec"].get("unschedulable")

        def settled() -> bool:
            pods = call("list", "v1/pods", NS, "app=ratings")[0]
            running = [p for p in pods if p["status"].get("phase") == "Running"]
            return (
                len(pods) == len(running) == 2
                and len(lab.dataplane.ratings_ports()) == 2
            )  # type: ignore[union-attr]

        eventually(settled)
        assert not call("list", "v1/pods", NS, "app=web")[0]
