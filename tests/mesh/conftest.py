"""The lab's API server, a kubeconfig that points at it, and mesh objects in it.

The extension is pointed at the server exactly as a user would do it: a
kubeconfig file and the ``KUBECONFIG`` variable. Test-side reads and writes
use a separate kubernetes client, so what we check is what the server holds.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from chaoslitmus.lab import ApiServerThread, write_kubeconfig
from chaoslitmus.lab.kube.schemas import default_crd_files

from . import samples

CRD_DIR = Path(__file__).resolve().parents[2] / "chaoslitmus" / "lab" / "kube" / "crds"
_names = itertools.count(1)

V1BETA2 = "appmesh.k8s.aws/v1beta2"
# The story's policy: maxRetries 3, perRetryTimeout 2000 ms, on server errors.
STORY = {
    "max_retries": 3,
    "per_retry_timeout_ms": 2000,
    "http_retry_events": ["server-error"],
}


class RawApi:
    """A plain kubernetes client on the lab server, JSON in and out."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.api = client.ApiClient(client.Configuration(host=url))
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)

    def namespace(self) -> str:
        name = f"mesh-{next(_names)}"
        self.core.create_namespace({"metadata": {"name": name}}, _preload_content=False)
        return name

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        group, version = obj["apiVersion"].split("/")
        plural = obj["kind"].lower() + "s"
        response = self.custom.create_namespaced_custom_object(
            group,
            version,
            obj["metadata"]["namespace"],
            plural,
            obj,
            _preload_content=False,
        )
        return json.loads(response.data)

    def get(self, api_version: str, plural: str, namespace: str, name: str) -> dict:
        group, version = api_version.split("/")
        response = self.custom.get_namespaced_custom_object(
            group, version, namespace, plural, name, _preload_content=False
        )
        return json.loads(response.data)

    def close(self) -> None:
        self.api.close()


def router(cluster: RawApi, target: dict) -> dict:
    """The VirtualRouter of a ``v1beta2`` fixture, as the server holds it."""
    return cluster.get(V1BETA2, "virtualrouters", target["namespace"], target["router"])


def frozen(obj: dict) -> tuple[str, str]:
    """Spec and annotations as JSON text: what must come back byte for byte."""
    return json.dumps(obj["spec"]), json.dumps(obj["metadata"].get("annotations"))


@pytest.fixture(scope="module")
def apiserver() -> Iterator[ApiServerThread]:
    """One server per test module (all lab CRDs); each test uses its own namespace."""
    with ApiServerThread(crd_files=default_crd_files()) as server:
        yield server


@pytest.fixture
def cluster(apiserver: ApiServerThread) -> Iterator[RawApi]:
    lab = RawApi(apiserver.url)
    yield lab
    lab.close()


def point_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> Path:
    """What a user does: write a kubeconfig and export KUBECONFIG."""
    path = write_kubeconfig(tmp_path / "kubeconfig", url)
    monkeypatch.setenv("KUBECONFIG", str(path))
    for var in ("KUBERNETES_CONTEXT", "KUBERNETES_HOST", "CHAOSTOOLKIT_IN_POD"):
        monkeypatch.delenv(var, raising=False)
    return Path(path)


@pytest.fixture
def kubeconfig(
    apiserver: ApiServerThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    return point_kubeconfig(monkeypatch, tmp_path, apiserver.url)


@pytest.fixture
def v1beta2(cluster: RawApi, kubeconfig: Path) -> dict[str, str]:
    """App Mesh v1beta2: VirtualService 'ratings' -> VirtualRouter 'ratings-router'."""
    ns = cluster.namespace()
    cluster.create(samples.appmesh_v1beta2_router(namespace=ns))
    cluster.create(samples.appmesh_v1beta2_service(namespace=ns))
    return {"namespace": ns, "name": "ratings", "router": "ratings-router"}


@pytest.fixture
def istio_vs(cluster: RawApi, kubeconfig: Path) -> dict[str, str]:
    ns = cluster.namespace()
    cluster.create(samples.istio_service(namespace=ns))
    return {"namespace": ns, "name": "ratings"}
