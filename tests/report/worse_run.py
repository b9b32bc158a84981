"""A deliberately worse run of the retry experiment, for the baseline gate.

The same experiment as the session's retry journal (same title, same
steps), run on a fresh lab with the story server ignoring the retry policy:
the policy is applied but does nothing, as when a mesh silently drops it,
so callers see the fault's 500s. A real run, not an edited journal.
"""

from __future__ import annotations

from pathlib import Path

from chaoslib.experiment import run_experiment

from .experiments import Scale, story_experiment
from .lab_runs import story_lab, write_journal
from .story import StoryServer


def run_worse_retry(folder: Path) -> Path:
    story = StoryServer().start()
    try:
        with story_lab(folder, story):
            story.retries = False  # the policy is set, and ignored
            journal = run_experiment(
                story_experiment(story.url, True, "latency-w", Scale())
            )
    finally:
        story.close()
    return write_journal(folder, "ratings-latency-retry.worse.journal.json", journal)
