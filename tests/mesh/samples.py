"""Mesh objects as a user would write them (docs/mesh-behaviour.md, the CRDs)."""

from __future__ import annotations

import copy
from typing import Any

RATINGS_POLICY_V1BETA2 = {
    "maxRetries": 2,
    "perRetryTimeout": {"unit": "s", "value": 1},
    "httpRetryEvents": ["gateway-error"],
}


def appmesh_v1beta1_service(name: str = "ratings", namespace: str = "bookinfo") -> dict:
    return {
        "apiVersion": "appmesh.k8s.aws/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "meshName": "bookinfo-mesh",
            "virtualRouter": {
                "name": "ratings-router",
                "listeners": [{"portMapping": {"port": 9080, "protocol": "http"}}],
            },
            "routes": [
                {
                    "name": "ratings-route",
                    "priority": 10,
                    "http": {
                        "match": {"prefix": "/"},
                        "action": {
                            "weightedTargets": [
                                {"virtualNodeName": "ratings-v1", "weight": 1}
                            ]
                        },
                    },
                },
                {
                    "name": "ratings-grpc",
                    "grpc": {
                        "match": {"serviceName": "ratings.Ratings"},
                        "action": {
                            "weightedTargets": [
                                {"virtualNodeName": "ratings-v1", "weight": 1}
                            ]
                        },
                        "retryPolicy": {
                            "maxRetries": 1,
                            "perRetryTimeoutMillis": 500,
                            "grpcRetryEvents": ["unavailable"],
                        },
                    },
                },
                {
                    "name": "ratings-tcp",
                    "tcp": {
                        "action": {
                            "weightedTargets": [
                                {"virtualNodeName": "ratings-v1", "weight": 1}
                            ]
                        }
                    },
                },
            ],
        },
    }


def appmesh_v1beta2_service(
    name: str = "ratings", namespace: str = "bookinfo", router: str = "ratings-router"
) -> dict:
    return {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "awsName": f"{name}.{namespace}.svc.cluster.local",
            "provider": {"virtualRouter": {"virtualRouterRef": {"name": router}}},
        },
    }


def appmesh_v1beta2_router(
    name: str = "ratings-router", namespace: str = "bookinfo"
) -> dict:
    target = {
        "weightedTargets": [{"virtualNodeRef": {"name": "ratings-v1"}, "weight": 1}]
    }
    return {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualRouter",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "listeners": [{"portMapping": {"port": 9080, "protocol": "http"}}],
            "routes": [
                {
                    "name": "ratings-route",
                    "priority": 10,
                    "httpRoute": {
                        "match": {"prefix": "/"},
                        "action": copy.deepcopy(target),
                        "timeout": {"perRequest": {"unit": "s", "value": 15}},
                    },
                },
                {
                    "name": "ratings-admin",
                    "priority": 5,
                    "http2Route": {
                        "match": {"prefix": "/admin"},
                        "action": copy.deepcopy(target),
                        "retryPolicy": copy.deepcopy(RATINGS_POLICY_V1BETA2),
                    },
                },
                {
                    "name": "ratings-grpc",
                    "grpcRoute": {
                        "match": {"serviceName": "ratings.Ratings"},
                        "action": copy.deepcopy(target),
                    },
                },
                {
                    "name": "ratings-tcp",
                    "tcpRoute": {"action": copy.deepcopy(target)},
                },
            ],
        },
    }


def istio_service(name: str = "ratings", namespace: str = "bookinfo") -> dict:
    host = f"{name}.{namespace}.svc.cluster.local"
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "hosts": [host],
            "http": [
                {
                    "name": "primary",
                    "match": [{"uri": {"prefix": "/ratings"}}],
                    "route": [{"destination": {"host": host, "subset": "v1"}}],
                    "timeout": "10s",
                    "retries": {
                        "attempts": 2,
                        "perTryTimeout": "1500ms",
                        "retryOn": "gateway-error,connect-failure,reset,503",
                        "retryRemoteLocalities": True,
                    },
                },
                {"route": [{"destination": {"host": host}}]},
            ],
        },
    }


def routes_of(obj: dict[str, Any], field: str = "routes") -> list:
    return obj["spec"][field]


def gateway_httproute(
    name: str = "ratings",
    namespace: str = "bookinfo",
    parent: dict | None = None,
    annotations: dict | None = None,
) -> dict:
    """A GAMMA HTTPRoute (parent: the ratings Service) with two rules.

    The first rule is named and has a whole-request timeout and a backoff we
    do not manage; the second is unnamed, with an empty ``timeouts`` object.
    """
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": meta,
        "spec": {
            "parentRefs": [
                parent
                or {"group": "", "kind": "Service", "name": "ratings", "port": 9080}
            ],
            "rules": [
                {
                    "name": "ratings-route",
                    "matches": [{"path": {"type": "PathPrefix", "value": "/ratings"}}],
                    "backendRefs": [{"name": "ratings", "port": 9080}],
                    "timeouts": {"request": "10s"},
                },
                {
                    "backendRefs": [{"name": "ratings", "port": 9080}],
                    "timeouts": {},
                },
            ],
        },
    }


def core_service(
    name: str = "ratings", namespace: str = "bookinfo", annotations: dict | None = None
) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 9080, "targetPort": 9080}],
        },
    }


def service_profile(service: str = "ratings", namespace: str = "bookinfo") -> dict:
    """A ServiceProfile for the ratings Service (named after its FQDN)."""
    return {
        "apiVersion": "linkerd.io/v1alpha2",
        "kind": "ServiceProfile",
        "metadata": {
            "name": f"{service}.{namespace}.svc.cluster.local",
            "namespace": namespace,
        },
        "spec": {
            "routes": [
                {
                    "name": "GET /ratings/{id}",
                    "condition": {"method": "GET", "pathRegex": "/ratings/[^/]*"},
                    "timeout": "5s",
                },
                {
                    "name": "POST /ratings",
                    "condition": {"method": "POST", "pathRegex": "/ratings"},
                    "isRetryable": False,
                },
            ],
            "retryBudget": {
                "retryRatio": 0.2,
                "minRetriesPerSecond": 10,
                "ttl": "10s",
            },
        },
    }
