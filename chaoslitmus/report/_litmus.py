"""Litmus activity outputs -> one Fault per engine, launch to verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaoslitmus.report._activity import activity_func, arguments_of
from chaoslitmus.report._read import (
    as_dict,
    as_float,
    as_list,
    as_str,
    compact,
    error_line,
    parse_time,
)
from chaoslitmus.report.types import Fault

__all__ = [
    "LITMUS_FUNCS",
    "is_litmus_outcome",
    "litmus_outcomes",
    "litmus_summary",
    "merge_faults",
]

LITMUS_FUNCS = frozenset(
    {
        "run_experiment",
        "inject_network_latency",
        "create_engine_from_manifest",
        "wait_for_result",
        "wait_for_chaos_started",
    }
)


def is_litmus_outcome(output: Any) -> bool:
    """Shaped like chaoslitmus.litmus's run outcome (engine name and a state)."""
    return (
        isinstance(output, Mapping)
        and isinstance(output.get("engine_name"), str)
        and ("verdict" in output or "phase" in output)
    )


def litmus_summary(output: Mapping[str, Any]) -> str:
    """'engine x: Completed/Pass' for the method and rollback list."""
    phase = as_str(output.get("phase"))
    verdict = as_str(output.get("verdict"))
    state = "/".join(p for p in (phase, verdict) if p) or "no status"
    return f"engine {as_str(output.get('engine_name'))}: {state}"


def litmus_outcomes(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Litmus outcomes in a run record; a failed Litmus call gives a stub."""
    output = record.get("output")
    found = [as_dict(o) for o in (output if isinstance(output, list) else [output])]
    found = [o for o in found if is_litmus_outcome(o)]
    activity = as_dict(record.get("activity"))
    if not found and activity_func(activity) in LITMUS_FUNCS and error_line(record):
        arguments = arguments_of(activity)
        found = [
            {
                "engine_name": as_str(arguments.get("engine_name")),
                "namespace": as_str(arguments.get("namespace"))
                or as_str(arguments.get("app_namespace")),
                "error": error_line(record),
            }
        ]
    return found


def _asked_settings(parameters: Any) -> str:
    """What a launch asked for, as run_experiment reports it (values resolved)."""
    parameters = as_dict(parameters)
    env = as_dict(parameters.get("env"))
    if not env:
        return ""
    where = as_str(parameters.get("app_label"))
    if as_str(parameters.get("app_namespace")):
        where += f" in {as_str(parameters.get('app_namespace'))}"
    latency = as_str(env.get("NETWORK_LATENCY"))
    if not latency:
        details = ", ".join(f"{k}={compact(v, 20)}" for k, v in env.items())
        return " ".join(p for p in (f"on {where}" if where else "", details) if p)
    text = f"+{latency} ms"
    jitter = as_str(env.get("JITTER"))
    if jitter and jitter != "0":
        text += f" ±{jitter} ms"
    duration = as_str(env.get("TOTAL_CHAOS_DURATION"))
    if duration:
        text += f" for {duration} s"
    return f"{text} on {where}".strip()


def _launch_settings(activity: Mapping[str, Any]) -> str:
    """What a launch asked Litmus for, from the activity's arguments."""
    func = activity_func(activity)
    arguments = arguments_of(activity)
    where = as_str(arguments.get("app_label"))
    if as_str(arguments.get("app_namespace")):
        where += f" in {as_str(arguments.get('app_namespace'))}"
    if func == "inject_network_latency":
        latency = as_str(arguments.get("latency_ms"), "3000")
        jitter = as_str(arguments.get("jitter_ms"))
        duration = as_str(arguments.get("duration_s"), "30")
        text = f"+{latency} ms"
        if jitter and jitter != "0":
            text += f" ±{jitter} ms"
        return f"{text} for {duration} s on {where}".strip()
    if func == "run_experiment":
        env = as_dict(arguments.get("env"))
        details = ", ".join(f"{k}={compact(v, 20)}" for k, v in env.items())
        name = as_str(arguments.get("experiment_name"))
        return " ".join(p for p in (name, f"on {where}" if where else "", details) if p)
    if func == "create_engine_from_manifest":
        return f"from {as_str(arguments.get('path_or_url'))}"
    return ""


def _launch_experiment(activity: Mapping[str, Any]) -> str:
    """The Litmus experiment a launch asked for, known even when it failed."""
    func = activity_func(activity)
    if func == "inject_network_latency":
        return "pod-network-latency"
    if func == "run_experiment":
        arguments = arguments_of(activity)
        return as_str(arguments.get("experiment_name"))
    return ""


def _earliest(known: str, seen: str) -> str:
    """The earlier of two observed times: a wait that starts late (e.g. the
    rollback's wait_for_result) first sees an injection long after it began."""
    known_at, seen_at = parse_time(known), parse_time(seen)
    if seen_at is None:
        return known
    if known_at is None or seen_at < known_at:
        return seen
    return known


def merge_faults(
    outcomes: list[tuple[str, dict[str, Any], dict[str, Any]]],
) -> tuple[Fault, ...]:
    """One Fault per engine: launch, wait and verdict activities merged in order.

    A launch with wait=false says "Awaited"; the rollback's wait_for_result
    later says "Pass": the later, more final word wins, times span them all.
    """
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for activity_name, record, outcome in outcomes:
        engine = as_str(outcome.get("engine_name"))
        key = (as_str(outcome.get("namespace")), engine or activity_name)
        entry = merged.setdefault(
            key,
            {
                "activities": [],
                "starts": [],
                "ends": [],
                "durations": [],
                "pods": [],
                "faulted": [],
            },
        )
        entry["activities"].append(activity_name)
        activity = as_dict(record.get("activity"))
        settings = _asked_settings(outcome.get("parameters")) or _launch_settings(
            activity
        )
        if settings and not entry.get("settings"):
            entry["settings"] = settings
        if not entry.get("experiment"):
            entry["experiment"] = _launch_experiment(activity)
        for field_name in (
            "engine_name",
            "namespace",
            "experiment",
            "phase",
            "verdict",
            "probe_success_percentage",
            "failure_step",
            "error",
        ):
            value = as_str(outcome.get(field_name))
            if value:
                entry[field_name] = value
        entry["starts"].append(parse_time(outcome.get("started_at")))
        entry["ends"].append(parse_time(outcome.get("ended_at")))
        entry["durations"].append(as_float(outcome.get("duration_s")))
        entry["pods"].extend(as_str(p) for p in as_list(outcome.get("target_pods")))
        entry["faulted"].extend(as_str(p) for p in as_list(outcome.get("targets")))
        first_look = as_str(outcome.get("running_at"))
        for mark in ("injected_at", "reverted_at"):
            seen = as_str(outcome.get(mark))
            if first_look and seen == first_look:
                # Already so at the wait's first look (e.g. the rollback's
                # wait_for_result): when it happened is unknown, only "before".
                continue
            entry[mark] = _earliest(entry.get(mark, ""), seen)
    faults = []
    for entry in merged.values():
        starts = [t for t in entry["starts"] if t is not None]
        ends = [t for t in entry["ends"] if t is not None]
        start, end = (min(starts) if starts else None), (max(ends) if ends else None)
        if start is not None and end is not None and end >= start:
            duration = round((end - start).total_seconds(), 3)
        else:
            known = [d for d in entry["durations"] if d is not None]
            duration = max(known) if known else None
        faults.append(
            Fault(
                engine=entry.get("engine_name", ""),
                namespace=entry.get("namespace", ""),
                experiment=entry.get("experiment", ""),
                phase=entry.get("phase", ""),
                verdict=entry.get("verdict", ""),
                probe_success_percentage=entry.get("probe_success_percentage", ""),
                failure_step=entry.get("failure_step", ""),
                started_at=start.isoformat() if start else "",
                ended_at=end.isoformat() if end else "",
                duration_s=duration,
                settings=entry.get("settings", ""),
                target_pods=tuple(dict.fromkeys(p for p in entry["pods"] if p)),
                activities=tuple(entry["activities"]),
                error=entry.get("error", ""),
                faulted_pods=tuple(dict.fromkeys(p for p in entry["faulted"] if p)),
                injected_at=entry.get("injected_at", ""),
                reverted_at=entry.get("reverted_at", ""),
            )
        )
    return tuple(faults)
