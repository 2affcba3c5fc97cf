"""What `local run` and `local serve` both do before any file arrives: provision the template with the command line's
stack parameters (and AWS's quotas, with --aws-quotas), send the functions' logs to their file, verify the sender,
and seed the directory."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from portal_import.aws.directory import Directory
from portal_import.aws.userpool import UserPool
from portal_import_cli.seed import DirectoryData, load_directory
from portal_import_local.faults import FaultPlan
from portal_import_local.runtime import LocalRuntime
from portal_import_local.stack import DEFAULT_ENDPOINT


def stack_parameters(args: argparse.Namespace) -> dict[str, str]:
    """The stack parameters the command line sets: --parameter, and --email-rate (which wins)."""
    parameters = dict(args.parameter)
    if args.email_rate:
        parameters["EmailRatePerSecond"] = f"{args.email_rate:g}"
    return parameters


@contextlib.contextmanager
def running_stack(
    args: argparse.Namespace,
    template: Path,
    directory: DirectoryData,
    logs: Path,
    *,
    append: bool = False,
    echo: IO[str] | None = None,
    faults: FaultPlan | None = None,
    api_endpoint: str = DEFAULT_ENDPOINT,
) -> Iterator[LocalRuntime]:
    """The stack of `template` provisioned on the (already active) moto with the command line's parameters, its
    sender verified and `directory` loaded; its functions log into `logs` (and to `echo` too, if given) until the
    block ends, their calls held to AWS's rate quotas with --aws-quotas."""
    runtime = LocalRuntime(
        template, stack_parameters(args), faults, api_endpoint=api_endpoint, aws_quotas=args.aws_quotas
    )
    with logs.open("a" if append else "w", encoding="utf-8") as log_file:
        runtime.send_function_logs_to(_Tee(log_file, echo) if echo else log_file)
        runtime.verify_sender(runtime.stack.parameters["SenderAddress"])
        load_directory(Directory(runtime.stack.directory_table), directory, UserPool(runtime.stack.user_pool_id))
        yield runtime


class _Tee:
    """A stream that writes to two streams (the log file, and stderr with --verbose)."""

    def __init__(self, *streams: IO[str]) -> None:
        self._streams = streams

    def write(self, text: str) -> int:
        for stream in self._streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self._streams:
            stream.flush()
