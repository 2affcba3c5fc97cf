"""The administrator's commands against a deployed stack (or `local serve` through --endpoint-url): submit a file,
follow its job, fetch its results, list jobs, resend activation links, list a job's users, check the account and the
stack before sending (doctor), write the sample CSV, and load a new stack's directory. Each takes the parsed command
line and returns its exit status."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from portal_import.domain.job import Job, JobStatus
from portal_import.domain.options import column_metadata
from portal_import.domain.rules import is_valid_email
from portal_import.domain.sample import SAMPLE_CSV
from portal_import.flows.resend import ResendRefused
from portal_import.flows.users import UsersRefused
from portal_import_cli import doctor as diagnosis
from portal_import_cli import inspection, rendering
from portal_import_cli.deployment import (
    AWS_FAILURES,
    Deployment,
    DeploymentError,
    JobNotFound,
    ResultsNotFound,
    Target,
)
from portal_import_cli.errors import Interrupted, UsageError
from portal_import_cli.progress import (
    ProgressDisplay,
    StillRunning,
    duration,
    emails_expected,
    finished,
    follow,
    job_json,
)
from portal_import_cli.rendering import emit, say
from portal_import_cli.seed import DirectoryFileError, read_directory


def check_csv_name(path: Path) -> None:
    """Only imports/*.csv starts a job: a file named otherwise would be dropped for nothing."""
    if not path.name.endswith(".csv"):
        raise UsageError(f"{path.name} does not end in .csv: only imports/*.csv starts a job; rename it.")


def column_metadata_of(args: argparse.Namespace) -> dict[str, str]:
    """The metadata --contact-id-column and --role-column ask for."""
    return column_metadata(args.contact_id_column, args.role_column)


def submit(args: argparse.Namespace) -> int:
    path: Path = args.file
    check_csv_name(path)
    if not path.is_file():
        raise UsageError(f"{path} does not exist or is not a file.")
    metadata = {"mode": "validate" if args.validate else "import", **column_metadata_of(args)}
    if args.send_activation_email is not None:
        metadata["send-activation-email"] = "true" if args.send_activation_email else "false"
    deployment = Deployment(Target.from_options(args))
    if args.send_activation_email and inspection.in_sandbox(deployment):
        say(f"warning: {diagnosis.SANDBOX}; `portal-import doctor` says what to do.")
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
    say(f"uploaded {path} to {uri} (version {version}); waiting for its job to start")
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
            rendering.report(deployment.job(job_id), as_json=True, upload=upload)
        return 0
    job = _follow(deployment, job_id, args)
    rendering.report(job, as_json=args.json, upload=upload)
    return _finished_status(job)


def status(args: argparse.Namespace) -> int:
    rendering.report(Deployment(Target.from_options(args)).job(args.job), as_json=args.json)
    return 0


def watch(args: argparse.Namespace) -> int:
    job = _follow(Deployment(Target.from_options(args)), args.job, args)
    rendering.report(job, as_json=args.json)
    return _finished_status(job)


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
        say(f"the file was rejected: {job.error}")
        return 1
    if job.emails_held_at is None and job.emails_held:
        say(
            f"{job.emails_held} of job {job.job_id}'s activation emails were kept as its last resume ended the hold; "
            f"`portal-import resume-emails {job.job_id}` sends them."
        )
    elif job.emails_held_at is not None:
        say(
            f"job {job.job_id}'s remaining activation emails are held by the reputation guard ({job.emails_held_why}); "
            f"`portal-import users {job.job_id}` lists who bounced or complained, and "
            f"`portal-import resume-emails {job.job_id}` sends the held emails once the addresses are checked."
        )
    return 0


def results(args: argparse.Namespace) -> int:
    deployment = Deployment(Target.from_options(args))
    out: Path = args.out or Path("import-results") / args.job
    try:
        summary = deployment.download_results(args.job, out)
    except ResultsNotFound as missing:
        raise DeploymentError(_why_no_results(deployment, args.job, missing)) from None
    except OSError as error:
        raise DeploymentError(f"cannot write the results into {out}: {error.strerror or error}.") from None
    document = summary.to_json()
    report = {
        "jobId": summary.job_id or args.job,
        **{key: document[key] for key in ("status", "error", "mode", "totalRows", "succeeded", "failed")},
        "emailsQueued": summary.emails_queued,
        "resultDir": str(out),
    }
    if args.json:
        emit(report)
    else:
        rendering.print_results(report, out)
    if report["status"] == JobStatus.FAILED.value:
        say(f"the file was rejected: {report['error']}")
        return 1
    return 0


def _why_no_results(deployment: Deployment, job_id: str, missing: ResultsNotFound) -> str:
    """Says whether the job does not exist or has not finished yet, when the jobs table can be read."""
    try:
        job = deployment.job(job_id)
    except JobNotFound as error:
        return str(error)
    except (DeploymentError, *AWS_FAILURES):
        return f"there are no results in {missing.uri}: the job does not exist or has not completed yet."
    return (
        f"job {job_id} is {job.status.value}; its results are written when it completes "
        f"(`portal-import watch {job_id}` follows it)."
    )


def jobs(args: argparse.Namespace) -> int:
    deployment = Deployment(Target.from_options(args))
    reports = [deployment.job(job_id) for job_id in deployment.recent_job_ids(args.limit)]
    if args.json:
        emit([job_json(report) for report in reports])
    else:
        rendering.print_jobs(reports)
    return 0


def resend(args: argparse.Namespace) -> int:
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
        emit(rendering.resend_json(job, done))
    else:
        rendering.print_resend(job, done)
    return 0


def resume_emails(args: argparse.Namespace) -> int:
    deployment = Deployment(Target.from_options(args))
    job = deployment.job(args.job)
    answer = deployment.resume_emails(job)
    if "refused" in answer:
        raise DeploymentError(str(answer["refused"]))
    if args.json:
        emit(answer)
    else:
        print(f"Job {job.job_id}: {answer['queued']} held email(s) queued again; the guard keeps watching.")
    return 0


def users(args: argparse.Namespace) -> int:
    deployment = Deployment(Target.from_options(args))
    job = deployment.job(args.job)
    try:
        found = deployment.users(job)
    except UsersRefused as refused:
        raise DeploymentError(str(refused)) from None
    if args.json:
        emit(rendering.users_json(found))
    else:
        rendering.print_users(job, found)
    return 0


def doctor(args: argparse.Namespace) -> int:
    deployment = Deployment(Target.from_options(args))
    if not deployment.target.stack:
        raise UsageError(
            "doctor reads the stack's outputs and parameters: pass --stack NAME (or set PORTAL_IMPORT_STACK)."
        )
    results = diagnosis.checks(inspection.answers(deployment))
    if args.json:
        emit(diagnosis.report_json(results))
    else:
        print("\n".join(diagnosis.report_lines(results)), flush=True)
    return 0 if all(check.ok for check in results) else 1


def template(args: argparse.Namespace) -> int:
    if args.path is None or str(args.path) == "-":
        sys.stdout.write(SAMPLE_CSV)
        return 0
    path: Path = args.path
    if path.exists() and not args.force:
        raise UsageError(f"{path} already exists; choose another name, or pass --force to replace it.")
    try:
        path.write_text(SAMPLE_CSV, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}.") from None
    say(
        f"wrote {path}: fill in one ContactId and Role per row, then `portal-import submit {path}` (a file of your "
        "own whose columns have other names imports as it is: `portal-import submit FILE --contact-id-column NAME "
        "--role-column NAME`)"
    )
    return 0


def _admin_email(text: str) -> str:
    email = text.strip()
    if not is_valid_email(email):
        raise UsageError(f"{text!r} is not an email address: an administrator signs in with theirs.")
    return email


def admins_add(args: argparse.Namespace) -> int:
    email = _admin_email(args.email)
    deployment = Deployment(Target.from_options(args))
    deployment.add_admin(email)
    console = deployment.stack_outputs().get("ConsoleUrl", "") if deployment.target.stack else ""
    if args.json:
        emit({"invited": email, "consoleUrl": console})
    else:
        where = f" at {console}" if console else ""
        say(
            f"invited {email}: Cognito emails them a temporary password from the stack's sender; they sign in to the "
            f"import console{where} with their address and choose their own password."
        )
    return 0


def admins_list(args: argparse.Namespace) -> int:
    admins = Deployment(Target.from_options(args)).admins()
    if args.json:
        emit(admins)
    else:
        rendering.print_admins(admins)
    return 0


def admins_remove(args: argparse.Namespace) -> int:
    email = _admin_email(args.email)
    Deployment(Target.from_options(args)).remove_admin(email)
    if args.json:
        emit({"removed": email})
    else:
        say(f"removed {email}: they are signed out everywhere and can no longer sign in to the import console.")
    return 0


def directory_load(args: argparse.Namespace) -> int:
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
        emit(counts)
    else:
        rendering.print_directory_load(counts)
    return 0
