"""Asking for a job's results once every row is accounted for, from whichever step saw it last."""

from __future__ import annotations

from portal_import.aws.jobs import JobStore
from portal_import.aws.queues import QueueSender
from portal_import.job import Job
from portal_import.messages import AggregateRequest
from portal_import.retry import with_retries


def request_results_if_ready(job: Job, jobs: JobStore, aggregate_queue: QueueSender) -> None:
    """Queues one aggregate request for a finished job.

    Called again after a fault (the step that finished the job may have failed before asking), it asks again
    only if no request was recorded; the aggregator ignores any request that still comes twice.
    """
    if not job.ready_to_aggregate or job.notified_at or job.results_requested_at:
        return
    aggregate_queue.send(AggregateRequest(job_id=job.job_id).to_json())
    with_retries(lambda: jobs.mark_channel(job.job_id, "ResultsRequestedAt"))
