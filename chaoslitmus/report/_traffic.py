"""measure_endpoint outputs (or anything shaped like one) -> Traffic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaoslitmus.report._activity import arguments_of
from chaoslitmus.report._read import as_dict, as_float, as_int, as_list, as_str
from chaoslitmus.report.types import Sample, Traffic

__all__ = ["looks_like_traffic", "traffic_of"]


def looks_like_traffic(output: Any) -> bool:
    """A request count plus per-status counts or samples: a measurement."""
    if not isinstance(output, Mapping):
        return False
    has_counts = isinstance(output.get("statuses"), Mapping) or isinstance(
        output.get("samples"), list
    )
    return as_int(output.get("total")) is not None and has_counts


def traffic_of(record: Mapping[str, Any], phase: str) -> Traffic | None:
    """A measure_endpoint output (or anything shaped like one) as a Traffic."""
    output = record.get("output")
    if not looks_like_traffic(output):
        return None
    activity = as_dict(record.get("activity"))
    arguments = arguments_of(activity)
    total = as_int(output.get("total")) or 0
    statuses = {
        k: n for k, v in as_dict(output.get("statuses")).items() if (n := as_int(v))
    }
    errors = {
        k: n for k, v in as_dict(output.get("errors")).items() if (n := as_int(v))
    }
    failed = as_int(output.get("failed"))
    rate = as_float(output.get("error_rate"))
    if rate is None:
        rate = (failed or 0) / total if total else 0.0
    if failed is None:
        failed = round(rate * total)
    latency = {
        k: f
        for k, v in as_dict(output.get("latency_ms")).items()
        if (f := as_float(v)) is not None
    }
    for key in ("p50", "p90", "p95", "p99", "max", "mean"):
        flat = as_float(output.get(f"{key}_ms"))
        if key not in latency and flat is not None:
            latency[key] = flat
    ok = as_list(arguments.get("ok_statuses"))
    ok_statuses = tuple(c for c in (as_int(x) for x in ok) if c is not None)
    return Traffic(
        activity=as_str(activity.get("name"), "(unnamed)"),
        phase=phase,
        background=activity.get("background") is True,
        url=as_str(output.get("url")) or as_str(arguments.get("url")),
        method=as_str(output.get("method"), "GET"),
        started_at=as_str(output.get("started_at")),
        duration_s=as_float(output.get("duration_s")),
        total=total,
        failed=failed,
        error_rate=rate,
        statuses=statuses,
        errors=errors,
        latency_ms=latency,
        achieved_rate_per_s=as_float(output.get("achieved_rate_per_s")),
        ok_statuses=ok_statuses or None,
        samples=_samples(output.get("samples")),
    )


def _samples(raw: Any) -> tuple[Sample, ...]:
    samples = []
    for item in as_list(raw):
        item = as_list(item)
        if len(item) < 3:
            continue
        offset, latency = as_float(item[0]), as_float(item[2])
        outcome = item[1]
        if isinstance(outcome, bool) or offset is None or latency is None:
            continue
        if isinstance(outcome, int):
            outcome = str(outcome)
        if not isinstance(outcome, str) or not outcome:
            continue
        samples.append(Sample(offset, outcome, latency))
    return tuple(samples)
