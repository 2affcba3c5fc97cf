"""The administrator's commands against a deployed stack (or `local serve` through --endpoint-url): submit a file,
follow its job, fetch its results, list jobs, resend activation links, write the sample CSV, and load a new stack's
directory."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)

from portal_import.job import Job, JobStatus
from portal_import.notification import columns_read
from portal_import.options import column_metadata
from portal_import.reader import CONTACT_ID, FIELD_CONTENTS, MAPPING_METADATA, MAPPING_OPTIONS, ROLE, normalize_name
from portal_import.resend import ResendRefused
from portal_import.users import UsersRefused
from portal_import_local.deployment import (
    NAMES,
    RESULT_FILES,
    STACK_ENV,
    Deployment,
    DeploymentError,
    JobNotFound,
    ResultsNotFound,
    Target,
    TargetUnknown,
)
from portal_import_local.progress import (
    ProgressDisplay,
    StillRunning,
    duration,
    emails_done,
    emails_expected,
    finished,
    follow,
    job_json,
    results_uri,
)
from portal_import_local.seed import DirectoryFileError, read_directory

TEMPLATE_CSV = Path(__file__).resolve().parent / "sample" / "template.csv"
_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
}


class UsageError(Exception):
    """A mistake in the command line (exit status 2)."""


class Interrupted(Exception):
    pass


# The command line


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds submit, status, watch, results, jobs, resend, users, template and `directory load` to `portal-import`."""
    connection = _connection_options()

    submit = commands.add_parser(
        "submit",
        parents=[connection],
        help="drop a CSV file into the stack's imports/ and print its job id",
        description="Uploads FILE to imports/ with the options as object metadata, waits for the job to start and "
        "prints its id (progress and notes go to stderr).",
    )
    submit.add_argument(
        "file", metavar="FILE", type=Path, help="the CSV file (ContactId,Role); its name must end in .csv"
    )
    submit.add_argument(
        "--send-activation-email",
        action=argparse.BooleanOptionalAction,
        help="email each new user a set-password link (default: the stack's SendActivationEmailDefault)",
    )
    submit.add_argument(
        "--validate", action="store_true", help="check every row and write the result files, but create no user"
    )
    column_arguments(submit)
    submit.add_argument("--wait", action="store_true", help="follow the job as `watch` does, then print its summary")
    _watch_options(submit)
    _json_option(submit)
    submit.set_defaults(admin=_submit)

    status = commands.add_parser("status", parents=[connection], help="a job's state and counts")
    status.add_argument("job", metavar="JOB", help="the job id (as submit and jobs print it)")
    _json_option(status)
    status.set_defaults(admin=_status)

    watch = commands.add_parser(
        "watch",
        parents=[connection],
        help="a live progress line until the job and its emails are done, then its summary",
        description="Redraws one line on a terminal (plain lines otherwise), on stderr: rows processed of total, "
        "created, failed, emails sent, ETA. Ends when the job is COMPLETED or FAILED and every email it queued "
        "is sent; exit status 1 when the file was rejected.",
    )
    watch.add_argument("job", metavar="JOB", help="the job id")
    _watch_options(watch)
    _json_option(watch)
    watch.set_defaults(admin=_watch)

    results = commands.add_parser(
        "results", parents=[connection], help="download a job's success.csv, failure.csv and summary.json"
    )
    results.add_argument("job", metavar="JOB", help="the job id")
    results.add_argument("--out", type=Path, help="where to put them (default ./import-results/<jobId>/)")
    _json_option(results)
    results.set_defaults(admin=_results)

    jobs = commands.add_parser("jobs", parents=[connection], help="recent jobs, newest first, with state and counts")
    jobs.add_argument("--limit", type=_positive, default=20, metavar="N", help="how many (default 20)")
    _json_option(jobs)
    jobs.set_defaults(admin=_jobs)

    again = commands.add_parser(
        "resend",
        parents=[connection],
        help="send new activation links to users a job created (by default those never reached)",
        description="Queues a new activation email, with a new link (older ones stop working), through the "
        "stack's email rate: by default to each user JOB created whose activation email was not delivered (its "
        "batch dead-lettered, or SES refused it); with --pending, to each user JOB created who has not activated "
        "yet; with --contact, to those Contacts' users of JOB whatever happened before. A user who has already "
        "activated is never sent a link. Prints how many were queued and why any user was left out.",
    )
    again.add_argument("job", metavar="JOB", help="the job id")
    again.add_argument(
        "--contact",
        action="append",
        default=[],
        metavar="ID",
        help="a Contact (19-character or Salesforce ID) whose user JOB created; repeat for more",
    )
    again.add_argument(
        "--pending",
        action="store_true",
        help="every user JOB created who has not activated yet: links expired or never used, emails not "
        "delivered or never asked for (not with --contact)",
    )
    _json_option(again)
    again.set_defaults(admin=_resend)

    users = commands.add_parser(
        "users",
        parents=[connection],
        help="the users a job created: their activation email and whether they activated",
        description="Lists each user JOB created (row, ContactId, UserId, Role) with where its activation email "
        "stands (sent, not delivered, queued, no valid email, not requested) and its activation (pending, "
        "activated, or expired: its latest link ran out; `resend --pending` sends a new one).",
    )
    users.add_argument("job", metavar="JOB", help="the job id")
    _json_option(users)
    users.set_defaults(admin=_users)

    template = commands.add_parser(
        "template",
        help="write the sample CSV file (ContactId,Role and two example rows)",
        description="The wizard's Download Sample CSV Template: writes it to PATH, or to stdout without one. A file "
        "of your own whose columns have other names (a report export, say) needs no editing: submit it with "
        "--contact-id-column and --role-column naming them.",
    )
    template.add_argument("path", metavar="PATH", nargs="?", type=Path, help="where to write it (default: stdout)")
    template.add_argument("--force", action="store_true", help="replace PATH if it exists")
    template.set_defaults(admin=_template)

    directory = commands.add_parser("directory", help="the stack's directory of Contacts and Roles")
    directory_commands = directory.add_subparsers(dest="directory_command", required=True)
    load = directory_commands.add_parser(
        "load",
        parents=[connection],
        help="seed a new stack's directory from CSV files",
        description="Writes Contacts (with their Salesforce IDs and any existing portal users) and Roles into the "
        "stack's directory table, each Role a group of the user pool and each existing portal user a pool user. "
        "Meant for a new stack: a Contact's existing item is replaced.",
    )
    load.add_argument(
        "--contacts",
        type=Path,
        required=True,
        metavar="F",
        help="ContactId,SalesforceId,Email,FirstName,LastName,PortalUserId",
    )
    load.add_argument("--roles", type=Path, required=True, metavar="F", help="Name,Active")
    load.add_argument(
        "--users-from-pool",
        action="store_true",
        help="an adopted user pool: record the users it has (by custom:contact_id) as the Contacts' portal users, "
        "instead of putting the PortalUserId users of --contacts in the pool",
    )
    _json_option(load)
    load.set_defaults(admin=_directory_load)


def column_arguments(command: argparse.ArgumentParser) -> None:
    """Map Fields: --contact-id-column and --role-column name the file's columns whose headers do not auto-map."""
    for field in (CONTACT_ID, ROLE):
        command.add_argument(
            MAPPING_OPTIONS[field],
            type=_column_name,
            metavar="NAME",
            help=f"the header of the file's column that holds {FIELD_CONTENTS[field]}, when it is not named {field} "
            f"(sets the {MAPPING_METADATA[field]} metadata; case, spaces, '_' and '-' are ignored)",
        )


def column_metadata_of(args: argparse.Namespace) -> dict[str, str]:
    """The metadata --contact-id-column and --role-column ask for."""
    return column_metadata(args.contact_id_column, args.role_column)


def _column_name(text: str) -> str:
    if not normalize_name(text):
        raise argparse.ArgumentTypeError(f"'{text}' names no column: give the column's header as the file has it")
    return text


def _connection_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    where = options.add_argument_group(
        "where the stack is",
        "Names come from the stack's CloudFormation outputs with --stack, or are given one by one. "
        "Credentials, profiles and regions are found as the AWS CLI finds them.",
    )
    where.add_argument("--stack", metavar="NAME", help=f"the stack's name (or set {STACK_ENV})")
    for which, (output, option, env) in NAMES.items():
        where.add_argument(option, dest=which, metavar="NAME", help=f"instead of the stack's {output} (or set {env})")
    where.add_argument("--profile", help="a named profile of your AWS configuration")
    where.add_argument("--region", help="the stack's region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)")
    where.add_argument(
        "--endpoint-url", metavar="URL", help="another endpoint, e.g. `local serve`'s http://127.0.0.1:4566"
    )
    return options


def _watch_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--interval", type=_positive_seconds, default=1.0, metavar="S", help="seconds between reads (default 1)"
    )
    command.add_argument(
        "--timeout", type=_positive_seconds, metavar="S", help="stop following after S seconds (exit status 1)"
    )


def _json_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--json", action="store_true", help="print one JSON document and nothing else on stdout")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return int(text)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number of seconds")
    return value


# Running a command


def run(args: argparse.Namespace) -> int:
    """Runs the parsed command; every failure ends as one sentence on stderr and an exit status, never a traceback."""
    command: Callable[[argparse.Namespace], int] = args.admin
    try:
        return command(args)
    except (UsageError, TargetUnknown) as error:
        _say(str(error))
        return 2
    except Interrupted as error:
        _say(str(error))
        return 130
    except KeyboardInterrupt:
        _say("interrupted.")
        return 130
    except DeploymentError as error:
        _say(str(error))
        return 1
    except ClientError as error:
        _say(_client_error_sentence(error))
        return 1
    except (NoCredentialsError, PartialCredentialsError):
        _say(
            "no AWS credentials were found: run `aws configure` or `aws sso login`, set AWS_PROFILE or pass "
            "--profile (local serve takes any, e.g. AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local)."
        )
        return 1
    except (SSOError, TokenRetrievalError):
        _say("your AWS SSO session has expired or was never started: run `aws sso login` and try again.")
        return 1
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as error:
        _say(f"cannot reach AWS ({error}); check your network, --region, or that `local serve` is running.")
        return 1
    except BotoCoreError as error:
        _say(f"the AWS call failed: {error}.")
        return 1
    except BrokenPipeError:
        # Whoever read stdout went away (`| head`): nothing is left to tell, and Python's own flush at exit must
        # not complain about it either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # a local file: the one to upload, or where results go
        _say(f"{error.filename or 'a local file'}: {error.strerror or error}.")
        return 1


def check_csv_name(path: Path) -> None:
    """Only imports/*.csv starts a job: a file named otherwise would be dropped for nothing."""
    if not path.name.endswith(".csv"):
        raise UsageError(f"{path.name} does not end in .csv: only imports/*.csv starts a job; rename it.")


def _client_error_sentence(error: ClientError) -> str:
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    message = str(details.get("Message", "")).rstrip(".")
    operation = error.operation_name
    if code in _ACCESS_DENIED or code == "403":
        return (
            f"access denied to {operation}{': ' + message if message else ''}; "
            "ask for that permission, or use --profile with an identity that has it."
        )
    if code in _EXPIRED:
        return "your AWS credentials have expired: refresh them (e.g. `aws sso login`) and try again."
    if code in _BAD_CREDENTIALS:
        return f"AWS does not accept your credentials ({code}): check --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID."
    if code == "ResourceNotFoundException":
        return (
            f"{operation} found no such table ({message}): check --stack, --jobs-table or --directory-table, "
            "and --region."
        )
    if code == "NoSuchBucket":
        return "the import bucket does not exist: check --stack or --bucket, and --region."
    return f"{operation} failed ({code}): {message}."


def _say(text: str) -> None:
    print(f"portal-import: {text}", file=sys.stderr, flush=True)


def _emit(document: Any) -> None:
    print(json.dumps(document, indent=None, ensure_ascii=False))


# The commands


def _submit(args: argparse.Namespace) -> int:
    path: Path = args.file
    check_csv_name(path)
    if not path.is_file():
        raise UsageError(f"{path} does not exist or is not a file.")
    metadata = {"mode": "validate" if args.validate else "import", **column_metadata_of(args)}
    if args.send_activation_email is not None:
        metadata["send-activation-email"] = "true" if args.send_activation_email else "false"
    deployment = Deployment(Target.from_options(args))
    bucket = deployment.name("bucket")
    deployment.name("jobs_table")  # known before the upload: a job nobody can follow is no use to `submit`
    key = f"imports/{path.name}"
    version = deployment.upload(path, key, metadata)
    uri = f"s3://{bucket}/{key}"
    if not version:
        raise DeploymentError(
            f"{path.name} is uploaded to {uri}, but the bucket gave it no version id, so its job cannot be found: "
            "is versioning on for the bucket?"
        )
    _say(f"uploaded {path} to {uri} (version {version}); waiting for its job to start")
    job_id = deployment.wait_for_job_of(version)
    if job_id is None:
        raise DeploymentError(
            f"{path.name} is uploaded to {uri}, but no job started for it: check the stack's splitter "
            "(and its DroppedFileDeadLetterQueue)."
        )
    upload = {"bucket": bucket, "key": key, "versionId": version}
    if not args.json:
        print(job_id, flush=True)  # alone on its line first: JOB=$(portal-import submit f.csv) works
    if not args.wait:
        if args.json:
            _emit({**job_json(deployment.job(job_id)), "upload": upload})
        return 0
    job = _follow(deployment, job_id, args)
    _report(job, args, upload=upload)
    return _finished_status(job)


def _status(args: argparse.Namespace) -> int:
    _report(Deployment(Target.from_options(args)).job(args.job), args)
    return 0


def _watch(args: argparse.Namespace) -> int:
    job = _follow(Deployment(Target.from_options(args)), args.job, args)
    _report(job, args)
    return _finished_status(job)


def _report(job: Job, args: argparse.Namespace, **extra: Any) -> None:
    """The job as `--json` asks (one document, with `extra`), or for a person."""
    if args.json:
        _emit({**job_json(job), **extra})
    else:
        _print_report(job)


def _follow(deployment: Deployment, job_id: str, args: argparse.Namespace) -> Job:
    first = deployment.job(job_id)  # an unknown job fails here, before any progress is drawn
    reads = iter([first])

    def read() -> Job:
        return next(reads, None) or deployment.job(job_id)

    try:
        return follow(
            read,
            ProgressDisplay(sys.stderr),
            interval=args.interval,
            timeout=args.timeout,
            email_rate=deployment.email_rate() if emails_expected(first) and not finished(first) else None,
        )
    except StillRunning as running:
        raise DeploymentError(
            f"job {job_id} is still {running.job.status.value} after {duration(running.waited)}; "
            f"`portal-import watch {job_id}` follows it again."
        ) from None
    except KeyboardInterrupt:
        raise Interrupted(f"stopped watching; job {job_id} goes on (`portal-import watch {job_id}`).") from None


def _finished_status(job: Job) -> int:
    if job.status is JobStatus.FAILED:
        _say(f"the file was rejected: {job.error}")
        return 1
    return 0


def _results(args: argparse.Namespace) -> int:
    deployment = Deployment(Target.from_options(args))
    out: Path = args.out or Path("import-results") / args.job
    try:
        summary = deployment.download_results(args.job, out)
    except ResultsNotFound as missing:
        raise DeploymentError(_why_no_results(deployment, args.job, missing)) from None
    except OSError as error:
        raise DeploymentError(f"cannot write the results into {out}: {error.strerror or error}.") from None
    report = {
        "jobId": summary.get("jobId", args.job),
        "status": summary.get("status"),
        "error": summary.get("error"),
        "mode": summary.get("mode"),
        "totalRows": summary.get("totalRows"),
        "succeeded": summary.get("succeeded"),
        "failed": summary.get("failed"),
        "emailsQueued": summary.get("emailsQueued"),
        "resultDir": str(out),
    }
    if args.json:
        _emit(report)
    else:
        created = "would be created" if report["mode"] == "validate" else "created"
        print(f"Job {report['jobId']}: {report['status']}")
        print(
            f"  rows {report['totalRows']}: {report['succeeded']} {created}, {report['failed']} failed; "
            f"activation emails queued {report['emailsQueued']}"
        )
        print(f"Results in {out}/")
        for name in RESULT_FILES:
            print(f"  {name}")
    if report["status"] == JobStatus.FAILED.value:
        _say(f"the file was rejected: {report['error']}")
        return 1
    return 0


def _why_no_results(deployment: Deployment, job_id: str, missing: ResultsNotFound) -> str:
    """Says whether the job does not exist or has not finished yet, when the jobs table can be read."""
    try:
        job = deployment.job(job_id)
    except JobNotFound as error:
        return str(error)
    except (DeploymentError, ClientError, BotoCoreError):
        return f"there are no results in {missing.uri}: the job does not exist or has not completed yet."
    return (
        f"job {job_id} is {job.status.value}; its results are written when it completes "
        f"(`portal-import watch {job_id}` follows it)."
    )


def _jobs(args: argparse.Namespace) -> int:
    deployment = Deployment(Target.from_options(args))
    reports = [deployment.job(job_id) for job_id in deployment.recent_job_ids(args.limit)]
    if args.json:
        _emit([job_json(report) for report in reports])
        return 0
    if not reports:
        print("No jobs yet.")
        return 0
    header = ("JOB", "STATUS", "MODE", "ROWS", "CREATED", "FAILED", "EMAILS SENT", "FILE")
    rows = [header] + [
        (
            r.job_id,
            r.status.value,
            r.mode,
            "?" if r.total_rows is None else f"{r.rows_done}/{r.total_rows}",
            str(r.succeeded),
            str(r.failed),
            f"{r.emails_sent}/{r.emails_queued}" if emails_expected(r) else "-",
            r.source_key,
        )
        for r in reports
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


def _resend(args: argparse.Namespace) -> int:
    if args.pending and args.contact:
        raise UsageError(
            "--pending already sends to every user of the job who has not activated, named or not: "
            "give --pending or --contact, not both."
        )
    deployment = Deployment(Target.from_options(args))
    job = deployment.job(args.job)
    try:
        done = deployment.resend(job, args.contact, pending=args.pending)
    except ResendRefused as refused:
        raise DeploymentError(str(refused)) from None
    if args.json:
        _emit(
            {
                "jobId": job.job_id,
                "request": done.request,
                "queued": len(done.queued),
                "contacts": [recipient.contact_id for recipient in done.queued],
                "leftOut": [{"contactId": left.contact_id, "reason": left.reason} for left in done.left_out],
            }
        )
        return 0
    print(
        f"Queued {len(done.queued)} activation email(s) for job {job.job_id}; they go out at the stack's email "
        "rate, each with a new link (older links stop working)."
    )
    if done.left_out:
        print(f"Left out {len(done.left_out)}:")
        for left in done.left_out:
            print(f"  {left.contact_id}: {left.reason}")
    return 0


def _users(args: argparse.Namespace) -> int:
    deployment = Deployment(Target.from_options(args))
    job = deployment.job(args.job)
    try:
        users = deployment.users(job)
    except UsersRefused as refused:
        raise DeploymentError(str(refused)) from None
    if args.json:
        _emit(
            [
                {
                    "row": user.row,
                    "contactId": user.contact_id,
                    "userId": user.user_id,
                    "role": user.role,
                    "email": user.email,
                    "activation": user.activation,
                }
                for user in users
            ]
        )
        return 0
    print(f"Job {job.job_id}: {len(users)} user(s) created")
    if users:
        print(f"  {'Row':>6}  {'ContactId':<19}  {'UserId':<19}  {'Email':<14}  {'Activation':<10}  Role")
    for user in users:
        print(
            f"  {user.row:>6}  {user.contact_id:<19}  {user.user_id:<19}  {user.email:<14}  {user.activation:<10}  "
            f"{user.role}"
        )
    return 0


def _template(args: argparse.Namespace) -> int:
    if args.path is None or str(args.path) == "-":
        sys.stdout.write(TEMPLATE_CSV.read_text(encoding="utf-8"))
        return 0
    path: Path = args.path
    if path.exists() and not args.force:
        raise UsageError(f"{path} already exists; choose another name, or pass --force to replace it.")
    try:
        shutil.copyfile(TEMPLATE_CSV, path)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}.") from None
    _say(
        f"wrote {path}: fill in one ContactId and Role per row, then `portal-import submit {path}` (a file of your "
        "own whose columns have other names imports as it is: `portal-import submit FILE --contact-id-column NAME "
        "--role-column NAME`)"
    )
    return 0


def _directory_load(args: argparse.Namespace) -> int:
    for option, path in (("--contacts", args.contacts), ("--roles", args.roles)):
        if not path.is_file():
            raise UsageError(f"{option} {path} does not exist or is not a file.")
    try:
        data = read_directory(args.contacts, args.roles)
    except DirectoryFileError as error:
        raise UsageError(str(error)) from None
    table, loaded = Deployment(Target.from_options(args)).load_directory(data, users_from_pool=args.users_from_pool)
    counts = {
        "table": table,
        "contacts": len(loaded.contacts),
        "portalUsers": len(loaded.users),
        "roles": len(data.roles),
        "activeRoles": sum(data.roles.values()),
    }
    if args.json:
        _emit(counts)
    else:
        print(
            f"Loaded {counts['contacts']} contacts ({counts['portalUsers']} with a portal user) and "
            f"{counts['roles']} roles ({counts['activeRoles']} active) into {table}."
        )
    return 0


# What a person reads


def _print_report(job: Job) -> None:
    print(f"Job {job.job_id}: {job.status.value}")
    if job.mode == "validate":
        options = "validate: no user is created and no email sent"
    else:
        options = f"import, activation emails {'on' if job.send_activation_email else 'off'}"
    print(f"  file     {job.source_key} ({options})")
    if job.columns:
        print(f"  columns  {columns_read(job.columns)}")
    if job.error:
        print(f"  error    {job.error}")
    created = "would be created" if job.mode == "validate" else "created"
    if job.total_rows is not None:
        so_far = "" if job.rows_done >= job.total_rows else " so far"
        print(
            f"  rows     {job.rows_done:,} of {job.total_rows:,}{so_far}: "
            f"{job.succeeded:,} {created}, {job.failed:,} failed"
        )
    elif job.status is JobStatus.SPLITTING:
        print("  rows     the file is still being read")
    if emails_expected(job):
        print(
            f"  emails   {job.emails_queued:,} queued, {job.emails_sent:,} sent"
            + (f", {job.emails_failed:,} refused" if job.emails_failed else "")
            + ("" if emails_done(job) >= job.emails_queued else " (sending)")
        )
    elif job.mode == "validate" and job.send_activation_email:
        print("  emails   none sent (validate); success.csv says which would be queued")
    if job.mode != "validate" and job.succeeded:
        print(f"  users    {_activated_text(job)}")
    started = f"  started  {job.started_at}"
    if job.completed_at:
        started += f", completed {job.completed_at}"
        took = _seconds_between(job.started_at, job.completed_at)
        if took is not None:
            started += f" (took {duration(took)})"
    print(started)
    if results_uri(job):
        print(f"  results  {results_uri(job)} (`portal-import results {job.job_id}` downloads them)")


def _activated_text(job: Job) -> str:
    """How many of the users the import created have set their password; once the job and its emails are done,
    how to reach the others (resend refuses until then)."""
    text = f"{job.users_activated:,} of {job.succeeded:,} activated"
    others = job.succeeded - job.users_activated
    if others <= 0 or job.status is not JobStatus.COMPLETED or not finished(job):
        return text
    return f"{text} (`portal-import resend {job.job_id} --pending` sends the {others:,} others a new link)"


def _seconds_between(start: str, end: str) -> float | None:
    try:
        return (_instant(end) - _instant(start)).total_seconds()
    except ValueError:
        return None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
