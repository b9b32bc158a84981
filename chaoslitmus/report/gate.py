"""Gates a CI job can fail on: pure functions over the report's model.

Two questions, each answered with one line per problem:

- did the run itself fail? (`run_failures`): status failed, interrupted or
  aborted, a hypothesis that deviated (or, for an experiment that exists to
  show a weakness, one that did not), a steady state not met before the
  method, a rollback that failed;
- did it get worse than a committed baseline run? (`regressions`): the error
  rate of a traffic window rose by more than a margin, or a latency
  percentile grew by more than a percentage (and more than a few ms, so a
  2 ms -> 3 ms wobble is not a +50% regression).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaoslitmus.report._format import fmt_pct
from chaoslitmus.report.types import Run, Traffic

__all__ = [
    "Judgement",
    "Margins",
    "judge",
    "pair_with_baselines",
    "regressions",
    "run_failures",
]

FAILED_STATUSES = ("failed", "interrupted", "aborted")


@dataclass(frozen=True)
class Margins:
    """How much worse than the baseline a run may be."""

    max_error_rate_increase: float = 0.01
    max_latency_increase_pct: float = 10.0
    latency_slack_ms: float = 5.0
    percentiles: tuple[str, ...] = ("p99",)


@dataclass(frozen=True)
class Judgement:
    """One run, what was expected of it, and why it fails (if it does)."""

    run: Run
    expect_deviation: bool
    failures: tuple[str, ...]
    regressions: tuple[str, ...]
    baseline: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures and not self.regressions


def run_failures(run: Run, expect_deviation: bool = False) -> list[str]:
    """Why the run fails as a test (empty when it passes)."""
    lines = []
    if run.status in FAILED_STATUSES:
        lines.append(f"the run ended {run.status}")
    elif run.status not in ("completed",):
        lines.append(f"the run has no final status ({run.status})")
    if run.before is not None and run.before.met is False:
        lines.append("the steady state was not met before the method")
    if expect_deviation:
        if run.deviated is not True and run.status == "completed":
            lines.append(
                "expected the hypothesis to deviate (the weakness this experiment "
                "shows), but it held"
            )
    elif run.deviated is True:
        broken = [
            p.name for p in (run.after.probes if run.after else ()) if p.met is False
        ]
        lines.append(
            "the steady state deviated after the method"
            + (f" ({', '.join(broken)} out of tolerance)" if broken else "")
        )
    for step in run.rollbacks:
        if step.status != "succeeded":
            lines.append(
                f"rollback '{step.name}' {step.status}"
                + (f": {step.error}" if step.error else "")
            )
    return lines


def _key(window: Traffic) -> tuple[str, str]:
    return window.phase, window.activity


def _windows(run: Run) -> dict[tuple[str, str], Traffic]:
    """Windows by (phase, activity); of a window cut at the fault's injection
    only its part under the fault is compared."""
    found: dict[tuple[str, str], Traffic] = {}
    for window in run.traffic:
        if window.segment == "before injection":
            continue
        key = _key(window)
        n = 2
        while key in found:
            key = (window.phase, f"{window.activity} #{n}")
            n += 1
        found[key] = window
    return found


def regressions(run: Run, baseline: Run, margins: Margins) -> list[str]:
    """One line per figure that got worse than the baseline beyond the margin."""
    lines = []
    mine = _windows(run)
    for key, base in _windows(baseline).items():
        phase, activity = key
        label = f"{activity} ({phase})"
        window = mine.get(key)
        if window is None:
            lines.append(
                f"{label}: no such traffic window in this run (baseline has one)"
            )
            continue
        rise = window.error_rate - base.error_rate
        if rise > margins.max_error_rate_increase + 1e-12:
            lines.append(
                f"{label}: error rate {fmt_pct(window.error_rate)} vs baseline "
                f"{fmt_pct(base.error_rate)} (+{rise * 100:.1f} points, allowed "
                f"+{margins.max_error_rate_increase * 100:g})"
            )
        for name in margins.percentiles:
            now, then = window.latency_ms.get(name), base.latency_ms.get(name)
            if now is None or then is None:
                continue
            grew_ms = now - then
            pct = grew_ms / then * 100 if then > 0 else float("inf")
            if (
                grew_ms > margins.latency_slack_ms
                and pct > margins.max_latency_increase_pct
            ):
                lines.append(
                    f"{label}: {name} {now:g} ms vs baseline {then:g} ms "
                    f"(+{pct:.1f}%, allowed +{margins.max_latency_increase_pct:g}% "
                    f"beyond {margins.latency_slack_ms:g} ms)"
                )
    return lines


def pair_with_baselines(
    runs: Sequence[Run], baselines: Sequence[Run]
) -> tuple[list[Run | None], list[str]]:
    """The baseline of each run (same experiment title), and baselines unused.

    A baseline that matches no run is a gate failure: a renamed experiment
    must not turn the comparison off without anyone noticing.
    """
    by_title: dict[str, Run] = {}
    for baseline in baselines:
        by_title.setdefault(baseline.title, baseline)
    paired = [by_title.get(run.title) for run in runs]
    used = {id(b) for b in paired if b is not None}
    unused = [
        f"baseline {b.file} ('{b.title}') matches no run by title"
        for b in baselines
        if id(b) not in used
    ]
    return paired, unused


def judge(
    runs: Sequence[Run],
    expect_deviation: Sequence[bool],
    baselines: Sequence[Run] = (),
    margins: Margins | None = None,
) -> tuple[list[Judgement], list[str]]:
    """Judge every run; the second item lists gate problems not tied to a run."""
    margins = margins or Margins()
    paired, unused = (
        pair_with_baselines(runs, baselines) if baselines else ([None] * len(runs), [])
    )
    judgements = []
    for run, expected, baseline in zip(runs, expect_deviation, paired, strict=True):
        judgements.append(
            Judgement(
                run=run,
                expect_deviation=expected,
                failures=tuple(run_failures(run, expected)),
                regressions=tuple(regressions(run, baseline, margins))
                if baseline is not None
                else (),
                baseline=baseline.file if baseline is not None else "",
            )
        )
    return judgements, unused
