"""Finishing a job once every row is accounted for: result files, summary, and the one notification."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from portal_import.config import AggregatorSettings
from portal_import.domain.job import Job, JobStatus
from portal_import.domain.notification import DETAIL_TYPE_COMPLETED, IMPORT_COMPLETED, compose
from portal_import.domain.results import (
    FAILURE_HEADER,
    NO_VALID_EMAIL,
    QUEUED,
    SUCCESS_HEADER,
    CsvResultWriter,
    results_prefix,
)
from portal_import.domain.summary import FAILURE_FILE, SUCCESS_FILE, SUMMARY_FILE, Summary
from portal_import.domain.times import now_iso
from portal_import.flows.completion import announce_emails_sent_if_done
from portal_import.observability import logger
from portal_import.ports import Announcements, Channels, EmailsNotice, JobReader, Notifier, Storage

_CSV = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class AggregateDeps:
    job_reader: JobReader
    announcements: Announcements
    channels: Channels
    emails_notice: EmailsNotice
    storage: Storage
    notifier: Notifier


def aggregate_job(job_id: str, deps: AggregateDeps, settings: AggregatorSettings) -> Summary | None:
    """Writes and announces the job's results; returns the summary, or None when there is nothing to do."""
    logger.append_keys(job_id=job_id)
    job = deps.job_reader.get(job_id)
    if job is None or not _is_to_aggregate(job, deps, settings):
        return None
    keys = result_keys(job_id)
    counts, errors = _write_result_files(job, deps.storage, keys)
    completed_at = deps.announcements.stamp_completion(job_id, now_iso())  # the same on every attempt
    summary = _summary(job, counts, keys, completed_at)
    if summary.status == JobStatus.COMPLETED.value and summary.total_rows != job.total_rows:
        raise RuntimeError(f"outcomes hold {summary.total_rows} rows but the file had {job.total_rows}")
    deps.storage.put_json(keys["summaryKey"], summary.to_json())
    links = _links(keys, deps.storage, settings.result_link_ttl_seconds)
    _announce(job, summary, errors, links, counts["noValidEmail"], deps, settings)
    logger.info(
        "Job announced", extra={"status": summary.status, "succeeded": summary.succeeded, "failed": summary.failed}
    )
    return summary


def _is_to_aggregate(job: Job, deps: AggregateDeps, settings: AggregatorSettings) -> bool:
    """Whether the job's results are this request's to write: it is finished and not announced yet."""
    if job.notified_at:
        logger.info("Job already announced (redelivered request)")
        # A retry after the emails-sent notice failed to go out: it is still this step's to send.
        announce_emails_sent_if_done(
            job, deps.emails_notice, deps.notifier, link_ttl_hours=settings.activation_link_ttl_hours
        )
        return False
    if not job.ready_to_aggregate:
        logger.info("Job not finished yet", extra={"chunks_done": len(job.chunks_done), "chunks": job.chunk_count})
        return False
    return True


def result_keys(job_id: str) -> dict[str, str]:
    """The keys of the job's result files, by the name the summary and the notification give each."""
    prefix = results_prefix(job_id)
    names = ("successKey", "failureKey", "summaryKey")
    return {name: prefix + file for name, file in zip(names, (SUCCESS_FILE, FAILURE_FILE, SUMMARY_FILE), strict=True)}


def _summary(job: Job, counts: Counter[str], keys: dict[str, str], completed_at: str) -> Summary:
    status = JobStatus.FAILED if job.status is JobStatus.FAILED else JobStatus.COMPLETED
    return Summary(
        job_id=job.job_id,
        source_key=job.source_key,
        status=status.value,
        error=job.error,
        mode=job.mode,
        columns=job.columns,  # the header of the column each field was read from; None: the header was not read
        total_rows=counts["succeeded"] + counts["failed"],
        succeeded=counts["succeeded"],
        failed=counts["failed"],
        send_activation_email=job.send_activation_email,
        emails_queued=counts["emailsQueued"],
        started_at=job.started_at,
        completed_at=completed_at,
        success_key=keys["successKey"],
        failure_key=keys["failureKey"],
    )


def _links(keys: dict[str, str], storage: Storage, ttl_seconds: int) -> dict[str, str]:
    """Each result file's S3 URI and pre-signed link, as the notification names them."""
    links: dict[str, str] = {}
    for name, key in keys.items():
        links[f"{name}Uri"] = storage.uri(key)
        links[f"{name}Url"] = storage.presigned_url(key, ttl_seconds)
    return links


def _announce(
    job: Job,
    summary: Summary,
    errors: Counter[str],
    links: dict[str, str],
    no_valid_email: int,
    deps: AggregateDeps,
    settings: AggregatorSettings,
) -> None:
    """The one results-ready message and event, each channel marked once told, so that a retried request (after
    a fault further on) does not announce the job a second time there; then the emails-sent notice if it is due."""
    ttl = settings.result_link_ttl_seconds
    subject, message = compose(summary, errors, links, ttl, no_valid_email=no_valid_email)
    detail = {**summary.to_json(), "errorCounts": dict(errors), "links": links, "linksExpireInSeconds": ttl}
    if not job.message_sent_at:
        deps.notifier.publish_message(event=IMPORT_COMPLETED, subject=subject, message=message, detail=detail)
        deps.channels.mark_channel(job.job_id, "MessageSentAt")
    if not job.event_sent_at:
        deps.notifier.put_event(detail_type=DETAIL_TYPE_COMPLETED, detail=detail)
        deps.channels.mark_channel(job.job_id, "EventSentAt")
    status = JobStatus(summary.status)
    announced = deps.announcements.mark_notified(job.job_id, status=status, completed_at=summary.completed_at)
    # Emails can all have gone out before the last row was accounted for: then the notice is this step's to send.
    announce_emails_sent_if_done(
        announced, deps.emails_notice, deps.notifier, link_ttl_hours=settings.activation_link_ttl_hours
    )


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
