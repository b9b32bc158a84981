"""A ChaosEngine that will never run: read its cause from its Events.

Since chaos-operator 3.0.0-beta8 a missing ChaosExperiment (and, on a
cluster, a refused runner pod: missing or forbidden service account, an
admission webhook denial) leaves the engine `initialized` with no
`status.experiments[]` entry; the operator retries forever and emits
`ChaosResourcesOperationFailed` Warning events on the engine
(docs/litmus-behaviour.md, "A stuck engine"). A client waiting for a
verdict would otherwise sit out its whole timeout.
"""

from __future__ import annotations

from chaoslitmus.k8s import Kube, KubeError
from chaoslitmus.litmus.status import engine_summary

__all__ = ["STUCK_GRACE_S", "looks_stuck", "stuck_cause"]

# How long an engine may stay initialized without a runner before its
# Warning events are taken as the reason it will never run.
STUCK_GRACE_S = 5.0
STUCK_REASONS = ("ChaosResourcesOperationFailed", "FailedCreate", "Forbidden")


def looks_stuck(engine: dict | None) -> bool:
    """Initialized, active and without any experiment entry (no runner yet)."""
    summary = engine_summary(engine)
    return (
        summary["engine_status"] == "initialized"
        and summary["engine_state"] in ("", "active")
        and not summary["experiments"]
        and not summary["deleting"]
    )


def stuck_cause(kube: Kube, engine: dict) -> str | None:
    """The latest Warning event that explains why the engine cannot start."""
    meta = engine["metadata"]
    selector = f"involvedObject.name={meta['name']},involvedObject.kind=ChaosEngine"
    try:
        events = kube.resource("", "v1", "events", meta["namespace"]).list(
            field_selector=selector
        )
    except KubeError:
        return None  # no right to read events: the timeout message stays
    warnings = [
        e
        for e in events.get("items") or []
        if e.get("type") == "Warning"
        and e.get("reason") in STUCK_REASONS
        and (e.get("involvedObject") or {}).get("uid") in (None, "", meta.get("uid"))
    ]
    if not warnings:
        return None
    latest = max(
        warnings,
        key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "",
    )
    message = " ".join(str(latest.get("message") or "").split())
    return (
        f"ChaosEngine '{meta['name']}' in '{meta['namespace']}' is stuck "
        f"initialized with no runner: {latest.get('reason')}: {message}; "
        f"{_hint(message)}"
    )


def _hint(message: str) -> str:
    lowered = message.lower()
    if (
        "chaosexperiment" in lowered
        or "experiment" in lowered
        and "not found" in lowered
    ):
        return "install the ChaosExperiment in the engine's namespace"
    if "serviceaccount" in lowered or "service account" in lowered:
        return "create the chaos service account (create_chaos_service_account)"
    if "denied" in lowered or "forbidden" in lowered or "webhook" in lowered:
        return "an admission policy refuses Litmus' pods: check it"
    return "fix the cause, then delete the engine and run again"
