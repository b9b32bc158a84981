"""Restore as a three-way merge, over HTTP, on App Mesh v1beta1/v1beta2 and Istio.

Another writer is a second kubernetes client with its own field manager
(``kubectl-patch``, ``kubectl-edit``) sending plain JSON patches, as
``kubectl patch --type=json`` would; the lab's API server records it in
managedFields like a real one.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.lab import ApiServerThread
from chaoslitmus.lab.kube.schemas import default_crd_files
from chaoslitmus.mesh.actions import restore_retry_policy, set_retry_policy
from chaoslitmus.mesh.snapshot import ORIGINAL_FIELD, ORIGINAL_ROUTES

from . import samples
from .conftest import STORY, V1BETA2, RawApi, frozen, point_kubeconfig

JSON_PATCH = "application/json-patch+json"
OTHER_POLICY = {
    "max_retries": 5,
    "per_retry_timeout_ms": 700,
    "http_retry_events": ["gateway-error"],
}


@dataclass
class Mesh:
    """One mesh flavour in the lab: where its routes are and how others edit them."""

    lab: RawApi
    api_version: str
    plural: str
    namespace: str
    name: str
    field: str
    kwargs: dict[str, Any]
    # JSON-patch paths, relative to the first route
    retry_count: str
    weight: str
    new_route: dict[str, Any]

    def get(self) -> dict:
        return self.lab.get(self.api_version, self.plural, self.namespace, self.name)

    def patch(self, operations: Any, manager: str, content_type: str = JSON_PATCH):
        """Another writer's change, under its own field manager."""
        group, version = self.api_version.split("/")
        self.lab.custom.patch_namespaced_custom_object(
            group,
            version,
            self.namespace,
            self.plural,
            self.name,
            operations,
            field_manager=manager,
            _content_type=content_type,
            _preload_content=False,
        )

    def routes(self, obj: dict | None = None) -> list:
        return (obj or self.get())["spec"][self.field]

    def set(self, **kwargs: Any) -> dict:
        return set_retry_policy(**self.kwargs, **{**STORY, **kwargs})

    def restore(self, **kwargs: Any) -> dict:
        return restore_retry_policy(**self.kwargs, **kwargs)


@pytest.fixture(scope="module")
def legacy_server() -> Iterator[ApiServerThread]:
    files = default_crd_files(appmesh=("v1beta1",), istio=False)
    with ApiServerThread(crd_files=files) as server:
        yield server


def _v1beta1(server: ApiServerThread, monkeypatch, tmp_path) -> Mesh:
    point_kubeconfig(monkeypatch, tmp_path, server.url)
    lab = RawApi(server.url)
    ns = lab.namespace()
    lab.create(samples.appmesh_v1beta1_service(namespace=ns))
    target = {"weightedTargets": [{"virtualNodeName": "ratings-v2", "weight": 1}]}
    return Mesh(
        lab,
        "appmesh.k8s.aws/v1beta1",
        "virtualservices",
        ns,
        "ratings",
        "routes",
        {"name": "ratings", "namespace": ns, "mesh": "appmesh"},
        "/spec/routes/0/http/retryPolicy/maxRetries",
        "/spec/routes/0/http/action/weightedTargets/0/weight",
        {"name": "canary", "http": {"match": {"prefix": "/c"}, "action": target}},
    )


def _v1beta2(server: ApiServerThread, monkeypatch, tmp_path) -> Mesh:
    point_kubeconfig(monkeypatch, tmp_path, server.url)
    lab = RawApi(server.url)
    ns = lab.namespace()
    lab.create(samples.appmesh_v1beta2_router(namespace=ns))
    lab.create(samples.appmesh_v1beta2_service(namespace=ns))
    target = {"weightedTargets": [{"virtualNodeRef": {"name": "v2"}, "weight": 1}]}
    return Mesh(
        lab,
        V1BETA2,
        "virtualrouters",
        ns,
        "ratings-router",
        "routes",
        {"name": "ratings", "namespace": ns, "mesh": "appmesh"},
        "/spec/routes/0/httpRoute/retryPolicy/maxRetries",
        "/spec/routes/0/httpRoute/action/weightedTargets/0/weight",
        {"name": "canary", "httpRoute": {"match": {"prefix": "/c"}, "action": target}},
    )


def _istio(server: ApiServerThread, monkeypatch, tmp_path) -> Mesh:
    point_kubeconfig(monkeypatch, tmp_path, server.url)
    lab = RawApi(server.url)
    ns = lab.namespace()
    lab.create(samples.istio_service(namespace=ns))
    return Mesh(
        lab,
        "networking.istio.io/v1",
        "virtualservices",
        ns,
        "ratings",
        "http",
        {"name": "ratings", "namespace": ns, "mesh": "istio"},
        "/spec/http/0/retries/attempts",
        "/spec/http/0/route/0/weight",
        {
            "name": "canary",
            "match": [{"uri": {"prefix": "/c"}}],
            "route": [{"destination": {"host": "ratings", "subset": "v2"}}],
        },
    )


@pytest.fixture(params=["v1beta1", "v1beta2", "istio"])
def mesh(
    request: pytest.FixtureRequest,
    apiserver: ApiServerThread,
    legacy_server: ApiServerThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Mesh]:
    make = {"v1beta1": _v1beta1, "v1beta2": _v1beta2, "istio": _istio}[request.param]
    server = legacy_server if request.param == "v1beta1" else apiserver
    flavour = make(server, monkeypatch, tmp_path)
    yield flavour
    flavour.lab.close()


def expected_with_their_edits(mesh: Mesh, before: dict) -> list:
    """The original routes plus what the other writer did (route added, weight 7)."""
    routes = copy.deepcopy(mesh.routes(before))
    *parents, leaf = mesh.weight.split("/")[4:]
    node = routes[0]
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[leaf] = 7
    return [*routes, mesh.new_route]


def their_edits(mesh: Mesh) -> list[dict]:
    return [
        {"op": "add", "path": f"/spec/{mesh.field}/-", "value": mesh.new_route},
        {"op": "add", "path": mesh.weight, "value": 7},
    ]


# -- the merge ------------------------------------------------------------------


def test_restore_keeps_others_route_and_weight_and_reports_drift(
    mesh: Mesh, caplog: pytest.LogCaptureFixture
) -> None:
    before = mesh.get()
    mesh.set()
    mesh.patch(their_edits(mesh), "kubectl-patch")

    with caplog.at_level(logging.WARNING, logger="chaostoolkit.litmus.mesh"):
        out = mesh.restore()
    assert any("'canary' added" in r.getMessage() for r in caplog.records)

    after = mesh.get()
    assert after["spec"][mesh.field] == expected_with_their_edits(mesh, before)
    assert after["metadata"].get("annotations") is None
    assert out["restored"] is True
    first = mesh.routes(before)[0].get("name")
    assert out["drift"] == {"added": ["canary"], "removed": [], "changed": [first]}
    assert "others changed the routes meanwhile (kept)" in out["message"]
    assert "'canary' added" in out["message"]
    json.dumps(out)


def test_retry_settings_changed_by_someone_else_refuse_then_force(mesh: Mesh) -> None:
    before = mesh.get()
    mesh.set()
    mesh.patch(
        [{"op": "replace", "path": mesh.retry_count, "value": 7}], "kubectl-edit"
    )
    edited = mesh.get()

    with pytest.raises(ActivityFailed) as caught:
        mesh.restore()

    message = str(caught.value)
    assert "\n" not in message
    first = mesh.routes(before)[0]["name"]
    assert f"route '{first}' now has retry policy" in message
    assert "by 'kubectl-edit' at 20" in message and "(managedFields)" in message
    assert "restore_retry_policy with force=true" in message
    assert mesh.get() == edited  # nothing changed, not even the resourceVersion

    out = mesh.restore(force=True)
    assert out["forced"] == [first] and out["restored"] is True
    assert frozen(mesh.get()) == frozen(before)


def test_after_a_crash_the_next_set_adopts_and_restore_gives_the_true_original(
    mesh: Mesh,
) -> None:
    before = mesh.get()
    first = mesh.routes(before)[0]["name"]
    assert mesh.set(route_name=first)["snapshot"] == "taken"
    # the process dies here: no rollback; a new run sets another policy
    again = mesh.set(**OTHER_POLICY)
    assert again["snapshot"] == "adopted"

    out = mesh.restore()
    assert out["restored"] is True and out["drift"]["added"] == []
    assert frozen(mesh.get()) == frozen(before)


def test_a_stale_snapshot_is_refused_then_discarded_on_request(mesh: Mesh) -> None:
    mesh.set()
    mesh.patch(
        [{"op": "replace", "path": mesh.retry_count, "value": 7}], "kubectl-edit"
    )
    theirs = mesh.get()

    with pytest.raises(ActivityFailed) as caught:
        mesh.set(**OTHER_POLICY)
    message = str(caught.value)
    assert "\n" not in message
    assert "still has a snapshot from an earlier run (taken 20" in message
    assert "by chaostoolkit-litmus" in message and "by 'kubectl-edit'" in message
    assert "run restore_retry_policy" in message
    assert "discard_stale_snapshot=true" in message
    assert mesh.get() == theirs

    out = mesh.set(discard_stale_snapshot=True, **OTHER_POLICY)
    assert out["snapshot"] == "discarded-stale"
    assert out["discarded_snapshot"]["routes"]
    # the new snapshot starts from the state the other writer left
    mesh.restore()
    after = mesh.get()
    assert json.dumps(after["spec"]) == json.dumps(theirs["spec"])
    assert after["metadata"].get("annotations") is None


def test_a_route_we_changed_that_was_deleted_is_reported(mesh: Mesh) -> None:
    before = mesh.get()
    mesh.set()
    mesh.patch([{"op": "remove", "path": f"/spec/{mesh.field}/0"}], "kubectl-patch")

    out = mesh.restore()

    first = mesh.routes(before)[0]["name"]
    assert {r["name"]: r["status"] for r in out["routes"]}[first] == "deleted"
    assert out["drift"]["removed"] == [first]
    assert mesh.routes() == mesh.routes(before)[1:]


# -- damaged and old snapshots --------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "null",
        "42",
        "{}",
        "[1",
        '{"version": 2, "field": "spec.routes", "routes": [{"index": "0"}]}',
    ],
)
def test_a_tampered_snapshot_is_refused_and_nothing_changes(
    v1beta2: dict, cluster: RawApi, text: str
) -> None:
    ns = v1beta2["namespace"]
    set_retry_policy(name="ratings", namespace=ns, **STORY)
    patch = {"metadata": {"annotations": {ORIGINAL_ROUTES: text}}}
    group, version = V1BETA2.split("/")
    cluster.custom.patch_namespaced_custom_object(
        group, version, ns, "virtualrouters", "ratings-router", patch
    )
    tampered = cluster.get(V1BETA2, "virtualrouters", ns, "ratings-router")

    for action in (restore_retry_policy, set_retry_policy):
        arguments = {"name": "ratings", "namespace": ns}
        if action is set_retry_policy:
            arguments.update(STORY)
        with pytest.raises(ActivityFailed) as caught:
            action(**arguments)
        message = str(caught.value)
        assert "is not a snapshot this tool wrote" in message and "\n" not in message
        assert "nothing was changed" in message
        assert cluster.get(V1BETA2, "virtualrouters", ns, "ratings-router") == tampered
    assert tampered["spec"]["routes"]  # `null` never wipes the routes


def test_a_snapshot_of_an_earlier_release_still_restores(
    v1beta2: dict, cluster: RawApi
) -> None:
    """Format 1: the whole original list; the routes' retry blocks come back."""
    ns = v1beta2["namespace"]
    group, version = V1BETA2.split("/")
    before = cluster.get(V1BETA2, "virtualrouters", ns, "ratings-router")
    routes = copy.deepcopy(before["spec"]["routes"])
    routes[0]["httpRoute"]["retryPolicy"] = samples.RATINGS_POLICY_V1BETA2
    canary = copy.deepcopy(routes[2])
    canary["name"] = "canary"
    old_release = {
        "metadata": {
            "annotations": {
                ORIGINAL_ROUTES: json.dumps(before["spec"]["routes"]),
                ORIGINAL_FIELD: "spec.routes",
            }
        },
        "spec": {"routes": [*routes, canary]},
    }
    cluster.custom.patch_namespaced_custom_object(
        group, version, ns, "virtualrouters", "ratings-router", old_release
    )

    out = restore_retry_policy(name="ratings", namespace=ns)

    after = cluster.get(V1BETA2, "virtualrouters", ns, "ratings-router")
    assert after["spec"]["routes"] == [*before["spec"]["routes"], canary]
    assert after["metadata"].get("annotations") is None
    assert out["drift"]["added"] == ["canary"]


# -- reaching the router, arguments ----------------------------------------------------


def test_restore_through_a_deleted_virtual_service_says_use_virtual_router(
    v1beta2: dict, cluster: RawApi
) -> None:
    ns = v1beta2["namespace"]
    before = cluster.get(V1BETA2, "virtualrouters", ns, "ratings-router")
    set_retry_policy(name="ratings", namespace=ns, **STORY)
    cluster.custom.delete_namespaced_custom_object(
        "appmesh.k8s.aws", "v1beta2", ns, "virtualservices", "ratings"
    )

    with pytest.raises(ActivityFailed) as caught:
        restore_retry_policy(name="ratings", namespace=ns)
    message = str(caught.value)
    assert "virtualservices.appmesh.k8s.aws 'ratings' not found" in message
    assert "virtual_router=<VirtualRouter name>" in message
    assert "holding a retry-policy snapshot: 'ratings-router'" in message
    assert "\n" not in message

    restore_retry_policy(
        name="ratings-router", virtual_router="ratings-router", namespace=ns
    )
    after = cluster.get(V1BETA2, "virtualrouters", ns, "ratings-router")
    assert frozen(after) == frozen(before)


@pytest.mark.parametrize(
    ("action", "kwargs", "fragment"),
    [
        (restore_retry_policy, {"force": "yes"}, "force must be true or false"),
        (restore_retry_policy, {"force": 1}, "force must be true or false"),
        (
            set_retry_policy,
            {"discard_stale_snapshot": "True", **STORY},
            "discard_stale_snapshot must be true or false",
        ),
    ],
)
def test_bad_flags_fail_before_any_request(
    action, kwargs: dict, fragment: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(ActivityFailed, match=fragment):
        action(name="ratings", namespace="bookinfo", **kwargs)


def test_string_flags_from_the_command_line_are_accepted(v1beta2: dict) -> None:
    ns = v1beta2["namespace"]
    set_retry_policy(
        name="ratings", namespace=ns, discard_stale_snapshot="false", **STORY
    )
    assert restore_retry_policy(name="ratings", namespace=ns, force="false")["restored"]
