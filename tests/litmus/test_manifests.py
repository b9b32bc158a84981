"""Manifest building is pure: arguments in, validated dicts out."""

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.litmus import manifests as m


def build(**overrides):
    args = dict(
        name="lat-abcde",
        namespace="bookinfo",
        experiment_name="pod-network-latency",
        app_namespace="bookinfo",
        app_label="app=ratings",
        app_kind="deployment",
        service_account="pod-network-latency-sa",
        env=m.env_list({"NETWORK_LATENCY": 3000, "TOTAL_CHAOS_DURATION": "30"}),
        probes=[],
        annotation_check=False,
        job_cleanup_policy="delete",
        litmus_version="3",
    )
    args.update(overrides)
    return m.engine_manifest(**args)


def test_3x_engine_shape():
    engine = build()
    assert engine["apiVersion"] == "litmuschaos.io/v1alpha1"
    assert engine["spec"]["appinfo"] == {
        "appns": "bookinfo",
        "applabel": "app=ratings",
        "appkind": "deployment",
    }
    assert "annotationCheck" not in engine["spec"]
    env = engine["spec"]["experiments"][0]["spec"]["components"]["env"]
    assert {"name": "NETWORK_LATENCY", "value": "3000"} in env


def test_1x_engine_carries_annotation_check_as_string():
    engine = build(litmus_version="1", annotation_check=True)
    assert engine["spec"]["annotationCheck"] == "true"


@pytest.mark.parametrize(
    "value",
    ["", "app", "app=ratings,", "=x", "APP WITH SPACE=x", None, 3],
)
def test_bad_label_selectors_are_refused(value):
    with pytest.raises(ActivityFailed, match="app_label"):
        m.check_label_selector(value)


def test_1x_takes_a_single_label():
    with pytest.raises(ActivityFailed, match="exactly one"):
        m.check_label_selector("app=a,tier=b", single=True)
    assert m.check_label_selector("app=a, tier=b") == "app=a,tier=b"


@pytest.mark.parametrize("value", ["Bad_Name", "-x", "x" * 300, "", None, 5])
def test_bad_names_are_refused(value):
    with pytest.raises(ActivityFailed, match="name"):
        m.check_name(value, "engine_name")


def test_env_from_dict_and_list():
    assert m.env_list({"A": 1, "B": True, "C": None}) == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "true"},
        {"name": "C", "value": ""},
    ]
    assert m.env_list([{"name": "A", "value": "x"}]) == [{"name": "A", "value": "x"}]
    with pytest.raises(ActivityFailed):
        m.env_list({"A": {"nested": 1}})
    with pytest.raises(ActivityFailed):
        m.env_list("A=1")
    with pytest.raises(ActivityFailed):
        m.env_list({"1BAD": "x"})


def test_network_latency_env_defaults_and_options():
    env = m.network_latency_env(latency_ms=3000, duration_s=30)
    assert env == {
        "NETWORK_LATENCY": "3000",
        "TOTAL_CHAOS_DURATION": "30",
        "JITTER": "0",
        "NETWORK_INTERFACE": "eth0",
    }
    env = m.network_latency_env(
        latency_ms=100,
        duration_s=5,
        pods_affected_perc=50,
        target_pods=["ratings-1", "ratings-2"],
        destination_ips="10.0.0.1, 10.0.0.2",
        ramp_time_s=2,
    )
    assert env["PODS_AFFECTED_PERC"] == "50"
    assert env["TARGET_PODS"] == "ratings-1,ratings-2"
    assert env["DESTINATION_IPS"] == "10.0.0.1,10.0.0.2"
    assert env["RAMP_TIME"] == "2"


def test_network_latency_env_takes_exact_numeric_strings():
    # `chaos run --var latency_ms=1000` passes the string "1000"
    env = m.network_latency_env(
        latency_ms="1000", duration_s="5", jitter_ms="0", pods_affected_perc="50"
    )
    assert env["NETWORK_LATENCY"] == "1000"
    assert env["TOTAL_CHAOS_DURATION"] == "5"
    assert env["PODS_AFFECTED_PERC"] == "50"
    # 0 leaves the choice of pods to Litmus, as if not given
    assert "PODS_AFFECTED_PERC" not in m.network_latency_env(
        latency_ms=1, duration_s=1, pods_affected_perc=0
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": 0}, "latency_ms"),
        ({"latency_ms": "3000.5"}, "latency_ms must be a whole number"),
        ({"latency_ms": "²"}, "latency_ms must be a whole number"),
        ({"latency_ms": float("nan")}, "latency_ms must be a finite"),
        ({"latency_ms": 10**400}, "latency_ms must be >= 1 and <="),
        ({"latency_ms": True}, "latency_ms"),
        ({"duration_s": 1.5}, "whole number"),
        ({"jitter_ms": -5}, "jitter_ms"),
        ({"pods_affected_perc": 150}, "pods_affected_perc"),
        ({"pods_affected_perc": 0.5}, "pods_affected_perc must be a whole number"),
        ({"pods_affected_perc": -1}, "pods_affected_perc"),
        ({"target_container": ["a", "b"]}, "target_container must be a non-empty"),
        ({"network_interface": "eth0; rm -rf /"}, "network_interface must be"),
        ({"network_interface": ["eth0"]}, "network_interface must be"),
        ({"target_pods": ["ok", ""]}, "target_pods"),
        ({"target_pods": ["Not_A_Pod"]}, "target_pods"),
        ({"ramp_time_s": -1}, "ramp_time_s"),
        ({"network_interface": ""}, "network_interface"),
    ],
)
def test_network_latency_env_refuses_bad_values(overrides, message):
    args = {"latency_ms": 3000, "duration_s": 30, **overrides}
    with pytest.raises(ActivityFailed, match=message):
        m.network_latency_env(**args)


def test_litmus_version_aliases():
    assert m.check_litmus_version("3") == "3"
    assert m.check_litmus_version("2.14") == "3"
    assert m.check_litmus_version("v1") == "1"
    with pytest.raises(ActivityFailed):
        m.check_litmus_version("4")


def test_generated_names_are_valid_and_distinct():
    names = {m.engine_name_for("pod-network-latency") for _ in range(50)}
    assert len(names) == 50
    for name in names:
        m.check_name(name, "engine_name", max_len=63)


def test_result_name_with_instance_id():
    assert m.result_name("eng", "pod-delete") == "eng-pod-delete"
    assert m.result_name("eng", "pod-delete", "r1") == "eng-pod-delete-r1"


def test_rbac_is_the_reference_minimum():
    sa, role, binding = m.rbac_manifests(
        "bookinfo", "lat-sa", m.POD_NETWORK_LATENCY_RULES
    )
    assert sa["kind"] == "ServiceAccount"
    assert role["rules"] == m.POD_NETWORK_LATENCY_RULES
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "lat-sa", "namespace": "bookinfo"}
    ]
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert "*" not in verbs and "escalate" not in verbs


def test_probes_are_checked():
    good = {"name": "p", "type": "httpProbe", "mode": "SOT", "runProperties": {}}
    assert m.check_probes([good]) == [good]
    with pytest.raises(ActivityFailed, match="lacks"):
        m.check_probes([{"name": "p"}])
    with pytest.raises(ActivityFailed, match="mode"):
        m.check_probes([{**good, "mode": "Always"}])
