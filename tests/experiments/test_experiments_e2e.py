"""The mission as a user meets it: `chaos run` on both experiment files, on the
lab, asserting the journals and that the cluster is left as it was.

Faults and windows are shortened through the experiments' own variables
(the files are unchanged): a 12 s fault, 2 s hypothesis windows, 3 s of
background traffic, so each run takes about 15 s.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world

from ..chaos_cli import chaos

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
ENGINES = "litmuschaos.io/v1alpha1/chaosengines"
SHORT = {
    "FAULT_DURATION_S": "12",
    "HYPOTHESIS_WINDOW_S": "2",
    "FAULT_WINDOW_S": "3",
    "TRAFFIC_RATE_PER_S": "5",
    "CHAOS_START_TIMEOUT_S": "30",
    "RESULT_TIMEOUT_S": "60",
}
MESH_OBJECTS = {
    "v1beta2": [
        ("appmesh.k8s.aws/v1beta2/virtualrouters", world.RATINGS_ROUTER),
        ("appmesh.k8s.aws/v1beta2/virtualservices", world.RATINGS_VIRTUAL_SERVICE),
    ],
    "istio": [("networking.istio.io/v1/virtualservices", world.ISTIO_VIRTUAL_SERVICE)],
}


def run_experiment(lab: Lab, name: str, tmp_path: Path) -> tuple[int, dict]:
    env = {**os.environ, **lab.env(), **SHORT}
    journal = tmp_path / f"{name}.journal.json"
    done = chaos(
        ["run", "--journal-path", str(journal), str(EXPERIMENTS / name)], env, tmp_path
    )
    assert journal.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads(journal.read_text())


def snapshot(lab: Lab, keys) -> str:
    store = lab.server.store
    objects = [
        lab.server.call(store.get, key, world.NAMESPACE, name) for key, name in keys
    ]
    return json.dumps(
        [
            {"spec": o["spec"], "annotations": o["metadata"].get("annotations")}
            for o in objects
        ],
        sort_keys=True,
    )


def engines(lab: Lab) -> list[str]:
    items, _ = lab.server.call(lab.server.store.list, ENGINES, world.NAMESPACE)
    return [e["metadata"]["name"] for e in items]


def outputs(journal: dict, name: str) -> dict:
    for record in journal["run"] + journal["rollbacks"]:
        if record["activity"]["name"] == name:
            return record
    raise AssertionError(f"{name} not in the journal")


@pytest.fixture(scope="module")
def appmesh_lab():
    with Lab(LabOptions(reviews_port=0, litmus_startup_s=0.5, seed=3)) as lab:
        yield lab


@pytest.mark.parametrize("name", ["ratings-latency.json", "ratings-latency-retry.json"])
def test_chaos_validate_passes(name, tmp_path):
    done = chaos(["validate", str(EXPERIMENTS / name)], dict(os.environ), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_retries_the_hypothesis_deviates(appmesh_lab, tmp_path):
    before = snapshot(appmesh_lab, MESH_OBJECTS["v1beta2"])
    code, journal = run_experiment(appmesh_lab, "ratings-latency.json", tmp_path)
    assert code == 1
    assert journal["status"] == "completed"
    assert journal["deviated"] is True
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is False
    during = outputs(journal, "reviews-traffic-during-fault")["output"]
    # One of two ratings pods is slow: about half the calls fail; wide bounds.
    assert 0.2 <= during["error_rate"] <= 0.8, during["statuses"]
    assert during["statuses"].get("500", 0) > 0
    verdict = outputs(journal, "record-litmus-verdict")
    assert verdict["status"] == "succeeded"
    assert verdict["output"]["verdict"] == "Pass"
    assert all(r["status"] == "succeeded" for r in journal["rollbacks"])
    assert engines(appmesh_lab) == []
    assert snapshot(appmesh_lab, MESH_OBJECTS["v1beta2"]) == before
    # No per-try timeout without the policy: nothing slow was retried.
    stats = outputs(journal, "retry-stats-during-fault")["output"]
    assert stats["upstream_rq_per_try_timeout"] == 0, stats
    assert stats["rescued"] == 0
    assert journal["fault_evidence"]["injected"] is True
    assert journal["fault_evidence"]["targets"]


def test_with_retries_the_hypothesis_holds(appmesh_lab, tmp_path):
    before = snapshot(appmesh_lab, MESH_OBJECTS["v1beta2"])
    code, journal = run_experiment(appmesh_lab, "ratings-latency-retry.json", tmp_path)
    assert code == 0, journal.get("run")
    assert journal["deviated"] is False
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    applied = outputs(journal, "apply-mesh-retry-policy")["output"]
    assert applied["changed"] is True
    during = outputs(journal, "reviews-traffic-during-fault")["output"]
    assert during["error_rate"] == 0, during["statuses"]
    assert during["latency_ms"]["max"] < 2500
    # Retried calls are visibly slower: the slow try is cut at 2 s.
    assert during["latency_ms"]["max"] >= 1900
    applied_wait = outputs(journal, "wait-until-retry-policy-applied")["output"]
    assert applied_wait["propagation_s"] > 0
    budget = applied["budget"]
    assert "only the first retry can help" in budget["sentence"]
    stats = outputs(journal, "retry-stats-during-fault")["output"]
    assert stats["upstream_rq_retry"] > 0, stats
    assert stats["rescued"] >= stats["upstream_rq_retry"] - 2
    assert journal["fault_evidence"]["injected"] is True
    assert all(r["status"] == "succeeded" for r in journal["rollbacks"])
    assert engines(appmesh_lab) == []
    assert snapshot(appmesh_lab, MESH_OBJECTS["v1beta2"]) == before


def test_with_retries_on_istio(tmp_path):
    options = LabOptions(mesh="istio", reviews_port=0, litmus_startup_s=0.5, seed=5)
    with Lab(options) as lab:
        before = snapshot(lab, MESH_OBJECTS["istio"])
        code, journal = run_experiment(lab, "ratings-latency-retry.json", tmp_path)
        assert code == 0
        assert journal["steady_states"]["after"]["steady_state_met"] is True
        assert engines(lab) == []
        assert snapshot(lab, MESH_OBJECTS["istio"]) == before


@pytest.mark.parametrize("name", ["ratings-latency.json", "ratings-latency-retry.json"])
def test_without_a_cluster_the_first_error_names_the_fix(name, tmp_path):
    """No cluster: the readiness probe fails first, with one line, instead of
    a raw urllib3 error from the first Kubernetes call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        f"clusters: [{{name: dead, cluster: {{server: 'http://127.0.0.1:{dead}'}}}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: nobody}}]\n"
        "users: [{name: nobody, user: {}}]\n"
    )
    env = {**os.environ, **SHORT, "KUBECONFIG": str(kubeconfig)}
    env.pop("KUBERNETES_CONTEXT", None)
    journal_path = tmp_path / "journal.json"
    done = chaos(
        ["run", "--journal-path", str(journal_path), str(EXPERIMENTS / name)],
        env,
        tmp_path,
    )
    assert done.returncode == 1
    journal = json.loads(journal_path.read_text())
    first = journal["steady_states"]["before"]["probes"][0]
    assert first["activity"]["name"] == "cluster-ready"
    assert first["status"] == "failed"
    line = first["exception"][-1].strip()
    assert "the Kubernetes API at http://127.0.0.1:" in line
    assert "does not answer" in line and "KUBECONFIG" in line
    assert "chaoslitmus lab run" in line
    # what the user reads: our line comes before any raw client error
    output = done.stdout + done.stderr
    assert "does not answer" in output
    raw = output.find("MaxRetryError")
    assert raw == -1 or raw > output.find("does not answer")


def test_the_readme_example_runs_on_the_lab(appmesh_lab, tmp_path):
    """The minimal experiment of the README, copied as a user would, with a
    number given the way experiments/README.md shows (`--var latency_ms=1000`
    passes the string "1000")."""
    readme = (EXPERIMENTS.parent / "README.md").read_text()
    start = readme.index("## A minimal experiment to copy\n")
    body = readme[readme.index("```json\n", start) + 8 :]
    path = tmp_path / "slow-pod.json"
    path.write_text(body[: body.index("```")])
    journal_path = tmp_path / "slow-pod.journal.json"
    env = {**os.environ, **appmesh_lab.env()}
    done = chaos(
        ["run", "--var", "latency_ms=1000", "--journal-path", str(journal_path)]
        + [str(path)],
        env,
        tmp_path,
    )
    assert journal_path.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "completed", journal["run"]
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    launched = outputs(journal, "slow-down-one-pod")["output"]
    assert launched["engine_name"].startswith("slow-pod-")
    assert launched["parameters"]["env"]["NETWORK_LATENCY"] == "1000"
    verdict = outputs(journal, "record-the-verdict")
    assert verdict["status"] == "succeeded"
    assert verdict["output"]["engine_name"] == launched["engine_name"]
    assert verdict["output"]["verdict"] == "Pass"
    assert all(r["status"] == "succeeded" for r in journal["rollbacks"])
    assert engines(appmesh_lab) == []
