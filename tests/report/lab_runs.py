"""Run the story experiments on the lab and write their journals.

Shared by the test fixtures (small scale) and ``make_example`` (full scale):
the lab's API emulator and Litmus operator on 127.0.0.1, the story server as
their data plane, and chaoslib running each experiment as `chaos run` does,
journals written with chaostoolkit's encoder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chaoslib.experiment import run_experiment
from chaoslib.log import encoder
from kubernetes.config import kube_config

from chaoslitmus.lab import (
    ControlPlane,
    LabOptions,
    write_kubeconfig,
)

from .experiments import Scale, broken_experiment, story_experiment
from .story import StoryServer


@dataclass(frozen=True)
class Journals:
    """Paths of the journals of one story session."""

    folder: Path
    no_retry: Path
    retry: Path
    broken: Path

    def load(self, path: Path) -> dict[str, Any]:
        return json.loads(path.read_text(encoding="utf-8"))


def write_journal(folder: Path, name: str, journal: dict[str, Any]) -> Path:
    path = folder / name
    with path.open("w", encoding="utf-8") as stream:
        json.dump(journal, stream, indent=2, ensure_ascii=False, default=encoder)
    return path


@contextmanager
def story_lab(folder: Path, story: StoryServer) -> Iterator[None]:
    """A fresh lab whose faults go to `story`, this process's kubeconfig
    pointing at it until the block ends."""
    options = LabOptions(litmus_startup_s=0.2, litmus_inject_delay_s=0.2)
    control = ControlPlane(options, fault_sink=story, operator_seed=7).start()
    server = control.server
    patch = pytest.MonkeyPatch()
    try:
        kubeconfig = write_kubeconfig(folder / "kubeconfig", server.url)
        patch.setenv("KUBECONFIG", str(kubeconfig))
        patch.delenv("KUBERNETES_CONTEXT", raising=False)
        # chaosk8s' probes load the kubeconfig path the kubernetes package read
        # at import (a real `chaos run` sets KUBECONFIG before it starts).
        patch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
        yield
    finally:
        patch.undo()
        server.stop()


def run_story(folder: Path, story: StoryServer, scale: Scale) -> Journals:
    """Both story experiments and the broken one, on a fresh lab."""
    with story_lab(folder, story):
        story.retries = False
        no_retry = run_experiment(
            story_experiment(story.url, False, "latency-a", scale)
        )
        story.retries = True
        retry = run_experiment(story_experiment(story.url, True, "latency-b", scale))
        story.retries = False
        broken = run_experiment(broken_experiment(story.base, "latency-c", scale))
    return Journals(
        folder=folder,
        no_retry=write_journal(folder, "ratings-latency.journal.json", no_retry),
        retry=write_journal(folder, "ratings-latency-retry.journal.json", retry),
        broken=write_journal(folder, "broken.journal.json", broken),
    )
