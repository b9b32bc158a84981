"""How a Litmus helper says "the fault is on": annotations on the ChaosResult.

litmus-go's helpers (3.x) run `kubectl annotate chaosresult <result>
<kind>/<target>=<status> --overwrite` right after the netem rule is in place
(`injected`) and after it is gone (`reverted`); the experiment's next write
of the result folds those annotations into `status.history.targets` and
removes them (see docs/litmus-behaviour.md, "When the fault is really on").
Pure functions on a ChaosResult dict; the lab's operator calls them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["CHAOS_STATUSES", "annotate_targets", "fold_annotations"]

CHAOS_STATUSES = ("targeted", "injected", "reverted")


def annotate_targets(
    result: dict[str, Any], names: Iterable[str], kind: str, status: str
) -> None:
    """Set `<kind>/<name>=<status>` for each target, as the helper does."""
    annotations = result.setdefault("metadata", {}).get("annotations") or {}
    for name in names:
        annotations[f"{kind}/{name}"] = status
    result["metadata"]["annotations"] = annotations


def fold_annotations(result: dict[str, Any]) -> None:
    """Move target annotations into `status.history.targets` and drop them."""
    meta = result.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    history = result.setdefault("status", {}).setdefault("history", {})
    targets = list(history.get("targets") or [])
    for key, value in list(annotations.items()):
        if value not in CHAOS_STATUSES or "/" not in key:
            continue
        kind, name = key.split("/", 1)
        for target in targets:
            if target.get("name") == name and target.get("kind") == kind:
                target["chaosStatus"] = value
                break
        else:
            targets.append({"name": name, "kind": kind, "chaosStatus": value})
        del annotations[key]
    history["targets"] = targets
    meta["annotations"] = annotations or None
    if meta["annotations"] is None:
        del meta["annotations"]
