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
