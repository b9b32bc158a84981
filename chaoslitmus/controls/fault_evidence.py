"""No fault, no pass: a control that keeps a run without its fault from
ending "completed".

Chaos Toolkit carries on when an action fails, and chaostoolkit-lib (1.44,
1.45: `run_gate_hypothesis`) skips the method yet ends "completed" when the
steady state is not met before it. Either way a run in which no fault ever
happened could pass. Declared at the experiment level, this control:

- interrupts the run (`InterruptExecution`, so it ends "interrupted") as
  soon as the fault action (`run_experiment`, `inject_network_latency`,
  `create_engine_from_manifest` of `chaoslitmus.litmus.actions`, or any
  activity named in `fault_activities`) or `wait_for_chaos_started` fails;
- interrupts it after the method when nothing showed this run's fault on a
  target: `wait_for_chaos_started` (or a waiting fault action) must report
  injected targets of the engine this run created;
- after the run, turns "completed" into "interrupted" when the steady state
  was not met before the method;
- writes `fault_evidence` into the journal: `injected` (bool), `reason`
  (one line, empty when injected), the targets, engines and evidence used.

With `rollbacks.strategy: always` (as the example experiments use) the
rollbacks run after an interruption too.

    "controls": [{"name": "fault-evidence", "provider": {
        "type": "python", "module": "chaoslitmus.controls.fault_evidence"}}]
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from chaoslib.exceptions import InterruptExecution

__all__ = [
    "before_experiment_control",
    "before_method_control",
    "after_activity_control",
    "after_method_control",
    "after_experiment_control",
]

logger = logging.getLogger("chaostoolkit")

LITMUS_ACTIONS = "chaoslitmus.litmus.actions"
FAULT_FUNCS = {
    "run_experiment",
    "inject_network_latency",
    "create_engine_from_manifest",
}
EVIDENCE_FUNCS = {"wait_for_chaos_started"}
NOT_INJECTED = "fault NOT injected"


class _Run:
    """What this control learned about one run."""

    def __init__(self, fault_activities: list[str] | None = None) -> None:
        self.lock = threading.Lock()
        self.fault_activities = set(fault_activities or [])
        self.in_method = False
        self.faults_ran: list[str] = []
        self.engines: dict[str, str] = {}  # engine name -> uid this run created
        self.targets: list[str] = []
        self.evidence: list[dict[str, Any]] = []
        self.reason = ""

    @property
    def injected(self) -> bool:
        return bool(self.evidence)

    def record(self) -> dict[str, Any]:
        return {
            "injected": self.injected and not self.reason,
            "reason": self.reason,
            "targets": sorted(set(self.targets)),
            "engines": dict(self.engines),
            "fault_activities": list(self.faults_ran),
            "evidence": list(self.evidence),
        }


_run = _Run()


def before_experiment_control(
    context: Any, fault_activities: list[str] = None, **kwargs: Any
) -> None:
    """Start a fresh record for this run."""
    global _run
    _run = _Run(fault_activities)


def before_method_control(context: Any, **kwargs: Any) -> None:
    _run.in_method = True


def after_activity_control(context: Any, state: Any = None, **kwargs: Any) -> None:
    """Interrupt at once when the fault or its evidence fails; else take notes."""
    activity = context if isinstance(context, dict) else {}
    run = state if isinstance(state, dict) else {}
    if not _run.in_method:
        return
    role = _role(activity, _run.fault_activities)
    if role is None:
        return
    name = activity.get("name", "?")
    if run.get("status") == "failed":
        _interrupt(f"{NOT_INJECTED}: {role} '{name}' failed: {_last_error(run)}")
    with _run.lock:
        if role == "fault action":
            _note_fault(name, run.get("output"), activity)
        else:
            _note_evidence(name, run.get("output"))


def after_method_control(context: Any, **kwargs: Any) -> None:
    """No evidence of this run's fault by the end of the method: interrupt."""
    _run.in_method = False
    if _run.reason:
        raise InterruptExecution(_run.reason)
    if not _run.injected:
        what = (
            f"the fault action(s) {', '.join(_run.faults_ran)} ran"
            if _run.faults_ran
            else "no fault action ran"
        )
        _interrupt(
            f"{NOT_INJECTED}: {what} but nothing showed this run's fault on a "
            "target (add wait_for_chaos_started after the fault action)"
        )


def after_experiment_control(context: Any, state: Any = None, **kwargs: Any) -> None:
    """Never let a run without its fault, or with a broken steady state before
    the method, stay "completed"; put the record in the journal."""
    journal = state if isinstance(state, dict) else None
    if journal is None:
        return
    before = (journal.get("steady_states") or {}).get("before") or {}
    if before.get("steady_state_met") is False and not _run.reason:
        _run.reason = (
            "steady state not met before the method ("
            f"{_missed_probe(before)}): the method and its fault were skipped, "
            f"so {NOT_INJECTED}"
        )
    elif not _run.injected and not _run.reason:
        _run.reason = f"{NOT_INJECTED}: the method did not run its fault"
    if journal.get("experiment", {}).get("dry") and not _run.injected:
        _run.reason = f"dry run: {_run.reason or NOT_INJECTED}"
    if _run.reason and journal.get("status") == "completed":
        journal["status"] = "interrupted"
        logger.error("fault-evidence: run marked interrupted: %s", _run.reason)
    journal["fault_evidence"] = _run.record()


# --- helpers -----------------------------------------------------------------


def _interrupt(reason: str) -> None:
    _run.reason = _run.reason or reason
    logger.error("fault-evidence: %s", _run.reason)
    raise InterruptExecution(_run.reason)


def _role(activity: dict[str, Any], fault_activities: set) -> str | None:
    if activity.get("name") in fault_activities:
        return "fault action"
    provider = activity.get("provider") or {}
    if provider.get("type") != "python" or provider.get("module") != LITMUS_ACTIONS:
        return None
    func = provider.get("func")
    if func in FAULT_FUNCS:
        return "fault action"
    if func in EVIDENCE_FUNCS:
        return "injection wait"
    return None


def _outputs(output: Any) -> list[dict[str, Any]]:
    if isinstance(output, dict):
        return [output]
    if isinstance(output, list):
        return [o for o in output if isinstance(o, dict)]
    return []


def _note_fault(name: str, output: Any, activity: dict[str, Any]) -> None:
    _run.faults_ran.append(name)
    outcomes = _outputs(output)
    for outcome in outcomes:
        if outcome.get("engine_name"):
            _run.engines[outcome["engine_name"]] = outcome.get("engine_uid", "")
        if outcome.get("targets"):  # a fault action that waited for its run
            _add_evidence(name, outcome)
    if not outcomes and activity.get("name") in _run.fault_activities:
        # A fault outside Litmus: its success is the only evidence there is.
        _run.evidence.append({"activity": name, "evidence": "activity succeeded"})


def _note_evidence(name: str, output: Any) -> None:
    for outcome in _outputs(output):
        engine, uid = outcome.get("engine_name", ""), outcome.get("engine_uid", "")
        ours = _run.engines.get(engine)
        if ours is not None and ours and uid and ours != uid:
            _interrupt(
                f"{NOT_INJECTED}: '{name}' followed ChaosEngine '{engine}' uid "
                f"{uid}, but this run created uid {ours}"
            )
        if engine and ours is None and _run.engines:
            _interrupt(
                f"{NOT_INJECTED}: '{name}' followed ChaosEngine '{engine}', which "
                f"this run did not create ({', '.join(_run.engines)})"
            )
        evidence = str(outcome.get("injection_evidence") or "")
        if outcome.get("targets") or evidence.startswith("runner-state"):
            _add_evidence(name, outcome)


def _add_evidence(name: str, outcome: dict[str, Any]) -> None:
    _run.targets.extend(outcome.get("targets") or [])
    _run.evidence.append(
        {
            "activity": name,
            "engine_name": outcome.get("engine_name", ""),
            "targets": list(outcome.get("targets") or []),
            "evidence": outcome.get("injection_evidence", ""),
            "injected_at": outcome.get("injected_at", ""),
            "inject_lag_s": outcome.get("inject_lag_s"),
        }
    )


def _last_error(run: dict[str, Any]) -> str:
    lines = [line.strip() for line in run.get("exception") or [] if line.strip()]
    if not lines:
        return "no error message"
    head, _, message = lines[-1].splitlines()[-1].partition(": ")
    return message if message and " " not in head else lines[-1]


def _missed_probe(state: dict[str, Any]) -> str:
    for probe in state.get("probes") or []:
        if not probe.get("tolerance_met", True) or probe.get("status") == "failed":
            return f"probe '{probe.get('activity', {}).get('name', '?')}' missed"
    return "a probe missed its tolerance"
