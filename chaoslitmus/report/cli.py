"""`chaoslitmus report JOURNAL... -o report.html`: the I/O edge of the report.

Reads journals, says in one line what is wrong with a bad one (exit 2,
nothing written), renders, and writes the file in one step (a temporary
file renamed into place) so a failed run never leaves half a report.
Formats: html, markdown, junit (CI test results), github (a job summary).
A sweep file (from `chaoslitmus sweep`) is recognised by its `kind` and
rendered as heatmaps with the recommendation (html or markdown).
Gates (`--baseline`, `--fail-on-failure`) print one line per problem and
exit 1 after the report is written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from chaoslitmus.report._gate_args import EXIT_GATE_FAILED, gate_lines, judge_runs
from chaoslitmus.report.cli_args import (
    DEFAULT_OUTPUT,
    add_report_arguments,
    add_report_parser,
)
from chaoslitmus.report.gate import Judgement
from chaoslitmus.report.model import Run, build_run, journal_problem

__all__ = ["add_report_parser", "load_journal", "main", "run_report"]

EXIT_OK = 0
EXIT_BAD_INPUT = 2
_PROG = "chaoslitmus report"


class ReportInputError(Exception):
    """A journal or output path the report cannot use; the message is one line."""


def load_journal(path: str) -> dict[str, Any]:
    """Parse one journal file, or raise ReportInputError saying why not."""
    file = Path(path)
    if not file.exists():
        raise ReportInputError(f"{path}: no such file")
    if file.is_dir():
        raise ReportInputError(f"{path}: is a directory, expected a journal.json")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ReportInputError(f"{path}: not JSON (not UTF-8 text)") from None
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportInputError(
            f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    problem = journal_problem(document)
    if problem:
        raise ReportInputError(f"{path}: not a Chaos Toolkit journal: {problem}")
    return document


def _names(paths: Sequence[str]) -> list[str]:
    """File names for run labels; full paths as given when names collide."""
    names = [Path(p).name for p in paths]
    if len(set(names)) == len(names):
        return names
    return list(paths)


def _format(output: str | None, chosen: str | None) -> str:
    if chosen:
        return chosen
    if output == "-" or (output or "").lower().endswith((".md", ".markdown")):
        return "markdown"
    if (output or "").lower().endswith(".xml"):
        return "junit"
    return "html"


def render(
    runs: Sequence[Run],
    fmt: str,
    title: str | None,
    judgements: Sequence[Judgement] = (),
) -> str:
    """The report text in the chosen format (junit/github need the judgements)."""
    if fmt == "junit":
        from chaoslitmus.report.junit import render_junit

        return render_junit(judgements, title)
    if fmt == "github":
        from chaoslitmus.report.github import render_github

        return render_github(judgements, title)
    if fmt == "markdown":
        from chaoslitmus.report.markdown import render_markdown

        return render_markdown(runs, title)
    from chaoslitmus.report.html import render_html

    return render_html(runs, title)


def _write(output: str, text: str, stdout: TextIO) -> None:
    if output == "-":
        stdout.write(text)
        stdout.flush()
        return
    target = Path(output)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ReportInputError(f"{output}: folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(
            dir=folder, prefix=f".{target.name}.", suffix=".tmp"
        )
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, _file_mode())
        os.replace(temporary, target)
    except OSError as exc:
        raise ReportInputError(
            f"{output}: cannot write ({exc.strerror or exc})"
        ) from None


def _file_mode() -> int:
    """The mode a plain open() would give (mkstemp makes files private)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def run_report(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Build and write the report; 0 when written, 1 when a gate fails, 2 on
    bad input."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    fmt = _format(args.output, args.format)
    output = args.output or DEFAULT_OUTPUT[fmt]
    try:
        sweep = _sweep_document(args.journals)
        if sweep is not None:
            return _sweep_report(sweep, fmt, output, args, out, err)
        documents = [load_journal(path) for path in args.journals]
        runs = [
            build_run(doc, name)
            for doc, name in zip(documents, _names(args.journals), strict=True)
        ]
        try:
            judgements, unused = judge_runs(
                args,
                runs,
                args.journals,
                lambda path: build_run(load_journal(path), path),
            )
        except ValueError as exc:
            raise ReportInputError(str(exc)) from None
        if fmt == "html":
            from chaoslitmus.report import charts

            if not charts.available():
                print(
                    f"{_PROG}: matplotlib is not installed, the report has no "
                    "charts (pip install 'chaostoolkit-litmus[report]')",
                    file=err,
                )
        text = render(runs, fmt, args.title, judgements)
        _write(output, text, out)
    except ReportInputError as exc:
        print(f"{_PROG}: {exc}", file=err)
        return EXIT_BAD_INPUT
    if output != "-":
        count = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
        print(f"{_PROG}: wrote {output} ({count}, {fmt})", file=err)
    failed = gate_lines(args, judgements, unused)
    for line in failed:
        print(f"{_PROG}: gate failed: {line}", file=err)
    return EXIT_GATE_FAILED if failed else EXIT_OK


def _sweep_document(paths: Sequence[str]) -> dict[str, Any] | None:
    """The sweep file among `paths`, if the first one is a sweep (then alone)."""
    from chaoslitmus.report.sweep_model import is_sweep, sweep_problem

    try:
        document = json.loads(Path(paths[0]).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # load_journal says what is wrong with it
    if not is_sweep(document):
        return None
    if len(paths) > 1:
        raise ReportInputError(f"{paths[0]}: a sweep file is reported alone")
    problem = sweep_problem(document)
    if problem:
        raise ReportInputError(f"{paths[0]}: not a usable sweep file: {problem}")
    return document


def _sweep_report(
    document: dict[str, Any],
    fmt: str,
    output: str,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
) -> int:
    from chaoslitmus.report.sweep_render import (
        render_sweep_html,
        render_sweep_markdown,
    )

    if fmt not in ("html", "markdown"):
        raise ReportInputError(f"a sweep file renders as html or markdown, not {fmt}")
    if fmt == "html":
        from chaoslitmus.report import charts

        if not charts.available():
            print(
                f"{_PROG}: matplotlib is not installed, the sweep report has "
                "tables but no heatmaps (pip install 'chaostoolkit-litmus[report]')",
                file=err,
            )
        text = render_sweep_html(document, args.title)
    else:
        text = render_sweep_markdown(document, args.title)
    _write(output, text, out)
    if output != "-":
        cells = len(document["cells"])
        print(f"{_PROG}: wrote {output} (sweep, {cells} cells, {fmt})", file=err)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point with the same arguments as `chaoslitmus report`."""
    parser = argparse.ArgumentParser(prog=_PROG, description=__doc__.splitlines()[0])
    add_report_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    return run_report(args)


if __name__ == "__main__":
    sys.exit(main())
