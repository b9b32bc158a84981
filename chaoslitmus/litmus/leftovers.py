"""What a finished experiment may have left behind: pure functions, no I/O.

Three kinds of leftovers keep hurting users after a run (Litmus issues about
orphaned network faults): a ChaosEngine of ours still running, a target the
fault was injected into and never reverted, and a mesh route snapshot that
was never restored. Each finder returns one line per leftover.

Injection evidence is read from the ChaosResult's annotations as litmus-go
writes them (see docs/safety.md, "Injection evidence"): the key
``<kind>/<target>`` (3.x helpers, e.g. ``pod/ratings-v1-abc``) or
``litmuschaos.io/<pod>`` (1.x helpers), the value ``injected`` once the
fault is in place and ``reverted`` once it is removed; the value is
overwritten, so a key still saying ``injected`` is a fault left on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chaoslitmus.litmus.manifests import MANAGED_BY
from chaoslitmus.litmus.status import engine_summary

__all__ = [
    "ENGINE_DONE_STATUSES",
    "active_engines",
    "injection_status",
    "injected_targets",
    "snapshot_holders",
]

ENGINE_DONE_STATUSES = frozenset({"completed", "stopped"})
_OLD_PREFIX = "litmuschaos.io"
_STATES = frozenset({"injected", "reverted", "targeted"})


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _ours(engine: Mapping[str, Any]) -> bool:
    labels = _meta(engine).get("labels") or {}
    return all(labels.get(k) == v for k, v in MANAGED_BY.items())


def active_engines(
    engines: Iterable[Mapping[str, Any]], engine_name: str | None = None
) -> list[str]:
    """Engines still running or still being deleted.

    With ``engine_name`` only that engine counts; otherwise every engine
    this extension created (our managed-by label), so engines of other
    tools in the namespace are not blamed on us.
    """
    lines = []
    for engine in engines:
        name = _meta(engine).get("name", "")
        if engine_name is not None and name != engine_name:
            continue
        if engine_name is None and not _ours(engine):
            continue
        summary = engine_summary(dict(engine))
        if summary["deleting"]:
            lines.append(
                f"ChaosEngine '{name}' is still being deleted (finalizer not "
                "removed: is the Litmus operator running?)"
            )
        elif summary["engine_status"] not in ENGINE_DONE_STATUSES:
            lines.append(
                f"ChaosEngine '{name}' is still active (engineState "
                f"{summary['engine_state'] or '?'}, engineStatus "
                f"{summary['engine_status'] or 'none'}): stop_engine or delete_engine"
            )
    return lines


def injection_status(key: str, value: Any) -> tuple[str, str, str] | None:
    """(kind, target, state) of one evidence annotation, None if it is not one."""
    if not isinstance(value, str) or value.strip().lower() not in _STATES:
        return None
    prefix, slash, target = key.partition("/")
    if not slash or not target:
        return None
    state = value.strip().lower()
    if prefix == _OLD_PREFIX:
        return "pod", target, state
    if "." in prefix:  # another tool's domain-qualified annotation
        return None
    return prefix, target, state


def injected_targets(
    results: Iterable[Mapping[str, Any]], engine_name: str | None = None
) -> list[str]:
    """Targets whose latest evidence says ``injected`` (never ``reverted``)."""
    lines = []
    for result in results:
        meta = _meta(result)
        name = meta.get("name", "")
        if engine_name is not None and not name.startswith(f"{engine_name}-"):
            continue
        for key, value in sorted((meta.get("annotations") or {}).items()):
            found = injection_status(key, value)
            if found and found[2] == "injected":
                kind, target, _ = found
                lines.append(
                    f"ChaosResult '{name}' says {kind} '{target}' is injected and "
                    "was never reverted: check the target and remove the fault "
                    "by hand (e.g. tc qdisc del) if Litmus did not"
                )
    return lines


def snapshot_holders(
    objects: Iterable[tuple[str, Mapping[str, Any]]], annotation: str
) -> list[str]:
    """Mesh objects that still hold a route snapshot (a restore never ran)."""
    lines = []
    for kind, obj in objects:
        meta = _meta(obj)
        if annotation in (meta.get("annotations") or {}):
            lines.append(
                f"{kind} '{meta.get('name', '')}' still holds the route snapshot "
                f"{annotation}: run restore_retry_policy on it"
            )
    return lines
