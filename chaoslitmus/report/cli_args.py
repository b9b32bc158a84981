"""The arguments of `chaoslitmus report`, and nothing else.

Imports only argparse (and the gate options, which import nothing outside
the standard library), so `chaoslitmus --help` builds its parser from the
core install (the report's readers and renderers load when it runs).
"""

from __future__ import annotations

import argparse
from typing import Any

from chaoslitmus.report._gate_args import add_gate_arguments

__all__ = ["DEFAULT_OUTPUT", "FORMATS", "add_report_arguments", "add_report_parser"]

FORMATS = ("html", "markdown", "junit", "github")
DEFAULT_OUTPUT = {
    "html": "report.html",
    "markdown": "report.md",
    "junit": "results.xml",
    "github": "-",
}


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `report` on the `chaoslitmus` command's subparsers."""
    parser = subparsers.add_parser(
        "report",
        help="compare Chaos Toolkit journals in one HTML or markdown report",
        description=(
            "Compare the journals of Chaos Toolkit runs (e.g. without and with a "
            "retry policy) side by side: status, hypotheses, Litmus verdict, "
            "retry-policy change and the traffic seen during the fault."
        ),
    )
    add_report_arguments(parser)
    parser.set_defaults(handler=_run_report)
    return parser


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """JOURNAL..., -o/--output, --format, --title, and the gate options."""
    parser.add_argument("journals", nargs="+", metavar="JOURNAL", help="journal.json")
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        help="file to write, '-' for stdout (default: report.html, report.md "
        "with --format markdown, results.xml with junit, stdout with github)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="default: markdown for '-' and *.md, junit for *.xml, else html",
    )
    parser.add_argument("--title", default=None, help="report title")
    add_gate_arguments(parser)


def _run_report(args: argparse.Namespace) -> int:
    """`args.handler`: the report's readers and renderers load only now."""
    from chaoslitmus.report.cli import run_report

    return run_report(args)
