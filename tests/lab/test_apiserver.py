"""The lab API server over real HTTP, with the official client and kubectl."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from kubernetes import client, config, watch

from chaoslitmus.lab import ApiServerThread, make_store, write_kubeconfig
from chaoslitmus.lab.kube.resources import ResourceRegistry
from chaoslitmus.lab.kube.schemas import CRD_DIR, default_crd_files, load_crd_files
from chaoslitmus.lab.kube.store import Store

NS = "bookinfo"  # created by the api_server fixture (conftest.py)
KubectlRunner = Callable[..., subprocess.CompletedProcess]

GROUP, VERSION = "litmuschaos.io", "v1alpha1"
MANIFESTS = (
    Path(__file__).resolve().parents[2] / "chaoslitmus" / "lab" / "litmus" / "manifests"
)


def engine_manifest(name: str = "ratings-latency") -> dict[str, Any]:
    """The real Litmus 3.x engine example, renamed into our namespace."""
    manifest = yaml.safe_load(
        (MANIFESTS / "pod-network-latency-engine-3.x.yaml").read_text()
    )
    manifest["metadata"] = {"name": name, "namespace": NS}
    return manifest


def pod_manifest(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "ratings:1"}]},
        "status": {
            "phase": "Running",
            "podIP": "127.0.0.1",
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "ratings:1",
                    "imageID": "",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                }
            ],
        },
    }


def status_of(error: client.ApiException) -> dict[str, Any]:
    return json.loads(error.body)


def engines(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def create_engine(api: client.ApiClient, name: str = "ratings-latency") -> dict:
    return engines(api).create_namespaced_custom_object(
        GROUP, VERSION, NS, "chaosengines", engine_manifest(name)
    )


# -- CRUD with the official client ----
def test_pod_crud_sets_server_fields(
    api_server: ApiServerThread, api_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(api_client)
    created = core.create_namespaced_pod(
        NS, pod_manifest("ratings-v1-a", {"app": "ratings"})
    )
    assert created.metadata.namespace == NS
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.metadata.generation == 1
    read = core.read_namespaced_pod("ratings-v1-a", NS)
    assert read.metadata.resource_version == created.metadata.resource_version
    assert read.status.phase == "Running"

    labelled = core.patch_namespaced_pod(
        "ratings-v1-a", NS, {"metadata": {"labels": {"version": "v1"}}}
    )
    assert labelled.metadata.labels == {"app": "ratings", "version": "v1"}
    assert int(labelled.metadata.resource_version) > int(
        created.metadata.resource_version
    )

    listed = core.list_namespaced_pod(NS)
    assert [p.metadata.name for p in listed.items] == ["ratings-v1-a"]
    assert listed.metadata.resource_version == api_server.store.resource_version

    core.delete_namespaced_pod("ratings-v1-a", NS)
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_pod("ratings-v1-a", NS)
    assert missing.value.status == 404
    assert status_of(missing.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "ratings-v1-a" not found',
        "reason": "NotFound",
        "details": {"name": "ratings-v1-a", "kind": "pods"},
        "code": 404,
    }


def test_chaosengine_crud_with_merge_json_patch_and_replace(
    api_client: client.ApiClient,
) -> None:
    api = engines(api_client)
    created = create_engine(api_client)
    meta = created["metadata"]
    assert (meta["namespace"], meta["generation"]) == (NS, 1)

    merged = api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "chaosengines",
        "ratings-latency",
        {"spec": {"engineState": "stop"}},
    )
    assert merged["spec"]["engineState"] == "stop"
    assert merged["metadata"]["generation"] == 2

    # kubernetes 37 sends merge-patch unless told: ask for JSON patch.
    json_patched = api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "chaosengines",
        "ratings-latency",
        [
            {"op": "test", "path": "/spec/engineState", "value": "stop"},
            {"op": "replace", "path": "/spec/engineState", "value": "active"},
        ],
        _content_type="application/json-patch+json",
    )
    assert json_patched["spec"]["engineState"] == "active"

    body = api.get_namespaced_custom_object(
        GROUP, VERSION, NS, "chaosengines", "ratings-latency"
    )
    body["spec"]["jobCleanUpPolicy"] = "delete"
    replaced = api.replace_namespaced_custom_object(
        GROUP, VERSION, NS, "chaosengines", "ratings-latency", body
    )
    assert replaced["spec"]["jobCleanUpPolicy"] == "delete"
    assert replaced["metadata"]["uid"] == meta["uid"]

    listed = api.list_namespaced_custom_object(GROUP, VERSION, NS, "chaosengines")
    assert listed["kind"] == "ChaosEngineList"
    assert listed["apiVersion"] == f"{GROUP}/{VERSION}"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["ratings-latency"]

    deleted = api.delete_namespaced_custom_object(
        GROUP, VERSION, NS, "chaosengines", "ratings-latency"
    )
    assert deleted["status"] == "Success"
    assert deleted["details"]["uid"] == meta["uid"]


def test_conflict_and_already_exists_are_409(api_client: client.ApiClient) -> None:
    api = engines(api_client)
    stale = create_engine(api_client)
    with pytest.raises(client.ApiException) as exists:
        create_engine(api_client)
    assert exists.value.status == 409
    assert status_of(exists.value)["reason"] == "AlreadyExists"

    api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "chaosengines",
        "ratings-latency",
        {"spec": {"engineState": "stop"}},
    )
    with pytest.raises(client.ApiException) as conflict:
        api.replace_namespaced_custom_object(
            GROUP, VERSION, NS, "chaosengines", "ratings-latency", stale
        )
    body = status_of(conflict.value)
    assert (conflict.value.status, body["reason"]) == (409, "Conflict")
    assert "please apply your changes to the latest version" in body["message"]


def test_invalid_engine_is_422_with_causes_and_nothing_changes(
    api_client: client.ApiClient,
) -> None:
    api = engines(api_client)
    before = create_engine(api_client)
    with pytest.raises(client.ApiException) as invalid:
        api.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "chaosengines",
            "ratings-latency",
            {"spec": {"engineState": "bogus"}},
        )
    body = status_of(invalid.value)
    assert invalid.value.status == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["kind"] == "ChaosEngine"
    assert body["details"]["causes"][0]["field"] == "spec.engineState"
    after = api.get_namespaced_custom_object(
        GROUP, VERSION, NS, "chaosengines", "ratings-latency"
    )
    assert after == before


def test_mesh_objects_are_validated_against_their_real_crds(
    api_client: client.ApiClient,
) -> None:
    api = engines(api_client)
    route = {
        "name": "ratings-route",
        "httpRoute": {
            "match": {"prefix": "/"},
            "action": {
                "weightedTargets": [
                    {"virtualNodeRef": {"name": "ratings-v1"}, "weight": 1}
                ]
            },
            "retryPolicy": {"maxRetries": 3, "httpRetryEvents": ["server-error"]},
        },
    }
    router = {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualRouter",
        "metadata": {"name": "ratings-router"},
        "spec": {
            "listeners": [{"portMapping": {"port": 9080, "protocol": "http"}}],
            "routes": [route],
        },
    }
    with pytest.raises(client.ApiException) as invalid:
        api.create_namespaced_custom_object(
            "appmesh.k8s.aws", "v1beta2", NS, "virtualrouters", router
        )
    causes = status_of(invalid.value)["details"]["causes"]
    assert causes == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.routes[0].httpRoute.retryPolicy.perRetryTimeout",
        }
    ]
    route["httpRoute"]["retryPolicy"]["perRetryTimeout"] = {"unit": "ms", "value": 2000}
    created = api.create_namespaced_custom_object(
        "appmesh.k8s.aws", "v1beta2", NS, "virtualrouters", router
    )
    assert created["spec"]["routes"][0]["httpRoute"]["retryPolicy"]["maxRetries"] == 3

    istio = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "ratings"},
        "spec": {
            "hosts": ["ratings"],
            "http": [
                {
                    "name": "ratings-route",
                    "route": [{"destination": {"host": "ratings"}}],
                    "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"},
                    "timeout": "10s",
                }
            ],
        },
    }
    accepted = api.create_namespaced_custom_object(
        "networking.istio.io", "v1", NS, "virtualservices", istio
    )
    assert accepted["spec"]["http"][0]["retries"]["perTryTimeout"] == "2s"


def test_strategic_merge_patch_on_custom_resources_is_415(
    api_server: ApiServerThread, api_client: client.ApiClient
) -> None:
    create_engine(api_client)
    response = requests.patch(
        f"{api_server.url}/apis/{GROUP}/{VERSION}/namespaces/{NS}/chaosengines/"
        "ratings-latency",
        data=json.dumps({"spec": {"engineState": "stop"}}),
        headers={"Content-Type": "application/strategic-merge-patch+json"},
        timeout=10,
    )
    assert response.status_code == 415
    assert response.json()["reason"] == "UnsupportedMediaType"


def test_label_selectors_over_http(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    for name, labels in [
        ("ratings-v1-a", {"app": "ratings", "version": "v1"}),
        ("ratings-v1-b", {"app": "ratings", "version": "v1", "chaos": "target"}),
        ("reviews-v3-a", {"app": "reviews", "version": "v3"}),
    ]:
        core.create_namespaced_pod(NS, pod_manifest(name, labels))

    def names(selector: str) -> list[str]:
        return [
            p.metadata.name
            for p in core.list_namespaced_pod(NS, label_selector=selector).items
        ]

    assert names("app=ratings") == ["ratings-v1-a", "ratings-v1-b"]
    assert names("app in (ratings,reviews),!chaos") == ["ratings-v1-a", "reviews-v3-a"]
    assert names("version!=v1") == ["reviews-v3-a"]
    assert names("chaos") == ["ratings-v1-b"]
    with pytest.raises(client.ApiException) as bad:
        names("app in (ratings")
    assert bad.value.status == 400


def test_finalizers_and_deletion_timestamp(api_client: client.ApiClient) -> None:
    api = engines(api_client)
    manifest = engine_manifest()
    manifest["metadata"]["finalizers"] = ["chaosengine.litmuschaos.io/finalizer"]
    api.create_namespaced_custom_object(GROUP, VERSION, NS, "chaosengines", manifest)
    pending = api.delete_namespaced_custom_object(
        GROUP, VERSION, NS, "chaosengines", "ratings-latency"
    )
    assert pending["metadata"]["deletionTimestamp"]
    still = api.get_namespaced_custom_object(
        GROUP, VERSION, NS, "chaosengines", "ratings-latency"
    )
    assert still["metadata"]["finalizers"] == ["chaosengine.litmuschaos.io/finalizer"]
    api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "chaosengines",
        "ratings-latency",
        {"metadata": {"finalizers": None}},
    )
    with pytest.raises(client.ApiException) as gone:
        api.get_namespaced_custom_object(
            GROUP, VERSION, NS, "chaosengines", "ratings-latency"
        )
    assert gone.value.status == 404


def test_status_subresource_semantics(api_client: client.ApiClient) -> None:
    api = engines(api_client)
    node = {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualNode",
        "metadata": {"name": "ratings-v1"},
        "spec": {"podSelector": {"matchLabels": {"app": "ratings"}}},
    }
    args = ("appmesh.k8s.aws", "v1beta2", NS, "virtualnodes", "ratings-v1")
    api.create_namespaced_custom_object(*args[:4], node)
    ignored = api.patch_namespaced_custom_object(
        *args, {"status": {"observedGeneration": 1}}
    )
    assert "status" not in ignored
    status = api.patch_namespaced_custom_object_status(
        *args, {"status": {"observedGeneration": 1}, "spec": {"podSelector": None}}
    )
    assert status["status"] == {"observedGeneration": 1}
    assert status["spec"] == node["spec"]

    # Litmus 3.x has no status subresource: /status is 404, status goes in a patch.
    create_engine(api_client)
    engine_args = (GROUP, VERSION, NS, "chaosengines", "ratings-latency")
    with pytest.raises(client.ApiException) as missing:
        api.patch_namespaced_custom_object_status(*engine_args, {"status": {}})
    assert missing.value.status == 404
    patched = api.patch_namespaced_custom_object(
        *engine_args, {"status": {"engineStatus": "initialized"}}
    )
    assert patched["status"] == {"engineStatus": "initialized"}

    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(NS, pod_manifest("ratings-v1-a", {"app": "ratings"}))
    failed = core.patch_namespaced_pod_status(
        "ratings-v1-a", NS, {"status": {"phase": "Failed"}}
    )
    assert failed.status.phase == "Failed"


# -- watches ----
def test_watch_resumes_from_a_resource_version(api_client: client.ApiClient) -> None:
    api = engines(api_client)
    first = create_engine(api_client, "before")
    resume_from = first["metadata"]["resourceVersion"]
    create_engine(api_client, "after")
    api.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "chaosengines",
        "before",
        {"metadata": {"labels": {"a": "b"}}},
    )
    seen = []
    for event in watch.Watch().stream(
        api.list_namespaced_custom_object,
        GROUP,
        VERSION,
        NS,
        "chaosengines",
        resource_version=resume_from,
        timeout_seconds=1,
    ):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
    assert seen == [("ADDED", "after"), ("MODIFIED", "before")]


def test_watch_sees_live_events_and_ends_at_timeout(
    api_client: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api_client)
    listed = core.list_namespaced_pod(NS)

    def later() -> None:
        time.sleep(0.3)
        core.create_namespaced_pod(NS, pod_manifest("ratings-v1-a", {"app": "ratings"}))

    thread = threading.Thread(target=later)
    thread.start()
    started = time.monotonic()
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_pod,
            NS,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=2,
        )
    ]
    elapsed = time.monotonic() - started
    thread.join()
    assert events == [("ADDED", "ratings-v1-a")]
    # The server ends the stream after timeoutSeconds (2 s); the upper bound is
    # only there to prove it ends at all on a loaded machine.
    assert 1.5 <= elapsed < 20


def test_watch_from_a_too_old_version_gets_410() -> None:
    registry = ResourceRegistry.with_crds(load_crd_files(default_crd_files()))
    with ApiServerThread(Store(registry, event_log_size=5)) as server:
        api = client.CoreV1Api(client.ApiClient(client.Configuration(host=server.url)))
        for index in range(8):
            api.create_namespaced_config_map(
                "default", {"metadata": {"name": f"cm-{index}"}}
            )
        with pytest.raises(client.ApiException) as expired:
            for _ in watch.Watch().stream(
                api.list_namespaced_config_map,
                "default",
                resource_version="1",
                timeout_seconds=5,
            ):
                pass
        assert expired.value.status == 410
        raw = requests.get(
            f"{server.url}/api/v1/namespaces/default/configmaps",
            params={"watch": "1", "resourceVersion": "1"},
            timeout=10,
        )
        assert raw.status_code == 200
        event = json.loads(raw.text.splitlines()[0])
        assert event["type"] == "ERROR"
        assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")


def test_stopping_with_an_open_watch_is_fast() -> None:
    server = ApiServerThread().start()
    core = client.CoreV1Api(client.ApiClient(client.Configuration(host=server.url)))
    ended = threading.Event()

    def watch_forever() -> None:
        try:
            for _ in watch.Watch().stream(core.list_namespaced_pod, "default"):
                pass
        except Exception:  # noqa: BLE001 - the connection may just close
            pass
        ended.set()

    thread = threading.Thread(target=watch_forever, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while server.call(server.store.watcher_count) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.call(server.store.watcher_count) == 1
    started = time.monotonic()
    server.stop()
    stop_s = time.monotonic() - started
    # aiohttp's default would wait 60 s for the open stream; ours closes it.
    # 5 s is a loose bound for a loaded 2-core machine; typical is ~0.01 s.
    assert stop_s < 5
    # The client sees the end of the stream and re-watches once, fails, stops.
    assert ended.wait(10)


# -- CRDs through the API ----
def test_deleting_and_recreating_a_crd_changes_what_is_served(
    api_server: ApiServerThread, api_client: client.ApiClient
) -> None:
    create_engine(api_client)
    ext = client.ApiextensionsV1Api(api_client)
    crd = ext.read_custom_resource_definition("chaosengines.litmuschaos.io")
    assert crd.status.accepted_names.kind == "ChaosEngine"
    ext.delete_custom_resource_definition("chaosengines.litmuschaos.io")

    with pytest.raises(client.ApiException) as unserved:
        engines(api_client).list_namespaced_custom_object(
            GROUP, VERSION, NS, "chaosengines"
        )
    assert unserved.value.status == 404
    discovery = requests.get(
        f"{api_server.url}/apis/{GROUP}/{VERSION}", timeout=10
    ).json()
    assert "chaosengines" not in {r["name"] for r in discovery["resources"]}

    manifest = yaml.safe_load((CRD_DIR / "chaosengine-crd-3.x.yaml").read_text())
    ext.create_custom_resource_definition(manifest)
    listed = engines(api_client).list_namespaced_custom_object(
        GROUP, VERSION, NS, "chaosengines"
    )
    assert listed["items"] == []  # objects went with the CRD
    with pytest.raises(client.ApiException) as invalid:
        bad = engine_manifest("bad")
        bad["spec"]["engineState"] = "bogus"
        engines(api_client).create_namespaced_custom_object(
            GROUP, VERSION, NS, "chaosengines", bad
        )
    assert invalid.value.status == 422


def test_crd_subset_can_be_served() -> None:
    files = [CRD_DIR / "istio-virtualservice-crd.yaml"]
    with ApiServerThread(make_store(files)) as server:
        groups = requests.get(f"{server.url}/apis", timeout=10).json()["groups"]
        names = {g["name"] for g in groups}
        assert "networking.istio.io" in names
        assert "litmuschaos.io" not in names
        istio = next(g for g in groups if g["name"] == "networking.istio.io")
        assert istio["preferredVersion"]["version"] == "v1"


# -- errors, discovery, auth ----
def test_unknown_paths_and_bad_bodies(api_server: ApiServerThread) -> None:
    unknown = requests.get(f"{api_server.url}/apis/example.com/v1/widgets", timeout=10)
    assert unknown.status_code == 404
    assert (
        unknown.json()["message"] == "the server could not find the requested resource"
    )
    malformed = requests.post(
        f"{api_server.url}/api/v1/namespaces/{NS}/pods",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert (malformed.status_code, malformed.json()["reason"]) == (400, "BadRequest")
    not_allowed = requests.put(
        f"{api_server.url}/api/v1/namespaces/{NS}/pods", timeout=10
    )
    assert not_allowed.status_code == 405
    missing_ns = requests.post(
        f"{api_server.url}/api/v1/namespaces/nowhere/pods",
        json=pod_manifest("p", {}),
        timeout=10,
    )
    assert missing_ns.status_code == 404
    assert missing_ns.json()["message"] == 'namespaces "nowhere" not found'


def test_discovery_documents(api_server: ApiServerThread) -> None:
    base = api_server.url
    assert (
        requests.get(f"{base}/version", timeout=10)
        .json()["gitVersion"]
        .startswith("v1.30")
    )
    core = requests.get(f"{base}/api/v1", timeout=10).json()
    by_name = {r["name"]: r for r in core["resources"]}
    assert core["groupVersion"] == "v1"
    assert by_name["pods"]["shortNames"] == ["po"]
    assert "pods/status" in by_name and "configmaps/status" not in by_name
    litmus = requests.get(f"{base}/apis/{GROUP}/{VERSION}", timeout=10).json()
    names = {r["name"] for r in litmus["resources"]}
    assert {"chaosengines", "chaosresults", "chaosexperiments"} <= names
    assert "chaosengines/status" not in names
    appmesh = requests.get(f"{base}/apis/appmesh.k8s.aws", timeout=10).json()
    assert [v["version"] for v in appmesh["versions"]] == [
        "v1beta2",
        "v1beta1",
        "v1alpha1",
    ]


def test_table_output_for_kubectl(
    api_server: ApiServerThread, api_client: client.ApiClient
) -> None:
    client.CoreV1Api(api_client).create_namespaced_pod(
        NS, pod_manifest("ratings-v1-a", {"app": "ratings"})
    )
    table = requests.get(
        f"{api_server.url}/api/v1/namespaces/{NS}/pods",
        headers={
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        },
        timeout=10,
    ).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert table["rows"][0]["cells"][:4] == ["ratings-v1-a", "1/1", "Running", 0]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_bearer_token_is_required_when_configured() -> None:
    with ApiServerThread(token="s3cret") as server:
        anonymous = requests.get(f"{server.url}/api/v1/namespaces", timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.json()["reason"] == "Unauthorized"
        configuration = client.Configuration(host=server.url)
        configuration.api_key = {"authorization": "Bearer s3cret"}
        names = client.CoreV1Api(client.ApiClient(configuration)).list_namespace()
        assert "default" in [n.metadata.name for n in names.items]


def test_authorizer_can_forbid() -> None:
    def no_engine_creation(verb: str, resource: Any, namespace: Any, name: Any) -> bool:
        return not (verb == "create" and resource.plural == "chaosengines")

    with ApiServerThread(authorizer=no_engine_creation) as server:
        api = client.CustomObjectsApi(
            client.ApiClient(client.Configuration(host=server.url))
        )
        with pytest.raises(client.ApiException) as forbidden:
            api.create_namespaced_custom_object(
                GROUP,
                VERSION,
                "default",
                "chaosengines",
                engine_manifest() | {"metadata": {"name": "e"}},
            )
        assert forbidden.value.status == 403
        assert status_of(forbidden.value)["message"] == (
            'chaosengines.litmuschaos.io is forbidden: User "lab" cannot create '
            'resource "chaosengines" in API group "litmuschaos.io" in the namespace '
            '"default"'
        )
        assert api.list_namespaced_custom_object(
            GROUP, VERSION, "default", "chaosengines"
        )


def test_kubeconfig_works_with_load_kube_config(
    api_server: ApiServerThread, tmp_path: Path
) -> None:
    path = write_kubeconfig(
        tmp_path / "config", api_server.url, namespace=NS, token="t"
    )
    loaded = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=loaded)
    assert loaded.host == api_server.url
    with client.ApiClient(loaded) as api:
        assert client.VersionApi(api).get_code().git_version.endswith("chaoslitmus-lab")


# -- kubectl ----
def test_kubectl_reads_and_edits_chaosengines(
    api_client: client.ApiClient, kubectl: KubectlRunner
) -> None:
    create_engine(api_client)
    table = kubectl("get", "chaosengines").stdout
    assert table.split()[:3] == ["NAME", "AGE", "ratings-latency"]
    as_yaml = yaml.safe_load(
        kubectl("get", "chaosengine", "ratings-latency", "-o", "yaml").stdout
    )
    assert as_yaml["spec"]["engineState"] == "active"
    described = kubectl("describe", "chaosengine", "ratings-latency").stdout
    assert "Engine State:" in described and "ratings-latency" in described

    kubectl(
        "patch",
        "chaosengine",
        "ratings-latency",
        "--type",
        "merge",
        "-p",
        '{"spec":{"engineState":"stop"}}',
    )
    kubectl("label", "chaosengine", "ratings-latency", "team=sre")
    kubectl("annotate", "chaosengine", "ratings-latency", "lab.example.com/note=hi")
    current = engines(api_client).get_namespaced_custom_object(
        GROUP, VERSION, NS, "chaosengines", "ratings-latency"
    )
    assert current["spec"]["engineState"] == "stop"
    assert current["metadata"]["labels"] == {"team": "sre"}
    assert current["metadata"]["annotations"] == {"lab.example.com/note": "hi"}
    assert kubectl(
        "get", "chaosengines", "-l", "team=sre", "-o", "name"
    ).stdout.strip() == ("chaosengine.litmuschaos.io/ratings-latency")
    refused = kubectl(
        "patch", "chaosengine", "ratings-latency", "-p", "{}", check=False
    )
    assert refused.returncode != 0  # strategic merge patch: 415 like a real server

    def complete() -> None:
        time.sleep(0.5)
        engines(api_client).patch_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "chaosengines",
            "ratings-latency",
            {"status": {"engineStatus": "completed"}},
        )

    thread = threading.Thread(target=complete)
    thread.start()
    kubectl(
        "wait",
        "chaosengine/ratings-latency",
        "--for=jsonpath={.status.engineStatus}=completed",
        "--timeout=30s",
    )
    thread.join()
    kubectl("delete", "chaosengine", "ratings-latency")
    assert "No resources found" in kubectl("get", "chaosengines").stderr


def test_kubectl_with_pods(
    api_client: client.ApiClient, kubectl: KubectlRunner, tmp_path: Path
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(NS, pod_manifest("ratings-v1-a", {"app": "ratings"}))
    core.create_namespaced_pod(NS, pod_manifest("reviews-v3-a", {"app": "reviews"}))
    rows = kubectl("get", "pods", "-l", "app=ratings").stdout.splitlines()
    assert rows[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[1].split()[:4] == ["ratings-v1-a", "1/1", "Running", "0"]
    assert len(rows) == 2
    assert "Status:       Running" in kubectl("describe", "pod", "ratings-v1-a").stdout
    kubectl("annotate", "pod", "ratings-v1-a", "litmuschaos.io/chaos=true")
    kubectl("label", "pod", "ratings-v1-a", "chaos=target")
    kubectl(
        "patch",
        "pod",
        "ratings-v1-a",
        "--type",
        "merge",
        "-p",
        '{"metadata":{"labels":{"tier":"backend"}}}',
    )
    kubectl(
        "wait",
        "pod/ratings-v1-a",
        "--for=jsonpath={.status.phase}=Running",
        "--timeout=30s",
    )
    pod = core.read_namespaced_pod("ratings-v1-a", NS)
    assert pod.metadata.labels["tier"] == "backend"
    assert pod.metadata.annotations == {"litmuschaos.io/chaos": "true"}
    assert pod.metadata.labels["chaos"] == "target"
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump(pod_manifest("web", {"app": "web"})))
    kubectl("apply", "-f", str(manifest))  # validation handshake via /openapi/v3
    kubectl("delete", "pod", "web", "ratings-v1-a")
    assert [p.metadata.name for p in core.list_namespaced_pod(NS).items] == [
        "reviews-v3-a"
    ]


def test_kubectl_get_watch_prints_changes(
    api_server: ApiServerThread, api_client: client.ApiClient, kubectl: KubectlRunner
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(NS, pod_manifest("ratings-v1-a", {"app": "ratings"}))

    def change_once_kubectl_watches() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if api_server.call(api_server.store.watcher_count) > 0:
                break
            time.sleep(0.02)
        core.patch_namespaced_pod(
            "ratings-v1-a", NS, {"metadata": {"labels": {"x": "y"}}}
        )

    thread = threading.Thread(target=change_once_kubectl_watches)
    thread.start()
    # kubectl gives up on the open watch after --request-timeout: that is how
    # this test ends, so the exit status is not checked.
    result = kubectl(
        "get",
        "pods",
        "-w",
        "--output-watch-events",
        "--request-timeout=5s",
        check=False,
        timeout_s=60,
    )
    thread.join()
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0][:2] == ["EVENT", "NAME"]
    assert lines[1][:2] == ["ADDED", "ratings-v1-a"]
    assert ["MODIFIED", "ratings-v1-a"] in [line[:2] for line in lines[2:]]


# -- runner ----
def test_controllers_run_on_the_server_loop_until_stop() -> None:
    seen: list[str] = []
    cancelled = threading.Event()

    async def recorder(store: Any) -> None:
        try:
            async for event_type, obj in store.watch("v1/configmaps", "default"):
                seen.append(f"{event_type} {obj['metadata']['name']}")
        finally:
            cancelled.set()

    async def broken(store: Any) -> None:
        raise RuntimeError("controller bug")

    server = ApiServerThread(controllers=[recorder, broken]).start()
    try:
        core = client.CoreV1Api(client.ApiClient(client.Configuration(host=server.url)))
        core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}})
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen == ["ADDED cm"]
        assert [str(e) for e in server.controller_errors] == ["controller bug"]
    finally:
        server.stop()
    assert cancelled.is_set()


def test_call_runs_on_the_server_thread_and_the_server_restarts() -> None:
    server = ApiServerThread()
    with server:
        thread_name = server.call(lambda: threading.current_thread().name)
        assert thread_name == "chaoslitmus-apiserver"
        server.call(
            server.store.create, "v1/configmaps", "default", {"metadata": {"name": "a"}}
        )
    with server:  # same store, new loop and port
        names = [
            i["metadata"]["name"]
            for i in requests.get(
                f"{server.url}/api/v1/namespaces/default/configmaps", timeout=10
            ).json()["items"]
        ]
        assert names == ["a"]


def test_watch_list_ends_initial_events_with_a_bookmark(
    api_server: ApiServerThread, api_client: client.ApiClient
) -> None:
    create_engine(api_client)
    response = requests.get(
        f"{api_server.url}/apis/{GROUP}/{VERSION}/namespaces/{NS}/chaosengines",
        params={
            "watch": "true",
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "1",
        },
        timeout=20,
    )
    events = [json.loads(line) for line in response.text.splitlines()]
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    marker = events[1]["object"]["metadata"]
    assert marker["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert marker["resourceVersion"] == api_server.store.resource_version


def test_dry_run_and_cluster_wide_writes(
    api_server: ApiServerThread, api_client: client.ApiClient
) -> None:
    api = engines(api_client)
    dry = api.create_namespaced_custom_object(
        GROUP, VERSION, NS, "chaosengines", engine_manifest(), dry_run="All"
    )
    assert dry["metadata"]["name"] == "ratings-latency"
    listed = api.list_namespaced_custom_object(GROUP, VERSION, NS, "chaosengines")
    assert listed["items"] == []
    everywhere = requests.post(
        f"{api_server.url}/apis/{GROUP}/{VERSION}/chaosengines",
        json=engine_manifest(),
        timeout=10,
    )
    assert everywhere.status_code == 405


def test_delete_collection_by_label(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    for name, app in [("a", "ratings"), ("b", "ratings"), ("c", "reviews")]:
        core.create_namespaced_pod(NS, pod_manifest(name, {"app": app}))
    core.delete_collection_namespaced_pod(NS, label_selector="app=ratings")
    assert [p.metadata.name for p in core.list_namespaced_pod(NS).items] == ["c"]
