"""Run the shipped experiments with `chaos run` on a lab, watching its faults.

The lab runs in this process and `chaos` in a child process (as a user runs
it); a thread polls the lab's data plane every 10 ms, so a test knows when a
fault was really on and off, to the clock the journal uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chaoslitmus.lab import Lab
from chaoslitmus.lab.bookinfo import world

from ..chaos_cli import chaos as run_chaos_cli

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
ENGINES = "litmuschaos.io/v1alpha1/chaosengines"
SHORT = {
    "FAULT_DURATION_S": "20",
    "HYPOTHESIS_WINDOW_S": "2",
    "FAULT_WINDOW_S": "10",
    "TRAFFIC_RATE_PER_S": "5",
    "CHAOS_START_TIMEOUT_S": "30",
    "RESULT_TIMEOUT_S": "60",
    "RECOVERY_WITHIN_S": "20",
}
MESH_OBJECTS = [
    ("appmesh.k8s.aws/v1beta2/virtualrouters", world.RATINGS_ROUTER),
    ("appmesh.k8s.aws/v1beta2/virtualservices", world.RATINGS_VIRTUAL_SERVICE),
]


@dataclass
class FaultWatch:
    """When the lab's data plane had a latency fault on (wall clock, UTC)."""

    lab: Lab
    on: list[datetime] = field(default_factory=list)
    off: list[datetime] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> FaultWatch:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _poll(self) -> None:
        active = False
        faults = self.lab.dataplane.faults
        while not self._stop.is_set():
            now_on = bool(faults.active())
            if now_on != active:
                (self.on if now_on else self.off).append(datetime.now(timezone.utc))
                active = now_on
            time.sleep(0.01)


def chaos(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return run_chaos_cli(args, env, cwd, timeout_s=240)


def with_guard(name: str, abort_when: dict[str, Any], folder: Path) -> Path:
    """The shipped experiment with an slo-guard control added, as a user would.

    The guard sends 4 req/s next to the experiment's 5: the lab's mesh
    balances round-robin over two ratings pods, and two senders at one rate
    lock in step, each meeting a single pod (one sees every error, the other
    none). Different rates interleave, so each sees both pods.
    """
    experiment = json.loads((EXPERIMENTS / name).read_text())
    experiment["controls"].append(
        {
            "name": "slo-guard",
            "provider": {
                "type": "python",
                "module": "chaoslitmus.controls.slo_guard",
                "arguments": {
                    "url": "${reviews_url}",
                    "abort_when": abort_when,
                    "rate_per_s": 4,
                    "engine_name": "${engine_name}",
                    "namespace": "${namespace}",
                },
            },
        }
    )
    path = folder / f"guarded-{name}"
    path.write_text(json.dumps(experiment, indent=2))
    return path


def run(
    lab: Lab, experiment: Path, folder: Path, extra: dict | None = None
) -> tuple[int, dict, subprocess.CompletedProcess]:
    env = {**os.environ, **lab.env(), **SHORT, **(extra or {})}
    journal = folder / f"{experiment.stem}.journal.json"
    done = chaos(["run", "--journal-path", str(journal), str(experiment)], env, folder)
    assert journal.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads(journal.read_text()), done


def engines(lab: Lab) -> list[str]:
    items, _ = lab.server.call(lab.server.store.list, ENGINES, world.NAMESPACE)
    return [e["metadata"]["name"] for e in items]


def mesh_snapshot(lab: Lab) -> str:
    store = lab.server.store
    objects = [
        lab.server.call(store.get, key, world.NAMESPACE, name)
        for key, name in MESH_OBJECTS
    ]
    return json.dumps(
        [
            {"spec": o["spec"], "annotations": o["metadata"].get("annotations")}
            for o in objects
        ],
        sort_keys=True,
    )


def record(journal: dict, name: str) -> dict:
    for entry in journal["run"] + journal["rollbacks"]:
        if entry["activity"]["name"] == name:
            return entry
    raise AssertionError(f"{name} not in the journal")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
