"""Evidence figures a journal holds: how long the policy took to reach the
proxies, what the retries did (Envoy's counters) and the retry budget."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chaoslitmus.report._activity import activity_func
from chaoslitmus.report._read import as_dict, as_float, as_str
from chaoslitmus.report.types import RetryEvidence

__all__ = ["retry_evidence"]


def retry_evidence(records: Iterable[Mapping[str, Any]]) -> RetryEvidence | None:
    """From the method's records: the first policy wait, the retry stats over
    the fault window and the budget in set_retry_policy's output."""
    propagation = attempts = None
    retries = rescued = None
    budget = ""
    for record in records:
        if as_str(record.get("status")) != "succeeded":
            continue
        func = activity_func(as_dict(record.get("activity")))
        output = as_dict(record.get("output"))
        if func == "wait_for_retry_policy_applied" and propagation is None:
            propagation = as_float(output.get("propagation_s"))
        elif func == "retry_stats_during" and retries is None:
            attempts = as_float(output.get("attempts_per_request"))
            retries = _int(output.get("upstream_rq_retry"))
            rescued = _int(output.get("rescued"))
        elif func == "set_retry_policy" and not budget:
            budget = as_str(as_dict(output.get("budget")).get("sentence"))
    if propagation is None and retries is None and not budget:
        return None
    return RetryEvidence(
        propagation_s=propagation,
        retries=retries,
        rescued=rescued,
        attempts_per_request=attempts,
        budget=budget,
    )


def _int(value: Any) -> int | None:
    number = as_float(value)
    return None if number is None else int(number)
