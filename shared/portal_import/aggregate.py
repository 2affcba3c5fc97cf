"""Finishing a job once every row is accounted for: result files, summary, and the one notification."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from portal_import.aws.jobs import JobStore, now_iso
from portal_import.aws.notifier import Notifier
from portal_import.aws.storage import Storage, results_prefix
from portal_import.completion import announce_emails_sent_if_done
from portal_import.config import AggregatorSettings
from portal_import.job import Job, JobStatus
from portal_import.notification import DETAIL_TYPE_COMPLETED, IMPORT_COMPLETED, compose
from portal_import.observability import logger
from portal_import.results import FAILURE_HEADER, NO_VALID_EMAIL, QUEUED, SUCCESS_HEADER, CsvResultWriter
from portal_import.retry import with_retries

_CSV = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class AggregateDeps:
    jobs: JobStore
    storage: Storage
    notifier: Notifier


def aggregate_job(job_id: str, deps: AggregateDeps, settings: AggregatorSettings) -> dict[str, Any] | None:
    """Writes and announces the job's results; returns the summary, or None when there is nothing to do."""
    logger.append_keys(job_id=job_id)
    job = deps.jobs.get(job_id)
    if job is None:
        logger.warning("Aggregate request for an unknown job")
        return None
    if job.notified_at:
        logger.info("Job already announced (redelivered request)")
        # A retry after the emails-sent notice failed to go out: it is still this step's to send.
        announce_emails_sent_if_done(job, deps.jobs, deps.notifier, link_ttl_hours=settings.activation_link_ttl_hours)
        return None
    if not job.ready_to_aggregate:
        logger.info("Job not finished yet", extra={"chunks_done": len(job.chunks_done), "chunks": job.chunk_count})
        return None

    prefix = results_prefix(job_id)
    keys = {
        "successKey": f"{prefix}success.csv",
        "failureKey": f"{prefix}failure.csv",
        "summaryKey": f"{prefix}summary.json",
    }
    counts, errors = _write_result_files(job, deps.storage, keys)
    completed_at = deps.jobs.stamp_completion(job_id, now_iso())  # the same on every attempt
    status = JobStatus.FAILED if job.status is JobStatus.FAILED else JobStatus.COMPLETED
    summary: dict[str, Any] = {
        "jobId": job.job_id,
        "sourceKey": job.source_key,
        "status": status.value,
        "error": job.error,
        "mode": job.mode,
        # The header of the column each field was read from; null for a file refused before its header was read.
        "columns": job.columns,
        "totalRows": counts["succeeded"] + counts["failed"],
        "succeeded": counts["succeeded"],
        "failed": counts["failed"],
        "sendActivationEmail": job.send_activation_email,
        "emailsQueued": counts["emailsQueued"],
        "startedAt": job.started_at,
        "completedAt": completed_at,
        "successKey": keys["successKey"],
        "failureKey": keys["failureKey"],
    }
    if status is JobStatus.COMPLETED and summary["totalRows"] != job.total_rows:
        raise RuntimeError(f"outcomes hold {summary['totalRows']} rows but the file had {job.total_rows}")
    deps.storage.put_json(keys["summaryKey"], summary)

    links: dict[str, str] = {}
    for name, key in keys.items():
        links[f"{name}Uri"] = deps.storage.uri(key)
        links[f"{name}Url"] = deps.storage.presigned_url(key, settings.result_link_ttl_seconds)
    subject, message = compose(
        summary, errors, links, settings.result_link_ttl_seconds, no_valid_email=counts["noValidEmail"]
    )
    detail = {
        **summary,
        "errorCounts": dict(errors),
        "links": links,
        "linksExpireInSeconds": settings.result_link_ttl_seconds,
    }
    # Each channel is marked as soon as it has been told, so a retried request (after a fault further on)
    # does not announce the job a second time there.
    if not job.message_sent_at:
        deps.notifier.publish_message(event=IMPORT_COMPLETED, subject=subject, message=message, detail=detail)
        with_retries(lambda: deps.jobs.mark_channel(job_id, "MessageSentAt"))
    if not job.event_sent_at:
        deps.notifier.put_event(detail_type=DETAIL_TYPE_COMPLETED, detail=detail)
        with_retries(lambda: deps.jobs.mark_channel(job_id, "EventSentAt"))
    announced = with_retries(lambda: deps.jobs.mark_notified(job_id, status=status, completed_at=completed_at))
    # Emails can all have gone out before the last row was accounted for: then the notice is this step's to send.
    announce_emails_sent_if_done(announced, deps.jobs, deps.notifier, link_ttl_hours=settings.activation_link_ttl_hours)
    logger.info(
        "Job announced", extra={"status": status.value, "succeeded": summary["succeeded"], "failed": summary["failed"]}
    )
    return summary


def _write_result_files(job: Job, storage: Storage, keys: dict[str, str]) -> tuple[Counter[str], Counter[str]]:
    counts: Counter[str] = Counter(succeeded=0, failed=0, emailsQueued=0, noValidEmail=0)
    errors: Counter[str] = Counter()
    # Both files stream to S3 as they are written (a part at a time), in one pass over the outcomes.
    with (
        storage.open_result(keys["successKey"], _CSV) as success_file,
        storage.open_result(keys["failureKey"], _CSV) as failure_file,
    ):
        success = CsvResultWriter(success_file, SUCCESS_HEADER)
        failure = CsvResultWriter(failure_file, FAILURE_HEADER)
        if job.status is not JobStatus.FAILED:
            for chunk in storage.iter_outcomes(job.job_id):
                for outcome in chunk.outcomes:
                    if outcome.error is None:
                        success.write(
                            (outcome.row, outcome.contact_id, outcome.role, outcome.user_id, outcome.activation_email)
                        )
                        counts["succeeded"] += 1
                        counts["emailsQueued"] += outcome.activation_email == QUEUED
                        counts["noValidEmail"] += outcome.activation_email == NO_VALID_EMAIL
                    else:
                        failure.write((outcome.row, outcome.input_contact_id, outcome.input_role, outcome.error))
                        counts["failed"] += 1
                        errors[outcome.error.split(":", 1)[0]] += 1
    return counts, errors
