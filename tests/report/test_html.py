"""The HTML report: self-contained, escaped, comparable side by side, stable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chaoslitmus.report.html import render_html
from chaoslitmus.report.model import Run, build_run

from .lab_runs import Journals

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runs(journals: Journals) -> list[Run]:
    return [
        build_run(journals.load(path), path.name)
        for path in (journals.no_retry, journals.retry, journals.broken)
    ]


@pytest.fixture(scope="module")
def page(runs: list[Run]) -> str:
    return render_html(runs, title="Retries <vs> no retries")


def test_the_page_loads_nothing_from_anywhere(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == 2  # latency scatter and status bars, inline
    for tag in ("<script", "<link", "<img", "<iframe", "<object", "@import"):
        assert tag not in page.lower()
    # Every reference is to an element of the page itself.
    assert set(re.findall(r'\b(?:src|href)\s*=\s*"(.)', page)) <= {"#"}
    assert not re.search(r"url\(\s*['\"]?\s*(?!#)", page)
    # Namespace names are the only URLs in markup; the journal's target URL
    # shows as text.
    for url in re.findall(r"https?://[^\s\"'<)]+", page):
        assert url.startswith(("http://www.w3.org/", "http://127.0.0.1:")), url


def test_journal_text_is_escaped(page: str, journals: Journals) -> None:
    assert "<b>typo</b>" not in page
    assert "ratings latency with a &lt;b&gt;typo&lt;/b&gt; in the label" in page
    assert "<title>Retries &lt;vs&gt; no retries</title>" in page

    journal = journals.load(journals.broken)
    journal["experiment"]["title"] = "<script>alert(1)</script>"
    journal["experiment"]["tags"] = ['"><img src=x onerror=alert(1)>']
    journal["run"][0]["activity"]["name"] = "</td></tr></table><script>x()</script>"
    hostile = render_html([build_run(journal, "<x>.json")])
    assert "<script" not in hostile and "<img" not in hostile
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile
    assert "&lt;x&gt;.json" in hostile


def test_runs_are_compared_side_by_side(page: str) -> None:
    for label in (
        "Run 1: ratings-latency.journal.json",
        "Run 2: ratings-latency-retry.journal.json",
        "Run 3: broken.journal.json",
    ):
        assert label in page
    glance = page[page.index('<table class="glance">') : page.index("</table>")]
    status_row = re.search(r"Status</th>(.*?)</tr>", glance)
    assert status_row is not None
    assert re.findall(r'<td class="(\w+)">(\w+)</td>', status_row.group(1)) == [
        ("good", "completed"),
        ("good", "completed"),
        ("bad", "failed"),
    ]
    assert "ratings-route: none → 3 retries, 2000 ms per try, on server-error" in page
    assert "Pass (Completed)" in page
    assert "50.0 % (15)" in page and "200 ×15, 500 ×15" in page
    assert "no pods match label &#x27;app=ratingz&#x27;" in page
    assert "The run failed and no rollback ran" in page


def test_charts_share_axes_and_colours(page: str) -> None:
    scatter = page[page.index("<svg") : page.index("</svg>")]
    # One figure, one panel per run: the axes are shared, not three charts.
    assert {f'id="lat-axes_{n}"' for n in (1, 2, 3)} <= set(
        re.findall(r'id="lat-axes_\d+"', scatter)
    )
    assert "#2e7d32" in scatter and "#c62828" in scatter  # 200 green, 500 red
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # two inline SVGs, no clashing ids
    assert "<metadata" not in page and "dc:date" not in page


def test_same_journals_give_the_same_bytes(runs: list[Run], page: str) -> None:
    assert render_html(runs, title="Retries <vs> no retries") == page


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_without_matplotlib_the_report_says_how_to_get_charts(
    journals: Journals, tmp_path: Path
) -> None:
    output = tmp_path / "report.html"
    done = _python(
        "import sys; sys.modules['matplotlib'] = None\n"
        "from chaoslitmus.report.cli import main\n"
        f"sys.exit(main([{str(journals.no_retry)!r}, '-o', {str(output)!r}]))"
    )
    assert done.returncode == 0, done.stderr
    assert "matplotlib is not installed" in done.stderr
    page = output.read_text(encoding="utf-8")
    assert "<svg" not in page
    assert "pip install 'chaostoolkit-litmus[report]'" in page
    assert "Pass (Completed)" in page


def test_the_core_never_imports_matplotlib(journals: Journals) -> None:
    done = _python(
        "import sys, json\n"
        "from chaoslitmus.report import cli, html, markdown, model\n"
        "from chaoslitmus.report.model import build_run\n"
        f"run = build_run(json.load(open({str(journals.retry)!r})))\n"
        "markdown.render_markdown([run])\n"
        "print('matplotlib' in sys.modules)"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
