"""The arguments of `chaoslitmus report`, and nothing else.

Imports only argparse, so `chaoslitmus --help` builds its parser from the
core install (the report's readers and renderers load when it runs).
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_report_arguments", "add_report_parser"]


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
    """JOURNAL..., -o/--output, --format, --title."""
    parser.add_argument("journals", nargs="+", metavar="JOURNAL", help="journal.json")
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        help="file to write, '-' for stdout (default: report.html, or report.md "
        "with --format markdown)",
    )
    parser.add_argument(
        "--format",
        choices=("html", "markdown"),
        default=None,
        help="default: markdown for '-' and *.md, else html",
    )
    parser.add_argument("--title", default=None, help="report title")


def _run_report(args: argparse.Namespace) -> int:
    """`args.handler`: the report's readers and renderers load only now."""
    from chaoslitmus.report.cli import run_report

    return run_report(args)
