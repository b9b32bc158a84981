"""Which policy to use, from a sweep's cells. Pure functions.

The recommendation is the cheapest policy (fewest attempts per request, then
lowest worst p99) that met the SLO in every fault of the grid. A pass is
"by luck" when the callers never met the fault: the retry counters show no
rescue and the p99 stayed below the injected latency, so no request reached
the slow pod (or the fault was not on): the policy was never tested there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["judge_cell", "policy_key", "recommend"]


def policy_key(policy: Mapping[str, Any]) -> tuple:
    return (
        policy["max_retries"],
        policy["per_retry_timeout_ms"],
        tuple(policy.get("http_retry_events") or ()),
    )


def fault_key(fault: Mapping[str, Any]) -> tuple:
    return (fault["latency_ms"], fault["pods_affected_perc"])


def judge_cell(
    traffic: Mapping[str, Any], slo_error_ratio: float, slo_p99_ms: float
) -> dict[str, Any]:
    """Whether callers stayed inside the SLO, and if not, why (one line)."""
    ratio = traffic.get("error_ratio")
    p99 = traffic.get("p99_ms")
    if not traffic.get("total") or ratio is None or p99 is None:
        return {"meets_slo": False, "why": "no traffic was measured"}
    reasons = []
    if ratio > slo_error_ratio:
        reasons.append(f"error ratio {ratio:.3f} > {slo_error_ratio:g}")
    if p99 > slo_p99_ms:
        reasons.append(f"p99 {p99:g} ms > {slo_p99_ms:g} ms")
    return {"meets_slo": not reasons, "why": "; ".join(reasons) or "within the SLO"}


def recommend(
    cells: Sequence[Mapping[str, Any]],
    faults: Sequence[Mapping[str, Any]],
    policies: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The recommendation over the finished cells (`cells` may be partial)."""
    by_cell = {(fault_key(c["fault"]), policy_key(c["policy"])): c for c in cells}
    fault_keys = [fault_key(f) for f in faults]
    labels = {fault_key(f): _fault_label(f) for f in faults}
    broken = {
        fk
        for fk in fault_keys
        if any(not c["meets_slo"] for (f, _), c in by_cell.items() if f == fk)
    }
    summaries = []
    for policy in policies:
        mine = [by_cell.get((fk, policy_key(policy))) for fk in fault_keys]
        summaries.append(_summary(policy, mine, fault_keys, labels))
    complete = all(s["measured_faults"] == len(fault_keys) for s in summaries)
    winners = [s for s in summaries if s["meets_slo_everywhere"]]
    winners.sort(key=_cost)
    lucky = [s for s in summaries if s["lucky_faults"]]
    out: dict[str, Any] = {
        "complete": complete,
        "recommended": None,
        "policies": summaries,
        "lucky": [
            {
                "policy": s["policy"],
                "label": s["label"],
                "faults": s["lucky_faults"],
                "sentence": (
                    f"{s['label']} met the SLO under "
                    f"{', '.join(s['lucky_faults'])} without a rescued retry or a "
                    "slow answer: the callers never met the fault, so it is safe "
                    "there by luck, not by its retries"
                ),
            }
            for s in lucky
        ],
        "breaking_faults": [],
    }
    if winners:
        best = winners[0]
        out["recommended"] = best
        cost = best["attempts_per_request"]
        retries = best["policy"]["max_retries"]
        out["sentence"] = (
            f"Use {best['label']} ({retries} {'retry' if retries == 1 else 'retries'}, "
            f"{best['policy']['per_retry_timeout_ms']} ms per try): it met the SLO "
            f"in every fault of the grid"
            + (f" at {cost:.2f} attempts per request" if cost is not None else "")
            + f", worst p99 {best['worst_p99_ms']:.0f} ms."
        )
        if best["lucky_faults"]:
            out["sentence"] += " Beware: " + out["lucky"][0]["sentence"] + "."
    else:
        killers = [
            labels[fk]
            for fk in fault_keys
            if fk in broken
            and all(
                (c := by_cell.get((fk, policy_key(p)))) is not None
                and not c["meets_slo"]
                for p in policies
            )
        ]
        out["breaking_faults"] = killers
        if not summaries:
            out["sentence"] = "No policy was run: every policy was pruned."
        elif killers:
            out["sentence"] = (
                "No policy met the SLO in every fault: "
                f"{', '.join(killers)} broke every policy of the grid."
            )
        else:
            out["sentence"] = (
                "No policy met the SLO in every fault; each fault has a policy "
                "that holds, but no single policy holds in all of them."
            )
    if not complete:
        out["sentence"] += " (The sweep is incomplete: only policies measured "
        out["sentence"] += "under every fault can be recommended.)"
    return out


def _summary(
    policy: Mapping[str, Any],
    mine: Sequence[Mapping[str, Any] | None],
    fault_keys: Sequence[tuple],
    labels: Mapping[tuple, str],
) -> dict[str, Any]:
    done = [c for c in mine if c is not None]
    attempts = [_attempts(c) for c in done]
    known = [a for a in attempts if a is not None]
    p99s = [
        c["traffic"]["p99_ms"] for c in done if c["traffic"].get("p99_ms") is not None
    ]
    lucky = [
        labels[fk]
        for fk, c in zip(fault_keys, mine, strict=True)
        if c is not None
        and c["meets_slo"]
        and _rescued(c) == 0
        and (c["traffic"].get("p99_ms") or 0) < c["fault"]["latency_ms"]
    ]
    return {
        "policy": dict(policy),
        "label": f"{policy['max_retries']} x {policy['per_retry_timeout_ms']} ms",
        "measured_faults": len(done),
        "meets_slo_everywhere": len(done) == len(fault_keys)
        and all(c["meets_slo"] for c in done),
        "failed_faults": [
            labels[fault_key(c["fault"])] for c in done if not c["meets_slo"]
        ],
        "attempts_per_request": round(sum(known) / len(known), 3) if known else None,
        "worst_p99_ms": max(p99s) if p99s else None,
        "lucky_faults": lucky,
    }


def _cost(summary: Mapping[str, Any]) -> tuple:
    attempts = summary["attempts_per_request"]
    return (
        attempts is None,  # unmeasured cost sorts last
        attempts if attempts is not None else 0,
        summary["worst_p99_ms"] if summary["worst_p99_ms"] is not None else 0,
        summary["policy"]["max_retries"],
        summary["policy"]["per_retry_timeout_ms"],
    )


def _attempts(cell: Mapping[str, Any]) -> float | None:
    retries = cell.get("retries") or {}
    value = retries.get("attempts_per_request")
    return float(value) if isinstance(value, (int, float)) else None


def _rescued(cell: Mapping[str, Any]) -> int | None:
    retries = cell.get("retries") or {}
    value = retries.get("rescued")
    return int(value) if isinstance(value, (int, float)) else None


def _fault_label(fault: Mapping[str, Any]) -> str:
    return f"{fault['latency_ms']} ms on {fault['pods_affected_perc']}% of pods"
