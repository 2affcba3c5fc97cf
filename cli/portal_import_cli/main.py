"""`portal-import`'s entry point: read the command line, run the command it names, exit with its status."""

from __future__ import annotations

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
    sys.exit(main())
