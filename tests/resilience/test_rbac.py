"""The RBAC helper grants what the experiment needs, and nothing more.

Compared with Litmus' published RBAC for pod-network-latency (3.x), the
reference manifest shipped in chaoslitmus/lab/litmus/manifests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaoslitmus.litmus import actions
from chaoslitmus.litmus import manifests as m

from .conftest import NS

REFERENCE = (
    Path(__file__).resolve().parents[2]
    / "chaoslitmus"
    / "lab"
    / "litmus"
    / "manifests"
    / "pod-network-latency-rbac-3.x.yaml"
)
ROLES = "rbac.authorization.k8s.io/v1/roles"
BINDINGS = "rbac.authorization.k8s.io/v1/rolebindings"
ACCOUNTS = "v1/serviceaccounts"


def reference(kind: str) -> dict:
    docs = [d for d in yaml.safe_load_all(REFERENCE.read_text()) if d]
    [doc] = [d for d in docs if d["kind"] == kind]
    return doc


def grants(rules: list[dict]) -> set[tuple[str, str, str]]:
    """Every (apiGroup, resource, verb) a list of rules allows."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def test_the_reference_needs_no_wildcards_and_neither_do_we():
    for rules in (reference("Role")["rules"], m.KNOWN_RULES["pod-network-latency"]):
        assert not any("*" in triple for triple in grants(rules))


def test_known_rules_grant_exactly_the_reference_role():
    assert grants(m.KNOWN_RULES["pod-network-latency"]) == grants(
        reference("Role")["rules"]
    )


@pytest.mark.parametrize("where", ["with the experiment", "without it"])
def test_the_created_role_grants_exactly_the_reference(lab, faults, where):
    namespace = NS if where == "with the experiment" else lab.mesh_namespace()
    name = f"rbac-check-{len(where)}"
    proxy = faults(rate=0.0)
    # A lost answer on the Role's create must still count as created by us.
    proxy.force("500-after", method="POST", fragment="/roles")

    out = actions.create_chaos_service_account(namespace, name)

    assert out["created"] == ["ServiceAccount", "Role", "RoleBinding"]
    role = lab.get(ROLES, name, namespace)
    assert grants(role["rules"]) == grants(reference("Role")["rules"])
    binding = lab.get(BINDINGS, name, namespace)
    expected = reference("RoleBinding")
    assert binding["roleRef"] == {**expected["roleRef"], "name": name}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    ]
    assert lab.get(ACCOUNTS, name, namespace)["metadata"]["name"] == name

    # A delete whose answer is lost: its replay meets 404, which means done.
    proxy.force("reset-after", method="DELETE", fragment="/roles/")
    removed = actions.delete_chaos_service_account(namespace, name)
    assert sorted(removed["deleted"]) == ["Role", "RoleBinding", "ServiceAccount"]
    assert [r.status for r in proxy.of("DELETE", "/roles/")] == [0, 404]
