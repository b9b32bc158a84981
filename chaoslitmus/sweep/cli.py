"""`chaoslitmus sweep`: flags, plan file and environment to a Plan; run; report.

Precedence: flags, then the plan file, then the variables `chaoslitmus lab
run` exports (the same ones the experiments read), then the defaults.
Exit codes: 0 the sweep ran every cell, 1 it stopped on an error (or no
policy could be exported), 2 bad input, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from chaoslitmus.sweep.plan import PlanError, cells_of, plan_from_mapping, prune

__all__ = ["plan_values", "run_sweep"]

_PROG = "chaoslitmus sweep"
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

# plan key -> the environment variable that gives its default
_ENV = {
    "url": "REVIEWS_URL",
    "caller_timeout_ms": "REVIEWS_TIMEOUT_MS",
    "namespace": "CHAOSLITMUS_NAMESPACE",
    "mesh": "CHAOSLITMUS_MESH",
    "mesh_object": "CHAOSLITMUS_MESH_OBJECT",
    "mesh_api_version": "CHAOSLITMUS_MESH_API_VERSION",
    "app_label": "CHAOSLITMUS_RATINGS_LABEL",
    "caller_label": "CHAOSLITMUS_REVIEWS_LABEL",
    "upstream_cluster": "CHAOSLITMUS_UPSTREAM_CLUSTER",
    "engine_name": "CHAOSLITMUS_ENGINE_NAME",
    "degraded_marker": "REVIEWS_DEGRADED_MARKER",
}
_FLAG_KEYS = (
    "latency_ms",
    "pods_affected_perc",
    "max_retries",
    "per_try_ms",
    "caller_timeout_ms",
    "slo_error_ratio",
    "slo_p99_ms",
    "fault_s",
    "rate_per_s",
    "settle_timeout_s",
    "url",
    "namespace",
    "mesh",
    "mesh_object",
    "mesh_api_version",
    "app_label",
    "caller_label",
    "upstream_cluster",
    "engine_name",
)


def plan_values(
    flags: Mapping[str, Any], from_file: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, Any]:
    """The plan's values by precedence: flags, plan file, environment, defaults."""
    values: dict[str, Any] = {"caller_timeout_ms": 2500}
    values.update({k: environ[v] for k, v in _ENV.items() if environ.get(v)})
    values.update(from_file)
    values.update({k: v for k, v in flags.items() if v is not None})
    mesh = values.get("mesh", "appmesh")
    if "mesh_object" not in values and mesh != "appmesh":
        values["mesh_object"] = "ratings"  # the Service / VirtualService name
    return values


def _load_plan_file(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            from chaoslitmus._yaml import safe_load

            data = safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse error: one line
        raise PlanError(f"{path}: not a JSON/YAML plan ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise PlanError(f"{path}: a plan is a mapping of keys to values")
    return {k.replace("-", "_"): v for k, v in data.items()}


def run_sweep(
    args: argparse.Namespace, stderr: TextIO | None = None, environ=None
) -> int:
    err = stderr or sys.stderr
    environ = os.environ if environ is None else environ
    flags = {key: getattr(args, key, None) for key in _FLAG_KEYS}
    if getattr(args, "retry_events", None):
        flags["http_retry_events"] = args.retry_events
    try:
        from_file = _load_plan_file(args.plan) if args.plan else {}
        plan = plan_from_mapping(plan_values(flags, from_file, environ))
        folder = Path(args.output).parent
        if args.output != "-" and not (folder if str(folder) else Path(".")).is_dir():
            raise PlanError(f"{args.output}: folder {folder} does not exist")
    except PlanError as exc:
        print(f"{_PROG}: {exc}", file=err)
        return EXIT_BAD_INPUT
    policies, pruned = prune(plan)
    if args.dry_run:
        for entry in pruned:
            print(f"pruned {entry['label']}: {entry['reason']}", file=err)
        cells = cells_of(plan, policies)
        for cell in cells:
            print(
                f"cell {cell.index + 1}: {cell.policy.label} under {cell.fault.label}",
                file=err,
            )
        print(
            f"{_PROG}: {len(cells)} cell(s) of {plan.fault_s:g} s; nothing run",
            file=err,
        )
        return EXIT_OK
    from chaoslitmus.sweep.runner import run_sweep_plan

    document = run_sweep_plan(
        plan,
        args.output,
        progress=err,
        say=lambda line: print(f"{_PROG}: {line}", file=err),
    )
    recommendation = document["recommendation"]
    print(f"{_PROG}: {recommendation['sentence']}", file=err)
    for lucky in recommendation["lucky"]:
        print(f"{_PROG}: {lucky['sentence']}", file=err)
    timing = document["timing"]
    print(
        f"{_PROG}: wrote {args.output} ({timing['cells_done']} of "
        f"{timing['cells_planned']} cells, {timing['wall_s']:g} s for "
        f"{timing['fault_windows_s']:g} s of fault windows)",
        file=err,
    )
    code = {"complete": EXIT_OK, "interrupted": EXIT_INTERRUPTED}.get(
        document["status"], EXIT_FAILED
    )
    if args.emit_experiment_vars and code == EXIT_OK:
        code = _emit(document, args.emit_experiment_vars, err)
    return code


def _emit(document: Mapping[str, Any], path: str, err: TextIO) -> int:
    from chaoslitmus.sweep.experiment_vars import experiment_vars

    variables = experiment_vars(document)
    if variables is None:
        print(f"{_PROG}: no policy to export to {path}: none met the SLO", file=err)
        return EXIT_FAILED
    Path(path).write_text(json.dumps(variables, indent=2) + "\n", encoding="utf-8")
    print(f"{_PROG}: wrote {path} (chaos run --var-file {path} ...)", file=err)
    return EXIT_OK


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
