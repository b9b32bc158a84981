"""Pure pieces: time series, sparklines, colours, the wording of values."""

from __future__ import annotations

from chaoslitmus.report._read import error_line
from chaoslitmus.report._text import output_summary, policy_text, tolerance_text
from chaoslitmus.report.charts import palette
from chaoslitmus.report.series import (
    bin_width,
    counts_per_bin,
    error_share_per_bin,
    latency_per_bin,
    outcome_order,
    sparkline,
    timeline,
)
from chaoslitmus.report.types import Sample, Traffic


def _window(started_at: str, samples: list[tuple[float, str, float]]) -> Traffic:
    return Traffic(
        activity="w",
        phase="method",
        background=True,
        url="http://127.0.0.1:1/",
        method="GET",
        started_at=started_at,
        duration_s=2.0,
        total=len(samples),
        failed=0,
        error_rate=0.0,
        statuses={},
        errors={},
        latency_ms={},
        achieved_rate_per_s=None,
        ok_statuses=None,
        samples=tuple(Sample(*s) for s in samples),
    )


def test_timeline_places_windows_by_their_start_or_after_the_previous() -> None:
    first = _window("2024-05-01T10:00:00.000+00:00", [(0.0, "200", 5), (1.5, "500", 9)])
    later = _window("2024-05-01T10:00:10Z", [(0.5, "timeout", 2000)])
    undated = _window("", [(0.0, "200", 1)])

    points, spans = timeline([first, later, undated])

    assert [(p.x_s, p.outcome, p.ok) for p in points] == [
        (0.0, "200", True),
        (1.5, "500", False),
        (10.5, "timeout", False),
        (12.0, "200", True),  # placed right after the 10 s..12 s window
    ]
    assert [(s.start_s, s.end_s) for s in spans] == [(0, 2), (10, 12), (12, 14)]


def test_bins_count_outcomes_error_share_and_percentiles() -> None:
    points, _ = timeline(
        [
            _window(
                "2024-05-01T10:00:00Z",
                [
                    (0.1, "200", 10),
                    (0.6, "500", 250),
                    (1.2, "200", 12),
                    (1.7, "200", 30),
                ],
            )
        ]
    )
    assert [dict(c) for c in counts_per_bin(points, 1.0)] == [
        {"200": 1, "500": 1},
        {"200": 2},
    ]
    assert error_share_per_bin(points, 1.0) == [0.5, 0.0]
    assert latency_per_bin(points, 99, 1.0) == [250, 30]
    assert latency_per_bin(points, 50, 1.0) == [10, 12]
    # A window longer than its last request still gets its empty bins.
    assert error_share_per_bin(points, 1.0, length_s=4.0) == [0.5, 0.0, None, None]


def test_bin_width_keeps_a_few_requests_per_bin_and_few_bins() -> None:
    assert bin_width(1.5, 30) == 0.25  # 20 requests/s: 5 per quarter second
    assert bin_width(10, 50) == 1  # 5 requests/s
    assert bin_width(600, 6000) == 15  # at most 40 bins
    assert bin_width(0, 0) == 1


def test_sparkline_shares_a_scale_and_never_hides_a_small_value() -> None:
    assert sparkline([0, 0.01, 0.5, 1, None], 1.0) == "▁▂▅█ "
    assert sparkline([2500, 10], 2500) == "█▂"
    assert sparkline([], 1.0) == ""


def test_outcome_order_and_colours_are_stable() -> None:
    assert outcome_order(["timeout", "500", "200", "zzz", "503", "connection"]) == [
        "200",
        "500",
        "503",
        "timeout",
        "connection",
        "zzz",
    ]
    colours = palette(["500", "200", "503", "timeout"])
    assert colours == palette(["timeout", "503", "200", "500"])
    assert colours["200"] == "#2e7d32" and colours["500"] == "#c62828"
    assert colours["503"] != colours["500"]
    assert len(set(colours.values())) == 4


def test_values_read_as_phrases() -> None:
    assert policy_text(None) == "none"
    assert (
        policy_text(
            {
                "max_retries": 1,
                "per_retry_timeout_ms": 2000,
                "http_retry_events": ["server-error"],
                "tcp_retry_events": ["connection-error"],
            }
        )
        == "1 retry, 2000 ms per try, on server-error, connection-error"
    )
    assert tolerance_text(200) == "200"
    assert tolerance_text("ok") == '"ok"'
    assert tolerance_text([200, 201, 202]) == "[200, 201, 202]"
    assert (
        tolerance_text({"type": "range", "range": [0, 500], "target": "p99_ms"})
        == "p99_ms in [0, 500]"
    )
    assert tolerance_text({"type": "regex", "pattern": "^ok", "target": "body"}) == (
        "body matches /^ok/"
    )
    assert output_summary({"status": 503, "headers": {}, "body": "down"}) == (
        "HTTP 503: down"
    )
    assert output_summary({"status": 0, "stdout": "fine\n", "stderr": ""}) == (
        "exit 0: fine"
    )


def test_error_line_is_the_exception_without_module_noise() -> None:
    record = {
        "exception": [
            "Traceback (most recent call last):\n",
            '  File "x.py", line 1, in f\n',
            "chaoslib.exceptions.ActivityFailed: "
            "chaoslib.exceptions.ActivityFailed: engine 'x' not found\n",
        ]
    }
    assert error_line(record) == "ActivityFailed: engine 'x' not found"
    assert error_line({"exception": None}) == ""
    assert error_line({"exception": "KeyError: 'a'"}) == "KeyError: 'a'"


def test_placeholders_take_configuration_values_and_say_when_defaulted() -> None:
    from chaoslitmus.report._config import Placeholders

    placeholders = Placeholders.of(
        {
            "configuration": {
                "ns": "bookinfo",
                "latency_ms": {"type": "env", "key": "LATENCY_MS", "default": 3000},
                "token": {"type": "env", "key": "TOKEN"},
            }
        }
    )
    assert placeholders.fill({"ns": "${ns}", "where": "in ${ns}/x"}) == {
        "ns": "bookinfo",
        "where": "in bookinfo/x",
    }
    assert placeholders.used_defaults == set()
    assert placeholders.fill(["${latency_ms}", "${token}", "${nope}"]) == [
        3000,
        "${token}",
        "${nope}",
    ]
    assert placeholders.used_defaults == {"latency_ms"}
