"""What the commands print: one JSON document on stdout for scripts (--json), the same for a person otherwise, and
notes on stderr."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from portal_import.domain.job import Job, JobStatus
from portal_import.domain.notification import columns_read
from portal_import.domain.shown import visible
from portal_import.domain.summary import RESULT_FILES
from portal_import.flows.console import user_json
from portal_import.flows.resend import Resend
from portal_import.flows.users import JobUser
from portal_import_cli.progress import delivery_counts, duration, emails_expected, finished, job_json, results_uri


def say(text: str) -> None:
    """A note or a failure, for the person at the terminal (stderr)."""
    print(f"portal-import: {text}", file=sys.stderr, flush=True)


def emit(document: Any) -> None:
    """The one JSON document of --json (stdout)."""
    print(json.dumps(document, indent=None, ensure_ascii=False))


def report(job: Job, *, as_json: bool, **extra: Any) -> None:
    """The job as `--json` asks (one document, with `extra`), or for a person."""
    if as_json:
        emit({**job_json(job), **extra})
    else:
        print_report(job)


def print_report(job: Job) -> None:
    print(f"Job {job.job_id}: {job.status.value}")
    if job.mode == "validate":
        options = "validate: no user is created and no email sent"
    else:
        options = f"import, activation emails {'on' if job.send_activation_email else 'off'}"
    print(f"  file     {visible(job.source_key)} ({options})")
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
        sending = " (held)" if job.emails_held_at else "" if job.emails_done >= job.emails_queued else " (sending)"
        print(
            f"  emails   {job.emails_queued:,} queued, {job.emails_sent:,} sent"
            + (f", {job.emails_failed:,} refused" if job.emails_failed else "")
            + (f", {job.emails_held:,} held" if job.emails_held else "")
            + sending
        )
        outcomes = delivery_counts(job)
        if outcomes:
            print(f"  delivery {outcomes}, the rest pending (`portal-import users {job.job_id}` says who)")
        if job.emails_held_at:
            print(f"  held     {job.emails_held_why} (`portal-import resume-emails {job.job_id}` sends them)")
        elif job.emails_held:  # parked as a resume ended the hold: handed back by running it again
            again = f"`portal-import resume-emails {job.job_id}`"
            print(f"  held     {job.emails_held:,} kept past the last resume ({again} sends them)")
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
    a resend only where one would help: to the users whose email was not delivered (bounces need a corrected
    address first), or, for the others, once their links expire (`users` says whose have)."""
    text = f"{job.users_activated:,} of {job.succeeded:,} activated"
    if job.links_renewed:
        text += f", {job.links_renewed:,} new link{'s' if job.links_renewed != 1 else ''} asked for from the page"
    others = job.succeeded - job.users_activated
    if others <= 0 or job.status is not JobStatus.COMPLETED or not finished(job):
        return text
    if job.emails_failed:
        return f"{text} (`portal-import resend {job.job_id}` sends the {job.emails_failed:,} not delivered a new link)"
    if job.emails_bounced:
        return (
            f"{text} ({job.emails_bounced:,} bounced: correct their Contacts' addresses, then "
            f"`portal-import resend {job.job_id} --contact ID`; `portal-import users {job.job_id}` lists them)"
        )
    return f"{text} (the others' links work until they expire; `portal-import users {job.job_id}` shows whose have)"


def _seconds_between(start: str, end: str) -> float | None:
    try:
        return (_instant(end) - _instant(start)).total_seconds()
    except ValueError:
        return None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def print_results(report: dict[str, Any], out: Path) -> None:
    """`results` for a person: the job's counts and the files downloaded into `out`."""
    created = "would be created" if report["mode"] == "validate" else "created"
    print(f"Job {report['jobId']}: {report['status']}")
    print(
        f"  rows {report['totalRows']}: {report['succeeded']} {created}, {report['failed']} failed; "
        f"activation emails queued {report['emailsQueued']}"
    )
    print(f"Results in {out}/")
    for name in RESULT_FILES:
        print(f"  {name}")


def print_jobs(reports: list[Job]) -> None:
    """`jobs` for a person: a table, one job a row, the file's key last (it may be long)."""
    if not reports:
        print("No jobs yet.")
        return
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
            visible(r.source_key),
        )
        for r in reports
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])


def resend_json(job: Job, done: Resend) -> dict[str, Any]:
    return {
        "jobId": job.job_id,
        "request": done.request,
        "queued": len(done.queued),
        "contacts": list(done.queued),
        "leftOut": [{"contactId": left.contact_id, "reason": left.reason} for left in done.left_out],
    }


def print_resend(job: Job, done: Resend) -> None:
    print(
        f"Queued {len(done.queued)} activation email(s) for job {job.job_id}; they go out at the stack's email "
        "rate, each with a new link (older links stop working)."
    )
    if done.left_out:
        print(f"Left out {len(done.left_out)}:")
        for left in done.left_out:
            print(f"  {left.contact_id}: {left.reason}")


def users_json(users: list[JobUser]) -> list[dict[str, Any]]:
    return [user_json(user) for user in users]


def print_users(job: Job, users: list[JobUser]) -> None:
    print(f"Job {job.job_id}: {len(users)} user(s) created")
    if users:
        heading = f"{'Row':>6}  {'ContactId':<19}  {'UserId':<19}  {'Email':<14}  {'Delivery':<10}  {'Activation':<10}"
        print(f"  {heading}  Role")
    for user in users:
        print(
            f"  {user.row:>6}  {user.contact_id:<19}  {user.user_id:<19}  {user.email:<14}  "
            f"{user.delivery or '-':<10}  {user.activation:<10}  {user.role}"
        )
    for user in users:
        if user.delivery_detail and user.delivery in ("bounced", "complained"):
            print(f"  row {user.row}: {user.delivery}: {user.delivery_detail}")
        if user.renewals:
            asked = f"{user.renewals} new link{'s' if user.renewals != 1 else ''}"
            print(f"  row {user.row}: asked for {asked} from the activation page")


def print_admins(admins: list[dict[str, Any]]) -> None:
    print(f"{len(admins)} administrator(s) of the import console")
    for admin in admins:
        state = "invited, not signed in yet" if admin["status"] == "FORCE_CHANGE_PASSWORD" else admin["status"].lower()
        disabled = ", disabled" if not admin["enabled"] else ""
        print(f"  {admin['email']}  ({state}{disabled}; since {admin['invitedAt'] or '?'})")


def print_directory_load(counts: dict[str, Any]) -> None:
    print(
        f"Loaded {counts['contacts']} contacts ({counts['portalUsers']} with a portal user) and "
        f"{counts['roles']} roles ({counts['activeRoles']} active) into {counts['table']}."
    )
