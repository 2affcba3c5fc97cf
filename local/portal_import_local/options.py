"""The options of `portal-import local run` and `local serve`, registered into the operator CLI's `local` command
(the entry point portal_import_cli.local of pyproject.toml)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from portal_import_cli.parser import column_arguments
from portal_import_local import commands
from portal_import_local.bundled import SAMPLE_DIR

# What the `local` extra installs that the runtime imports: moto, SAM's translator, and PyYAML for the template.
_RUNTIME_MODULES = ("moto", "samtranslator", "yaml")


def register(local: argparse.ArgumentParser) -> None:
    """Adds `run` and `serve` to `portal-import local`; raises ModuleNotFoundError when the extra is missing."""
    for module in _RUNTIME_MODULES:
        if importlib.util.find_spec(module) is None:
            raise ModuleNotFoundError(f"the local runtime needs {module}", name=module)
    local_commands = local.add_subparsers(dest="local_command", required=True)
    _run_options(local_commands.add_parser("run", help="import one CSV file and download its results"))
    serve = local_commands.add_parser(
        "serve",
        help="keep the stack running behind an S3 endpoint: any S3 client drops files and collects results",
        description="Prints one JSON line {endpoint, bucket, topicArn, region, userPoolId, userPoolClientId, "
        "portalUrl} on stdout when ready (with awsQuotas: true under --aws-quotas); "
        "jobs run as files arrive under imports/. SIGINT or SIGTERM stops it.",
    )
    _serve_options(serve)
    local.set_defaults(run=commands.run)


def _run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("import_csv", metavar="IMPORT_CSV", type=Path, help="the file to drop into imports/")
    _directory_arguments(run)
    run.add_argument("--send-activation-email", action="store_true", help="email each new user a set-password link")
    run.add_argument(
        "--mode",
        choices=["import", "validate"],
        help="validate runs every check and writes the result files without creating users",
    )
    column_arguments(run)
    _email_rate_argument(run)
    run.add_argument("--out", type=Path, help="where to put the results (default ./import-results/<jobId>/)")
    run.add_argument("--json", action="store_true", help="print one JSON object and nothing else on stdout")
    run.add_argument(
        "--stats",
        action="store_true",
        help="add AWS request counts, timings, email send times and the calls refused over AWS's quotas",
    )
    _quotas_argument(run)
    faults = run.add_argument_group("fault injection (what AWS does on a bad day; results must not change)")
    faults.add_argument("--seed", type=int, metavar="N", help="seed for every fault decision (same seed, same faults)")
    faults.add_argument(
        "--fault-api-error",
        type=_probability,
        default=0.0,
        metavar="P",
        help="any AWS call made by function code fails with probability P",
    )
    faults.add_argument(
        "--fault-redeliver",
        type=_probability,
        default=0.0,
        metavar="P",
        help="every SQS message (and the S3 event) is delivered again with probability P",
    )
    faults.add_argument(
        "--fault-ses-throttle",
        type=_probability,
        default=0.0,
        metavar="P",
        help="SES refuses a send as over the sending rate with probability P",
    )
    faults.add_argument("--fault-poison-contact", metavar="ID", help="processing of this Contact always raises")
    run.add_argument("--verbose", action="store_true", help="also print the functions' log lines on stderr")


def _serve_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--port", type=_port, default=4566, help="port to listen on (default 4566; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    _directory_arguments(serve)
    _email_rate_argument(serve)
    _quotas_argument(serve)
    serve.add_argument(
        "--logs",
        type=Path,
        default=Path("import-results") / "serve-function-logs.jsonl",
        help="where the functions' log lines go (default ./import-results/serve-function-logs.jsonl)",
    )
    serve.add_argument(
        "--outbox",
        type=Path,
        metavar="DIR",
        help="write each activation email sent as DIR/NNNNN-<recipient>.eml (its link opens this server's page)",
    )


def _directory_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--contacts",
        type=Path,
        default=SAMPLE_DIR / "contacts.csv",
        help="ContactId,SalesforceId,Email,FirstName,LastName,PortalUserId (default: bundled sample)",
    )
    command.add_argument(
        "--roles", type=Path, default=SAMPLE_DIR / "roles.csv", help="Name,Active (default: bundled sample)"
    )


def _email_rate_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument("--email-rate", type=float, metavar="R", help="emails per second (default: the template's)")
    command.add_argument(
        "--parameter",
        action="append",
        type=_parameter,
        default=[],
        metavar="NAME=VALUE",
        help="a stack parameter of template.yaml, e.g. MaxRows=5000 or ActivationLinkTtlHours=24 (repeatable)",
    )


def _quotas_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--aws-quotas",
        action="store_true",
        help="enforce Amazon Cognito's default request-rate quotas per category (UserCreation 50/s, UserUpdate 25/s, "
        "UserAccountRecovery 30/s, UserRead 120/s, shared by every caller of the stack) and SES's EmailRatePerSecond: "
        "a call over its category's rate is answered TooManyRequestsException, as on AWS, so a local run shows the "
        "pace an import will have on AWS",
    )


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a probability (a number from 0 to 1)") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability (a number from 0 to 1)")
    return value


def _parameter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=VALUE (e.g. MaxRows=5000)")
    return name.strip(), value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number (0 to 65535)")
    return int(text)
