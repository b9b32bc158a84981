"""The activities as Chaos Toolkit runs them: discovery, validation, a whole run."""

from __future__ import annotations

import json
from pathlib import Path

from chaoslib.discovery import discover_actions, discover_probes
from chaoslib.experiment import ensure_experiment_is_valid, run_experiment

from .conftest import STORY, RawApi, frozen, router


def test_discovery_lists_every_activity_with_its_doc() -> None:
    found = discover_actions("chaoslitmus.mesh.actions") + discover_probes(
        "chaoslitmus.mesh.probes"
    )
    names = {a["name"]: a for a in found}
    assert set(names) == {
        "set_retry_policy",
        "restore_retry_policy",
        "remove_retry_policy",
        "get_retry_policy",
        "retry_policy_matches",
        "equivalent_policies",
        "retry_budget",
        "wait_for_retry_policy_applied",
        "retry_stats",
        "retry_stats_during",
    }
    for activity in found:
        # every activity but the pure ones (comparison, arithmetic) talks to
        # the cluster
        pure = activity["name"] in ("equivalent_policies", "retry_budget")
        assert activity["doc"] and (
            pure or "secrets" in [a["name"] for a in activity["arguments"]]
        )
    assert names["retry_policy_matches"]["return_type"] == "boolean"
    assert names["set_retry_policy"]["return_type"] == "mapping"
    arguments = {a["name"]: a for a in names["set_retry_policy"]["arguments"]}
    # required arguments show as required (no default) in `chaos discover`
    for required in ("name", "namespace", "max_retries"):
        assert "default" not in arguments[required], required
    assert arguments["namespace"] == {"name": "namespace", "type": "string"}
    # optional numbers have real defaults, so `chaos init` can skip them
    assert arguments["per_retry_timeout_ms"]["default"] == 0
    json.dumps(found)  # discovery.json must be writable


def _python(module: str, func: str, **arguments: object) -> dict:
    return {"type": "python", "module": module, "func": func, "arguments": arguments}


def test_a_run_sets_the_policy_and_its_rollback_restores_it(
    cluster: RawApi, v1beta2: dict, kubeconfig: Path
) -> None:
    before = router(cluster, v1beta2)
    target = {"name": "ratings", "namespace": v1beta2["namespace"]}
    experiment = {
        "title": "ratings retries hide a slow replica",
        "description": "set the story's retry policy, check it, roll it back",
        "steady-state-hypothesis": {
            "title": "the admin route keeps its own policy",
            "probes": [
                {
                    "type": "probe",
                    "name": "admin-route-untouched",
                    "tolerance": True,
                    "provider": _python(
                        "chaoslitmus.mesh.probes", "retry_policy_matches",
                        route_name="ratings-admin", max_retries=2, **target,
                    ),
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "retry-ratings",
                "provider": _python(
                    "chaoslitmus.mesh.actions", "set_retry_policy",
                    route_name="ratings-route", **STORY, **target,
                ),
            },
            {
                "type": "probe",
                "name": "policy-in-place",
                "provider": _python(
                    "chaoslitmus.mesh.probes", "get_retry_policy",
                    route_name="ratings-route", **target,
                ),
            },
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "undo-retry",
                "provider": _python(
                    "chaoslitmus.mesh.actions", "restore_retry_policy", **target
                ),
            }
        ],
    }  # fmt: skip
    ensure_experiment_is_valid(experiment)

    journal = run_experiment(experiment)

    assert journal["status"] == "completed" and journal["deviated"] is False
    assert [r["status"] for r in journal["run"]] == ["succeeded", "succeeded"]
    seen = journal["run"][1]["output"]["routes"][0]["policy"]
    assert seen["max_retries"] == 3 and seen["per_retry_timeout_ms"] == 2000
    [rollback] = journal["rollbacks"]
    assert rollback["status"] == "succeeded" and rollback["output"]["restored"] is True
    json.dumps(journal)
    assert frozen(router(cluster, v1beta2)) == frozen(before)
