"""One `local run`: provision, seed, drop the file, deliver events until done, and collect the results."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from portal_import.aws.held_emails import HeldEmails
from portal_import.aws.jobs import Jobs
from portal_import.aws.ledger import Ledger
from portal_import.aws.storage import Storage
from portal_import.domain.job import Job
from portal_import.domain.results import results_prefix
from portal_import.domain.summary import RESULT_FILES, SUMMARY_FILE, Summary
from portal_import.flows.users import UsersRefused, job_users
from portal_import_cli.commands import column_metadata_of
from portal_import_cli.progress import job_json
from portal_import_cli.rendering import users_json
from portal_import_cli.seed import read_directory
from portal_import_local.faults import FaultPlan
from portal_import_local.outbox import write_outbox
from portal_import_local.runtime import LocalRuntime, Notification
from portal_import_local.stack import Stack
from portal_import_local.startup import running_stack

DELIVERIES_FILE = "deliveries.json"
# The function whose queue follows a job rather than making it: users placed in their groups (docs/contracts.md §6).
GROUP_PASS = ("GroupFunction",)


# What `local run --json` says of the emails' outcomes (docs/contracts.md §7).
DELIVERY_COUNTS = ("emailsDelivered", "emailsBounced", "emailsComplained", "emailsDelayed", "emailsHeld")


def run_import(args: argparse.Namespace, template: Path, log_path: Path, timeout: float) -> dict[str, Any]:
    data = read_directory(args.contacts, args.roles)  # before provisioning: a bad file fails fast
    faults = _fault_plan(args)
    echo = sys.stderr if args.verbose else None
    with running_stack(args, template, data, log_path, echo=echo, faults=faults) as runtime:
        # Only what the administrator asked for travels as metadata; the rest is the stack's default.
        metadata = {"send-activation-email": "true"} if args.send_activation_email else {}
        if args.mode:
            metadata["mode"] = args.mode
        metadata |= column_metadata_of(args)
        started = time.monotonic()
        event = runtime.upload(args.import_csv, f"imports/{args.import_csv.name}", metadata)
        (job_id,) = runtime.deliver_s3_event(event)
        # The job is done once its results, its notice and its emails are (wallSeconds); the group pass that follows
        # it is drained below, with SES's events, so that the pool the run leaves has every user in its group.
        notice = runtime.run_until_done(job_id, timeout, besides=GROUP_PASS)
        wall_seconds = time.monotonic() - started
        # SES's events come a few seconds after the last send: the run ends once each is recorded on its email.
        runtime.run_until_ses_events_recorded(timeout - wall_seconds, job_id)
        completed = runtime.completion_detail(job_id)
        # Read while the functions' log file is open: the adapters reading them may log.
        job = Jobs(runtime.stack.jobs_table).get(job_id)
        deliveries = deliveries_of(runtime.stack, job) if runtime.sent_message_count() else None
        outcomes = delivery_counts_of(job)

    result_dir: Path = args.out or Path("import-results") / job_id
    result_dir.mkdir(parents=True, exist_ok=True)
    for name in RESULT_FILES:
        (result_dir / name).write_bytes(runtime.download(results_prefix(job_id) + name))
    notification = _write_notices(result_dir, runtime, job_id, notice)
    pool_users = runtime.pool_users()
    (result_dir / "pool-users.json").write_text(json.dumps(pool_users, indent=1) + "\n", encoding="utf-8")
    sent = _write_outbox(result_dir, runtime)
    if deliveries is not None:  # only when the job sent emails
        (result_dir / DELIVERIES_FILE).write_text(json.dumps(deliveries, indent=1) + "\n", encoding="utf-8")

    summary = Summary.from_json(json.loads((result_dir / SUMMARY_FILE).read_text(encoding="utf-8"))).to_json()
    return {
        **{
            key: summary[key]
            for key in ("jobId", "status", "error", "totalRows", "succeeded", "failed", "emailsQueued")
        },
        "emailsSent": sent,
        **outcomes,
        "poolUsers": len(pool_users),
        "resultDir": result_dir,
        "notification": notification,
        "completedDetail": completed,  # the Import Completed event's: which link in the message is which file
        "awsRequests": dict(sorted(runtime.calls.counts.items())),
        "wallSeconds": round(wall_seconds, 3),
        "emailSendTimes": runtime.calls.email_send_times,
        "userCreationTimes": runtime.calls.user_creation_times,
        # The calls the local AWS refused as over their quota's rate, by quota (--aws-quotas; none without).
        "awsThrottles": runtime.calls.quotas.refused() if runtime.calls.quotas is not None else {},
    }


def _fault_plan(args: argparse.Namespace) -> FaultPlan:
    return FaultPlan(
        seed=args.seed,
        api_error=args.fault_api_error,
        redeliver=args.fault_redeliver,
        ses_throttle=args.fault_ses_throttle,
        poison_contact=args.fault_poison_contact,
    )


def _write_notices(result_dir: Path, runtime: LocalRuntime, job_id: str, notice: Notification) -> dict[str, Any]:
    """notification.json (the job's import-completed message, which it returns) and notices.json: every message
    the topic carried for this job, in order: exactly one import-completed, and one emails-sent when emails were
    queued (tests count them)."""
    notification = {"subject": notice.subject, "message": notice.message, "attributes": notice.attributes}
    (result_dir / "notification.json").write_text(json.dumps(notification, indent=2) + "\n", encoding="utf-8")
    notices = [
        {"subject": seen.subject, "message": seen.message, "attributes": seen.attributes}
        for seen in runtime.notifications()
        if seen.attributes.get("jobId") == job_id
    ]
    (result_dir / "notices.json").write_text(json.dumps(notices, indent=2) + "\n", encoding="utf-8")
    return notification


def _write_outbox(result_dir: Path, runtime: LocalRuntime) -> int:
    """Every email sent, as outbox/*.eml (those of an earlier run into the same --out gone); how many."""
    outbox = result_dir / "outbox"
    outbox.mkdir(exist_ok=True)
    for stale in outbox.glob("*.eml"):
        stale.unlink()
    return write_outbox(outbox, runtime.iter_sent_emails())


def delivery_counts_of(job: Job | None) -> dict[str, Any]:
    """The job's users by what became of their activation email, as `portal-import status JOB --json` counts them."""
    counted = job_json(job) if job is not None else {}
    return {key: int(counted.get(key) or 0) for key in DELIVERY_COUNTS} | {
        "emailsHeldWhy": counted.get("emailsHeldWhy")
    }


def deliveries_of(stack: Stack, job: Job | None) -> list[dict[str, Any]]:
    """What became of each activation email of the job, by user, as `portal-import users JOB --json` says it: where
    the email stands, and what SES reported of its delivery (null while it reported nothing)."""
    if job is None:
        return []
    try:
        ledger = Ledger(stack.directory_table, stack.jobs_table)
        users = job_users(job, Storage(stack.bucket), ledger, held_emails=HeldEmails(stack.jobs_table))
    except UsersRefused:  # a job whose users cannot be listed (it failed as a whole): no email went out for it
        return []
    return [
        {
            "row": user["row"],
            "contactId": user["contactId"],
            "userId": user["userId"],
            "email": user["email"],
            "delivery": user["delivery"],
            "deliveryDetail": user["deliveryDetail"],
        }
        for user in users_json(users)
    ]
