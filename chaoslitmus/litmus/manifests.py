"""Pure functions from parameters to Litmus manifests (1.x and 3.x shapes).

Nothing here talks to a cluster: the activities validate their arguments and
build what they send with these functions, and the tests validate every
manifest against the real CRD schemas.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Mapping
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaoslitmus import _args

GROUP = "litmuschaos.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
ENGINES = "chaosengines"
RESULTS = "chaosresults"
EXPERIMENTS = "chaosexperiments"

CHAOS_ANNOTATION = "litmuschaos.io/chaos"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "chaostoolkit-litmus"
MANAGED_BY = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
# The workloads annotate_app and the annotation check know (apps/v1 plurals).
WORKLOAD_PLURALS = {
    "deployment": "deployments",
    "statefulset": "statefulsets",
    "daemonset": "daemonsets",
}

APP_KINDS = {
    "3": ("deployment", "statefulset", "daemonset", "deploymentconfig", "rollout"),
    "1": ("deployment", "statefulset", "daemonset"),
}
CLEANUP_POLICIES = ("delete", "retain")
CONTAINER_RUNTIMES = ("docker", "containerd", "crio")
# A Linux interface name (at most 15 characters), nothing a shell would read;
# see docs/activity-arguments.md.
INTERFACE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,15}")
PROBE_MODES = ("SOT", "EOT", "Edge", "Continuous", "OnChaos")
PROBE_TYPES = ("k8sProbe", "httpProbe", "cmdProbe", "promProbe", "sloProbe")

_LABEL_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY = re.compile(rf"^([a-z0-9.-]+/)?{_LABEL_PART}$")
_LABEL_VALUE = re.compile(rf"^({_LABEL_PART})?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def check_name(value: Any, what: str, max_len: int = 253) -> str:
    """A Kubernetes object name (DNS-1123 subdomain), or a clear error."""
    return _args.name(value, what, max_len)


def check_label_selector(value: Any, single: bool = False) -> str:
    """``key=value[,key2=value2]`` as Litmus' ``applabel`` expects it."""
    if not isinstance(value, str) or not value.strip():
        raise ActivityFailed(
            f"app_label must be a label selector such as 'app=ratings', got {value!r}"
        )
    parts = [p.strip() for p in value.split(",")]
    if single and len(parts) != 1:
        raise ActivityFailed(
            f"app_label {value!r}: Litmus 1.x takes exactly one key=value label"
        )
    for part in parts:
        key, sep, val = part.partition("=")
        val = val[1:] if val.startswith("=") else val
        if (
            not sep
            or not _LABEL_KEY.match(key.strip())
            or not _LABEL_VALUE.match(val.strip())
        ):
            raise ActivityFailed(
                f"app_label {value!r} is not a key=value label selector "
                "(for example 'app=ratings')"
            )
    return ",".join(parts)


def check_timeout(value: Any, what: str = "timeout_s") -> float:
    """Seconds to wait: finite, > 0, at most a week."""
    return _args.number(value, what, 0, _args.MAX_SECONDS, above=True)


def check_litmus_version(value: Any) -> str:
    """'1' (Litmus 1.x engines) or '3' (2.x/3.x shapes)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ActivityFailed(
            "litmus_version must be '1' or '3' (2.x uses the 3 shape), got "
            f"{_args.show(value)}"
        )
    text = str(value).strip().lstrip("v").split(".")[0]
    if text == "2":
        text = "3"
    if text not in APP_KINDS:
        raise ActivityFailed(
            f"litmus_version must be '1' or '3' (2.x uses the 3 shape), got {value!r}"
        )
    return text


def random_suffix(rng: random.Random | None = None, length: int = 5) -> str:
    """A short lower-case suffix so that two runs never pick the same name."""
    chooser = rng or random.SystemRandom()
    alphabet = string.ascii_lowercase + string.digits
    return "".join(chooser.choice(alphabet) for _ in range(length))


def engine_name_for(experiment_name: str, rng: random.Random | None = None) -> str:
    """``<experiment>-<suffix>``, trimmed to leave room for result names."""
    return f"{experiment_name[:40].rstrip('-')}-{random_suffix(rng)}"


def result_name(engine_name: str, experiment_name: str, instance_id: str = "") -> str:
    """The ChaosResult Litmus writes for one engine's experiment (FACTS.md §5)."""
    name = f"{engine_name}-{experiment_name}"
    return f"{name}-{instance_id}" if instance_id else name


def env_list(env: Mapping[str, Any] | list | None) -> list[dict]:
    """Engine env as ``[{name, value}]`` with string values, from a dict or a list."""
    if env is None:
        return []
    if isinstance(env, Mapping):
        items = list(env.items())
    elif isinstance(env, list):
        items = []
        for entry in env:
            if not isinstance(entry, Mapping) or "name" not in entry:
                raise ActivityFailed(
                    f"env entries must be {{'name': ..., 'value': ...}}, got {entry!r}"
                )
            items.append((entry["name"], entry.get("value", "")))
    else:
        raise ActivityFailed(f"env must be a mapping of NAME: value, got {env!r}")
    out = []
    for name, value in items:
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise ActivityFailed(f"env name {name!r} is not a valid variable name")
        if isinstance(value, Mapping | list):
            raise ActivityFailed(f"env {name} must be a scalar, got {value!r}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append({"name": name, "value": "" if value is None else str(value)})
    return out


def env_value(env: list[dict], name: str) -> str | None:
    """The value of ``name`` in an env list, or None."""
    for entry in env:
        if entry.get("name") == name:
            return entry.get("value")
    return None


def check_probes(probes: Any) -> list[dict]:
    """Litmus probes: a list of dicts with name, type, mode and runProperties."""
    if probes is None:
        return []
    if not isinstance(probes, list):
        raise ActivityFailed(
            f"probes must be a list of Litmus probe objects, got {probes!r}"
        )
    for probe in probes:
        if not isinstance(probe, Mapping):
            raise ActivityFailed(f"each probe must be an object, got {probe!r}")
        missing = [
            k for k in ("name", "type", "mode", "runProperties") if k not in probe
        ]
        if missing:
            raise ActivityFailed(
                f"probe {probe.get('name', '?')!r} lacks {', '.join(missing)}"
            )
        if probe["type"] not in PROBE_TYPES:
            raise ActivityFailed(
                f"probe {probe['name']!r}: type must be one of {', '.join(PROBE_TYPES)}"
            )
        if probe["mode"] not in PROBE_MODES:
            raise ActivityFailed(
                f"probe {probe['name']!r}: mode must be one of {', '.join(PROBE_MODES)}"
            )
    return [dict(p) for p in probes]


def engine_manifest(
    *,
    name: str,
    namespace: str,
    experiment_name: str,
    app_namespace: str,
    app_label: str,
    app_kind: str,
    service_account: str,
    env: list[dict],
    probes: list[dict],
    annotation_check: bool,
    job_cleanup_policy: str,
    litmus_version: str,
) -> dict:
    """A ChaosEngine running one experiment, in the 1.x or the 3.x shape."""
    experiment: dict[str, Any] = {"name": experiment_name, "spec": {"components": {}}}
    if env:
        experiment["spec"]["components"]["env"] = env
    if probes:
        experiment["spec"]["probe"] = probes
    spec: dict[str, Any] = {
        "engineState": "active",
        "appinfo": {"appns": app_namespace, "applabel": app_label, "appkind": app_kind},
        "chaosServiceAccount": service_account,
        "jobCleanUpPolicy": job_cleanup_policy,
        "experiments": [experiment],
    }
    if litmus_version == "1":
        # 1.x reads the annotation check from the engine; 3.x dropped the field.
        spec["annotationCheck"] = "true" if annotation_check else "false"
    return {
        "apiVersion": API_VERSION,
        "kind": "ChaosEngine",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }


# The 3.x "minimal RBAC" for pod-network-latency (reference rbac yaml, FACTS.md §7).
POD_NETWORK_LATENCY_RULES: list[dict] = [
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": [
            "create",
            "delete",
            "get",
            "list",
            "patch",
            "update",
            "deletecollection",
        ],
    },
    {
        "apiGroups": [""],
        "resources": ["events"],
        "verbs": ["create", "get", "list", "patch", "update"],
    },
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "list", "create"]},
    {
        "apiGroups": ["apps"],
        "resources": ["deployments", "statefulsets", "replicasets", "daemonsets"],
        "verbs": ["list", "get"],
    },
    {
        "apiGroups": ["apps.openshift.io"],
        "resources": ["deploymentconfigs"],
        "verbs": ["list", "get"],
    },
    {
        "apiGroups": [""],
        "resources": ["replicationcontrollers"],
        "verbs": ["get", "list"],
    },
    {"apiGroups": ["argoproj.io"], "resources": ["rollouts"], "verbs": ["list", "get"]},
    {
        "apiGroups": ["batch"],
        "resources": ["jobs"],
        "verbs": ["create", "list", "get", "delete", "deletecollection"],
    },
    {
        "apiGroups": [GROUP],
        "resources": [ENGINES, EXPERIMENTS, RESULTS],
        "verbs": ["create", "list", "get", "patch", "update", "delete"],
    },
]

KNOWN_RULES = {"pod-network-latency": POD_NETWORK_LATENCY_RULES}


# (group, version, plural) of what rbac_manifests builds, by kind.
RBAC_RESOURCES = {
    "ServiceAccount": ("", "v1", "serviceaccounts"),
    "Role": ("rbac.authorization.k8s.io", "v1", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io", "v1", "rolebindings"),
}


def rbac_manifests(namespace: str, name: str, rules: list[dict]) -> list[dict]:
    """ServiceAccount, Role and RoleBinding granting ``rules`` in ``namespace``."""
    labels = {"name": name, **MANAGED_BY}
    meta = {"name": name, "namespace": namespace, "labels": labels}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": dict(meta)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": dict(meta),
            "rules": [dict(r) for r in rules],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": dict(meta),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": name,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": name, "namespace": namespace}
            ],
        },
    ]


def network_latency_env(
    *,
    latency_ms: int,
    duration_s: int,
    jitter_ms: int = 0,
    target_container: str | None = None,
    network_interface: str = "eth0",
    pods_affected_perc: int | None = None,
    target_pods: list[str] | str | None = None,
    destination_hosts: list[str] | str | None = None,
    destination_ips: list[str] | str | None = None,
    ramp_time_s: int = 0,
    container_runtime: str | None = None,
    socket_path: str | None = None,
    sequence: str | None = None,
) -> dict[str, str]:
    """pod-network-latency's env (FACTS.md §6), validated; empty values left out.

    Numbers may be exact numeric strings (``chaos run --var`` passes strings);
    ``pods_affected_perc`` 0 or None leaves the choice to Litmus (one pod;
    see docs/activity-arguments.md).
    """
    latency = _args.whole(latency_ms, "latency_ms", 1, _args.MAX_MS)
    duration = _args.whole(duration_s, "duration_s", 1, _args.MAX_SECONDS)
    jitter = _args.whole(jitter_ms, "jitter_ms", 0, _args.MAX_MS)
    ramp = _args.whole(ramp_time_s, "ramp_time_s", 0, _args.MAX_SECONDS)
    interface = _args.pattern(
        network_interface,
        "network_interface",
        INTERFACE_NAME,
        "an interface name such as 'eth0' (letters, digits, _ . : -; at most 15)",
    )
    env = {
        "NETWORK_LATENCY": str(latency),
        "TOTAL_CHAOS_DURATION": str(duration),
        "JITTER": str(jitter),
        "NETWORK_INTERFACE": interface,
    }
    if ramp:
        env["RAMP_TIME"] = str(ramp)
    container = _args.optional_text(target_container, "target_container")
    if container:
        env["TARGET_CONTAINER"] = container
    if pods_affected_perc is not None:
        percent = _args.whole(pods_affected_perc, "pods_affected_perc", 0, 100)
        if percent:
            env["PODS_AFFECTED_PERC"] = str(percent)
    for value, key, what in (
        (target_pods, "TARGET_PODS", "target_pods"),
        (destination_hosts, "DESTINATION_HOSTS", "destination_hosts"),
        (destination_ips, "DESTINATION_IPS", "destination_ips"),
    ):
        items = _args.text_list(value, what)
        if items:
            env[key] = ",".join(items)
    for pod in _args.text_list(target_pods, "target_pods"):
        check_name(pod, "target_pods entry")
    runtime = _args.optional_text(container_runtime, "container_runtime")
    if runtime:
        env["CONTAINER_RUNTIME"] = _args.choice(
            runtime, "container_runtime", CONTAINER_RUNTIMES
        )
    socket = _args.optional_text(socket_path, "socket_path")
    if socket:
        env["SOCKET_PATH"] = socket
    order = _args.optional_text(sequence, "sequence")
    if order:
        env["SEQUENCE"] = _args.choice(order, "sequence", ("parallel", "serial"))
    return env
