"""The run tracker never reports an earlier run's verdict (docs/litmus-behaviour.md)."""

from chaoslitmus.litmus.status import (
    RunTracker,
    engine_finished,
    result_summary,
)


def result(phase, verdict, uid="", passed=0, failed=0, stopped=0, legacy=False):
    key = "experimentstatus" if legacy else "experimentStatus"
    return {
        "metadata": {"name": "e-x", "labels": {"chaosUID": uid} if uid else {}},
        "status": {
            key: {"phase": phase, "verdict": verdict, "probeSuccessPercentage": "100"},
            "history": {
                "passedRuns": passed,
                "failedRuns": failed,
                "stoppedRuns": stopped,
            },
        },
    }


def engine(status="initialized", entry_status="Running", verdict="Awaited"):
    return {
        "metadata": {"name": "e", "namespace": "ns", "uid": "u-new"},
        "spec": {"engineState": "active"},
        "status": {
            "engineStatus": status,
            "experiments": [{"name": "x", "status": entry_status, "verdict": verdict}],
        },
    }


def test_stale_result_of_previous_run_is_not_reported():
    old = result("Completed", "Pass", uid="u-old", passed=1)
    tracker = RunTracker(engine_uid="u-new", experiment="x", prior_result=old)
    tracker.observe_engine(engine())
    tracker.observe_result(old)
    assert tracker.outcome() is None


def test_result_seen_running_then_final_is_ours():
    old = result("Completed", "Pass", uid="u-old", passed=1)
    tracker = RunTracker(engine_uid="u-new", experiment="x", prior_result=old)
    tracker.observe_result(result("Running", "Awaited", uid="u-old", passed=1))
    tracker.observe_result(result("Completed", "Fail", uid="u-old", passed=1, failed=1))
    outcome = tracker.outcome()
    assert outcome["verdict"] == "Fail"
    assert outcome["source"] == "chaosresult"


def test_history_growth_marks_a_result_as_ours_even_if_running_was_missed():
    old = result("Completed", "Pass", passed=1)
    tracker = RunTracker(engine_uid="u-new", experiment="x", prior_result=old)
    tracker.observe_result(result("Completed", "Pass", passed=2))
    assert tracker.outcome()["verdict"] == "Pass"


def test_chaos_uid_label_marks_a_result_as_ours():
    old = result("Error", "Error", uid="u-old")
    tracker = RunTracker(engine_uid="u-new", experiment="x", prior_result=old)
    tracker.observe_result(result("Error", "Error", uid="u-new"))
    assert tracker.outcome()["verdict"] == "Error"


def test_engine_not_found_ends_the_run_without_a_result():
    tracker = RunTracker(engine_uid="u-new", experiment="x")
    tracker.observe_engine(engine("completed", "ChaosExperiment Not Found", "Fail"))
    outcome = tracker.outcome()
    assert outcome["verdict"] == "Fail"
    assert outcome["phase"] == "ChaosExperiment Not Found"
    assert outcome["source"] == "chaosengine"


def test_engine_completed_waits_for_the_result_unless_forced():
    tracker = RunTracker(engine_uid="u-new", experiment="x")
    tracker.observe_engine(engine("completed", "Completed", "Pass"))
    assert tracker.outcome() is None
    assert tracker.outcome(force=True)["verdict"] == "Pass"


def test_legacy_1x_status_shape_is_read():
    summary = result_summary(result("Completed", "Pass", legacy=True))
    assert (summary["phase"], summary["verdict"]) == ("Completed", "Pass")


def test_3x_error_output_is_the_failure_step():
    res = result("Error", "Error")
    res["status"]["experimentStatus"]["errorOutput"] = {
        "errorCode": "TARGET_SELECTION_ERROR",
        "reason": "no target found",
    }
    summary = result_summary(res)
    assert summary["error_code"] == "TARGET_SELECTION_ERROR"
    assert summary["failure_step"] == "no target found"


def test_engine_finished_on_status_or_entry():
    assert engine_finished(engine("stopped"), "x")
    assert engine_finished(engine("initialized", "Forcefully Aborted"), "x")
    assert not engine_finished(engine("initialized", "Running"), "x")
    assert not engine_finished(None, "x")


def test_started_once_this_runs_result_exists():
    tracker = RunTracker(engine_uid="u-new", experiment="x")
    assert not tracker.started()
    tracker.observe_result(result("Running", "Awaited", uid="u-new"))
    assert tracker.started()
