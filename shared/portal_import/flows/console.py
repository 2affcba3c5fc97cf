"""The import console's API (docs/contracts.md §8): what an administrator's browser reads and asks for, answered
from the same stores and through the same server-side actions as the CLI's commands. Every route is behind the
console API's JWT authorizer (only AdminUserPool's tokens); nothing here decides who may ask.

- the jobs, newest first, and one job: status --json's document, with its failures by reason and what to do about
  each, and links that download its result files once they exist;
- the users a job created, with their email, delivery and activation (`users --json`);
- Resend (to the users not reached) and Resume emails: the resend function's own flows;
- an upload: a presigned POST straight to imports/, with the options as the object's metadata, so the job is the
  one a bucket drop of the same file starts; never larger than MaxFileBytes.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from portal_import.domain.job import Job
from portal_import.domain.notification import NEXT_STEPS
from portal_import.domain.progress import TERMINAL, job_json
from portal_import.domain.results import results_prefix
from portal_import.domain.summary import FAILURE_FILE, RESULT_FILES
from portal_import.flows.resend import ResendDeps, ResendRefused, resend
from portal_import.flows.resume import ResumeDeps, resume_emails
from portal_import.flows.users import JobUser, UsersRefused, job_users
from portal_import.ports import ConsoleJobs, HeldEmails, Ledger, Storage, Uploads

# How many jobs the jobs list shows, newest first.
JOBS_SHOWN = 50
# How long a download link, or an upload form, works.
LINK_SECONDS = 15 * 60


@dataclass(frozen=True)
class ConsoleDeps:
    console_jobs: ConsoleJobs
    storage: Storage
    uploads: Uploads
    ledger: Ledger
    held_emails: HeldEmails
    resend: ResendDeps
    resume: ResumeDeps
    max_file_bytes: int
    send_activation_email_default: bool


class Refused(Exception):
    """What the console cannot do as asked, in one sentence that says what to do; `status` is the HTTP answer."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


def jobs_list(deps: ConsoleDeps) -> dict[str, Any]:
    """The newest JOBS_SHOWN jobs, newest first (a job id starts with the time its file arrived)."""
    newest = sorted(deps.console_jobs.job_ids(), reverse=True)[:JOBS_SHOWN]
    jobs = [job for job in (deps.console_jobs.get(job_id) for job_id in newest) if job is not None]
    return {"jobs": [job_json(job) for job in jobs]}


def _job(job_id: str, deps: ConsoleDeps) -> Job:
    job = deps.console_jobs.get(job_id)
    if job is None:
        raise Refused(404, f"There is no job {job_id}: the jobs list shows the recent ones.")
    return job


def job_page(job_id: str, deps: ConsoleDeps) -> dict[str, Any]:
    """One job as its page shows it: its document, and once its results exist, its failures by reason (with what
    to do about each) and a link to download each result file."""
    job = _job(job_id, deps)
    document = job_json(job)
    document["failuresByReason"] = []
    document["files"] = {}
    if job.status in TERMINAL and job.total_rows is not None:
        prefix = results_prefix(job.job_id)
        if job.failed:
            document["failuresByReason"] = failures_by_reason(deps.storage.read(prefix + FAILURE_FILE))
        document["files"] = {name: deps.storage.presigned_url(prefix + name, LINK_SECONDS) for name in RESULT_FILES}
    return document


def failures_by_reason(failure_file: bytes) -> list[dict[str, Any]]:
    """The failure file's rows counted by the kind of their Error (its words before any ":", as the notification
    counts them), most first, each with what to do about it."""
    text = failure_file.decode("utf-8-sig")
    rows = csv.DictReader(io.StringIO(text, newline=""))
    errors = Counter((row.get("Error") or "").split(":", 1)[0] for row in rows)
    return [
        {"error": error, "rows": count, "whatToDo": NEXT_STEPS.get(error, "see the Error column of the failure file.")}
        for error, count in errors.most_common()
    ]


def users_of(job_id: str, deps: ConsoleDeps) -> dict[str, Any]:
    job = _job(job_id, deps)
    try:
        users = job_users(job, deps.storage, deps.ledger, held_emails=deps.held_emails)
    except UsersRefused as refused:
        raise Refused(409, str(refused)) from None
    return {"users": [user_json(user) for user in users]}


def user_json(user: JobUser) -> dict[str, Any]:
    """A user as `users --json` and the console show it."""
    return {
        "row": user.row,
        "contactId": user.contact_id,
        "userId": user.user_id,
        "role": user.role,
        "email": user.email,
        "activation": user.activation,
        "delivery": user.delivery,
        "deliveryDetail": user.delivery_detail,
        "renewals": user.renewals,
    }


def resend_to_unreached(job_id: str, deps: ConsoleDeps) -> dict[str, Any]:
    """Resend: a new link to each user the job created whose email did not reach them (`portal-import resend`)."""
    job = _job(job_id, deps)
    try:
        return resend(job, deps.resend).to_json()
    except ResendRefused as refused:
        raise Refused(409, str(refused)) from None


def resume(job_id: str, deps: ConsoleDeps) -> dict[str, Any]:
    """Resume emails: the guard's hold ends and the emails it kept go out (`portal-import resume-emails`)."""
    _job(job_id, deps)
    answer = resume_emails(job_id, deps.resume)
    if "refused" in answer:
        raise Refused(409, str(answer["refused"]))
    return answer


class UploadRequest(BaseModel):
    """What the wizard asks for before it uploads a file: its name and size, and the options it chose."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")

    file_name: str = Field(min_length=1, max_length=900)
    size: int = Field(ge=0)
    mode: Literal["import", "validate"] = "import"
    send_activation_email: bool | None = None
    contact_id_column: str | None = Field(default=None, max_length=1024)
    role_column: str | None = Field(default=None, max_length=1024)


# What a file's name may keep in the object key: anything printable but a path separator or a control character.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def upload_key(file_name: str) -> str:
    """imports/<the file's own name>: its last path part, without control characters, ending in .csv (only such
    keys start a job, docs/contracts.md §1)."""
    name = _UNSAFE.sub("_", file_name.replace("\\", "/").rsplit("/", 1)[-1]).strip() or "import"
    if not name.lower().endswith(".csv"):
        name += ".csv"
    return f"imports/{name}"


def upload_form(document: Any, deps: ConsoleDeps) -> dict[str, Any]:
    """A presigned POST the browser sends the file with, straight to imports/: the options as its metadata (the
    same a bucket drop takes), the size capped at MaxFileBytes by the form's own condition."""
    try:
        request = UploadRequest.model_validate(document)
    except ValidationError as error:
        named = ", ".join(sorted({".".join(str(p) for p in e["loc"]) or "request" for e in error.errors()}))
        raise Refused(400, f"The upload request is not valid ({named}): reload the page and try again.") from None
    if request.size == 0:
        raise Refused(400, "The file is empty: choose a CSV file with a header row and one row per Contact.")
    if request.size > deps.max_file_bytes:
        raise Refused(
            413,
            f"The file is {request.size:,} bytes, more than this stack takes ({deps.max_file_bytes:,}): split it "
            "into smaller files and import each.",
        )
    send = (
        deps.send_activation_email_default if request.send_activation_email is None else request.send_activation_email
    )
    metadata = {"mode": request.mode, "send-activation-email": "true" if send else "false"}
    if request.contact_id_column:
        metadata["contactid-column"] = request.contact_id_column
    if request.role_column:
        metadata["role-column"] = request.role_column
    key = upload_key(request.file_name)
    fields = {f"x-amz-meta-{name}": value for name, value in metadata.items()}
    form = deps.uploads.presigned_post(key, fields=fields, most_bytes=deps.max_file_bytes, expires_in=LINK_SECONDS)
    return {"key": key, "url": form["url"], "fields": form["fields"]}


def answer(route: Callable[[], dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """A route's status and document: 200 and what it returns, or the refusal's status and sentence."""
    try:
        return 200, route()
    except Refused as refused:
        return refused.status, {"error": str(refused)}
