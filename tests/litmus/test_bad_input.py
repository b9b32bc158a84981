"""Bad input gets one clear line and changes nothing in the cluster."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.lab import write_kubeconfig
from chaoslitmus.litmus import actions

from .conftest import NS

CRDS = "apiextensions.k8s.io/v1/customresourcedefinitions"
DEPLOYMENTS = "apps/v1/deployments"


def assert_nothing_created(lab, before):
    assert [e["metadata"]["name"] for e in lab.engines()] == before


def engine_names(lab):
    return [e["metadata"]["name"] for e in lab.engines()]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"app_namespace": "nowhere"}, "namespace 'nowhere' not found"),
        (
            {"experiment_name": "pod-cpu-hog"},
            "ChaosExperiment 'pod-cpu-hog' is not installed",
        ),
        ({"service_account": "ghost-sa"}, "service account 'ghost-sa' not found"),
        ({"app_label": "app=nothing"}, "no pods match label 'app=nothing'"),
        ({"app_label": "app"}, "not a key=value label selector"),
        ({"app_kind": "cronjob"}, "app_kind must be one of"),
        ({"litmus_version": "9"}, "litmus_version must be"),
        ({"timeout_s": -1}, "timeout_s must be > 0"),
        ({"timeout_s": "10s"}, "timeout_s must be a number"),
        ({"wait": "yes"}, "wait must be true or false"),
        ({"engine_name": "Bad_Name"}, "not a valid Kubernetes name"),
        ({"job_cleanup_policy": "keep"}, "job_cleanup_policy"),
        ({"env": {"A": {"b": 1}}}, "must be a scalar"),
        ({"probes": [{"name": "p"}]}, "lacks"),
        ({"app_label": "app=a,tier=b", "litmus_version": "1"}, "exactly one"),
    ],
)
def test_run_experiment_refuses(lab, overrides, message):
    before = engine_names(lab)
    args = dict(
        experiment_name="pod-network-latency",
        app_namespace=NS,
        app_label="app=ratings",
        env={"TOTAL_CHAOS_DURATION": "1"},
    )
    args.update(overrides)
    with pytest.raises(ActivityFailed, match=message) as info:
        actions.run_experiment(**args)
    assert "\n" not in str(info.value)
    assert_nothing_created(lab, before)


def test_litmus_crds_missing(fresh_lab):
    fresh_lab.server.call(
        fresh_lab.server.store.delete, CRDS, None, "chaosengines.litmuschaos.io"
    )
    with pytest.raises(
        ActivityFailed, match="Litmus CRDs are not served.*chaosengines"
    ):
        actions.inject_network_latency(NS, "app=ratings", duration_s=1)


def test_annotation_check_needs_the_annotation(fresh_lab):
    store = fresh_lab.server.store
    fresh_lab.server.call(
        store.patch,
        DEPLOYMENTS,
        NS,
        "ratings-v1",
        {"metadata": {"annotations": {"litmuschaos.io/chaos": None}}},
    )
    with pytest.raises(ActivityFailed, match="annotate_app"):
        actions.run_experiment(
            "pod-network-latency", NS, "app=ratings", annotation_check=True
        )
    assert fresh_lab.engines() == []
    # annotate_app fixes it, and restore_app_annotation undoes exactly that
    before = fresh_lab.get(DEPLOYMENTS, "ratings-v1")["metadata"].get("annotations")
    actions.annotate_app(NS, "ratings-v1")
    outcome = actions.run_experiment(
        "pod-network-latency",
        NS,
        "app=ratings",
        annotation_check=True,
        env={"TOTAL_CHAOS_DURATION": "1"},
        timeout_s=30,
    )
    assert outcome["verdict"] == "Pass"
    actions.restore_app_annotation(NS, "ratings-v1")
    after = fresh_lab.get(DEPLOYMENTS, "ratings-v1")["metadata"].get("annotations")
    assert after == before


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_api(tmp_path, monkeypatch):
    path = write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("KUBECONFIG", str(path))
    with pytest.raises(ActivityFailed, match="cannot reach the Kubernetes API"):
        actions.inject_network_latency(NS, "app=ratings", duration_s=1)


def test_no_kubeconfig_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("KUBERNETES_HOST", "CHAOSTOOLKIT_IN_POD"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ActivityFailed, match="no Kubernetes configuration found"):
        actions.stop_engine("x", NS)


def test_unknown_context(lab, monkeypatch):
    monkeypatch.setenv("KUBERNETES_CONTEXT", "prod-cluster")
    with pytest.raises(ActivityFailed, match="invalid Kubernetes configuration"):
        actions.stop_engine("x", NS)


# --- manifests ----------------------------------------------------------------

ENGINE_YAML = """
apiVersion: litmuschaos.io/v1alpha1
kind: ChaosEngine
metadata:
  name: bookinfo-network-chaos
  namespace: bookinfo
spec:
  engineState: active
  appinfo: {appns: bookinfo, applabel: app=ratings, appkind: deployment}
  chaosServiceAccount: pod-network-latency-sa
  jobCleanUpPolicy: delete
  experiments:
    - name: pod-network-latency
      spec:
        components:
          env:
            - {name: TOTAL_CHAOS_DURATION, value: '1'}
            - {name: NETWORK_LATENCY, value: '3000'}
"""


def test_manifest_file_runs(lab, tmp_path):
    path = tmp_path / "engine.yaml"
    path.write_text(ENGINE_YAML)
    (outcome,) = actions.create_engine_from_manifest(str(path), timeout_s=30)
    assert outcome["engine_name"] == "bookinfo-network-chaos"
    assert outcome["verdict"] == "Pass"
    actions.delete_engine("bookinfo-network-chaos", NS, timeout_s=10)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            ENGINE_YAML + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
            "document 2 is a Pod",
        ),
        ("apiVersion: [unclosed\n", "not valid YAML at line"),
        ("", "holds no YAML document"),
        ("- just\n- a list\n", "not a Kubernetes object"),
        ("!!python/object/apply:os.system ['true']\n", "not valid YAML"),
        (ENGINE_YAML.replace("app=ratings", "app=nothing"), "no pods match"),
        (
            ENGINE_YAML.replace(
                "    - name: pod-network-latency\n", "    - name: pod-cpu-hog\n"
            ),
            "not installed",
        ),
    ],
)
def test_bad_manifests_create_nothing(lab, tmp_path, text, message):
    before = engine_names(lab)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ActivityFailed, match=message):
        actions.create_engine_from_manifest(str(path))
    assert_nothing_created(lab, before)


def test_manifest_locations(lab, tmp_path):
    with pytest.raises(ActivityFailed, match="does not exist"):
        actions.create_engine_from_manifest(str(tmp_path / "nope.yaml"))
    with pytest.raises(ActivityFailed, match="plain http"):
        actions.create_engine_from_manifest("http://127.0.0.1:1/engine.yaml")
    with pytest.raises(ActivityFailed, match="unsupported location"):
        actions.create_engine_from_manifest("ftp://example.invalid/engine.yaml")


def test_manifest_url_that_404s(lab):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/missing-engine.yaml"
        with pytest.raises(ActivityFailed, match="answered HTTP 404"):
            actions.create_engine_from_manifest(url, allow_insecure=True)
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: actions.stop_engine("", NS), "engine_name must be a non-empty"),
        (lambda: actions.delete_engine("x", NS, timeout_s=0), "timeout_s must be > 0"),
        (lambda: actions.annotate_app(NS, "ratings-v1", kind="job"), "kind must be"),
        (lambda: actions.annotate_app(NS, "ghost"), "'ghost' not found"),
        (
            lambda: actions.inject_network_latency(NS, "app=ratings", latency_ms=-5),
            "latency_ms",
        ),
        (
            lambda: actions.wait_for_result("ghost", NS, timeout_s=1),
            "'ghost' not found",
        ),
        (
            lambda: actions.create_chaos_service_account(NS, "sa", "pod-cpu-hog"),
            "no RBAC rules",
        ),
    ],
)
def test_other_activities_refuse(lab, call, message):
    before = engine_names(lab)
    with pytest.raises(ActivityFailed, match=message):
        call()
    assert_nothing_created(lab, before)


# --- strict types (issue 17 items 4, 6 and 8) ----------------------------------

LATENCY = dict(app_namespace=NS, app_label="app=ratings", duration_s=1)


@pytest.mark.parametrize(
    "overrides, message",
    [
        # a NaN/inf timeout with wait used to create the engine, then crash
        ({"timeout_s": float("inf")}, "timeout_s must be a finite number"),
        ({"timeout_s": float("nan")}, "timeout_s must be a finite number"),
        ({"timeout_s": 10**400}, "timeout_s must be >= 0 and <= 604800"),
        ({"latency_ms": float("nan")}, "latency_ms must be a finite whole number"),
        ({"latency_ms": "nan"}, "latency_ms must be a whole number"),
        ({"latency_ms": "1.5"}, "latency_ms must be a whole number"),
        ({"latency_ms": True}, "latency_ms must be a whole number"),
        ({"latency_ms": "²"}, "latency_ms must be a whole number"),
        ({"duration_s": float("inf")}, "duration_s must be a finite whole number"),
        ({"duration_s": "1.5"}, "duration_s must be a whole number"),
        ({"jitter_ms": 10**400}, "jitter_ms must be >= 0 and <="),
        ({"target_container": ["a", "b"]}, "target_container must be a non-empty"),
        ({"pods_affected_perc": 0.5}, "pods_affected_perc must be a whole number"),
        ({"pods_affected_perc": 101}, "pods_affected_perc must be >= 0 and <= 100"),
        ({"network_interface": "eth0; rm -rf /"}, "network_interface must be"),
        ({"network_interface": "a" * 16}, "network_interface must be"),
        ({"wait": "yes"}, "wait must be true or false"),
        ({"fail_on_verdict": "no"}, "fail_on_verdict must be true or false"),
        ({"app_kind": ["deployment"]}, "app_kind must be one of"),
        ({"litmus_version": ["3"]}, "litmus_version must be '1' or '3'"),
        ({"engine_name": ["x"]}, "engine_name must be a non-empty string"),
    ],
)
def test_inject_refuses_before_any_engine_exists(lab, overrides, message):
    before = engine_names(lab)
    with pytest.raises(ActivityFailed, match=message) as info:
        actions.inject_network_latency(**{**LATENCY, "wait": True, **overrides})
    assert "\n" not in str(info.value)
    assert_nothing_created(lab, before)


def test_numbers_as_var_strings_run_the_fault(lab):
    # `chaos run --var latency_ms=1000` passes strings
    outcome = actions.inject_network_latency(
        NS, "app=ratings", latency_ms="1000", duration_s="1", timeout_s="30"
    )
    try:
        assert outcome["verdict"] == "Pass"
        assert outcome["parameters"]["env"]["NETWORK_LATENCY"] == "1000"
    finally:
        actions.delete_engine(outcome["engine_name"], NS, timeout_s=10)


def test_allow_insecure_false_as_a_string_is_false(lab):
    before = engine_names(lab)
    with pytest.raises(ActivityFailed, match="plain http"):
        actions.create_engine_from_manifest(
            "http://127.0.0.1:1/engine.yaml", allow_insecure="false"
        )
    with pytest.raises(ActivityFailed, match="allow_insecure must be true or false"):
        actions.create_engine_from_manifest(
            "http://127.0.0.1:1/engine.yaml", allow_insecure="yes"
        )
    with pytest.raises(ActivityFailed, match="allow_insecure must be true or false"):
        actions.install_experiment(
            "http://127.0.0.1:1/exp.yaml", NS, allow_insecure="False"
        )
    assert_nothing_created(lab, before)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda p: actions.create_engine_from_manifest(p, timeout_s=float("inf")),
            "timeout_s must be a finite number",
        ),
        (
            lambda p: actions.create_engine_from_manifest(p, timeout_s=10**400),
            "timeout_s must be > 0 and <= 604800",
        ),
        (
            lambda p: actions.create_engine_from_manifest(p, wait="false "),
            "wait must be true or false",
        ),
        (
            lambda p: actions.create_engine_from_manifest(p, fail_on_verdict=1),
            "fail_on_verdict must be true or false",
        ),
        (
            lambda p: actions.create_engine_from_manifest(p, namespace=["bookinfo"]),
            "namespace must be a non-empty string",
        ),
    ],
)
def test_manifest_arguments_are_checked_before_the_file(lab, tmp_path, call, message):
    path = tmp_path / "engine.yaml"
    path.write_text(ENGINE_YAML)
    before = engine_names(lab)
    with pytest.raises(ActivityFailed, match=message):
        call(str(path))
    assert_nothing_created(lab, before)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: actions.delete_engine("x", NS, timeout_s=10**400),
            "timeout_s must be > 0 and <= 604800",
        ),
        (
            lambda: actions.delete_engine("x", NS, wait_for_cleanup="yes"),
            "wait_for_cleanup must be true or false",
        ),
        (
            lambda: actions.wait_for_result("x", NS, timeout_s=10**400),
            "timeout_s must be > 0 and <= 604800",
        ),
        (
            lambda: actions.wait_for_result("x", NS, fail_on_verdict="true "),
            "fail_on_verdict must be true or false",
        ),
        (
            lambda: actions.wait_for_chaos_started("x", NS, timeout_s="inf"),
            "timeout_s must be a number",
        ),
        (
            lambda: actions.annotate_app(NS, "ratings-v1", kind=["deployment"]),
            "kind must be one of deployment, statefulset, daemonset",
        ),
        (
            lambda: actions.restore_app_annotation(NS, "ratings-v1", kind=["x"]),
            "kind must be one of",
        ),
    ],
)
def test_wait_and_setup_arguments_are_strict(lab, call, message):
    before = engine_names(lab)
    with pytest.raises(ActivityFailed, match=message) as info:
        call()
    assert "\n" not in str(info.value)
    assert_nothing_created(lab, before)


@pytest.mark.parametrize("saved", ['{"not json', "42", '{"a": 1}'])
def test_tampered_previous_annotation_is_one_clear_line(fresh_lab, saved):
    store = fresh_lab.server.store
    previous = "chaoslitmus.io/previous-chaos-annotation"
    fresh_lab.server.call(
        store.patch,
        DEPLOYMENTS,
        NS,
        "ratings-v1",
        {"metadata": {"annotations": {previous: saved}}},
    )
    before = fresh_lab.get(DEPLOYMENTS, "ratings-v1")["metadata"]["annotations"]
    with pytest.raises(ActivityFailed, match="edited by hand") as info:
        actions.restore_app_annotation(NS, "ratings-v1")
    assert "\n" not in str(info.value) and previous in str(info.value)
    after = fresh_lab.get(DEPLOYMENTS, "ratings-v1")["metadata"]["annotations"]
    assert after == before
