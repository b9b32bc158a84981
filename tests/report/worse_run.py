"""A deliberately worse run of the retry experiment, for the baseline gate.

The same experiment as the session's retry journal (same title, same
steps), run on a fresh lab with the story server ignoring the retry policy:
the policy is applied but does nothing, as when a mesh silently drops it,
so callers see the fault's 500s. A real run, not an edited journal.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chaoslib.experiment import run_experiment
from kubernetes.config import kube_config

from chaoslitmus.lab import ControlPlane, LabOptions, write_kubeconfig

from .experiments import Scale, story_experiment
from .lab_runs import write_journal
from .story import StoryServer


def run_worse_retry(folder: Path) -> Path:
    story = StoryServer().start()
    options = LabOptions(litmus_startup_s=0.2)
    control = ControlPlane(options, fault_sink=story, operator_seed=7).start()
    server = control.server
    patch = pytest.MonkeyPatch()
    try:
        kubeconfig = write_kubeconfig(folder / "kubeconfig", server.url)
        patch.setenv("KUBECONFIG", str(kubeconfig))
        patch.delenv("KUBERNETES_CONTEXT", raising=False)
        patch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
        story.retries = False  # the policy is set, and ignored
        journal = run_experiment(
            story_experiment(story.url, True, "latency-w", Scale())
        )
    finally:
        patch.undo()
        server.stop()
        story.close()
    return write_journal(folder, "ratings-latency-retry.worse.journal.json", journal)
