"""Applying the documents of one manifest file as one: all of them or none.

A file with a good engine and a bad one must not leave the good one running
its fault while the error names only the bad one. So every document is
checked first (kind, names, duplicates within the file: pure functions),
then the API server checks each create with a dry run (schema, name already
taken, permissions), and only then are the objects created. If a create
still fails (a race, a lost connection), what this call created is deleted
again, waiting for engines to be gone as ``delete_engine`` does, and the
error says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chaoslib.exceptions import ActivityFailed

from chaoslitmus.k8s import Conflict, Kube, Resource
from chaoslitmus.litmus import manifests as m
from chaoslitmus.litmus.runs import (
    create_engine,
    get_object,
    litmus,
    now_iso,
    results_of,
    wait_until_gone,
)

__all__ = [
    "ROLLBACK_S",
    "Launch",
    "check_engines",
    "check_experiments",
    "install_all",
    "launch_all",
]

# How long undoing a half-applied file may wait for engines to go away.
ROLLBACK_S = 60


# --- pure checks ---------------------------------------------------------------


def _kind_check(source: str, index: int, doc: dict, kind: str) -> None:
    if doc.get("kind") != kind or doc.get("apiVersion") != m.API_VERSION:
        raise ActivityFailed(
            f"{source}: document {index} is a {doc.get('kind', '?')} "
            f"({doc.get('apiVersion', '?')}); only {m.API_VERSION} {kind} "
            "documents are accepted here"
        )


def _no_repeats(source: str, kind: str, keys: list[tuple[str, str]]) -> None:
    first: dict[tuple[str, str], int] = {}
    for index, key in enumerate(keys, start=1):
        if key in first:
            raise ActivityFailed(
                f"{source}: document {index} repeats {kind} '{key[1]}' in "
                f"'{key[0]}' (document {first[key]}); give each a name of its own"
            )
        first[key] = index


def check_engines(
    documents: list[dict], source: str, namespace: str | None
) -> list[tuple[dict, bool]]:
    """Each ChaosEngine document as (manifest to create, name generated?).

    ``namespace`` overrides the documents'; a missing name is drawn from
    ``generateName``. Raises on the first bad document, before any request.
    """
    engines = []
    for index, doc in enumerate(documents, start=1):
        _kind_check(source, index, doc, "ChaosEngine")
        meta = dict(doc.get("metadata") or {})
        ns = namespace or meta.get("namespace") or "default"
        m.check_name(ns, "namespace", max_len=63)
        generated = not meta.get("name")
        if generated:
            base = (meta.get("generateName") or "engine-").rstrip("-")
            meta["name"] = f"{base}-{m.random_suffix()}"
        m.check_name(meta["name"], "engine name", max_len=63)
        meta.pop("generateName", None)
        meta["namespace"] = ns
        spec = doc.get("spec") or {}
        if not isinstance(spec, dict) or not spec.get("experiments"):
            raise ActivityFailed(
                f"{source}: engine '{meta['name']}' lists no experiments"
            )
        if (spec.get("appinfo") or {}).get("appns") == "":
            spec.setdefault("appinfo", {})["appns"] = ns
        engines.append(({**doc, "metadata": meta, "spec": spec}, generated))
    _no_repeats(
        source,
        "ChaosEngine",
        [(e["metadata"]["namespace"], e["metadata"]["name"]) for e, _ in engines],
    )
    return engines


def check_experiments(documents: list[dict], source: str, namespace: str) -> list[dict]:
    """Each ChaosExperiment document as the body to create in ``namespace``."""
    bodies = []
    for index, doc in enumerate(documents, start=1):
        _kind_check(source, index, doc, "ChaosExperiment")
        meta = dict(doc.get("metadata") or {})
        m.check_name(meta.get("name"), "experiment name", 63)
        meta["namespace"] = namespace
        meta["labels"] = {**(meta.get("labels") or {}), **m.MANAGED_BY}
        bodies.append({**doc, "metadata": meta})
    _no_repeats(
        source,
        "ChaosExperiment",
        [(namespace, b["metadata"]["name"]) for b in bodies],
    )
    return bodies


# --- the API side --------------------------------------------------------------


def _dry_run(kube: Kube, namespace: str, plural: str, body: dict) -> None:
    """Ask the API server whether ``body`` would be created (nothing is stored)."""
    litmus(kube, namespace, plural).dry_run_create(body)


@dataclass
class Launch:
    """One engine of a file: what to create, and what to tell its run by."""

    manifest: dict
    generated: bool
    pairs: list[tuple[str, str]] = field(default_factory=list)
    priors: dict[str, dict | None] = field(default_factory=dict)
    started_at: str = ""
    engine: dict | None = None

    @property
    def name(self) -> str:
        return (self.engine or self.manifest)["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.manifest["metadata"]["namespace"]

    def read_priors(self, kube: Kube) -> Launch:
        """The ChaosResults an earlier run left, so they are never reported."""
        self.pairs = results_of(self.manifest)
        self.priors = {
            r: get_object(kube, self.namespace, m.RESULTS, r) for _, r in self.pairs
        }
        return self

    def create(self, kube: Kube) -> dict:
        self.started_at = now_iso()
        asked = self.manifest["metadata"]["name"]
        self.engine = create_engine(kube, self.manifest, self.generated)
        if self.engine["metadata"]["name"] != asked:  # a colliding name was redrawn
            self.pairs = results_of(self.engine)
            self.priors = {r: None for _, r in self.pairs}
        return self.engine


def launch_all(
    kube: Kube, engines: list[tuple[dict, bool]], source: str
) -> list[Launch]:
    """Create every engine, or none: dry runs first, undo on a late failure."""
    launches = [Launch(manifest, generated) for manifest, generated in engines]
    for launch in launches:
        try:
            _dry_run(kube, launch.namespace, m.ENGINES, launch.manifest)
        except Conflict:
            if not launch.generated:  # a generated name is drawn again on create
                raise ActivityFailed(
                    f"{source}: ChaosEngine '{launch.name}' already exists in "
                    f"'{launch.namespace}': delete it first (delete_engine) or use "
                    "metadata.generateName; nothing was created"
                ) from None
        except ActivityFailed as exc:
            raise ActivityFailed(f"{source}: {exc}; nothing was created") from None
        launch.read_priors(kube)
    _all_or_none(kube, launches, lambda launch: launch.create(kube), _undo_engines)
    return launches


def install_all(
    kube: Kube, namespace: str, bodies: list[dict], source: str
) -> tuple[list[str], list[str]]:
    """Create every experiment not yet there, or none: (installed, present).

    One already present is left untouched (it may not be ours); any other
    refusal stops the whole file before anything is created.
    """
    objects = litmus(kube, namespace, m.EXPERIMENTS)
    present = []
    for body in bodies:
        try:
            _dry_run(kube, namespace, m.EXPERIMENTS, body)
        except Conflict:
            present.append(body["metadata"]["name"])
        except ActivityFailed as exc:
            raise ActivityFailed(f"{source}: {exc}; nothing was installed") from None
    missing = [b for b in bodies if b["metadata"]["name"] not in present]
    installed: list[str] = []

    def create(body: dict) -> None:
        try:
            objects.create(body)
            installed.append(body["metadata"]["name"])
        except Conflict:  # someone else's, created since the dry run
            present.append(body["metadata"]["name"])

    _all_or_none(
        kube, missing, create, lambda kube, _: _undo_experiments(objects, installed)
    )
    return installed, present


def _all_or_none(
    kube: Kube,
    items: list,
    create: Callable,
    undo: Callable[[Kube, list], list[str]],
) -> None:
    """``create`` each item; after a failure, ``undo`` the ones done, then raise."""
    done: list = []
    try:
        for item in items:
            create(item)
            done.append(item)
    except Exception as exc:
        if not done:
            raise
        left = undo(kube.within(ROLLBACK_S), done)
        if not isinstance(exc, ActivityFailed):
            raise
        if left:
            note = (
                "removing what this call created failed; still there: "
                f"{', '.join(left)}: delete them by hand"
            )
        else:
            note = "what this call had created was removed again"
        raise ActivityFailed(f"{exc}; {note}") from None


def _undo_engines(kube: Kube, launches: list[Launch]) -> list[str]:
    """Delete the engines created so far and wait until they are gone."""
    left = []
    deadline = time.monotonic() + ROLLBACK_S
    for launch in launches:
        try:
            _delete_engine_and_wait(kube, launch.namespace, launch.name, deadline)
        except ActivityFailed:
            left.append(f"ChaosEngine {launch.namespace}/{launch.name}")
    return left


def _delete_engine_and_wait(kube: Kube, namespace: str, name: str, deadline: float):
    if litmus(kube, namespace, m.ENGINES).delete(name) is None:
        return
    if not wait_until_gone(kube, namespace, m.ENGINES, name, deadline):
        raise ActivityFailed(f"ChaosEngine '{name}' in '{namespace}' is still there")


def _undo_experiments(objects: Resource, names: list[str]) -> list[str]:
    left = []
    for name in list(names):
        try:
            objects.delete(name)
            names.remove(name)
        except ActivityFailed:
            left.append(f"ChaosExperiment {objects.namespace}/{name}")
    return left
