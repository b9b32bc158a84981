"""`chaoslitmus lab reset`: the world back to how `lab up` seeded it.

Between manual experiments on a running lab: chaos engines go (their
finalizers dropped, so the Litmus stand-in aborts any fault), with their
results, Jobs, chaos pods and events; every object the world seeded gets
its seeded spec, labels and annotations back (a scaled or restarted
Deployment is rolled back by its controller, a retry policy leaves the
route), deleted ones are created again, and what was added in the
namespace is deleted; the node is uncordoned and extra nodes removed.
Pods keep the names the controllers gave them (a cluster cannot bring a
deleted pod back). Runs on the API server's loop, through the Store.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any

from chaoslitmus.lab.bookinfo import world
from chaoslitmus.lab.kube.controllers.kubelet import NODE_NAME, node_manifest
from chaoslitmus.lab.kube.objects import now
from chaoslitmus.lab.kube.store_client import status_code
from chaoslitmus.lab.options import LabOptions

if TYPE_CHECKING:
    from chaoslitmus.lab.kube.store import Store

__all__ = ["reset_world"]

log = logging.getLogger("chaoslitmus.lab")

ENGINES = "litmuschaos.io/v1alpha1/chaosengines"
RESULTS = "litmuschaos.io/v1alpha1/chaosresults"
NODES = "v1/nodes"
# Kinds a user adds to the namespace while practising; extras are deleted.
_SWEPT = (
    "apps/v1/deployments",
    "v1/services",
    "v1/serviceaccounts",
    "v1/configmaps",
    "rbac.authorization.k8s.io/v1/roles",
    "rbac.authorization.k8s.io/v1/rolebindings",
    "litmuschaos.io/v1alpha1/chaosexperiments",
)


def _quietly(action: Any, *args: Any, **kwargs: Any) -> Any:
    """A store call where 404 (gone already) or an unserved kind is fine."""
    try:
        return action(*args, **kwargs)
    except Exception as exc:
        if status_code(exc) in (404, 405):
            return None
        raise


def _items(store: Store, key: str, namespace: str | None) -> list[dict[str, Any]]:
    try:
        items, _ = store.list(key, namespace)
    except Exception:
        return []  # the kind is not served by this lab
    return items


def _drop_engines(store: Store, ns: str, done: dict[str, list[str]]) -> None:
    for engine in _items(store, ENGINES, ns):
        name = engine["metadata"]["name"]
        if engine["metadata"].get("finalizers"):
            _quietly(store.patch, ENGINES, ns, name, {"metadata": {"finalizers": None}})
        _quietly(store.delete, ENGINES, ns, name)
        done["deleted"].append(f"chaosengine/{name}")
    for key, kind in (
        (RESULTS, "chaosresult"),
        ("batch/v1/jobs", "job"),
        ("v1/events", ""),
    ):
        for item in _items(store, key, ns):
            _quietly(store.delete, key, ns, item["metadata"]["name"])
            if kind:
                done["deleted"].append(f"{kind}/{item['metadata']['name']}")


def _restore(store: Store, manifest: dict[str, Any], done: dict[str, list[str]]) -> str:
    key = world.resource_key(manifest)
    ns = manifest["metadata"].get("namespace")
    name = manifest["metadata"]["name"]
    label = f"{manifest['kind'].lower()}/{name}"
    current = _quietly(store.get, key, ns, name)
    if current is None:
        world._create(store, manifest)
        done["created"].append(label)
        return name
    body = copy.deepcopy(current)
    changed = False
    for field in ("labels", "annotations"):
        wanted = manifest["metadata"].get(field)
        if field == "annotations" and manifest["kind"] == "Deployment":
            revision = (current["metadata"].get("annotations") or {}).get(
                "deployment.kubernetes.io/revision"
            )
            if revision is not None:
                wanted = {
                    **(wanted or {}),
                    "deployment.kubernetes.io/revision": revision,
                }
        if (current["metadata"].get(field) or None) != (wanted or None):
            body["metadata"][field] = copy.deepcopy(wanted) if wanted else None
            changed = True
    for field, value in manifest.items():
        if field in ("apiVersion", "kind", "metadata", "status"):
            continue
        if current.get(field) != value:
            body[field] = copy.deepcopy(value)
            changed = True
    if changed:
        store.replace(key, ns, name, body)
        done["restored"].append(label)
    return name


def _sweep(
    store: Store, ns: str, kept: dict[str, set[str]], done: dict[str, list[str]]
) -> None:
    for key in _SWEPT:
        for item in _items(store, key, ns):
            name = item["metadata"]["name"]
            if name in kept.get(key, set()) or (
                key == "v1/serviceaccounts" and name == "default"
            ):
                continue
            _quietly(store.delete, key, ns, name)
            done["deleted"].append(f"{item['kind'].lower()}/{name}")
    for pod in _items(store, "v1/pods", ns):
        if not (pod["metadata"].get("ownerReferences") or []):
            _quietly(store.delete, "v1/pods", ns, pod["metadata"]["name"])
            done["deleted"].append(f"pod/{pod['metadata']['name']}")


def _nodes(store: Store, done: dict[str, list[str]]) -> None:
    for node in _items(store, NODES, None):
        name = node["metadata"]["name"]
        if name != NODE_NAME:
            _quietly(store.delete, NODES, None, name)
            done["deleted"].append(f"node/{name}")
        elif (node.get("spec") or {}).get("unschedulable"):
            store.patch(NODES, None, name, {"spec": {"unschedulable": None}})
            done["restored"].append(f"node/{name} (uncordoned)")
    if _quietly(store.get, NODES, None, NODE_NAME) is None:
        store.create(NODES, None, node_manifest(NODE_NAME, now()))
        done["created"].append(f"node/{NODE_NAME}")


def reset_world(store: Store, options: LabOptions) -> dict[str, list[str]]:
    """Put the lab's world back as seeded; what was deleted, restored, created."""
    ns = options.namespace
    done: dict[str, list[str]] = {"deleted": [], "restored": [], "created": []}
    _drop_engines(store, ns, done)
    kept: dict[str, set[str]] = {}
    for manifest in world.static_manifests(options):
        if manifest["kind"] == "Namespace":
            continue
        name = _restore(store, manifest, done)
        kept.setdefault(world.resource_key(manifest), set()).add(name)
    _sweep(store, ns, kept, done)
    _nodes(store, done)
    log.info(
        "lab reset: %d deleted, %d restored, %d created",
        len(done["deleted"]),
        len(done["restored"]),
        len(done["created"]),
    )
    return done
