"""kubectl itself against a running lab, for the verbs people use:
logs (app pods and a Litmus run's pods), scale, auth can-i/whoami, explain,
port-forward (plain SPDY and tunnelled over WebSocket), rollout
restart/status/undo, cordon/drain/uncordon, and the refusal for what the
lab does not model (exec)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world

KUBECTL = shutil.which("kubectl")
NS = world.NAMESPACE

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

Kubectl = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    options = LabOptions(
        reviews_port=0,
        litmus_startup_s=0.2,
        pod_start_s=0.2,
        seed=9,
        kubeconfig=str(tmp_path / "kubeconfig"),
    )
    with Lab(options) as running:
        yield running


@pytest.fixture
def kubectl(lab: Lab, kubectl_for: Callable[[str], Kubectl]) -> Kubectl:
    return kubectl_for(lab.kubeconfig)


def eventually(check: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout_s}s")


def test_logs_of_app_pods_show_their_requests(lab: Lab, kubectl: Kubectl) -> None:
    with urllib.request.urlopen(lab.reviews_url, timeout=10) as response:
        assert response.status == 200
    out = kubectl("logs", "deploy/reviews-v3").stdout
    assert "reviews listening on 0.0.0.0:9080" in out
    assert '"GET /reviews/0 HTTP/1.1" 200' in out
    ratings = kubectl("logs", "-l", "app=ratings", "--prefix", "--tail=-1").stdout
    assert '"GET /ratings/0 HTTP/1.1" 200' in ratings
    stamped = kubectl("logs", "deploy/reviews-v3", "--timestamps", "--tail=1").stdout
    assert stamped.startswith(time.strftime("%Y-", time.gmtime()))
    assert len(stamped.strip().splitlines()) == 1
    assert KUBECTL is not None
    follow = subprocess.Popen(
        [
            KUBECTL,
            f"--kubeconfig={lab.kubeconfig}",
            "logs",
            "-f",
            "--tail=0",
            "deploy/reviews-v3",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)  # the stream is open: the next request arrives live
        with urllib.request.urlopen(lab.reviews_url, timeout=10) as response:
            assert response.status == 200
        assert follow.stdout is not None
        lines = [follow.stdout.readline() for _ in range(3)]  # listening, 2 GETs
        assert '"GET /reviews/0 HTTP/1.1" 200' in lines[-1], lines
    finally:
        follow.terminate()
        follow.wait(timeout=10)
    missing = kubectl("logs", "pod/nope", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


ENGINE = """
apiVersion: litmuschaos.io/v1alpha1
kind: ChaosEngine
metadata:
  name: ratings-latency-logs
  namespace: bookinfo
spec:
  engineState: active
  appinfo: {appns: bookinfo, applabel: app=ratings, appkind: deployment}
  chaosServiceAccount: pod-network-latency-sa
  jobCleanUpPolicy: retain
  experiments:
  - name: pod-network-latency
    spec:
      components:
        env:
        - {name: TOTAL_CHAOS_DURATION, value: "1"}
        - {name: NETWORK_LATENCY, value: "100"}
"""


def test_logs_of_a_litmus_run_tell_its_steps(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "engine.yaml"
    manifest.write_text(ENGINE)
    kubectl("apply", "-f", str(manifest))

    def job_name() -> str:
        jobs = json.loads(kubectl("get", "jobs", "-o", "json").stdout)["items"]
        done = [j for j in jobs if (j.get("status") or {}).get("succeeded") == 1]
        return done[0]["metadata"]["name"] if done else ""

    job = eventually(job_name)
    experiment = kubectl("logs", f"job/{job}").stdout
    for step in (
        "Experiment Name: pod-network-latency",
        "[Chaos]:Number of pods targeted: 1",
        "[Confirmation]: pod-network-latency chaos has been injected",
        "[Chaos]: Revert Completed",
        "[Verdict]: The chaos verdict is Pass",
    ):
        assert step in experiment, experiment
    runner = kubectl("logs", "ratings-latency-logs-runner").stdout
    assert f"with Job Name: {job}" in runner
    selector = json.loads(kubectl("get", f"job/{job}", "-o", "json").stdout)["spec"][
        "selector"
    ]
    assert list(selector["matchLabels"]) == ["batch.kubernetes.io/controller-uid"]


def test_scale_and_the_scale_subresource(kubectl: Kubectl) -> None:
    kubectl("scale", "deploy/ratings-v1", "--replicas=3")
    kubectl("rollout", "status", "deploy/ratings-v1", "--timeout=30s")
    ready = kubectl(
        "get", "deploy/ratings-v1", "-o", "jsonpath={.status.readyReplicas}"
    ).stdout
    assert ready == "3"
    scale = json.loads(
        kubectl(
            "get",
            "--raw",
            f"/apis/apps/v1/namespaces/{NS}/deployments/ratings-v1/scale",
        ).stdout
    )
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3
    assert "app=ratings" in scale["status"]["selector"]
    kubectl("scale", "deploy/ratings-v1", "--replicas=2", "--current-replicas=3")
    kubectl("rollout", "status", "deploy/ratings-v1", "--timeout=30s")
    pods = kubectl("get", "pods", "-l", "app=ratings", "-o", "name").stdout.split()
    assert len(pods) == 2


def test_auth_can_i_whoami_and_list(kubectl: Kubectl) -> None:
    assert kubectl("auth", "can-i", "delete", "pods").stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "create", "chaosengines").stdout.strip() == "yes"
    assert "lab" in kubectl("auth", "whoami").stdout
    assert "*.*" in kubectl("auth", "can-i", "--list").stdout


def test_explain_reads_the_served_schemas(kubectl: Kubectl) -> None:
    engine = kubectl("explain", "chaosengine.spec.experiments").stdout
    assert "KIND:       ChaosEngine" in engine
    assert "FIELD: experiments <[]Object>" in engine
    assert "name\t<string>" in engine
    replicas = kubectl("explain", "deployment.spec.replicas").stdout
    assert "How many pods to run" in replicas
    assert "unschedulable" in kubectl("explain", "node.spec").stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("websockets", ["false", "true"], ids=["spdy", "websocket"])
def test_port_forward_serves_reviews_on_a_local_port(lab: Lab, websockets: str) -> None:
    assert KUBECTL is not None
    port = _free_port()
    process = subprocess.Popen(
        [
            KUBECTL,
            f"--kubeconfig={lab.kubeconfig}",
            "-n",
            NS,
            "port-forward",
            "svc/reviews",
            f"{port}:9080",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KUBECTL_PORT_FORWARD_WEBSOCKETS": websockets},
    )
    try:
        assert process.stdout is not None
        assert "Forwarding from 127.0.0.1" in process.stdout.readline()
        for _ in range(3):  # one SPDY session, a stream pair per connection
            url = f"http://127.0.0.1:{port}/reviews/0"
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.loads(response.read())
            assert response.status == 200
            assert body["podname"].startswith("reviews-v3-")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_rollout_restart_status_and_undo(kubectl: Kubectl) -> None:
    before = set(
        kubectl("get", "pods", "-l", "app=ratings", "-o", "name").stdout.split()
    )
    kubectl("rollout", "restart", "deploy/ratings-v1")
    kubectl("rollout", "status", "deploy/ratings-v1", "--timeout=30s")
    after = set(
        kubectl("get", "pods", "-l", "app=ratings", "-o", "name").stdout.split()
    )
    assert len(after) == 2 and not before & after
    history = kubectl("rollout", "history", "deploy/ratings-v1").stdout
    assert "1 " in history and "2 " in history
    kubectl("rollout", "undo", "deploy/ratings-v1")
    kubectl("rollout", "status", "deploy/ratings-v1", "--timeout=30s")
    sets = kubectl(
        "get", "rs", "-l", "app=ratings", "-o", "jsonpath={.items[*].spec.replicas}"
    ).stdout.split()
    assert sorted(sets) == ["0", "2"], "undo reuses the first ReplicaSet"


def test_cordon_drain_and_uncordon(lab: Lab, kubectl: Kubectl) -> None:
    kubectl(
        "drain",
        "lab-node",
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=30s",
    )
    nodes = kubectl("get", "nodes").stdout
    assert "Ready,SchedulingDisabled" in nodes

    def phases() -> list[str]:
        jsonpath = "jsonpath={.items[*].status.phase}"
        return kubectl(
            "get", "pods", "-l", "app=ratings", "-o", jsonpath
        ).stdout.split()

    # The ReplicaSet re-creates the evicted pods; the cordoned node keeps them.
    eventually(lambda: phases() == ["Pending", "Pending"])
    kubectl("uncordon", "lab-node")
    kubectl("rollout", "status", "deploy/ratings-v1", "--timeout=30s")
    eventually(lambda: len(lab.dataplane.ratings_ports()) == 2)  # type: ignore[union-attr]
    with urllib.request.urlopen(lab.reviews_url, timeout=10) as response:
        assert response.status == 200


def test_what_the_lab_does_not_model_is_a_clear_status(kubectl: Kubectl) -> None:
    result = kubectl("exec", "deploy/ratings-v1", "--", "ls", check=False)
    assert result.returncode != 0
    assert "MethodNotAllowed" in result.stderr
    assert "does not model pods/exec" in result.stderr


WEB = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web{extra}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: nginx}}]
"""


def test_server_side_apply_owns_fields_and_reports_conflicts(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(WEB.format(replicas=2, extra=", tier: front"))
    assert (
        "serverside-applied"
        in kubectl("apply", "--server-side", "-f", str(manifest)).stdout
    )
    managed = json.loads(
        kubectl("get", "deploy/web", "--show-managed-fields", "-o", "json").stdout
    )["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"]) for m in managed] == [("kubectl", "Apply")]
    assert "f:replicas" in managed[0]["fieldsV1"]["f:spec"]
    # Another manager changes a field the applier owns: the next apply conflicts.
    kubectl("scale", "deploy/web", "--replicas=3")
    conflict = kubectl("apply", "--server-side", "-f", str(manifest), check=False)
    assert conflict.returncode != 0
    assert "Apply failed with 1 conflict" in conflict.stderr
    assert ".spec.replicas" in conflict.stderr
    assert kubectl("get", "deploy/web", "-o", "jsonpath={.spec.replicas}").stdout == "3"
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    assert kubectl("get", "deploy/web", "-o", "jsonpath={.spec.replicas}").stdout == "2"
    # A label the applier no longer sets is removed; unchanged fields stay.
    manifest.write_text(WEB.format(replicas=2, extra=""))
    kubectl("apply", "--server-side", "-f", str(manifest))
    labels = json.loads(
        kubectl("get", "deploy/web", "-o", "jsonpath={.metadata.labels}").stdout
    )
    assert labels == {"app": "web"}
