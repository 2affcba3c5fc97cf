"""What `portal-import local run` and `local serve` do once parsed: check the inputs, keep the embedded AWS away
from any real account, run the one asked for, and report it (a usage error is one sentence and exit status 2)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from portal_import.domain.summary import RESULT_FILES
from portal_import_cli.commands import check_csv_name
from portal_import_cli.errors import UsageError
from portal_import_cli.rendering import say
from portal_import_local.account import REGION
from portal_import_local.bundled import TEMPLATE
from portal_import_local.shown_locally import message_shown_locally

# Generous: a job finishes long before this unless something is wrong.
JOB_TIMEOUT_SECONDS = 6 * 3600


def run(args: argparse.Namespace) -> int:
    try:
        _check_inputs(args)
        _embedded_aws_environment()
        warnings.filterwarnings("ignore")  # moto's notes on resources it only partly emulates are not for the user
        if args.local_command == "serve":
            return _serve(args)
        return _run(args)
    except UsageError as error:
        say(str(error))
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
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "MOTO_ALLOW_NONEXISTENT_REGION": "true",
        }
    )


def _run(args: argparse.Namespace) -> int:
    from moto import mock_aws

    from portal_import_cli.seed import DirectoryFileError
    from portal_import_local.job_run import DELIVERY_COUNTS, run_import
    from portal_import_local.runtime import JobAnnouncedTwice, JobStalled, SplitterGaveUp

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
            say(f"{error}; the functions' logs are in {kept}")
            return 1
        result_dir: Path = outcome["resultDir"]
        shutil.copyfile(log_path, result_dir / "function-logs.jsonl")
    report: dict[str, Any] = {
        key: outcome[key]
        for key in ("jobId", "status", "error", "totalRows", "succeeded", "failed", "emailsQueued", "emailsSent")
    }
    if outcome["emailsSent"]:
        report.update((key, outcome[key]) for key in DELIVERY_COUNTS)
    report["resultDir"] = str(result_dir)
    if args.stats:
        report.update(
            awsRequests=outcome["awsRequests"],
            wallSeconds=outcome["wallSeconds"],
            emailSendTimes=outcome["emailSendTimes"],
            userCreationTimes=outcome["userCreationTimes"],
            awsThrottles=outcome["awsThrottles"],
        )
    if args.json:
        print(json.dumps(report))
    else:
        _print_human(report, outcome)
    if report["status"] != "COMPLETED":
        say(f"the file was rejected: {report['error']}")
        return 1
    return 0


def _serve(args: argparse.Namespace) -> int:
    from moto import mock_aws

    from portal_import_cli.seed import DirectoryFileError
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
    if report["emailsSent"]:
        print(
            f"  delivered {report['emailsDelivered']}, bounced {report['emailsBounced']}, "
            f"complained {report['emailsComplained']}, delayed {report['emailsDelayed']}, held {report['emailsHeld']}"
            " (deliveries.json says which, and why)"
        )
    if report.get("emailsHeld"):
        print(
            f"  The reputation guard held {report['emailsHeld']} email(s): {outcome['emailsHeldWhy']}. Against a stack "
            f"(`local serve`, or AWS), `portal-import resume-emails {report['jobId']}` sends them once the addresses "
            "are checked."
        )
    print()
    print("Notification")
    print(f"  Subject: {notice['subject']}")
    # Its pre-signed links lead nowhere once the embedded AWS is gone: the paths of the files downloaded instead.
    # notification.json keeps the message exactly as the stack published it.
    message = message_shown_locally(notice["message"], outcome["completedDetail"], Path(report["resultDir"]))
    for line in message.splitlines():
        print(f"  {line}")
    print()
    print(f"Results in {report['resultDir']}/")
    for name in (
        *RESULT_FILES,
        "notification.json",
        "notices.json",
        "pool-users.json",
        "outbox/",
        *(["deliveries.json"] if (Path(report["resultDir"]) / "deliveries.json").exists() else []),
    ):
        print(f"  {name}")
    if "wallSeconds" in report:
        print(f"\n{report['wallSeconds']:.2f} s from upload to results; AWS requests: {report['awsRequests']}")
        if throttles := report["awsThrottles"]:
            print(f"Refused as over AWS's rate quotas (--aws-quotas): {throttles}")
