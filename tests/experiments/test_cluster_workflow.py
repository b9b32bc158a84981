"""The lab as a cluster to other extensions: `chaos run` of an experiment
that mixes chaostoolkit-kubernetes and chaoslitmus (scale ratings to 3,
terminate a pod, check the Deployment heals, a short Litmus latency fault,
restore the scale), and ratings ends as it began: 2 pods, Running, Ready,
each serving behind the mesh."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

from chaoslitmus.lab import Lab, LabOptions
from chaoslitmus.lab.bookinfo import world

from .test_experiments_e2e import EXPERIMENTS, chaos

pytest.importorskip("chaosk8s")

PODS = "v1/pods"
DEPLOYMENTS = "apps/v1/deployments"


def ratings_state(lab: Lab) -> tuple[list[tuple[str, str]], dict]:
    store = lab.server.store
    pods, _ = lab.server.call(store.list, PODS, world.NAMESPACE, "app=ratings")
    deployment = lab.server.call(
        store.get, DEPLOYMENTS, world.NAMESPACE, world.RATINGS_DEPLOYMENT
    )
    phases = sorted(
        (p["status"]["phase"], str(p["status"].get("podIP") is not None)) for p in pods
    )
    return phases, deployment["status"]


def run_workflow(lab: Lab, tmp_path: Path) -> tuple[int, dict]:
    """`chaos run` with a 2 s fault (the file's own variable)."""
    env = {**os.environ, **lab.env(), "FAULT_DURATION_S": "2"}
    journal = tmp_path / "journal.json"
    name = "ratings-cluster-workflow.json"
    done = chaos(
        ["run", "--journal-path", str(journal), str(EXPERIMENTS / name)], env, tmp_path
    )
    assert journal.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads(journal.read_text())


def test_scale_terminate_fault_and_restore_with_chaos_run(tmp_path: Path) -> None:
    options = LabOptions(reviews_port=0, litmus_startup_s=0.5, seed=17)
    with Lab(options) as lab:
        before_pods, before = ratings_state(lab)
        assert before_pods == [("Running", "True")] * 2
        code, journal = run_workflow(lab, tmp_path)
        assert code == 0, journal.get("status")
        assert journal["status"] == "completed"
        assert journal["steady_states"]["after"]["steady_state_met"] is True
        names = [r["activity"]["name"] for r in journal["run"]]
        assert "terminate-one-ratings-pod" in names
        by_name = {r["activity"]["name"]: r for r in journal["run"]}
        assert len(by_name["terminate-one-ratings-pod"]["output"]) == 1
        verdict = by_name["record-litmus-verdict"]["output"]
        assert "Pass" in str(verdict), verdict
        after_pods, after = ratings_state(lab)
        assert after_pods == before_pods
        for key in ("replicas", "readyReplicas", "availableReplicas"):
            assert after[key] == before[key] == 2
        assert len(lab.dataplane.ratings_ports()) == 2  # type: ignore[union-attr]
        with urllib.request.urlopen(lab.reviews_url, timeout=10) as response:
            assert response.status == 200


def test_the_workflow_experiment_validates(tmp_path: Path) -> None:
    name = str(EXPERIMENTS / "ratings-cluster-workflow.json")
    done = chaos(["validate", name], dict(os.environ), tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
