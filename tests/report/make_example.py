"""Make the example report from full-size story runs (about 90 s).

    python -m tests.report.make_example OUT_FOLDER

Runs both story experiments at the shipped experiments' scale (3000 ms on one
of two ratings replicas, reviews gives up after 2500 ms, 2000 ms per try with
retries, 5 requests/s) plus the broken one, on the lab, then writes
OUT_FOLDER/report-example.html and report-example.md from the journals.
"""

from __future__ import annotations

import sys
from pathlib import Path

from chaoslitmus.report.cli import main as report

from .experiments import FULL_SCALE
from .lab_runs import run_story
from .story import StoryServer


def make(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    story = StoryServer(reviews_timeout_ms=2500, per_try_timeout_ms=2000).start()
    try:
        journals = run_story(folder, story, FULL_SCALE)
    finally:
        story.close()
    paths = [str(journals.no_retry), str(journals.retry), str(journals.broken)]
    title = ["--title", "Does the ratings retry policy hide a slow replica?"]
    html = report([*paths, "-o", str(folder / "report-example.html"), *title])
    markdown = report([*paths, "-o", str(folder / "report-example.md"), *title])
    return html or markdown


if __name__ == "__main__":
    sys.exit(make(Path(sys.argv[1] if len(sys.argv) > 1 else "report-example")))
