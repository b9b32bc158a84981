"""What a lab Litmus run writes about itself.

The experiment pod's ChaosResult (created, or reused from an earlier run and
set back to Running/Awaited, its history's targets, then the final verdict)
and the runner's entry in the engine's `status.experiments[]`. The shapes are
pure functions in `rules`; this module reads and writes the objects.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaoslitmus.lab.kube.store_client import StoreClient
from chaoslitmus.lab.litmus import rules
from chaoslitmus.lab.litmus.annotations import annotate_targets, fold_annotations
from chaoslitmus.lab.litmus.rules import ENGINES, RESULTS, Shape

__all__ = ["Run", "RunRecorder"]


@dataclass
class Run:
    """One engine run in progress (what the runner and experiment pods hold)."""

    uid: str
    namespace: str
    name: str
    shape: Shape
    sa_missing: bool = False
    task: asyncio.Task[None] | None = None
    aborted: bool = False
    entry_index: int = -1
    fault_id: str | None = None
    injected: list[str] = field(default_factory=list)  # annotated pods
    result_name: str | None = None  # written as Running, no verdict yet
    verdicts: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"chaosengine {self.namespace}/{self.name}"


class RunRecorder:
    """Writes a run's ChaosResult and engine entry; `now` stamps them."""

    def __init__(self, client: StoreClient, now: Callable[[], str]) -> None:
        self.client = client
        self.now = now

    def start_result(
        self,
        run: Run,
        engine: Mapping[str, Any],
        experiment: Mapping[str, Any],
        env: Mapping[str, str],
        job: Mapping[str, Any],
    ) -> None:
        """The experiment pod's first write: create or update to Running/Awaited."""
        exp_name = experiment["metadata"]["name"]
        if run.shape == "1.x":
            name = f"{run.name}-{exp_name}"
            labels = {
                rules.CHAOS_UID_LABEL: run.uid,
                "type": "ChaosResult",
                "name": exp_name,
            }
            spec: dict[str, Any] = {"engine": run.name, "experiment": exp_name}
        else:
            name = rules.result_name(run.name, exp_name, env)
            definition = (experiment.get("spec") or {}).get("definition") or {}
            labels = {
                **(definition.get("labels") or {}),
                "name": exp_name,
                "job-name": job["metadata"]["name"],
                "controller-uid": job["metadata"]["uid"],
                rules.CHAOS_UID_LABEL: run.uid,
            }
            spec = {
                "engine": run.name,
                "experiment": exp_name,
                "instance": env.get("INSTANCE_ID", "").strip(),
            }
        existing = self.client.get(RESULTS, run.namespace, name)
        if existing is None:
            created: dict[str, Any] = {
                "apiVersion": "litmuschaos.io/v1alpha1",
                "kind": "ChaosResult",
                "metadata": {
                    "name": name,
                    "namespace": run.namespace,
                    "labels": labels,
                },
                "spec": spec,
                "status": rules.result_running(None, run.shape),
            }
            self.client.store.create(RESULTS, run.namespace, created)
        else:
            body: dict[str, Any] = copy.deepcopy(existing)
            if run.shape == "3.x":
                fold_annotations(body)  # an earlier run's helper annotations
            body["metadata"]["labels"] = {
                **(body["metadata"].get("labels") or {}),
                **labels,
            }
            body["spec"] = {**(body.get("spec") or {}), **spec}
            body["status"] = rules.result_running(body.get("status"), run.shape)
            self.client.store.replace(RESULTS, run.namespace, name, body)
        run.result_name = name
        self._event_on_result(
            run, name, "Awaited", f"experiment: {exp_name}, Result: Awaited"
        )

    def finish_result(
        self, run: Run, outcome: rules.Outcome, error_code: str = "", reason: str = ""
    ) -> str:
        """Write the final phase/verdict; returns the verdict the runner copies."""
        name, run.result_name = run.result_name, None
        if name is None:
            return outcome
        final: dict[str, Any] = {}

        def mutate(obj: dict[str, Any]) -> None:
            if run.shape == "3.x":
                fold_annotations(obj)
            status = obj.get("status") or {}
            if run.shape == "3.x":
                status["history"] = rules.revert_targets(status.get("history"))
            obj["status"] = rules.result_final(
                status,
                outcome,
                run.shape,
                error_code if outcome == "Error" else "",
                reason,
            )
            final.update(obj)

        self.client.update(RESULTS, run.namespace, name, mutate)
        verdict = rules.result_verdict(final) or outcome
        if final:
            self._event_on_result(
                run, name, verdict, f"experiment: {name}, Result: {verdict}"
            )
        return verdict

    def update_result(self, run: Run, change: Callable[[dict[str, Any]], None]) -> None:
        if run.result_name is None or run.shape == "1.x":
            return

        def mutate(obj: dict[str, Any]) -> None:
            change(obj.setdefault("status", {}))

        self.client.update(RESULTS, run.namespace, run.result_name, mutate)

    def update_result_targets(
        self, run: Run, names: list[str], kind: str, status: str
    ) -> None:
        self.update_result(
            run,
            lambda s: s.update(
                history=rules.merge_targets(s.get("history"), names, kind, status)
            ),
        )

    def annotate_targets(
        self, run: Run, names: list[str], kind: str, status: str
    ) -> None:
        """The helper's `kubectl annotate chaosresult` (3.x helpers only)."""
        if run.result_name is None or run.shape == "1.x":
            return
        self.client.update(
            RESULTS,
            run.namespace,
            run.result_name,
            lambda obj: annotate_targets(obj, names, kind, status),
        )

    def add_entry(self, run: Run, name: str, status: str, verdict: str) -> None:
        now = self.now()
        entry = rules.engine_entry(
            name, run.name, status, verdict, rules.YET_TO_BE_LAUNCHED, now, run.shape
        )

        def mutate(obj: dict[str, Any]) -> None:
            entries = list((obj.get("status") or {}).get("experiments") or [])
            run.entry_index = len(entries)
            entries.append(entry)
            obj.setdefault("status", {})["experiments"] = entries

        self.client.update(ENGINES, run.namespace, run.name, mutate, uid=run.uid)

    def set_entry(self, run: Run, **fields: str) -> None:
        if run.aborted:
            return
        now = self.now()

        def mutate(obj: dict[str, Any]) -> None:
            entries = list((obj.get("status") or {}).get("experiments") or [])
            if not 0 <= run.entry_index < len(entries):
                return
            entries[run.entry_index] = {
                **entries[run.entry_index],
                **fields,
                "lastUpdateTime": now,
            }
            obj["status"]["experiments"] = entries

        self.client.update(ENGINES, run.namespace, run.name, mutate, uid=run.uid)

    def _event_on_result(self, run: Run, name: str, reason: str, message: str) -> None:
        result = self.client.get(RESULTS, run.namespace, name)
        if result is not None:
            self.client.event(result, reason, message, component="experiment")
