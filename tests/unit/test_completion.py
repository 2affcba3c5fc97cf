"""Asking for a finished job's results, on the fakes of the job's channels and the aggregate queue: once per job,
whichever step saw it finish, and again only when no request was recorded."""

from __future__ import annotations

from typing import Any

import pytest

from portal_import.domain.job import Job, JobStatus
from portal_import.domain.messages import AggregateRequest
from portal_import.flows.completion import request_results_if_ready

from .fakes import Channels, Queue
from .sample_jobs import JOB_ID, a_job


def _job(**changes: Any) -> Job:
    """A job whose two chunks are both done."""
    return a_job(**{"chunk_count": 2, "chunks_done": {0, 1}, **changes})


def test_a_job_whose_rows_are_all_accounted_for_asks_for_its_results_and_records_it() -> None:
    # Given a job whose every chunk is done
    jobs, queue = Channels(), Queue()

    # When the step that finished it asks
    request_results_if_ready(_job(), jobs, queue)

    # Then one aggregate request is queued, and recorded on the job
    assert [AggregateRequest.model_validate_json(body).job_id for body in queue.bodies] == [JOB_ID]
    assert jobs.marked == [(JOB_ID, "ResultsRequestedAt")]


@pytest.mark.parametrize(
    "changes",
    [
        {"chunks_done": {0}},  # a chunk still out
        {"status": JobStatus.SPLITTING},  # the file is still being read
        {"results_requested_at": "2026-11-25T10:16:00.000Z"},  # asked already
        {"notified_at": "2026-11-25T10:17:00.000Z"},  # already announced
    ],
)
def test_a_job_not_finished_or_already_asked_for_asks_nothing(changes: dict[str, Any]) -> None:
    jobs, queue = Channels(), Queue()
    request_results_if_ready(_job(**changes), jobs, queue)
    assert queue.bodies == [] and jobs.marked == []


def test_a_rejected_file_asks_for_its_results_at_once() -> None:
    # Given a job whose file was refused before any chunk was sent
    job, jobs, queue = _job(status=JobStatus.FAILED, chunk_count=None, chunks_done=set()), Channels(), Queue()
    # When the splitter records the refusal
    request_results_if_ready(job, jobs, queue)
    # Then its results (a failure file and the reason) are asked for all the same
    assert len(queue.bodies) == 1
