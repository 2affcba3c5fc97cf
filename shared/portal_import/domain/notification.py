"""The results-ready message an administrator reads: subject, body, and the machine-readable detail."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from portal_import.domain.shown import quoted, visible
from portal_import.domain.summary import Summary

IMPORT_COMPLETED = "import-completed"
EMAILS_SENT = "emails-sent"
EMAILS_HELD = "emails-held"
DETAIL_TYPE_COMPLETED = "Import Completed"
_SHOWN_NAME_CHARS = 60

# What to do about each kind of failure, from the product's troubleshooting tips (the notification, the console).
NEXT_STEPS = {
    "Missing Contact ID": "fill in the ContactId cell.",
    "Role is required": "fill in the Role cell with the name of an active portal Role.",
    "Invalid Role": "use the exact, case-sensitive name of an active portal Role.",
    "Duplicate Contact ID in file": "nothing to do: the Contact's first row in the file was processed.",
    "Contact not found": "use the 19-character Contact ID (15- and 18-character Salesforce IDs are converted); "
    "a wrong or foreign ID fails.",
    "User already exists": "no action is needed: these Contacts already have portal access.",
    "Processing error": "upload the failure file again; these rows hit a fault, not a data problem.",
}


def _ascii_subject(text: str) -> str:
    # SNS subjects must be ASCII, without line breaks, and under 100 characters. The file's name in it is visible()
    # already, so an escape or a bidi override shows as its escape rather than as "?".
    plain = re.sub(r"[^\x20-\x7e]", "?", text)
    return plain if len(plain) < 100 else plain[:96] + "..."


def columns_read(columns: Mapping[str, str]) -> str:
    """Which of the file's columns were read, auto-mapped or as Map Fields named them: `ContactId from '…', …`."""
    return ", ".join(f"{field} from {quoted(name, _SHOWN_NAME_CHARS)}" for field, name in columns.items())


def compose(
    summary: Summary | Mapping[str, Any],
    errors: Counter[str],
    links: Mapping[str, str],
    expires_in: int,
    *,
    no_valid_email: int = 0,
    links_expire_at: datetime | None = None,
) -> tuple[str, str]:
    """Returns (subject, message) for the results-ready notification.

    `no_valid_email`: users created whose Contact has no usable address (no activation email was queued);
    `links_expire_at`: when the pre-signed links stop working (default: `expires_in` from now)."""
    if not isinstance(summary, Summary):
        summary = Summary.from_json(summary)  # summary.json's document, as read back
    if summary.status == "FAILED":
        subject = f"Portal user import FAILED: {visible(summary.file_name)}"
        lines = _failed_lines(summary)
    else:
        verb = "would be created" if summary.validate else "created"
        subject = (
            f"Portal user import {'validated' if summary.validate else 'completed'}: {visible(summary.file_name)} - "
            f"{summary.succeeded} {verb}, {summary.failed} failed"
        )
        lines = _completed_lines(summary, errors, no_valid_email)
    expires = links_expire_at or datetime.now(UTC) + timedelta(seconds=expires_in)
    lines += _result_lines(summary.job_id, links, expires)
    return _ascii_subject(subject), "\n".join(lines) + "\n"


def _failed_lines(summary: Summary) -> list[str]:
    return [
        f"The import of {visible(summary.source_key)} could not run.",
        "",
        f"Reason: {summary.error}",
        "",
        "Fix what the reason names and upload the file to imports/ again.",
    ]


def _completed_lines(summary: Summary, errors: Counter[str], no_valid_email: int) -> list[str]:
    verb = "would be created" if summary.validate else "created"
    lines = [
        f"The {'validation' if summary.validate else 'import'} of {visible(summary.source_key)} is complete "
        f"(job {summary.job_id}).",
        "",
        *([f"Columns: {columns_read(summary.columns)}"] if summary.columns else []),
        f"Rows: {summary.total_rows}",
        f"Users {verb}: {summary.succeeded}",
        f"Failed rows: {summary.failed}",
    ]
    if summary.send_activation_email and not summary.validate:
        lines.append(f"Activation emails queued: {summary.emails_queued}")
        if no_valid_email:
            lines.append(
                f"Users without a valid email address: {no_valid_email} - no activation email was queued for "
                "them; add an address on their Contact and send the activation email from the portal."
            )
    if errors:
        lines += ["", "Failures by reason:"]
        for error, count in errors.most_common():
            lines.append(f"  {error}: {count} - {NEXT_STEPS.get(error, 'see the Error column.')}")
        lines += ["", "Correct the rows in the failure file and upload it to imports/ as it is to retry them."]
    return lines


def _result_lines(job_id: str, links: Mapping[str, str], expires: datetime) -> list[str]:
    lines = [
        "",
        f"Result files (the links work until {expires.strftime('%d %B %Y at %H:%M UTC')} at the latest, sooner if "
        f"the session that signed them ends; `portal-import results {job_id}` downloads them at any time):",
    ]
    for name, key in (("Success file", "successKey"), ("Failure file", "failureKey"), ("Summary", "summaryKey")):
        lines.append(f"  {name}: {links[key + 'Uri']}")
        lines.append(f"    {links[key + 'Url']}")
    return lines


def compose_emails_sent(
    *,
    source_key: str,
    job_id: str,
    sent: int,
    failed: int,
    link_ttl_hours: float | None,
    outcomes: Mapping[str, int] | None = None,
) -> tuple[str, str]:
    """Returns (subject, message) for the notice that every activation email of a job has gone out."""
    file_name = visible(source_key.rsplit("/", 1)[-1])
    subject = f"Activation emails sent: {file_name} - {sent} sent, {failed} not delivered"
    lines = [
        f"Every activation email of the import of {visible(source_key)} (job {job_id}) has been sent.",
        "",
        f"Sent: {sent}",
        f"Not delivered: {failed}",
    ]
    known = {state: count for state, count in (outcomes or {}).items() if count}
    if sent:
        so_far = ", ".join(f"{count} {state}" for state, count in known.items()) or "none yet"
        lines += [
            "",
            f"Delivery known so far: {so_far} (SES reports each email's outcome seconds to minutes after it is sent; "
            f"`portal-import users {job_id}` says what became of each, `portal-import status {job_id}` counts them).",
        ]
    if link_ttl_hours:
        lines += ["", f"Each set-password link works once and expires {link_ttl_hours:g} hours after it was sent."]
    if failed:
        lines += [
            "",
            "The users not reached have their portal users: the email provider refused their address, or sending "
            "kept failing until its retries were spent. Once the cause is fixed (an address corrected on the "
            f"Contact, the provider back), `portal-import resend {job_id}` sends each of them a new link.",
        ]
    return _ascii_subject(subject), "\n".join(lines) + "\n"


def compose_emails_held(*, job_id: str, source_key: str, reason: str) -> tuple[str, str]:
    """Returns (subject, message) for the notice that the reputation guard held a job's remaining emails."""
    file_name = visible(source_key.rsplit("/", 1)[-1])
    subject = f"Activation emails held: {file_name} - too many bounces or complaints"
    lines = [
        f"The activation emails of the import of {visible(source_key)} (job {job_id}) that have not gone out yet are "
        "held: nothing more is sent, and nothing is lost.",
        "",
        f"Why: {reason}. Sending on would risk the sender's reputation, and with it every email this account sends.",
        "",
        f"What to do: `portal-import users {job_id}` lists who bounced or complained, and why; check where the "
        "file's addresses came from, and correct the Contacts' addresses.",
        f"Then `portal-import resume-emails {job_id}` sends the held emails; the guard keeps watching the ones after.",
    ]
    return _ascii_subject(subject), "\n".join(lines) + "\n"
