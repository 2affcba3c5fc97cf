"""`portal-import watch` on the stack's jobs table: the line it shows as the job's counters move the way the
functions move them, its ETA from the observed rates, and that it ends only once every queued email is sent."""

from __future__ import annotations

import io
from collections.abc import Callable

import boto3
import pytest

from portal_import.domain.job import JobStatus
from portal_import_cli.deployment import Deployment, Target
from portal_import_cli.progress import ProgressDisplay, finished, follow

from .conftest import SAMPLE_JOB_ID as JOB_ID
from .conftest import Cloud


def test_watch_follows_the_counters_until_every_email_is_sent(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # the command sets boto3's default session: undone after
    # Given a job of 10 rows in two chunks, emails on, just split
    cloud.start_job(JOB_ID, chunks=2, rows=10, send_activation_email=True)
    jobs = cloud.jobs()
    # and what the functions will do to it, one step between two reads of the watch (2 s apart)
    steps: list[Callable[[], object]] = [
        lambda: jobs.record_chunk(JOB_ID, 0, rows=5, succeeded=4, failed=1, emails_queued=3),
        lambda: jobs.record_chunk(JOB_ID, 1, rows=5, succeeded=4, failed=1, emails_queued=3),
        lambda: jobs.mark_notified(JOB_ID, status=JobStatus.COMPLETED, completed_at="2025-03-01T09:30:20.000Z"),
        lambda: count_emails(cloud, sent=4, failed=0),
        lambda: count_emails(cloud, sent=1, failed=1),
    ]
    now = [0.0]

    def sleep(seconds: float) -> None:
        assert steps, "the watch kept reading after the job was finished"
        steps.pop(0)()
        now[0] += seconds

    deployment = Deployment(Target(jobs_table=cloud.stack.jobs_table))
    out = io.StringIO()

    # When it is watched (not on a terminal), the stack sending 1 email a second
    job = follow(
        lambda: deployment.job(JOB_ID),
        ProgressDisplay(out, live=False),
        interval=2.0,
        email_rate=1.0,
        clock=lambda: now[0],
        sleep=sleep,
    )

    # Then it ends with the last email, not when the results were announced
    assert not steps
    assert finished(job)
    assert (job.status, job.emails_sent, job.emails_failed) == (JobStatus.COMPLETED, 5, 1)
    # and printed a line at each change, with an ETA from the rows' pace and then the emails' (the configured
    # rate until a first batch is counted, then the observed one)
    lines = out.getvalue().splitlines()
    assert [line.rsplit("  ", 1)[1] for line in lines] == ["ETA --", "ETA 6s", "ETA 4s", "ETA 2s", "ETA 3s", "done"]
    assert lines[1].startswith("[##########----------] 5/10 rows  4 created  1 failed  emails 0/3 sent")
    assert "10/10 rows  8 created  2 failed  emails 5/6 sent (1 refused)" in lines[-1]


def count_emails(cloud: Cloud, *, sent: int, failed: int) -> None:
    """Moves the job's email counters as the email ledger does when it settles a call's recipients."""
    cloud.session.client("dynamodb").update_item(
        TableName=cloud.stack.jobs_table,
        Key={"pk": {"S": JOB_ID}},
        UpdateExpression="ADD EmailsSent :sent, EmailsFailed :failed",
        ExpressionAttributeValues={":sent": {"N": str(sent)}, ":failed": {"N": str(failed)}},
    )
