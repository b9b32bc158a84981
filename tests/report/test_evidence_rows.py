"""The report shows the evidence: fault injected or not (red), policy
propagation, Envoy's retry figures, the budget, and dry runs labelled."""

from __future__ import annotations

from chaoslitmus.report.html import render_html
from chaoslitmus.report.model import build_run
from chaoslitmus.report.summary import comparison


def record(name: str, func: str, output: dict, module: str = "x") -> dict:
    return {
        "activity": {
            "type": "action",
            "name": name,
            "provider": {"type": "python", "module": module, "func": func},
        },
        "status": "succeeded",
        "output": output,
    }


def journal(**extra) -> dict:
    doc = {
        "experiment": {"title": "t", "method": []},
        "status": "completed",
        "deviated": False,
        "steady_states": {"before": None, "after": None, "during": []},
        "run": [
            record(
                "apply",
                "set_retry_policy",
                {"budget": {"sentence": "only the first retry can help"}},
            ),
            record("wait", "wait_for_retry_policy_applied", {"propagation_s": 3.02}),
            record(
                "stats",
                "retry_stats_during",
                {"upstream_rq_retry": 9, "rescued": 8, "attempts_per_request": 1.36},
            ),
        ],
        "rollbacks": [],
        "fault_evidence": {
            "injected": True,
            "reason": "",
            "targets": ["ratings-v1-abc"],
            "evidence": [{"inject_lag_s": 2.0}],
        },
    }
    doc.update(extra)
    return doc


def rows(doc: dict) -> dict:
    return {row.label: row.cells[0] for row in comparison([build_run(doc, "j")])}


def test_retry_figures_and_budget_are_shown():
    cells = rows(journal())
    assert cells["Policy propagation"].text == "3.0 s"
    assert cells["Retries (Envoy)"].text == (
        "9 retries, 8 rescued, 1.36 attempts/request"
    )
    assert cells["Retry budget"].text == "only the first retry can help"
    injected = cells["Fault injected"]
    assert injected.tone == "good"
    assert injected.text == "injected on ratings-v1-abc (2.0 s after Running)"


def test_a_run_without_its_fault_is_red():
    doc = journal(
        status="interrupted",
        fault_evidence={
            "injected": False,
            "reason": "fault NOT injected: fault action 'x' failed: boom",
            "targets": [],
            "evidence": [],
        },
    )
    cell = rows(doc)["Fault injected"]
    assert cell.tone == "bad" and cell.text.startswith("fault NOT injected")
    html = render_html([build_run(doc, "j")], None)
    assert '<td class="bad">fault NOT injected: fault action' in html
    assert "No fault, no pass" in " ".join(build_run(doc, "j").notes)


def test_dry_runs_are_labelled():
    doc = journal()
    doc["experiment"]["dry"] = "actions"
    assert any(n.startswith("Dry run (actions)") for n in build_run(doc).notes)


def test_the_fault_names_the_pod_actually_faulted():
    doc = journal()
    doc["run"].append(
        record(
            "wait",
            "wait_for_chaos_started",
            {
                "engine_name": "e",
                "namespace": "ns",
                "targets": ["ratings-v1-abc"],
                "target_pods": ["ratings-v1-abc", "ratings-v1-def"],
                "injected_at": "2026-01-01T00:00:02.000Z",
                "phase": "Running",
                "verdict": "Awaited",
            },
            module="chaoslitmus.litmus.actions",
        )
    )
    (fault,) = build_run(doc).faults
    assert fault.faulted_pods == ("ratings-v1-abc",)
    assert fault.injected_at == "2026-01-01T00:00:02.000Z"
    html = render_html([build_run(doc)], None)
    assert "pods faulted" in html
