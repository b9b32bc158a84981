"""The recommendation as variables of the retry experiment, pure.

experiments/ratings-latency-retry.json reads `max_retries`,
`per_retry_timeout_ms` and `http_retry_events` from its configuration, so
`chaos run --var-file vars.json experiments/ratings-latency-retry.json`
tests the recommended policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["experiment_vars"]


def experiment_vars(document: Mapping[str, Any]) -> dict[str, Any] | None:
    """`{"configuration": {...}}` for the recommended policy, or None."""
    recommended = (document.get("recommendation") or {}).get("recommended")
    if not recommended:
        return None
    policy = recommended["policy"]
    return {
        "configuration": {
            "max_retries": policy["max_retries"],
            "per_retry_timeout_ms": policy["per_retry_timeout_ms"],
            "http_retry_events": list(policy.get("http_retry_events") or []),
        }
    }
