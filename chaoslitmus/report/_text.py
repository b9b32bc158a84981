"""Journal values as the short phrases a reader sees (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaoslitmus.report._format import fmt_ms, fmt_pct
from chaoslitmus.report._read import as_dict, as_float, as_int, as_list, as_str, compact
from chaoslitmus.report.types import Traffic

__all__ = ["output_summary", "policy_text", "tolerance_text", "traffic_figures"]


def policy_text(policy: Any) -> str:
    """A retry policy (chaoslitmus vocabulary) as one short phrase."""
    if policy is None:
        return "none"
    data = as_dict(policy)
    if not data:
        return compact(policy, 80) or "none"
    parts = []
    retries = as_int(data.get("max_retries"))
    if retries is not None:
        parts.append(f"{retries} {'retry' if retries == 1 else 'retries'}")
    per_try = as_float(data.get("per_retry_timeout_ms"))
    if per_try is not None:
        parts.append(f"{per_try:g} ms per try")
    events = [
        as_str(e)
        for key in (
            "http_retry_events",
            "tcp_retry_events",
            "grpc_retry_events",
            "other_events",
        )
        for e in as_list(data.get(key))
    ]
    if events:
        parts.append("on " + ", ".join(e for e in events if e))
    return ", ".join(parts) or "empty policy"


def tolerance_text(tolerance: Any) -> str:
    """A hypothesis tolerance as a reader would say it."""
    if tolerance is None:
        return ""
    if isinstance(tolerance, str):
        return f'"{tolerance}"'
    if not isinstance(tolerance, dict):
        return compact(tolerance, 80)
    kind = as_str(tolerance.get("type"))
    target = as_str(tolerance.get("target"))
    prefix = f"{target} " if target else ""
    if kind == "range":
        return f"{prefix}in {compact(tolerance.get('range'), 40)}"
    if kind == "regex":
        return f"{prefix}matches /{as_str(tolerance.get('pattern'))}/"
    if kind == "jsonpath":
        text = f"{prefix}{as_str(tolerance.get('path'))}"
        if "expect" in tolerance:
            text += f" == {compact(tolerance.get('expect'), 30)}"
        return text
    if kind == "probe":
        provider = as_dict(tolerance.get("provider"))
        func = as_str(provider.get("func")) or as_str(tolerance.get("name"), "probe")
        arguments = as_dict(provider.get("arguments"))
        args = ", ".join(
            f"{k}={compact(v, 20)}" for k, v in arguments.items() if k != "value"
        )
        return f"{func}({args})"
    return compact(tolerance, 80)


def traffic_figures(traffic: Traffic) -> str:
    """The key figures of a traffic window in one line."""
    text = f"{traffic.total} requests, {fmt_pct(traffic.error_rate)} errors"
    for key in ("p50", "p99"):
        if key in traffic.latency_ms:
            text += f", {key} {fmt_ms(traffic.latency_ms[key])}"
    return text


def output_summary(output: Any, limit: int = 100) -> str:
    """Any activity output in one line; Chaos Toolkit's http/process ones read."""
    if isinstance(output, Mapping):
        status = output.get("status")
        if "headers" in output and isinstance(status, int):  # http provider
            body = compact(output.get("body"), 40)
            return f"HTTP {status}" + (f": {body}" if body else "")
        if "stdout" in output and isinstance(status, int):  # process provider
            stdout = compact(output.get("stdout"), 40)
            return f"exit {status}" + (f": {stdout}" if stdout else "")
    return compact(output, limit)
