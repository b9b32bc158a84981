"""One Chaos Toolkit journal -> the report's model of the run it records.

Pure functions, no I/O: ``build_run(journal, file)`` reads what the report
shows (status, hypotheses before/after, the Litmus fault, the mesh retry
policy change, every traffic window, rollbacks) and never raises on odd
input. Outputs are recognised by their shape rather than by function name
where possible, so wrappers and other experiments still show what they can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaoslitmus._redact import redact_tree
from chaoslitmus.report._activity import activity_func
from chaoslitmus.report._config import Placeholders
from chaoslitmus.report._evidence import retry_evidence
from chaoslitmus.report._litmus import (
    LITMUS_FUNCS,
    is_litmus_outcome,
    litmus_outcomes,
    litmus_summary,
    merge_faults,
)
from chaoslitmus.report._mesh import MESH_FUNCS, is_mesh_output, mesh_change
from chaoslitmus.report._read import (
    as_dict,
    as_float,
    as_list,
    as_str,
    error_line,
)
from chaoslitmus.report._text import (
    output_summary,
    policy_text,
    tolerance_text,
    traffic_figures,
)
from chaoslitmus.report._traffic import traffic_of
from chaoslitmus.report.injection import split_at_injection
from chaoslitmus.report.types import (
    Fault,
    FaultEvidence,
    Hypothesis,
    MeshChange,
    ProbeResult,
    RouteChange,
    Run,
    Sample,
    Step,
    Traffic,
)

__all__ = [
    "LITMUS_FUNCS",
    "MESH_FUNCS",
    "Fault",
    "Hypothesis",
    "MeshChange",
    "ProbeResult",
    "RouteChange",
    "Run",
    "Sample",
    "Step",
    "Traffic",
    "build_run",
    "is_journal",
    "journal_problem",
    "policy_text",
    "tolerance_text",
    "traffic_figures",
]


# Traffic windows are listed in the order a run goes through its phases.
_PHASE_ORDER = {"before": 0, "method": 1, "during": 1, "after": 2, "rollbacks": 3}


def journal_problem(document: Any) -> str:
    """Why a parsed JSON document is not a journal ('' when it is one)."""
    if not isinstance(document, Mapping):
        return f"expected a JSON object, found {type(document).__name__}"
    if "experiment" not in document:
        if "method" in document or "steady-state-hypothesis" in document:
            return (
                "this is an experiment, not a journal; run it with "
                "`chaos run --journal-path journal.json` and report the journal"
            )
        return "no 'experiment' key"
    if not isinstance(document.get("experiment"), Mapping):
        return "'experiment' is not an object"
    if not any(key in document for key in ("status", "run", "steady_states")):
        return "no 'status', 'run' or 'steady_states' key"
    return ""


def is_journal(document: Any) -> bool:
    """Whether this looks like a Chaos Toolkit journal."""
    return journal_problem(document) == ""


def build_run(journal: Any, file: str = "") -> Run:
    """The report's model of one journal; missing pieces become empty values.

    Credentials are masked first (URL user info, Authorization and token
    values), so no part of a report can show one, whatever the journal holds.
    """
    doc = as_dict(redact_tree(journal))
    experiment = as_dict(doc.get("experiment"))
    states = as_dict(doc.get("steady_states"))
    placeholders = Placeholders.of(experiment)
    declared = _declared_probes(experiment, placeholders)
    traffic: list[Traffic] = []

    def check(state: Any, phase: str) -> Hypothesis | None:
        return _hypothesis(state, declared, phase, traffic, placeholders)

    before = check(states.get("before"), "before")
    during = tuple(
        h for h in (check(s, "during") for s in as_list(states.get("during"))) if h
    )
    after = check(states.get("after"), "after")

    records = [
        (phase, _filled(record, placeholders))
        for phase, key in (("method", "run"), ("rollbacks", "rollbacks"))
        for record in as_list(doc.get(key))
    ]
    steps: list[Step] = []
    rollbacks: list[Step] = []
    mesh: list[MeshChange] = []
    litmus: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for phase, record in records:
        activity = as_dict(record.get("activity"))
        window = traffic_of(record, phase)
        if window is not None:
            traffic.append(window)
        change = mesh_change(record, phase)
        if change is not None:
            mesh.append(change)
        for outcome in litmus_outcomes(record):
            litmus.append((as_str(activity.get("name")), record, outcome))
        step = _step(record, phase, window)
        (steps if phase == "method" else rollbacks).append(step)

    faults = merge_faults(litmus)
    injected_at = next((f.injected_at for f in faults if f.injected_at), "")
    return Run(
        file=file,
        title=as_str(experiment.get("title"), "(untitled experiment)"),
        description=as_str(experiment.get("description")),
        tags=tuple(as_str(t) for t in as_list(experiment.get("tags")) if as_str(t)),
        status=as_str(doc.get("status"), "unknown"),
        deviated=doc.get("deviated") if isinstance(doc.get("deviated"), bool) else None,
        start=as_str(doc.get("start")),
        end=as_str(doc.get("end")),
        duration_s=as_float(doc.get("duration")),
        before=before,
        after=after,
        during=during,
        steps=tuple(steps),
        rollbacks=tuple(rollbacks),
        faults=faults,
        mesh=tuple(mesh),
        traffic=_cut_at_injection(
            sorted(traffic, key=lambda t: _PHASE_ORDER.get(t.phase, 9)), injected_at
        ),
        notes=_notes(doc, experiment, before, after, placeholders),
        evidence=_evidence(doc),
        retry_evidence=retry_evidence(r for p, r in records if p == "method"),
        slo_latency_ms=_latency_limit(experiment, placeholders),
        dry=as_str(experiment.get("dry")),
    )


def _cut_at_injection(traffic: list[Traffic], injected_at: str) -> tuple[Traffic, ...]:
    """Method windows split at the injection time, when the journal has one."""
    if not injected_at:
        return tuple(traffic)
    return tuple(
        part
        for window in traffic
        for part in (
            split_at_injection(window, injected_at)
            if window.phase == "method"
            else (window,)
        )
    )


# Tolerance functions with a latency limit, and the argument that holds it.
_LATENCY_LIMITS = {"within_slo": "max_latency_ms", "latency_at_most": "max_ms"}


def _latency_limit(
    experiment: Mapping[str, Any], placeholders: Placeholders
) -> float | None:
    """The latency limit of the hypothesis (within_slo / latency_at_most)."""
    hypothesis = as_dict(experiment.get("steady-state-hypothesis"))
    for probe in as_list(hypothesis.get("probes")):
        tolerance = as_dict(placeholders.fill(as_dict(probe).get("tolerance")))
        provider = as_dict(tolerance.get("provider"))
        argument = _LATENCY_LIMITS.get(as_str(provider.get("func")))
        if argument:
            limit = as_float(as_dict(provider.get("arguments")).get(argument))
            if limit is not None and limit > 0:
                return limit
    return None


def _evidence(doc: Mapping[str, Any]) -> FaultEvidence | None:
    """The `fault_evidence` record the no-fault-no-pass control writes."""
    record = as_dict(doc.get("fault_evidence"))
    if not record:
        return None
    lags = [
        as_float(e.get("inject_lag_s"))
        for e in as_list(record.get("evidence"))
        if isinstance(e, dict)
    ]
    return FaultEvidence(
        injected=record.get("injected") is True,
        reason=as_str(record.get("reason")),
        targets=tuple(as_str(t) for t in as_list(record.get("targets")) if as_str(t)),
        inject_lag_s=next((lag for lag in lags if lag is not None), None),
    )


def _filled(record: Any, placeholders: Placeholders) -> dict[str, Any]:
    """A run record whose activity shows configuration values, not ${names}."""
    record = as_dict(record)
    if "activity" in record:
        record["activity"] = placeholders.fill_activity(record["activity"])
    return record


def _declared_probes(
    experiment: Mapping[str, Any], placeholders: Placeholders
) -> list[tuple[str, str]]:
    """(name, tolerance text) of the hypothesis probes the experiment declares."""
    hypothesis = as_dict(experiment.get("steady-state-hypothesis"))
    declared = []
    for probe in as_list(hypothesis.get("probes")):
        probe = as_dict(probe)
        name = as_str(probe.get("name")) or as_str(probe.get("ref"))
        if name:
            tolerance = placeholders.fill(probe.get("tolerance"))
            declared.append((name, tolerance_text(tolerance)))
    return declared


def _hypothesis(
    state: Any,
    declared: list[tuple[str, str]],
    phase: str,
    traffic: list[Traffic],
    placeholders: Placeholders,
) -> Hypothesis | None:
    """One steady-state check; probes it never reached are listed as not run."""
    if not isinstance(state, Mapping):
        return None
    met = state.get("steady_state_met")
    results: list[ProbeResult] = []
    seen: set[str] = set()
    for record in as_list(state.get("probes")):
        record = _filled(record, placeholders)
        activity = as_dict(record.get("activity"))
        name = as_str(activity.get("name"), "(unnamed probe)")
        seen.add(name)
        window = traffic_of(record, phase)
        if window is not None:
            traffic.append(window)
        held = record.get("tolerance_met")
        results.append(
            ProbeResult(
                name=name,
                tolerance=tolerance_text(activity.get("tolerance")),
                met=held if isinstance(held, bool) else None,
                status=as_str(record.get("status"), "unknown"),
                figures=_figures(record.get("output"), window),
                error=error_line(record),
            )
        )
    # chaoslib stops at the first probe out of tolerance: show the rest.
    for name, tolerance in declared:
        if name not in seen:
            results.append(ProbeResult(name, tolerance, None, "not run", ""))
    return Hypothesis(met=met if isinstance(met, bool) else None, probes=tuple(results))


def _figures(output: Any, window: Traffic | None) -> str:
    if window is not None:
        return traffic_figures(window)
    return output_summary(output, 80)


def _step(record: Mapping[str, Any], phase: str, window: Traffic | None) -> Step:
    activity = as_dict(record.get("activity"))
    output = record.get("output")
    if window is not None:
        summary = traffic_figures(window)
    elif is_litmus_outcome(output):
        summary = litmus_summary(output)
    elif is_mesh_output(output):
        summary = as_str(output.get("message")) or "; ".join(
            f"{as_str(r.get('name'), '?')}: {policy_text(r.get('policy'))}"
            for r in map(as_dict, as_list(output.get("routes")))
        )
    elif isinstance(output, Mapping) and isinstance(output.get("message"), str):
        summary = output["message"]
    elif (
        isinstance(output, Mapping) and "deleted" in output and "engine_name" in output
    ):
        state = "deleted" if output.get("deleted") is True else "not deleted"
        reason = as_str(output.get("reason"))
        summary = f"engine {as_str(output.get('engine_name'))} {state}" + (
            f" ({reason})" if reason else ""
        )
    else:
        summary = output_summary(output, 100)
    return Step(
        name=as_str(activity.get("name"), "(unnamed)"),
        kind=as_str(activity.get("type"), "activity"),
        func=activity_func(activity),
        phase=phase,
        background=activity.get("background") is True,
        status=as_str(record.get("status"), "unknown"),
        duration_s=as_float(record.get("duration")),
        summary=summary,
        error=error_line(record),
    )


def _notes(
    doc: Mapping[str, Any],
    experiment: Mapping[str, Any],
    before: Hypothesis | None,
    after: Hypothesis | None,
    placeholders: Placeholders,
) -> tuple[str, ...]:
    """Plain-language remarks on outcomes that are easy to misread."""
    notes = []
    status = as_str(doc.get("status"))
    if before is not None and before.met is False and status == "completed":
        notes.append(
            "The steady state was not met before the method: the method and "
            "the after-check were skipped (Chaos Toolkit still says completed)."
        )
    declared_rollbacks = as_list(experiment.get("rollbacks"))
    if status == "failed" and declared_rollbacks and not as_list(doc.get("rollbacks")):
        notes.append(
            "The run failed and no rollback ran: check that nothing was left "
            "behind (engines, retry policies)."
        )
    if status == "interrupted":
        notes.append("The run was interrupted before it ended.")
    reason = as_str(as_dict(doc.get("fault_evidence")).get("reason"))
    if reason:
        notes.append(f"No fault, no pass: {reason}.")
    if experiment.get("dry"):
        notes.append(
            f"Dry run ({as_str(experiment.get('dry'))}): activities of that kind "
            "were not executed; nothing here measures a real fault."
        )
    verdicts = {
        as_str(as_dict(r.get("output")).get("verdict"))
        for r in as_list(doc.get("rollbacks")) + as_list(doc.get("run"))
        if isinstance(r, dict)
    }
    if doc.get("deviated") is True and "Pass" in verdicts:
        notes.append(
            "Litmus says Pass and the hypothesis deviated: not a contradiction. "
            "Pass means the fault ran as asked; the deviation means callers "
            "were hurt by it."
        )
    guard = as_dict(doc.get("slo_guard"))
    if guard.get("status") in ("breached", "unreachable", "misconfigured"):
        notes.append(as_str(guard.get("message"), "The SLO guard stopped the run."))
    if "steady-state-hypothesis" in experiment and before is None and after is None:
        notes.append("No steady-state check was recorded.")
    if placeholders.used_defaults:
        notes.append(
            "Activity arguments show the configuration defaults: the journal "
            "keeps ${...} placeholders, not the values used, and environment "
            "variables may have changed them for this run."
        )
    return tuple(notes)
