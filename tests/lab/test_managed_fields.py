"""managedFields as the lab's API server records them (non-apply writes)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kubernetes import client

from chaoslitmus.lab import ApiServerThread
from chaoslitmus.lab.kube.managed_fields import manager_from, record
from chaoslitmus.lab.kube.schemas import default_crd_files

T0, T1 = "2026-12-01T10:00:00Z", "2026-12-01T10:05:00Z"
API = "appmesh.k8s.aws/v1beta2"


def router(routes: list, annotations: dict | None = None) -> dict:
    meta: dict = {"name": "r", "namespace": "n", "resourceVersion": "3", "uid": "u"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": API, "kind": "VirtualRouter", "metadata": meta,
            "spec": {"listeners": [{"port": 1}], "routes": routes}}  # fmt: skip


def test_the_manager_is_the_field_manager_else_the_user_agent() -> None:
    assert manager_from("kubectl-patch", "kubectl/v1.31") == "kubectl-patch"
    assert manager_from(None, "OpenAPI-Generator/37.0.0/python") == "OpenAPI-Generator"
    assert manager_from(None, None) is None


def test_a_write_moves_the_fields_it_changed_to_its_manager() -> None:
    created = record(None, None, router([{"name": "a"}]), "creator", API, T0)
    assert created == [
        {
            "manager": "creator",
            "operation": "Update",
            "apiVersion": API,
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:listeners": {}, "f:routes": {}}},
        }
    ]
    old = router([{"name": "a"}])
    new = router([{"name": "a", "retry": 1}], {"note": "x"})
    after = record(created, old, new, "kubectl-patch", API, T1)
    assert [e["manager"] for e in after] == ["creator", "kubectl-patch"]
    assert after[0]["fieldsV1"] == {"f:spec": {"f:listeners": {}}}
    assert after[0]["time"] == T0
    assert after[1]["fieldsV1"] == {
        "f:metadata": {"f:annotations": {"f:note": {}}},
        "f:spec": {"f:routes": {}},
    }
    # a manager left with nothing is dropped
    taken = record(after, new, router([], {"note": "y"}), "other", API, T1)
    assert [e["manager"] for e in taken] == ["creator", "other"]


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServerThread]:
    with ApiServerThread(crd_files=default_crd_files()) as running:
        yield running


def test_the_api_server_records_who_wrote_the_routes(server: ApiServerThread) -> None:
    api = client.ApiClient(client.Configuration(host=server.url))
    custom = client.CustomObjectsApi(api)
    obj = {
        "apiVersion": API,
        "kind": "VirtualRouter",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {
            "listeners": [{"portMapping": {"port": 9080, "protocol": "http"}}],
            "routes": [],
        },
    }
    custom.create_namespaced_custom_object(
        "appmesh.k8s.aws", "v1beta2", "default", "virtualrouters", obj
    )
    patch = [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]
    response = custom.patch_namespaced_custom_object(
        "appmesh.k8s.aws", "v1beta2", "default", "virtualrouters", "r", patch,
        field_manager="kubectl-label", _content_type="application/json-patch+json",
        _preload_content=False,
    )  # fmt: skip
    stored = json.loads(response.data)
    managers = {
        e["manager"]: e["fieldsV1"] for e in stored["metadata"]["managedFields"]
    }
    assert managers["OpenAPI-Generator"]["f:spec"] == {
        "f:listeners": {},
        "f:routes": {},
    }
    assert managers["kubectl-label"] == {"f:metadata": {"f:labels": {"f:a": {}}}}
    # a write that changes nothing records nothing and keeps the version
    again = custom.patch_namespaced_custom_object(
        "appmesh.k8s.aws", "v1beta2", "default", "virtualrouters", "r", patch,
        field_manager="someone", _content_type="application/json-patch+json",
        _preload_content=False,
    )  # fmt: skip
    assert json.loads(again.data)["metadata"] == stored["metadata"]
    api.close()
