"""CI formats of `chaoslitmus report`: JUnit XML that validates against the
JUnit schema and reads back as the runs went, a GitHub job summary, and the
gates (baseline comparison, failed runs) that set the exit code."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from chaoslitmus.report.cli import main

from .lab_runs import Journals
from .worse_run import run_worse_retry

SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "data" / "junit.xsd")


@pytest.fixture(scope="module")
def worse(tmp_path_factory) -> Path:
    return run_worse_retry(tmp_path_factory.mktemp("worse"))


def junit(tmp_path: Path, *args: str) -> tuple[int, ET.Element]:
    output = tmp_path / "results.xml"
    code = main([*args, "-o", str(output)])
    SCHEMA.validate(str(output))
    return code, ET.parse(output).getroot()


def cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {f"{c.get('classname')}::{c.get('name')}": c for c in suite.iter("testcase")}


def test_junit_validates_and_reads_back_as_the_runs_went(journals: Journals, tmp_path):
    code, root = junit(
        tmp_path, str(journals.no_retry), str(journals.retry), str(journals.broken)
    )
    assert code == 0  # writing a report is not a gate
    suites = root.findall("testsuite")
    assert len(suites) == 3
    no_retry, retry, broken = (cases(s) for s in suites)

    # The retry run passes every test case.
    assert int(suites[1].get("failures")) == 0 and int(suites[1].get("errors")) == 0
    assert set(retry) >= {
        "ratings-latency-retry.hypothesis.before::reviews-answers-200-fast "
        "(before the method)",
        "ratings-latency-retry.method::apply-mesh-retry-policy",
        "ratings-latency-retry.method::reviews-traffic-during-fault [background]",
        "ratings-latency-retry.rollbacks::restore-mesh-retry-policy",
        "ratings-latency-retry.run::experiment outcome",
    }

    # Without retries the after-check breaks: a failure carrying the tolerance.
    after = no_retry[
        "ratings-latency.hypothesis.after::reviews-answers-200-fast (after the method)"
    ]
    failure = after.find("failure")
    assert failure is not None and failure.get("type") == "ToleranceNotMet"
    assert failure.get("message").startswith("tolerance: within_slo(")
    assert "errors" in failure.text
    outcome = no_retry["ratings-latency.run::experiment outcome"].find("failure")
    assert outcome.get("message").startswith("the steady state deviated")

    # The broken run failed: its outcome fails, the probe that raised is an error.
    outcome = broken["broken.run::experiment outcome"].find("failure")
    assert outcome.get("message") == "the run ended failed"
    assert any(c.find("error") is not None for c in broken.values())
    totals = {k: int(root.get(k)) for k in ("tests", "failures", "errors")}
    assert totals["tests"] == sum(int(s.get("tests")) for s in suites)
    assert totals["failures"] == sum(int(s.get("failures")) for s in suites)


def test_an_expected_deviation_passes_and_inverts_the_after_check(
    journals: Journals, tmp_path
):
    code, root = junit(
        tmp_path,
        str(journals.no_retry),
        "--expect-deviation",
        journals.no_retry.name,
        "--fail-on-failure",
    )
    assert code == 0
    suite = root.find("testsuite")
    assert suite.get("failures") == "0"
    after = cases(suite)[
        "ratings-latency.hypothesis.after::reviews-answers-200-fast (after the method)"
    ]
    assert after.find("system-out").text.startswith("broke, as expected")

    # The retry run "expected to deviate" fails: the weakness was not shown.
    code, root = junit(
        tmp_path, str(journals.retry), "--expect-deviation", str(journals.retry)
    )
    outcome = cases(root.find("testsuite"))[
        "ratings-latency-retry.run::experiment outcome"
    ]
    assert "expected the hypothesis to deviate" in outcome.find("failure").get(
        "message"
    )


@pytest.mark.parametrize("status", ["interrupted", "aborted", "failed"])
def test_interrupted_aborted_and_failed_runs_fail(journals, tmp_path, status, capsys):
    journal = json.loads(journals.retry.read_text())
    journal["status"] = status
    journal["slo_guard"] = {"status": "breached", "message": "slo-guard: stopped it"}
    path = tmp_path / f"{status}.journal.json"
    path.write_text(json.dumps(journal))

    code, root = junit(tmp_path, str(path), "--fail-on-failure")
    assert code == 1
    outcome = cases(root.find("testsuite"))[f"{status}.run::experiment outcome"]
    assert outcome.find("failure").get("message") == f"the run ended {status}"
    assert "slo-guard: stopped it" in outcome.find("failure").text
    err = capsys.readouterr().err
    assert f"gate failed: {status}.journal.json: the run ended {status}" in err


def test_a_failed_recovery_rollback_fails_the_run(journals, tmp_path):
    journal = json.loads(journals.retry.read_text())
    rollback = copy.deepcopy(journal["rollbacks"][-1])
    rollback["activity"]["name"] = "reviews-recovered"
    rollback["status"] = "failed"
    rollback["exception"] = ["ActivityFailed: wait_for_recovery: did not recover\n"]
    journal["rollbacks"].append(rollback)
    path = tmp_path / "unrecovered.journal.json"
    path.write_text(json.dumps(journal))

    code, root = junit(tmp_path, str(path), "--fail-on-failure")
    assert code == 1
    found = cases(root.find("testsuite"))
    assert found["unrecovered.rollbacks::reviews-recovered"].find("failure") is not None
    outcome = found["unrecovered.run::experiment outcome"].find("failure")
    assert outcome.get("message").startswith("rollback 'reviews-recovered' failed")


def test_baseline_gate_passes_on_an_equal_run(journals: Journals, tmp_path, capsys):
    code, root = junit(tmp_path, str(journals.retry), "--baseline", str(journals.retry))
    assert code == 0, capsys.readouterr().err
    compared = cases(root.find("testsuite"))[
        "ratings-latency-retry.run::baseline comparison"
    ]
    assert compared.find("failure") is None


def test_baseline_gate_fails_on_a_worse_run_one_line_per_regression(
    journals: Journals, worse: Path, tmp_path, capsys
):
    code, root = junit(
        tmp_path,
        str(worse),
        "--baseline",
        str(journals.retry),
        "--max-error-rate-increase",
        "0.01",
        "--max-latency-increase-pct",
        "10",
        "--gate-percentiles",
        "p50,p99",
    )
    assert code == 1
    err = capsys.readouterr().err.splitlines()
    gate = [line for line in err if "gate failed" in line]
    name = worse.name
    assert any(
        line.startswith(
            f"chaoslitmus report: gate failed: {name}: regression: "
            "reviews-traffic-during-fault (method): error rate "
        )
        for line in gate
    ), gate
    assert any("(after): error rate" in line for line in gate), gate
    assert all(line.count("\n") == 0 for line in gate)
    compared = cases(root.find("testsuite"))[
        "ratings-latency-retry_worse.run::baseline comparison"
    ]
    failure = compared.find("failure")
    assert failure.get("type") == "Regression"
    assert len(failure.text.splitlines()) == len(gate)


def test_a_baseline_that_matches_no_run_fails_the_gate(journals, tmp_path, capsys):
    code, _ = junit(tmp_path, str(journals.retry), "--baseline", str(journals.no_retry))
    assert code == 1
    assert "matches no run by title" in capsys.readouterr().err


def test_bad_gate_arguments_are_one_line(journals, tmp_path, capsys):
    output = tmp_path / "x.xml"
    assert (
        main([str(journals.retry), "-o", str(output), "--baseline", "nope.json"]) == 2
    )
    assert (
        capsys.readouterr().err.strip() == "chaoslitmus report: nope.json: no such file"
    )
    assert not output.exists()
    assert (
        main([str(journals.retry), "-o", str(output), "--expect-deviation", "x.json"])
        == 2
    )
    assert "names no journal given" in capsys.readouterr().err
    assert main([str(journals.retry), "--gate-percentiles", "p42"]) == 2
    assert "choose from p50" in capsys.readouterr().err


def test_github_summary(journals: Journals, tmp_path, capsys):
    code = main(
        [
            str(journals.no_retry),
            str(journals.retry),
            "--format",
            "github",
            "--expect-deviation",
            str(journals.no_retry),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("## Chaos experiments: all 2 passed\n")
    assert "| ✅ | A slow ratings pod" in out
    assert "broke (as expected)" in out

    main([str(journals.no_retry), "--format", "github"])
    out = capsys.readouterr().out
    assert out.startswith("## Chaos experiments: 1 of 1 failed\n")
    assert "### Why" in out and "the steady state deviated after the method" in out


def test_ci_formats_do_not_need_matplotlib():
    # junit, github and markdown import nothing of the charts module.
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import chaoslitmus.report.junit, chaoslitmus.report.github, "
        "chaoslitmus.report.markdown, chaoslitmus.report.cli\n"
        "assert 'chaoslitmus.report.charts' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_gate_flags_default_to_the_gate_margins():
    from dataclasses import asdict

    from chaoslitmus.report._gate_args import DEFAULT_MARGINS
    from chaoslitmus.report.gate import Margins

    assert asdict(Margins()) == DEFAULT_MARGINS
