"""`chaoslitmus report`: files in, one report out; bad input is one line, exit 2."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from chaoslitmus.report.cli import add_report_parser, main

from .lab_runs import Journals


def test_writes_html_next_to_nothing_else(
    journals: Journals, tmp_path: Path, capsys
) -> None:
    output = tmp_path / "report.html"
    code = main([str(journals.no_retry), str(journals.retry), "-o", str(output)])

    assert code == 0
    page = output.read_text(encoding="utf-8")
    assert "<svg" in page and "Run 2: ratings-latency-retry.journal.json" in page
    assert capsys.readouterr().err.strip() == (
        f"chaoslitmus report: wrote {output} (2 runs, html)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert output.stat().st_mode & 0o044  # readable by others like any file


def test_markdown_to_stdout_and_by_extension(
    journals: Journals, tmp_path: Path, capsys
) -> None:
    assert main([str(journals.retry), "-o", "-", "--title", "CI run"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# CI run\n") and "| Status | completed |" in out
    assert err == ""

    assert main([str(journals.retry), "-o", str(tmp_path / "r.md")]) == 0
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("# With a mesh")

    assert main([str(journals.retry), "-o", "-", "--format", "html"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    experiment = tmp_path / "experiment.json"
    experiment.write_text(json.dumps({"title": "t", "method": []}))
    broken = tmp_path / "broken.json"
    broken.write_text('{"experiment": {}, "status": ')
    array = tmp_path / "array.json"
    array.write_text("[1, 2]")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    return {
        "missing": (tmp_path / "nope.json", "no such file"),
        "folder": (tmp_path, "is a directory, expected a journal.json"),
        "not json": (broken, "not JSON (Expecting value at line 1, column 30)"),
        "binary": (binary, "not JSON (not UTF-8 text)"),
        "experiment": (
            experiment,
            "not a Chaos Toolkit journal: this is an experiment, not a journal; run "
            "it with `chaos run --journal-path journal.json` and report the journal",
        ),
        "array": (
            array,
            "not a Chaos Toolkit journal: expected a JSON object, found list",
        ),
    }


@pytest.mark.parametrize(
    "case", ["missing", "folder", "not json", "binary", "experiment", "array"]
)
def test_bad_journal_is_one_line_exit_2_and_nothing_written(
    case: str, journals: Journals, tmp_path: Path, capsys
) -> None:
    bad, reason = _bad_inputs(tmp_path)[case]
    output = tmp_path / "out" / "report.html"
    output.parent.mkdir()
    output.write_text("the previous report")

    code = main([str(journals.no_retry), str(bad), "-o", str(output)])

    assert code == 2
    err = capsys.readouterr().err
    assert err == f"chaoslitmus report: {bad}: {reason}\n"
    assert output.read_text() == "the previous report"
    assert sorted(p.name for p in output.parent.iterdir()) == ["report.html"]


def test_unwritable_output_and_usage_errors(
    journals: Journals, tmp_path: Path, capsys
) -> None:
    target = tmp_path / "no" / "such" / "folder" / "report.html"
    assert main([str(journals.no_retry), "-o", str(target)]) == 2
    assert capsys.readouterr().err == (
        f"chaoslitmus report: {target}: folder {target.parent} does not exist\n"
    )
    assert main([]) == 2  # argparse: at least one journal
    assert "JOURNAL" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_plugs_into_the_chaoslitmus_command(journals: Journals, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="chaoslitmus")
    add_report_parser(parser.add_subparsers(dest="command"))
    output = tmp_path / "r.html"
    args = parser.parse_args(
        ["report", str(journals.broken), "-o", str(output), "--title", "T"]
    )

    assert args.handler(args) == 0
    assert "<title>T</title>" in output.read_text(encoding="utf-8")
