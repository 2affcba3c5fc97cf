"""The steps that finish a job, taken by whichever function saw the job finish: asking for its results once
every row is accounted for, and the emails-sent notice once every activation email has gone out."""

from __future__ import annotations

from portal_import.domain.job import Job
from portal_import.domain.messages import AggregateRequest
from portal_import.domain.notification import EMAILS_SENT, compose_emails_sent
from portal_import.observability import logger
from portal_import.ports import Channels, EmailsNotice, Notifier, Queue


def request_results_if_ready(job: Job, channels: Channels, aggregate_queue: Queue) -> None:
    """Queues one aggregate request for a finished job.

    Called again after a fault (the step that finished the job may have failed before asking), it asks again
    only if no request was recorded; the aggregator ignores any request that still comes twice.
    """
    if not job.ready_to_aggregate or job.notified_at or job.results_requested_at:
        return
    aggregate_queue.send(AggregateRequest(job_id=job.job_id).to_json())
    channels.mark_channel(job.job_id, "ResultsRequestedAt")


def announce_emails_sent_if_done(
    job: Job, emails_notice: EmailsNotice, notifier: Notifier, *, link_ttl_hours: float | None = None
) -> bool:
    """Publishes the job's one emails-sent notice once it is announced and every queued email was sent or refused.

    Both the email sender (last email after the results) and the aggregator (results after the last email) call
    this; a conditional claim on the job lets one of them publish. True when this call published it.
    """
    if job.notified_at is None or not job.all_emails_sent or job.emails_notified_at:
        return False
    if not emails_notice.claim_emails_notice(job.job_id):
        return False
    subject, message = compose_emails_sent(
        source_key=job.source_key,
        job_id=job.job_id,
        sent=job.emails_sent,
        failed=job.emails_failed,
        link_ttl_hours=link_ttl_hours,
        outcomes={
            "delivered": job.emails_delivered,
            "bounced": job.emails_bounced,
            "complained": job.emails_complained,
            "delayed": job.emails_delayed,
        },
    )
    detail = {
        "jobId": job.job_id,
        "sourceKey": job.source_key,
        "status": job.status.value,
        "emailsQueued": job.emails_queued,
        "emailsSent": job.emails_sent,
        "emailsFailed": job.emails_failed,
    }
    try:
        notifier.publish_message(event=EMAILS_SENT, subject=subject, message=message, detail=detail)
    except Exception:
        emails_notice.release_emails_notice(job.job_id)  # so that a retry of this step publishes it
        raise
    logger.info("Emails-sent notice published", extra={"sent": job.emails_sent, "failed": job.emails_failed})
    return True
