"""The project speaks of itself: no tracked file points outside the repository.

Facts taken from other projects are written in `docs/` with their upstream
source named; code, docs and tests point there, never at a path on some
machine or at notes that are not part of the repository.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()

# Each pattern, with why it is not allowed.
FORBIDDEN = {
    r"shared/reference|\.\./shared\b": "notes outside the repository",
    r"\b(FACTS|DESIGN|STYLE|CONVENTIONS)\.md\b|\bk8s-emulator\.md\b": (
        "a notes file outside the repository: state the fact in docs/"
    ),
    r"(?<![\w./:-])/(work|tmp|root|home|Users)(?=/|\b)": (
        "an absolute path on a machine"
    ),
    r"(?i)\bthe seed\b(?!\s*=)|\bseed's\b": (
        "'the seed': name the thing itself (an RNG seed is fine)"
    ),
}


def tracked_text_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [path for path in listed.split("\0") if path and path != THIS_FILE]


def offending_lines(path: str) -> list[str]:
    try:
        text = (ROOT / path).read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return []  # binary, or deleted in the work tree
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, why in FORBIDDEN.items():
            if re.search(pattern, line):
                found.append(f"{path}:{number}: {why}: {line.strip()[:100]}")
    return found


def test_no_tracked_file_points_outside_the_repository():
    offences = [line for path in tracked_text_files() for line in offending_lines(path)]
    assert offences == [], "\n".join(offences)


@pytest.mark.parametrize(
    "line",
    [
        "see shared/reference/litmus/FACTS.md section 3",
        "measured in /work/shared/notes.md",
        'open("/tmp/x")',
        "the seed's curl loop",
        "as in the seed, 3 retries",
        "(FACTS.md §5)",
    ],
)
def test_the_patterns_catch_pointers_outside(line):
    assert any(re.search(pattern, line) for pattern in FORBIDDEN)


@pytest.mark.parametrize(
    "line",
    [
        "rng = random.Random(seed)",
        "the same seed on a fresh lab makes the same choice",
        "the RNG seed and the number of selections",
        "see docs/litmus-behaviour.md#chaosresult",
        "tmp_path / 'journal.json'",
        "https://istio.io/latest/docs/reference/config/networking/",
    ],
)
def test_the_patterns_leave_our_own_words_alone(line):
    assert not any(re.search(pattern, line) for pattern in FORBIDDEN)


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a page's headings."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_pointers_into_docs_name_a_page_and_heading_that_exist():
    broken = []
    for path in tracked_text_files():
        try:
            text = (ROOT / path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        for page, anchor in re.findall(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+))?", text):
            target = ROOT / "docs" / page
            if not target.is_file():
                broken.append(f"{path}: docs/{page} does not exist")
            elif anchor and anchor not in heading_anchors(target.read_text()):
                broken.append(f"{path}: docs/{page} has no heading #{anchor}")
    assert broken == [], "\n".join(broken)
