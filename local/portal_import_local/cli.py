"""`portal-import`: the administrator's command. `local run` imports a file on an embedded stack; `local serve`
keeps that stack running behind an S3 endpoint for any S3 client; submit, status, watch, results, jobs, template and
`directory load` work against a deployed stack, or `local serve` through --endpoint-url (admin.py)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from portal_import_local import admin
from portal_import_local.admin import UsageError, check_csv_name

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLE_DIR = PACKAGE_DIR / "sample"
TEMPLATE = PACKAGE_DIR.parents[1] / "template.yaml"
# Generous: a job finishes long before this unless something is wrong.
JOB_TIMEOUT_SECONDS = 6 * 3600


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a probability (a number from 0 to 1)") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability (a number from 0 to 1)")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portal-import", description="Bulk-create portal users from a CSV file.")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run the stack locally on an embedded AWS (no account, no Docker)")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    run = local_commands.add_parser("run", help="import one CSV file and download its results")
    run.add_argument("import_csv", metavar="IMPORT_CSV", type=Path, help="the file to drop into imports/")
    _directory_arguments(run)
    run.add_argument("--send-activation-email", action="store_true", help="email each new user a set-password link")
    run.add_argument(
        "--mode",
        choices=["import", "validate"],
        help="validate runs every check and writes the result files without creating users",
    )
    admin.column_arguments(run)
    _email_rate_argument(run)
    run.add_argument("--out", type=Path, help="where to put the results (default ./import-results/<jobId>/)")
    run.add_argument("--json", action="store_true", help="print one JSON object and nothing else on stdout")
    run.add_argument("--stats", action="store_true", help="add AWS request counts, timings and email send times")
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

    serve = local_commands.add_parser(
        "serve",
        help="keep the stack running behind an S3 endpoint: any S3 client drops files and collects results",
        description="Prints one JSON line {endpoint, bucket, topicArn, region, userPoolId, userPoolClientId, "
        "portalUrl} on stdout when ready; "
        "jobs run as files arrive under imports/. SIGINT or SIGTERM stops it.",
    )
    serve.add_argument("--port", type=_port, default=4566, help="port to listen on (default 4566; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    _directory_arguments(serve)
    _email_rate_argument(serve)
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
    admin.add_commands(commands)
    return parser


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


def _parameter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=VALUE (e.g. MaxRows=5000)")
    return name.strip(), value


def stack_parameters(args: argparse.Namespace) -> dict[str, str]:
    """The stack parameters the command line sets: --parameter, and --email-rate (which wins)."""
    parameters = dict(args.parameter)
    if args.email_rate:
        parameters["EmailRatePerSecond"] = f"{args.email_rate:g}"
    return parameters


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number (0 to 65535)")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.command != "local":
        return admin.run(args)
    try:
        return _run(args)
    except UsageError as error:
        print(f"portal-import: {error}", file=sys.stderr)
        return 2


def _check_inputs(args: argparse.Namespace) -> None:
    files = [("--contacts", args.contacts), ("--roles", args.roles)]
    if args.local_command == "run":
        files.insert(0, ("import file", args.import_csv))
    for label, path in files:
        if not path.is_file():
            raise UsageError(f"{label} {path} does not exist or is not a file.")
    if args.local_command == "run":
        check_csv_name(args.import_csv)
    if args.email_rate is not None and args.email_rate <= 0:
        raise UsageError("--email-rate must be a positive number of emails per second.")
    if args.parameter:
        from portal_import_local.template import load_template

        known = load_template(TEMPLATE).get("Parameters", {})
        unknown = sorted({name for name, _ in args.parameter} - set(known))
        if unknown:
            raise UsageError(f"template.yaml has no parameter {', '.join(unknown)}; it has {', '.join(sorted(known))}.")


def _embedded_aws_environment() -> None:
    # The embedded AWS must never reach a real account, whatever credentials the user has configured.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "MOTO_ALLOW_NONEXISTENT_REGION": "true",
        }
    )


def _run(args: argparse.Namespace) -> int:
    _check_inputs(args)
    _embedded_aws_environment()
    warnings.filterwarnings("ignore")  # moto's notes on resources it only partly emulates are not for the user
    if args.local_command == "serve":
        return _serve(args)

    from moto import mock_aws

    from portal_import_local.job_run import run_import
    from portal_import_local.runtime import JobAnnouncedTwice, JobStalled, SplitterGaveUp
    from portal_import_local.seed import DirectoryFileError

    with tempfile.TemporaryDirectory() as scratch, mock_aws():
        log_path = Path(scratch) / "function-logs.jsonl"
        try:
            outcome = run_import(args, TEMPLATE, log_path, JOB_TIMEOUT_SECONDS)
        except DirectoryFileError as error:
            raise UsageError(str(error)) from error
        except (JobStalled, JobAnnouncedTwice, SplitterGaveUp, TimeoutError) as error:
            kept = (args.out or Path("import-results")) / "function-logs.jsonl"
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log_path, kept)
            print(f"portal-import: {error}; the functions' logs are in {kept}", file=sys.stderr)
            return 1
        result_dir: Path = outcome["resultDir"]
        shutil.copyfile(log_path, result_dir / "function-logs.jsonl")
    report: dict[str, Any] = {
        key: outcome[key]
        for key in ("jobId", "status", "error", "totalRows", "succeeded", "failed", "emailsQueued", "emailsSent")
    }
    report["resultDir"] = str(result_dir)
    if args.stats:
        report.update(
            awsRequests=outcome["awsRequests"],
            wallSeconds=outcome["wallSeconds"],
            emailSendTimes=outcome["emailSendTimes"],
            userCreationTimes=outcome["userCreationTimes"],
        )
    if args.json:
        print(json.dumps(report))
    else:
        _print_human(report, outcome)
    if report["status"] != "COMPLETED":
        print(f"portal-import: the file was rejected: {report['error']}", file=sys.stderr)
        return 1
    return 0


def _serve(args: argparse.Namespace) -> int:
    from moto import mock_aws

    from portal_import_local.seed import DirectoryFileError
    from portal_import_local.serve import PortInUse, serve

    args.logs.parent.mkdir(parents=True, exist_ok=True)
    with mock_aws():
        try:
            return serve(args, TEMPLATE, args.logs)
        except (DirectoryFileError, PortInUse) as error:
            raise UsageError(str(error)) from error


def _print_human(report: dict[str, Any], outcome: dict[str, Any]) -> None:
    notice = outcome["notification"]
    print(f"Job {report['jobId']}: {report['status']}")
    print(
        f"  rows {report['totalRows']}, created {report['succeeded']}, failed {report['failed']}, "
        f"activation emails queued {report['emailsQueued']}, sent {report['emailsSent']}"
    )
    print()
    print("Notification")
    print(f"  Subject: {notice['subject']}")
    for line in notice["message"].splitlines():
        print(f"  {line}")
    print()
    print(f"Results in {report['resultDir']}/")
    for name in (
        "success.csv",
        "failure.csv",
        "summary.json",
        "notification.json",
        "notices.json",
        "pool-users.json",
        "outbox/",
    ):
        print(f"  {name}")
    if "wallSeconds" in report:
        print(f"\n{report['wallSeconds']:.2f} s from upload to results; AWS requests: {report['awsRequests']}")


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
