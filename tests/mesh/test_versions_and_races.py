"""API-version choice, concurrent writers, what goes on the wire, other processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.lab import ApiServerThread
from chaoslitmus.lab.kube.schemas import default_crd_files
from chaoslitmus.mesh.actions import restore_retry_policy, set_retry_policy
from chaoslitmus.mesh.cluster import CONFLICT_ATTEMPTS
from chaoslitmus.mesh.probes import get_retry_policy

from . import samples
from .conftest import STORY, RawApi, frozen, point_kubeconfig, router
from .proxy import Exchange, RecordingProxy, merge_patch_upstream

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def legacy_server() -> Iterator[ApiServerThread]:
    """A cluster of the App Mesh v0.x era: only the v1beta1 VirtualService CRD."""
    files = default_crd_files(appmesh=("v1beta1",), istio=False)
    with ApiServerThread(crd_files=files) as server:
        yield server


@pytest.fixture(scope="module")
def istio_only_server() -> Iterator[ApiServerThread]:
    with ApiServerThread(crd_files=default_crd_files(appmesh=(), istio=True)) as server:
        yield server


# -- which API version ---------------------------------------------------------


def test_auto_falls_back_to_v1beta1_and_round_trips(
    legacy_server: ApiServerThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_kubeconfig(monkeypatch, tmp_path, legacy_server.url)
    lab = RawApi(legacy_server.url)
    ns = lab.namespace()
    lab.create(samples.appmesh_v1beta1_service(namespace=ns))
    api = "appmesh.k8s.aws/v1beta1"
    before = lab.get(api, "virtualservices", ns, "ratings")

    out = set_retry_policy(name="ratings", namespace=ns, **STORY)
    assert out["api_version"] == api and out["object"]["kind"] == "VirtualService"
    assert [r["name"] for r in out["routes"]] == ["ratings-route", "ratings-grpc"]
    assert out["skipped_routes"][0]["type"] == "tcp"
    stored = lab.get(api, "virtualservices", ns, "ratings")
    assert stored["spec"]["routes"][0]["http"]["retryPolicy"] == {
        "maxRetries": 3,
        "perRetryTimeoutMillis": 2000,
        "httpRetryEvents": ["server-error"],
    }
    assert stored["spec"]["routes"][0]["priority"] == 10

    restore_retry_policy(name="ratings", namespace=ns)
    assert frozen(lab.get(api, "virtualservices", ns, "ratings")) == frozen(before)
    lab.close()


def test_virtual_router_is_refused_on_v1beta1(
    legacy_server: ApiServerThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_kubeconfig(monkeypatch, tmp_path, legacy_server.url)
    with pytest.raises(ActivityFailed, match="virtual_router only applies"):
        set_retry_policy(
            name="r", virtual_router="r", namespace="x", api_version="v1beta1", **STORY
        )
    with pytest.raises(ActivityFailed, match=r"tried appmesh.k8s.aws/v1beta2\)"):
        set_retry_policy(name="r", virtual_router="r", namespace="x", **STORY)


def test_explicit_version_not_served_names_the_served_one(
    legacy_server: ApiServerThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_kubeconfig(monkeypatch, tmp_path, legacy_server.url)
    with pytest.raises(ActivityFailed) as caught:
        get_retry_policy(name="ratings", namespace="x", api_version="v1beta2")
    assert str(caught.value) == (
        "appmesh.k8s.aws/v1beta2 is not served by this cluster: use "
        "api_version='auto' (served: v1beta1)"
    )


def test_no_app_mesh_at_all(
    istio_only_server: ApiServerThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_kubeconfig(monkeypatch, tmp_path, istio_only_server.url)
    with pytest.raises(ActivityFailed) as caught:
        set_retry_policy(name="ratings", namespace="x", **STORY)
    message = str(caught.value)
    assert message.startswith(
        "no appmesh API is served by this cluster (tried appmesh.k8s.aws/v1beta2, "
        "appmesh.k8s.aws/v1beta1): install the App Mesh controller"
    )


# -- the wire and concurrent writers -------------------------------------------


@pytest.fixture
def proxied(
    apiserver: ApiServerThread,
    cluster: RawApi,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[tuple[RecordingProxy, dict]]:
    """The extension talks to the server through a recording proxy."""
    ns = cluster.namespace()
    cluster.create(samples.appmesh_v1beta2_router(namespace=ns))
    cluster.create(samples.appmesh_v1beta2_service(namespace=ns))
    with RecordingProxy(apiserver.url) as proxy:
        point_kubeconfig(monkeypatch, tmp_path, proxy.url)
        yield proxy, {"namespace": ns, "name": "ratings", "router": "ratings-router"}


def _router_path(target: dict) -> str:
    return (
        f"/apis/appmesh.k8s.aws/v1beta2/namespaces/{target['namespace']}"
        f"/virtualrouters/{target['router']}"
    )


def test_we_send_a_merge_patch_with_the_resource_version(
    proxied: tuple[RecordingProxy, dict],
) -> None:
    proxy, target = proxied
    set_retry_policy(name="ratings", namespace=target["namespace"], **STORY)
    [read] = proxy.of("GET", _router_path(target))
    [patch] = proxy.of("PATCH")
    path, _, query = patch.path.partition("?")
    assert path == _router_path(target)
    # the apiserver records who wrote it (managedFields)
    assert query == "fieldManager=chaostoolkit-litmus"
    assert patch.headers["Content-Type"] == "application/merge-patch+json"
    body = patch.json()
    version = json.loads(read.response)["metadata"]["resourceVersion"]
    assert body["metadata"]["resourceVersion"] == version
    assert set(body["spec"]) == {"routes"}  # only the route list, nothing else


def _bumper(upstream: str, target: dict, times: int) -> tuple[list[int], object]:
    """After our read of the router, a second client changes it (``times`` times)."""
    bumps: list[int] = []

    def hook(exchange: Exchange) -> None:
        ours = exchange.method == "GET" and exchange.path == _router_path(target)
        if ours and len(bumps) < times:
            patch = {"metadata": {"labels": {"bumped": str(len(bumps) + 1)}}}
            bumps.append(merge_patch_upstream(upstream, _router_path(target), patch))

    return bumps, hook


def test_a_concurrent_writer_costs_one_more_round(
    apiserver: ApiServerThread, cluster: RawApi, proxied: tuple[RecordingProxy, dict]
) -> None:
    proxy, target = proxied
    bumps, proxy.hook = _bumper(apiserver.url, target, times=1)

    out = set_retry_policy(name="ratings", namespace=target["namespace"], **STORY)

    assert bumps == [200]
    assert [p.status for p in proxy.of("PATCH")] == [409, 200]
    assert len(proxy.of("GET", _router_path(target))) == 2
    stored = router(cluster, target)
    assert stored["metadata"]["labels"] == {"bumped": "1"}  # their change kept
    assert stored["spec"]["routes"][0]["httpRoute"]["retryPolicy"]["maxRetries"] == 3
    assert out["object"]["resource_version"] == stored["metadata"]["resourceVersion"]
    # the snapshot was taken from the version we actually changed
    saved = stored["metadata"]["annotations"]["chaoslitmus.io/original-routes"]
    changed = [r for r in json.loads(saved)["routes"] if "ours" in r]
    assert [(r["name"], r["original"]) for r in changed] == [
        ("ratings-route", None),
        ("ratings-admin", samples.RATINGS_POLICY_V1BETA2),
        ("ratings-grpc", None),
    ]


def test_a_writer_that_never_stops_makes_us_give_up_cleanly(
    apiserver: ApiServerThread, cluster: RawApi, proxied: tuple[RecordingProxy, dict]
) -> None:
    proxy, target = proxied
    bumps, proxy.hook = _bumper(apiserver.url, target, times=100)

    with pytest.raises(ActivityFailed) as caught:
        set_retry_policy(name="ratings", namespace=target["namespace"], **STORY)

    assert f"({CONFLICT_ATTEMPTS} conflicts in a row)" in str(caught.value)
    assert [p.status for p in proxy.of("PATCH")] == [409] * CONFLICT_ATTEMPTS
    stored = router(cluster, target)
    assert "annotations" not in stored["metadata"]
    assert stored["spec"] == samples.appmesh_v1beta2_router()["spec"]


def test_restore_without_snapshot_sends_no_write(
    proxied: tuple[RecordingProxy, dict],
) -> None:
    proxy, target = proxied
    restore_retry_policy(name="ratings", namespace=target["namespace"])
    assert proxy.of("PATCH") == []


# -- rollback from another process ----------------------------------------------


def test_restore_from_a_fresh_process(
    cluster: RawApi, v1beta2: dict, kubeconfig: Path
) -> None:
    before = router(cluster, v1beta2)
    set_retry_policy(name="ratings", namespace=v1beta2["namespace"], **STORY)

    code = (
        "import json, sys\n"
        "from chaoslitmus.mesh.actions import restore_retry_policy\n"
        "out = restore_retry_policy(name='ratings', namespace=sys.argv[1])\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, v1beta2["namespace"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["restored"] is True
    assert frozen(router(cluster, v1beta2)) == frozen(before)
    assert router(cluster, v1beta2)["metadata"].get("annotations") is None
