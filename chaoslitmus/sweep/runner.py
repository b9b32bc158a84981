"""Run a sweep's cells on the cluster, one at a time, every change rolled back.

Each cell runs the experiments' own activities: inject_network_latency
(wait=False), set_retry_policy and wait_for_retry_policy_applied while
Litmus starts its pods, wait_for_chaos_started, measure_endpoint and
retry_stats_during over the same window (two threads), then side by side
stop_engine + wait_for_chaos_reverted + delete_engine and
restore_retry_policy + the wait for the original policy. The output file is
rewritten after every cell, so an interrupted sweep keeps the cells it
finished. Ctrl-C stops the fault, restores the policy (a second Ctrl-C
during that rollback is ignored) and exits 130.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from chaoslitmus.sweep.plan import Cell, Plan, Policy, cells_of, prune
from chaoslitmus.sweep.recommend import judge_cell, recommend

__all__ = ["SWEEP_KIND", "SweepAborted", "run_sweep_plan", "sweep_document"]

SWEEP_KIND = "chaoslitmus-sweep"
# Meshes whose data plane is Envoy: retry_stats can read their counters.
ENVOY_MESHES = ("appmesh", "istio")
# Traffic keeps going this long after the fault window while its tail answers.
_TRAFFIC_TIMEOUT_S = 5.0
# The engine's fault lasts this much longer than the window it must cover.
_FAULT_MARGIN_S = 10.0


class SweepAborted(Exception):
    """A cell failed in a way the sweep cannot go on from (message: one line)."""


def sweep_document(
    plan: Plan,
    policies: list[Policy],
    pruned: list[dict[str, Any]],
    cells: list[dict[str, Any]],
    status: str,
    started: float,
) -> dict[str, Any]:
    """The JSON the sweep writes (and `chaoslitmus report` reads)."""
    faults = [
        {"latency_ms": f.latency_ms, "pods_affected_perc": f.pods_affected_perc}
        for f in plan.faults()
    ]
    run = [p.arguments() for p in policies]
    return {
        "kind": SWEEP_KIND,
        "version": 1,
        "status": status,
        "plan": plan.as_dict(),
        "faults": faults,
        "policies": run,
        "pruned": pruned,
        "cells": cells,
        "recommendation": recommend(cells, faults, run),
        "timing": {
            "wall_s": round(time.time() - started, 2),
            "fault_windows_s": round(len(cells) * plan.fault_s, 2),
            "cells_done": len(cells),
            "cells_planned": len(faults) * len(run),
        },
    }


def run_sweep_plan(
    plan: Plan,
    output: str,
    progress: TextIO | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every cell; returns the final document (also written to `output`)."""
    say = say or (lambda line: print(line, file=sys.stderr))
    policies, pruned = prune(plan)
    for entry in pruned:
        say(f"pruned {entry['label']}: {entry['reason']}")
    cells = cells_of(plan, policies)
    started = time.time()
    done: list[dict[str, Any]] = []
    status = "running"
    _write(output, sweep_document(plan, policies, pruned, done, status, started))
    meter = _Progress(len(cells), plan.fault_s, progress)
    try:
        for cell in cells:
            meter.show(cell.index, cell)
            done.append(_run_cell(plan, cell))
            _write(
                output, sweep_document(plan, policies, pruned, done, status, started)
            )
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        say(f"interrupted: kept {len(done)} finished cell(s) of {len(cells)}")
    except SweepAborted as exc:
        status = "failed"
        say(f"sweep stopped: {exc}")
    finally:
        meter.clear()
        document = sweep_document(plan, policies, pruned, done, status, started)
        _write(output, document)
    return document


def _run_cell(plan: Plan, cell: Cell) -> dict[str, Any]:
    """One fault under one policy, with its rollbacks always run."""
    from chaoslitmus.litmus import actions as litmus
    from chaoslitmus.mesh import actions as mesh

    target = plan.target
    where = _mesh_args(plan)
    began = time.time()
    record: dict[str, Any] = {
        "fault": {
            "latency_ms": cell.fault.latency_ms,
            "pods_affected_perc": cell.fault.pods_affected_perc,
        },
        "policy": cell.policy.arguments(),
        "started_at": _iso(began),
    }
    policy_set = engine_made = False
    try:
        try:
            # Flags first: an interrupt mid-request may still have changed the
            # cluster, and the rollbacks are harmless when nothing was changed.
            engine_made = policy_set = True
            # The engine first: Litmus' runner and helper take seconds to put
            # the fault on, and the policy reaches the proxies meanwhile. Both
            # waits end before the window opens; the engine lasts longer than
            # the window (_FAULT_MARGIN_S) and is stopped right after it.
            litmus.inject_network_latency(
                app_namespace=target.namespace,
                app_label=target.app_label,
                latency_ms=cell.fault.latency_ms,
                duration_s=int(math.ceil(plan.fault_s + _FAULT_MARGIN_S)),
                pods_affected_perc=cell.fault.pods_affected_perc,
                engine_name=target.engine_name,
                wait=False,
            )
            mesh.set_retry_policy(
                **where,
                **cell.policy.arguments(),
                caller_timeout_ms=int(plan.caller_timeout_ms),
            )
            applied = mesh.wait_for_retry_policy_applied(
                **_wait_args(plan),
                **cell.policy.arguments(),
                timeout_s=plan.settle_timeout_s,
            )
            record["propagation_s"] = applied.get("propagation_s")
            started = litmus.wait_for_chaos_started(
                target.engine_name, target.namespace, timeout_s=plan.settle_timeout_s
            )
            record["injected"] = {
                "targets": started.get("targets"),
                "inject_lag_s": started.get("inject_lag_s"),
            }
            record.update(_measure(plan))
        except Exception as exc:  # noqa: BLE001 - recorded, rolled back, raised
            raise SweepAborted(
                f"cell {cell.index + 1} ({cell.policy.label} under "
                f"{cell.fault.label}): {_line(exc)}"
            ) from None
    finally:
        with _ignoring_sigint():
            _roll_back(plan, policy_set, engine_made, record)
    record["wall_s"] = round(time.time() - began, 2)
    record.update(judge_cell(record["traffic"], plan.slo_error_ratio, plan.slo_p99_ms))
    return record


def _measure(plan: Plan) -> dict[str, Any]:
    """Callers' traffic and the callers' Envoy retry counters, same window."""
    from chaoslitmus.http.probes import measure_endpoint
    from chaoslitmus.mesh.probes import retry_stats_during

    target = plan.target
    results: dict[str, Any] = {}

    def traffic() -> None:
        results["traffic"] = measure_endpoint(
            target.url,
            duration_s=plan.fault_s,
            rate_per_s=plan.rate_per_s,
            timeout_s=_TRAFFIC_TIMEOUT_S,
            body_must_not_contain=target.degraded_marker or None,
        )

    def retries() -> None:
        results["retries"] = retry_stats_during(
            plan.fault_s,
            namespace=target.namespace,
            caller_label=target.caller_label,
            upstream=target.upstream_cluster,
            mesh=target.mesh,
        )

    jobs = [traffic]
    if target.mesh in ENVOY_MESHES:
        jobs.append(retries)
    else:
        results["retries"] = {
            "error": f"no Envoy retry counters for mesh {target.mesh}"
        }
    errors = _in_threads(jobs)
    if "traffic" not in results:
        raise errors.get("traffic") or RuntimeError("no traffic measured")
    if "retries" not in results:
        results["retries"] = {"error": _line(errors.get("retries"))}
    return {
        "traffic": _traffic_summary(results["traffic"]),
        "retries": _retry_summary(results["retries"]),
    }


def _in_threads(jobs: list[Callable[[], None]]) -> dict[str, BaseException]:
    """Run the jobs side by side; Ctrl-C in the main thread still interrupts."""
    errors: dict[str, BaseException] = {}

    def wrap(job: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - reported to the caller
                errors[job.__name__] = exc

        return run

    threads = [threading.Thread(target=wrap(j), daemon=True) for j in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # short joins: KeyboardInterrupt arrives here
    return errors


def _roll_back(plan: Plan, policy_set: bool, engine_made: bool, record: dict) -> None:
    """Stop, await the reversion of, and delete the engine; restore the policy
    and await it in the proxies. The two are independent objects, so they
    run side by side; both finish before the next cell."""
    from chaoslitmus.litmus import actions as litmus
    from chaoslitmus.mesh import actions as mesh

    target = plan.target
    problems: list[str] = []

    def engine() -> None:
        try:
            stopped = litmus.stop_engine(target.engine_name, target.namespace)
            if stopped.get("reason") == "not found":
                return  # never created (interrupted before the launch)
            try:
                reverted = litmus.wait_for_chaos_reverted(
                    target.engine_name,
                    target.namespace,
                    timeout_s=plan.settle_timeout_s,
                )
                record["reverted_at"] = reverted.get("reverted_at") or None
            except Exception as exc:  # noqa: BLE001 - the delete below still runs
                problems.append(f"revert: {_line(exc)}")
            litmus.delete_engine(target.engine_name, target.namespace)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"engine: {_line(exc)}")

    def policy() -> None:
        try:
            restored = mesh.restore_retry_policy(**_restore_args(plan))
            record["restore_drift"] = restored.get("drift")
            mesh.wait_for_retry_policy_applied(
                **_wait_args(plan), timeout_s=plan.settle_timeout_s
            )
        except Exception as exc:  # noqa: BLE001
            problems.append(f"restore: {_line(exc)}")

    jobs = ([engine] if engine_made else []) + ([policy] if policy_set else [])
    errors = _in_threads(jobs)
    problems += [f"{name}: {_line(exc)}" for name, exc in errors.items()]
    if problems:
        raise SweepAborted("rollback failed: " + "; ".join(problems))


@contextmanager
def _ignoring_sigint() -> Iterator[None]:
    """A rollback runs to its end: a second Ctrl-C must not leave a half-state."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _mesh_args(plan: Plan) -> dict[str, Any]:
    t = plan.target
    return {
        "name": t.mesh_object,
        "namespace": t.namespace,
        "mesh": t.mesh,
        "api_version": t.mesh_api_version,
    }


def _wait_args(plan: Plan) -> dict[str, Any]:
    return _mesh_args(plan)


def _restore_args(plan: Plan) -> dict[str, Any]:
    return _mesh_args(plan)


def _traffic_summary(result: dict[str, Any]) -> dict[str, Any]:
    latency = result.get("latency_ms") or {}
    return {
        "total": result.get("total"),
        "ok": result.get("ok"),
        "failed": result.get("failed"),
        "error_ratio": result.get("error_rate"),
        "p50_ms": latency.get("p50"),
        "p99_ms": latency.get("p99"),
        "max_ms": latency.get("max"),
        "statuses": result.get("statuses"),
        "errors": {k: v for k, v in (result.get("errors") or {}).items() if v},
    }


_RETRY_KEYS = (
    "requests",
    "attempts_per_request",
    "rescued",
    "upstream_rq_total",
    "upstream_rq_retry",
    "upstream_rq_retry_success",
    "upstream_rq_retry_limit_exceeded",
    "upstream_rq_per_try_timeout",
    "error",
)


def _retry_summary(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in _RETRY_KEYS if k in result}


def _line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _write(output: str, document: dict[str, Any]) -> None:
    """Write the file in one step (temporary file renamed into place)."""
    if output == "-":
        return
    target = Path(output)
    folder = target.parent if str(target.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(document, stream, indent=2)
        stream.write("\n")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, target)


class _Progress:
    """`cell i of n, ETA` on one terminal line (nothing when not a terminal)."""

    def __init__(self, total: int, fault_s: float, stream: TextIO | None) -> None:
        self.total = total
        self.guess_s = fault_s * 1.5
        self.stream = stream
        self.began = time.monotonic()
        self.live = bool(stream and getattr(stream, "isatty", lambda: False)())

    def show(self, index: int, cell: Cell) -> None:
        if not self.stream:
            return
        elapsed = time.monotonic() - self.began
        per_cell = elapsed / index if index else self.guess_s
        eta = per_cell * (self.total - index)
        line = (
            f"cell {index + 1} of {self.total}: {cell.policy.label} under "
            f"{cell.fault.label}; ETA {_duration(eta)}"
        )
        if self.live:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.live and self.stream:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
