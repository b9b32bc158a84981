"""The report's gate options: baseline comparison, expected deviations, exit code.

Kept apart from cli.py so the I/O edge stays small: this module adds the
arguments, loads baselines through the same checks as journals, and turns
the gate's lines into messages and an exit code.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the gate loads when the report runs, not for --help
    from chaoslitmus.report.gate import Judgement
    from chaoslitmus.report.types import Run

__all__ = ["EXIT_GATE_FAILED", "add_gate_arguments", "gate_lines", "judge_runs"]

EXIT_GATE_FAILED = 1
PERCENTILES = ("p50", "p90", "p95", "p99", "max", "mean")
# The defaults of gate.Margins (a test keeps the two in step).
DEFAULT_MARGINS = {
    "max_error_rate_increase": 0.01,
    "max_latency_increase_pct": 10.0,
    "latency_slack_ms": 5.0,
    "percentiles": ("p99",),
}


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _percentiles(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in names if p not in PERCENTILES]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"choose from {', '.join(PERCENTILES)} (comma-separated), got {text!r}"
        )
    return names


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = argparse.Namespace(**DEFAULT_MARGINS)
    gate = parser.add_argument_group(
        "gates (exit 1 when one fails)",
        "Compare with committed baseline journals, and/or fail on failed runs.",
    )
    gate.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="JOURNAL",
        help="a baseline journal; each run is compared with the baseline of the "
        "same experiment title (repeat for several experiments)",
    )
    gate.add_argument(
        "--max-error-rate-increase",
        type=_non_negative,
        default=defaults.max_error_rate_increase,
        metavar="RATIO",
        help="error rate may rise by at most this ratio per traffic window "
        "(0.01 = 1 point; default %(default)s)",
    )
    gate.add_argument(
        "--max-latency-increase-pct",
        type=_non_negative,
        default=defaults.max_latency_increase_pct,
        metavar="PCT",
        help="a latency percentile may grow by at most this many percent "
        "(default %(default)s)",
    )
    gate.add_argument(
        "--latency-slack-ms",
        type=_non_negative,
        default=defaults.latency_slack_ms,
        metavar="MS",
        help="growth up to this many ms is never a regression (default %(default)s)",
    )
    gate.add_argument(
        "--gate-percentiles",
        type=_percentiles,
        default=defaults.percentiles,
        metavar="LIST",
        help="percentiles compared with the baseline, e.g. p50,p99 (default p99)",
    )
    gate.add_argument(
        "--expect-deviation",
        action="append",
        default=[],
        metavar="JOURNAL",
        help="this journal's experiment exists to show a weakness: its run passes "
        "when the hypothesis deviates, and fails when it holds",
    )
    gate.add_argument(
        "--fail-on-failure",
        action="store_true",
        help="exit 1 when a run failed: status failed/interrupted/aborted, an "
        "unexpected deviation, a failed rollback (recovery checks included)",
    )


def _matches(path: str, wanted: Sequence[str]) -> bool:
    return any(w in (path, Path(path).name) or Path(w) == Path(path) for w in wanted)


def judge_runs(
    args: argparse.Namespace,
    runs: Sequence[Run],
    paths: Sequence[str],
    load_run: Callable[[str], Run],
) -> tuple[list[Judgement], list[str]]:
    """Judge the runs; `load_run` reads a baseline (raising on bad input)."""
    from chaoslitmus.report.gate import Margins, judge

    unknown = [w for w in args.expect_deviation if not _matches_any(w, paths)]
    if unknown:
        raise ValueError(
            f"--expect-deviation {unknown[0]} names no journal given to the report"
        )
    baselines = [load_run(path) for path in args.baseline]
    margins = Margins(
        max_error_rate_increase=args.max_error_rate_increase,
        max_latency_increase_pct=args.max_latency_increase_pct,
        latency_slack_ms=args.latency_slack_ms,
        percentiles=args.gate_percentiles,
    )
    expected = [_matches(path, args.expect_deviation) for path in paths]
    return judge(runs, expected, baselines, margins)


def _matches_any(wanted: str, paths: Sequence[str]) -> bool:
    return any(_matches(path, [wanted]) for path in paths)


def gate_lines(
    args: argparse.Namespace, judgements: Sequence[Judgement], unused: Sequence[str]
) -> list[str]:
    """The lines that fail the gate (empty: exit 0)."""
    lines = [f"regression: {line}" for line in unused]
    for judgement in judgements:
        name = Path(judgement.run.file).name or judgement.run.title
        lines += [f"{name}: regression: {line}" for line in judgement.regressions]
        if args.fail_on_failure:
            lines += [f"{name}: {line}" for line in judgement.failures]
    return lines
