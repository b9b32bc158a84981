"""The `chaoslitmus` command: `lab up`, `lab run -- CMD...`, `report JOURNAL...`,
`sweep`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from chaoslitmus import __version__


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chaoslitmus",
        description="Chaos Toolkit extension for LitmusChaos faults and mesh retries.",
    )
    parser.add_argument(
        "--version", action="version", version=f"chaostoolkit-litmus {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    # Argument definitions only (argparse and the lab's options): `--help` and
    # `--version` work from the core install, without the lab or report extras.
    from chaoslitmus.lab.cli_args import add_lab_parser
    from chaoslitmus.report.cli_args import add_report_parser
    from chaoslitmus.sweep.cli_args import add_sweep_parser

    add_lab_parser(commands)
    add_report_parser(commands)
    add_sweep_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "lab":
        from chaoslitmus.lab.commands import run_lab_command

        return run_lab_command(args)
    if args.command == "report":
        from chaoslitmus.report.cli import run_report

        return run_report(args)
    if args.command == "sweep":
        from chaoslitmus.sweep.cli import run_sweep

        return run_sweep(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
