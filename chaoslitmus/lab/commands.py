"""`chaoslitmus lab up`, `chaoslitmus lab run -- CMD...` and `lab reset`.

`up` keeps a lab running for kubectl and manual runs until Ctrl-C/SIGTERM.
`run` starts a lab, runs CMD with the lab's variables exported (see
`env.py`), forwards SIGINT/SIGTERM to it, stops the lab and exits with CMD's
code. `reset` asks a running lab to put its world back as seeded. CMD runs
in its own process group so a Ctrl-C reaches it exactly once
(through us), never twice: a second SIGINT would cut Chaos Toolkit's
rollbacks short.

What happens in the lab (engines, faults, mesh reloads) is logged to stderr
by the `chaoslitmus.lab` logger; stdout is left to `up`'s exports and to CMD.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from chaoslitmus.lab import env as lab_env
from chaoslitmus.lab.options import LabError, LabOptions

if TYPE_CHECKING:
    from chaoslitmus.lab.lab import Lab

__all__ = ["run_lab_command"]

log = logging.getLogger("chaoslitmus.lab")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _options(args: argparse.Namespace) -> LabOptions:
    return LabOptions(
        mesh=args.mesh,
        appmesh_api=args.appmesh_api,
        ratings_replicas=args.ratings_replicas,
        reviews_timeout_ms=args.reviews_timeout_ms,
        reviews_port=args.reviews_port,
        litmus_startup_s=args.litmus_startup_s,
        pod_start_s=args.pod_start_s,
        litmus_inject_delay_s=args.litmus_inject_delay_s,
        mesh_propagation_ms=args.mesh_propagation_ms,
        retry_host_predicate=args.retry_host_predicate,
        appmesh_discovery=args.appmesh_discovery,
        istio_lb=args.istio_lb,
        reviews_on_ratings_error=args.reviews_on_ratings_error,
        netem_connection_setup=args.netem_connection_setup,
        max_requests_per_connection=args.max_requests_per_connection,
        seed=args.seed,
        kubeconfig=args.kubeconfig,
        gateway_api_channel=args.gateway_api_channel,
        gateway_api_implementation=args.gateway_api_implementation,
        force_kubeconfig=args.force,
    )


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s.%(msecs)03d lab: %(message)s", "%H:%M:%S")
    )
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


# What the `lab` extra brings that the lab's servers import.
LAB_EXTRA_MODULES = frozenset({"aiohttp", "jsonschema"})
LAB_EXTRA_MISSING = (
    "chaoslitmus lab: the lab needs the 'lab' extra: "
    'pip install "chaostoolkit-litmus[lab]"'
)


def _missing_extra(exc: ModuleNotFoundError) -> bool:
    return (exc.name or "").partition(".")[0] in LAB_EXTRA_MODULES


def _fail(message: str, code: int = 2) -> int:
    print(f"chaoslitmus: error: {message}", file=sys.stderr)
    return code


def _reset(args: argparse.Namespace) -> int:
    """POST the running lab's reset action (no lab extra needed here)."""
    api = args.api or os.environ.get(lab_env.CHAOSLITMUS_LAB_API)
    if not api:
        return _fail(
            "lab reset needs a running lab: run `chaoslitmus lab up` and export "
            f"its variables, or pass --api URL (${lab_env.CHAOSLITMUS_LAB_API})"
        )
    request = urllib.request.Request(f"{api.rstrip('/')}/lab/reset", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            done = json.loads(response.read())
    except (OSError, ValueError) as exc:
        return _fail(f"lab reset: cannot reach the lab at {api}: {exc}", 1)
    for verb in ("deleted", "restored", "created"):
        names = done.get(verb) or []
        print(f"{verb}: {', '.join(names) if names else 'nothing'}")
    return 0


def run_lab_command(args: argparse.Namespace) -> int:
    """Run `lab up`, `lab run` or `lab reset`; returns the process exit code."""
    if args.lab_command == "reset":
        return _reset(args)
    if args.lab_command == "run":
        command = list(args.cmd)
        if command[:1] == ["--"]:
            command = command[1:]
        if not command:
            return _fail("lab run needs a command: chaoslitmus lab run -- CMD [ARG...]")
    try:
        options = _options(args)
    except LabError as exc:
        return _fail(str(exc))
    try:  # servers, loops: only once options are good
        from chaoslitmus.lab.lab import Lab
    except ModuleNotFoundError as exc:
        if not _missing_extra(exc):
            raise
        print(LAB_EXTRA_MISSING, file=sys.stderr)
        return 2
    _setup_logging()
    lab = Lab(options)
    try:
        lab.start()
    except (LabError, RuntimeError) as exc:  # start() cleaned up after itself
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    try:
        if args.lab_command == "up":
            return _up(lab)
        return _run(lab, command)
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were set
        return 128 + signal.SIGINT
    finally:
        lab.stop()
        log.info("lab stopped")


def _exported(lab: Lab) -> dict[str, str]:
    return {**lab.env(), **lab_env.with_no_proxy(os.environ)}


def _up(lab: Lab) -> int:
    options = lab.options
    mesh = {
        "istio": "Istio",
        "gateway-api": f"Gateway API HTTPRoute ({options.gateway_api_channel} "
        f"CRD, {options.gateway_api_implementation})",
        "linkerd": "Linkerd",
    }.get(options.mesh, f"App Mesh {options.appmesh_api}")
    lines = [
        f"# chaoslitmus lab: {mesh}, {options.ratings_replicas} ratings replicas, "
        f"ready in {lab.ready_s or 0:.2f}s",
        f"# {options.data_plane_model()} (seed {options.seed})",
        f"# kubeconfig: {lab.kubeconfig}",
    ]
    if lab.port_note:
        lines.append(f"# note: {lab.port_note}")
    lines.append("# endpoints:")
    endpoints = lab.endpoints()
    width = max(len(name) for name in endpoints)
    lines += [f"#   {name:<{width}}  {url}" for name, url in endpoints.items()]
    lines += [
        f"export {key}={shlex.quote(value)}" for key, value in _exported(lab).items()
    ]
    lines.append("# Ctrl-C (or SIGTERM) stops the lab")
    print("\n".join(lines), flush=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in _SIGNALS}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopping the lab")
    return 0


def _run(lab: Lab, command: Sequence[str]) -> int:
    environ = {**os.environ, **_exported(lab)}
    log.info(
        "running %s with REVIEWS_URL=%s KUBECONFIG=%s",
        shlex.join(command),
        environ[lab_env.REVIEWS_URL],
        environ[lab_env.KUBECONFIG],
    )
    group = (
        {"process_group": 0}
        if sys.version_info >= (3, 11)
        else {"start_new_session": True}
    )
    # Handlers go in before the child exists, so a signal in between is not
    # lost: it is forwarded as soon as there is a child to receive it.
    child: subprocess.Popen | None = None
    pending: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if child is None:
            pending.append(signum)
        elif child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in _SIGNALS}
    try:
        try:
            child = subprocess.Popen(list(command), env=environ, **group)  # type: ignore[call-overload]
        except OSError as exc:
            return _fail(f"cannot run {command[0]!r}: {exc.strerror or exc}", 127)
        for signum in pending:
            child.send_signal(signum)
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("%s exited with %d", command[0], code)
    return code if code >= 0 else 128 - code
