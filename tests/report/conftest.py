"""Real journals for the report tests, made once per test session.

Three small experiments run on the lab (see ``lab_runs``) against the story
server on 127.0.0.1; tests read the journal files back as `chaos run` would
have left them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .experiments import Scale
from .lab_runs import Journals, run_story
from .story import StoryServer


@pytest.fixture(scope="session")
def journals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journals]:
    story = StoryServer().start()
    try:
        yield run_story(tmp_path_factory.mktemp("journals"), story, Scale())
    finally:
        story.close()
