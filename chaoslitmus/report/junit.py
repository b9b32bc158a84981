"""Journals -> JUnit XML, the test-result format every CI system reads.

One <testsuite> per journal; one <testcase> per hypothesis probe (before
and after the method), per method activity and per rollback, plus
"experiment outcome" (fails when the run failed, was interrupted or
aborted, or deviated; see gate.run_failures; for a journal given to
--expect-deviation, when it did not deviate) and, with a baseline,
"baseline comparison". A probe out of tolerance is a <failure> whose
message is the tolerance line and whose text holds the figures; an activity
that raised is an <error>; a probe that never ran is <skipped>.

The layout follows the JUnit XML that Ant's junitreport made common and
that Jenkins, GitLab and GitHub test reporters read (tests validate it
against a schema of that format).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from chaoslitmus.report.gate import Judgement
from chaoslitmus.report.types import Hypothesis, ProbeResult, Step

__all__ = ["render_junit"]

# XML 1.0 cannot carry most control characters, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: object) -> str:
    return _NOT_XML.sub("?", str(value))


def _slug(file: str) -> str:
    name = Path(file).name or "journal"
    for suffix in (".journal.json", ".json"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name)


def _timestamp(iso: str) -> str | None:
    """ISO 8601 without zone or fraction (what the JUnit schema accepts)."""
    match = re.match(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})", iso or "")
    return match.group(1) if match else None


def _seconds(value: float | None) -> str:
    return f"{max(value or 0.0, 0.0):.3f}"


class _Suite:
    def __init__(self, judgement: Judgement) -> None:
        run = judgement.run
        self.run = run
        self.judgement = judgement
        self.prefix = _slug(run.file)
        self.cases: list[ET.Element] = []
        self.failures = self.errors = self.skipped = 0

    def case(self, group: str, name: str, seconds: float | None = None) -> ET.Element:
        element = ET.Element(
            "testcase",
            {
                "name": _text(name),
                "classname": f"{self.prefix}.{group}",
                "time": _seconds(seconds),
            },
        )
        self.cases.append(element)
        return element

    def fail(self, case: ET.Element, message: str, text: str, kind: str) -> None:
        failure = ET.SubElement(
            case, "failure", {"message": _text(message), "type": kind}
        )
        failure.text = _text(text)
        self.failures += 1

    def error(self, case: ET.Element, message: str, kind: str) -> None:
        error = ET.SubElement(case, "error", {"message": _text(message), "type": kind})
        error.text = _text(message)
        self.errors += 1

    def skip(self, case: ET.Element, message: str) -> None:
        ET.SubElement(case, "skipped", {"message": _text(message)})
        self.skipped += 1

    def out(self, case: ET.Element, text: str) -> None:
        if text:
            ET.SubElement(case, "system-out").text = _text(text)


def _probe(suite: _Suite, phase: str, probe: ProbeResult, inverted: bool) -> None:
    label = f"{probe.name} ({phase} the method)"
    case = suite.case(f"hypothesis.{phase}", label)
    tolerance = f"tolerance: {probe.tolerance}" if probe.tolerance else "tolerance"
    detail = "\n".join(x for x in (tolerance, probe.figures, probe.error) if x)
    if probe.status == "not run":
        suite.skip(case, "not run: an earlier probe of this check broke the hypothesis")
    elif probe.status != "succeeded" or probe.met is None:
        suite.error(case, probe.error or f"probe {probe.status}", "ProbeFailed")
    elif inverted:
        # The run is expected to deviate: "experiment outcome" fails when the
        # whole check held; a single probe may hold (pods still running).
        state = "held" if probe.met else "broke, as expected under the fault"
        suite.out(case, f"{state}\n{detail}")
    elif not probe.met:
        suite.fail(case, f"{tolerance} not met", detail, "ToleranceNotMet")
    else:
        suite.out(case, detail)


def _hypothesis(
    suite: _Suite, phase: str, check: Hypothesis | None, inverted: bool
) -> None:
    if check is None:
        case = suite.case(f"hypothesis.{phase}", f"steady-state hypothesis ({phase})")
        suite.skip(case, f"not checked {phase} the method (run {suite.run.status})")
        return
    for probe in check.probes:
        _probe(suite, phase, probe, inverted)


def _step(suite: _Suite, group: str, step: Step) -> None:
    label = step.name + (" [background]" if step.background else "")
    case = suite.case(group, label, step.duration_s)
    if step.status == "succeeded":
        suite.out(case, step.summary)
    elif step.status == "failed":
        suite.fail(
            case, step.error or "failed", step.summary or step.error, "ActivityFailed"
        )
    else:
        suite.error(
            case, f"did not finish (status {step.status})", "ActivityUnfinished"
        )


def _suite(judgement: Judgement) -> ET.Element:
    run = judgement.run
    suite = _Suite(judgement)
    _hypothesis(suite, "before", run.before, inverted=False)
    for step in run.steps:
        _step(suite, "method", step)
    _hypothesis(suite, "after", run.after, inverted=judgement.expect_deviation)
    for step in run.rollbacks:
        _step(suite, "rollbacks", step)

    outcome = suite.case("run", "experiment outcome", run.duration_s)
    state = run.status + (", deviated" if run.deviated else "")
    if judgement.failures:
        suite.fail(
            outcome,
            judgement.failures[0],
            "\n".join((*judgement.failures, *run.notes)),
            "RunFailed",
        )
    else:
        expected = " (deviation expected)" if judgement.expect_deviation else ""
        suite.out(outcome, "\n".join((f"{state}{expected}", *run.notes)))
    if judgement.baseline:
        compared = suite.case("run", "baseline comparison")
        if judgement.regressions:
            suite.fail(
                compared,
                f"{len(judgement.regressions)} regression(s) against "
                f"{judgement.baseline}: {judgement.regressions[0]}",
                "\n".join(judgement.regressions),
                "Regression",
            )
        else:
            suite.out(compared, f"no regression against {judgement.baseline}")

    attributes = {
        "name": _text(
            f"{run.title} ({Path(run.file).name})" if run.file else run.title
        ),
        "tests": str(len(suite.cases)),
        "failures": str(suite.failures),
        "errors": str(suite.errors),
        "skipped": str(suite.skipped),
        "time": _seconds(run.duration_s),
    }
    stamp = _timestamp(run.start)
    if stamp:
        attributes["timestamp"] = stamp
    element = ET.Element("testsuite", attributes)
    properties = ET.SubElement(element, "properties")
    for name, value in (
        ("status", run.status),
        ("deviated", str(run.deviated).lower()),
        ("journal", run.file),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": _text(value)})
    element.extend(suite.cases)
    return element


def render_junit(judgements: Sequence[Judgement], title: str | None = None) -> str:
    """The JUnit XML document for these runs, as text."""
    root = ET.Element("testsuites", {"name": _text(title or "chaos experiments")})
    totals = {"tests": 0, "failures": 0, "errors": 0}
    seconds = 0.0
    for judgement in judgements:
        suite = _suite(judgement)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        seconds += float(suite.get("time", "0"))
        root.append(suite)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
