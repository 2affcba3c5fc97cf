"""The job the unit tests start from: one import file's, each test changing the fields it is about."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from portal_import.domain.job import Job, JobStatus

JOB_ID = "20261125T101500Z-abc"


def a_job(**changes: Any) -> Job:
    """An import of imports/partners.csv that asks for activation emails, still processing; `changes` amend it."""
    job = Job(
        job_id=JOB_ID,
        source_bucket="imports",
        source_key="imports/partners.csv",
        mode="import",
        send_activation_email=True,
        status=JobStatus.PROCESSING,
        started_at="2026-11-25T10:15:00.000Z",
    )
    return replace(job, **changes)
