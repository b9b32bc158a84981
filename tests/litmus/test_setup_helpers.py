"""Setup helpers and their undo actions leave the cluster as it was."""

from __future__ import annotations

from chaoslitmus.lab.bookinfo import world
from chaoslitmus.litmus import actions

from .conftest import NS

EXPERIMENTS = "litmuschaos.io/v1alpha1/chaosexperiments"


def test_service_account_round_trip(lab):
    created = actions.create_chaos_service_account(NS, "latency-runner")
    assert created["created"] == ["ServiceAccount", "Role", "RoleBinding"]
    role = lab.get("rbac.authorization.k8s.io/v1/roles", "latency-runner")
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert "chaosengines" in resources and "secrets" not in resources
    again = actions.create_chaos_service_account(NS, "latency-runner")
    assert again["already_present"] == ["ServiceAccount", "Role", "RoleBinding"]
    deleted = actions.delete_chaos_service_account(NS, "latency-runner")
    assert deleted["deleted"] == ["RoleBinding", "Role", "ServiceAccount"]


def test_delete_service_account_keeps_what_is_not_ours(lab):
    kept = actions.delete_chaos_service_account(NS, "pod-network-latency-sa")
    assert kept["deleted"] == []
    assert lab.get("v1/serviceaccounts", "pod-network-latency-sa")


def test_install_and_uninstall_experiment(lab, tmp_path):
    import yaml

    doc = world.network_latency_experiment(NS)
    doc["metadata"] = {"name": "pod-network-latency-copy"}
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert actions.install_experiment(str(path), NS)["installed"] == [
        "pod-network-latency-copy"
    ]
    assert actions.install_experiment(str(path), NS)["already_present"] == [
        "pod-network-latency-copy"
    ]
    assert actions.uninstall_experiment("pod-network-latency-copy", NS)["deleted"]
    # the lab's own experiment was not installed by us: it stays
    assert not actions.uninstall_experiment("pod-network-latency", NS)["deleted"]
    assert lab.get(EXPERIMENTS, "pod-network-latency")


def test_annotate_and_restore_is_exact(lab):
    before = lab.get("apps/v1/deployments", "reviews-v3")["metadata"].get("annotations")
    first = actions.annotate_app(NS, "reviews-v3")
    assert first["previous"] == "true"
    actions.annotate_app(NS, "reviews-v3")  # twice keeps the first snapshot
    restored = actions.restore_app_annotation(NS, "reviews-v3")
    assert restored["restored"]
    after = lab.get("apps/v1/deployments", "reviews-v3")["metadata"].get("annotations")
    assert after == before
    assert not actions.restore_app_annotation(NS, "reviews-v3")["restored"]


def test_setup_chores_live_in_setup_and_stay_importable_from_actions():
    from chaoslitmus.litmus import actions, setup

    for name in setup.__all__:
        assert getattr(actions, name) is getattr(setup, name)
        assert name in actions.__all__  # so `chaos discover` lists it
