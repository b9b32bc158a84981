"""Reading Litmus status, pure: which run a result belongs to and when it ended.

Litmus has written its status in several shapes over the years
(docs/litmus-behaviour.md#status-shapes-1x-and-3x): ``experimentstatus`` (1.x)
and ``experimentStatus`` (1.13.3+), ``failStep``, ``failureOutput`` and
``errorOutput``. These functions accept all of them and return one flat,
JSON-friendly vocabulary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

RESULT_FINAL_PHASES = {
    "Completed",
    "Completed_With_Probe_Failure",
    "Completed_With_Error",
    "Stopped",
    "Error",
}
ENGINE_FINAL_STATUSES = {"completed", "stopped"}
ENTRY_FINAL_STATUSES = {
    "Completed",
    "Forcefully Aborted",
    "Skipped",
    "ChaosExperiment Not Found",
    "Execution Successful",
}
FINAL_VERDICTS = {"Pass", "Fail", "Failed", "Error", "Stopped"}
CHAOS_STATUSES = {"targeted", "injected", "reverted"}
LEGACY_ANNOTATION_PREFIX = "litmuschaos.io/"


def injection_annotations(result: dict | None) -> list[dict]:
    """The targets a run's helpers annotated on its ChaosResult.

    litmus-go helpers write `<kind>/<target>=injected|reverted|targeted`;
    1.x-era helpers wrote `litmuschaos.io/<pod>=<status>` (see
    docs/litmus-behaviour.md, "When the fault is really on").
    """
    annotations = ((result or {}).get("metadata") or {}).get("annotations") or {}
    targets = []
    for key, value in sorted(annotations.items()):
        status = str(value).strip().lower()
        if status not in CHAOS_STATUSES or "/" not in key:
            continue
        prefix, name = key.split("/", 1)
        if key.startswith(LEGACY_ANNOTATION_PREFIX):
            kind = "pod"
        elif "." in prefix:
            continue  # some other tool's annotation
        else:
            kind = prefix
        targets.append({"name": name, "kind": kind, "status": status})
    return targets


def writes_no_annotations(result: dict | None) -> bool:
    """Litmus 1.x results (lowercase `experimentstatus`) carry no injection marks."""
    status = (result or {}).get("status") or {}
    return "experimentstatus" in status and "experimentStatus" not in status


def history_targets(result: dict | None) -> list[dict]:
    """`status.history.targets` (1.13.5+), where finished runs fold their marks."""
    history = ((result or {}).get("status") or {}).get("history") or {}
    return [
        {
            "name": t.get("name", ""),
            "kind": t.get("kind", ""),
            "status": t.get("chaosStatus", ""),
        }
        for t in history.get("targets") or []
        if isinstance(t, dict)
    ]


def _experiment_status(result: dict) -> dict:
    status = result.get("status") or {}
    return status.get("experimentStatus") or status.get("experimentstatus") or {}


def result_summary(result: dict | None) -> dict:
    """A ChaosResult in our vocabulary (works on 1.x and 3.x shapes)."""
    if not result:
        return {
            "phase": "",
            "verdict": "",
            "probe_success_percentage": "",
            "failure_step": "",
            "error_code": "",
            "history": {"passed_runs": 0, "failed_runs": 0, "stopped_runs": 0},
        }
    exp = _experiment_status(result)
    error = exp.get("errorOutput") or exp.get("failureOutput") or {}
    history = (result.get("status") or {}).get("history") or {}
    return {
        "phase": exp.get("phase", "") or "",
        "verdict": exp.get("verdict", "") or "",
        "probe_success_percentage": str(exp.get("probeSuccessPercentage", "") or ""),
        "failure_step": (
            exp.get("failStep") or error.get("reason") or error.get("failedStep") or ""
        ),
        "error_code": error.get("errorCode", "") or "",
        "history": {
            "passed_runs": int(history.get("passedRuns") or 0),
            "failed_runs": int(history.get("failedRuns") or 0),
            "stopped_runs": int(history.get("stoppedRuns") or 0),
        },
    }


def runs_recorded(result: dict | None) -> int:
    """How many finished runs a result's history counts."""
    history = result_summary(result)["history"]
    return sum(history.values())


def engine_summary(engine: dict | None) -> dict:
    """A ChaosEngine's state in our vocabulary."""
    engine = engine or {}
    status = engine.get("status") or {}
    entries = [
        {
            "name": e.get("name", ""),
            "status": e.get("status", ""),
            "verdict": e.get("verdict", ""),
            "experiment_pod": e.get("experimentPod", ""),
            "last_update_time": e.get("lastUpdateTime", ""),
        }
        for e in status.get("experiments") or []
    ]
    meta = engine.get("metadata") or {}
    return {
        "engine_name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "engine_state": (engine.get("spec") or {}).get("engineState", ""),
        "engine_status": status.get("engineStatus", ""),
        "deleting": bool(meta.get("deletionTimestamp")),
        "experiments": entries,
    }


def engine_entry(engine: dict | None, experiment: str) -> dict:
    """The status entry of one experiment; 1.x up to 1.6 names it after the Job."""
    for entry in engine_summary(engine)["experiments"]:
        if entry["name"] == experiment or entry["name"].startswith(f"{experiment}-"):
            return entry
    return {}


def engine_finished(engine: dict | None, experiment: str) -> bool:
    """Terminal as docs/litmus-behaviour.md#when-a-run-is-over says."""
    summary = engine_summary(engine)
    if summary["engine_status"] in ENGINE_FINAL_STATUSES:
        return True
    return engine_entry(engine, experiment).get("status") in ENTRY_FINAL_STATUSES


@dataclass
class RunTracker:
    """What we know about one run, so that a stale result is never reported.

    Results are reused across runs (see docs): a re-created engine with the
    same name updates the same ChaosResult, and until the new run's first
    update a reader still sees the previous verdict. A result belongs to this
    run when it carries this engine's ``chaosUID``, did not exist before the
    engine was created, counts more finished runs than before, or was seen in
    a non-final phase after the engine was created.
    """

    engine_uid: str
    experiment: str
    prior_result: dict | None = None
    seen_running: bool = False
    result: dict | None = None
    engine: dict | None = None
    engine_deleted: bool = False
    notes: list[str] = field(default_factory=list)
    # Injection evidence seen on this run's result (monotonic seconds).
    running_at: float | None = None
    injected_at: float | None = None
    reverted_at: float | None = None
    targets: dict[str, str] = field(default_factory=dict)

    def observe_result(self, result: dict | None, now: float | None = None) -> None:
        if result is None:
            return
        if result_summary(result)["phase"] not in RESULT_FINAL_PHASES:
            self.seen_running = True
        self.result = result
        if not self.result_is_ours():
            return
        now = time.monotonic() if now is None else now
        if self.running_at is None:
            self.running_at = now
        for target in injection_annotations(result):
            self.targets[target["name"]] = target["status"]
        statuses = set(self.targets.values())
        if self.injected_at is None and statuses & {"injected", "reverted"}:
            self.injected_at = now
        if self.injected_at is None or self.reverted_at is not None:
            return
        if statuses == {"reverted"} or self._folded_as_reverted(result):
            self.reverted_at = now

    def _folded_as_reverted(self, result: dict) -> bool:
        """At the end of a run the marks move into the history (the final
        write can reach us before the `reverted` mark did)."""
        if result_summary(result)["phase"] not in RESULT_FINAL_PHASES:
            return False
        folded = {t["name"]: t["status"] for t in history_targets(result)}
        return all(folded.get(n) == "reverted" for n in self.injected_targets())

    def injected_targets(self) -> list[str]:
        """Pods this run's helpers marked injected (or already reverted)."""
        return sorted(n for n, s in self.targets.items() if s != "targeted")

    def annotations_expected(self) -> bool:
        """False for Litmus 1.x results, which never carry injection marks."""
        return not (self.result_is_ours() and writes_no_annotations(self.result))

    def observe_engine(self, engine: dict | None, deleted: bool = False) -> None:
        if engine is not None:
            self.engine = engine
        self.engine_deleted = self.engine_deleted or deleted

    def result_is_ours(self) -> bool:
        result = self.result
        if not result:
            return False
        labels = (result.get("metadata") or {}).get("labels") or {}
        if self.engine_uid and labels.get("chaosUID") == self.engine_uid:
            return True
        if self.prior_result is None or self.seen_running:
            return True
        return runs_recorded(result) > runs_recorded(self.prior_result)

    def final_result(self) -> dict | None:
        """This run's result once Litmus has written its verdict."""
        if self.result_is_ours() and (
            result_summary(self.result)["phase"] in RESULT_FINAL_PHASES
        ):
            return self.result
        return None

    def started(self) -> bool:
        """Chaos is running (or already over) for this run."""
        if self.result_is_ours():
            return True
        return engine_entry(self.engine, self.experiment).get("status") == "Running"

    def outcome(self, force: bool = False) -> dict | None:
        """The run's outcome, or None while it is still going.

        When the engine says Completed, the runner has copied the verdict from
        the result, so we wait for the result itself; ``force`` gives up on
        that (the result never showed this run) and takes the engine's word.
        """
        final = self.final_result()
        if final is not None:
            summary = result_summary(final)
            summary["source"] = "chaosresult"
            return summary
        if not engine_finished(self.engine, self.experiment):
            return None
        entry = engine_entry(self.engine, self.experiment)
        if not force and entry.get("status") in ("Completed", "Execution Successful"):
            return None
        summary = result_summary(self.result if self.result_is_ours() else None)
        summary.update(
            {
                "phase": entry.get("status")
                or engine_summary(self.engine)["engine_status"],
                "verdict": _engine_verdict(entry.get("verdict", "")),
                "failure_step": entry.get("status", ""),
                "source": "chaosengine",
            }
        )
        return summary


def _engine_verdict(verdict: str) -> str:
    if verdict in ("Fail", "Failed"):
        return "Fail"
    if verdict in ("Pass", "Stopped", "Error"):
        return verdict
    return "Error"
