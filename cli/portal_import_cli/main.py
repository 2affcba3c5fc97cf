"""`portal-import`'s entry point: read the command line, run the command it names, exit with its status."""

from __future__ import annotations

import os
import sys

from portal_import_cli.parser import Command, build_parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    command: Command = args.run
    return command(args)


def entry_point() -> None:
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader of stdout went away (`portal-import jobs | head`): what it did not read is not wanted. Python
        # would print a traceback while flushing at exit; stdout goes nowhere instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    sys.exit(status)
