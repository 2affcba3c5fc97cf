"""Through the whole local stack: a job that sends activation emails gets, after its results-ready message, one
more on the topic (event emails-sent) with the sent and not-delivered counts; a job without emails gets none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portal_import_local.runtime import LocalRuntime

MIXED = Path(__file__).resolve().parents[1] / "fixtures" / "mixed"


def _events(runtime: LocalRuntime, job_id: str) -> list[str]:
    return [n.attributes["event"] for n in runtime.notifications() if n.attributes.get("jobId") == job_id]


def test_a_job_with_emails_gets_one_emails_sent_notice_after_its_results(runtime: LocalRuntime) -> None:
    # Given the worked example dropped with activation emails on
    event = runtime.upload(MIXED / "import.csv", "imports/example.csv", {"send-activation-email": "true"})
    (job_id,) = runtime.deliver_s3_event(event)
    # When the pipeline runs dry
    runtime.run_until_done(job_id, timeout=300)
    # Then the topic carried the results-ready message, then exactly one emails-sent notice
    assert _events(runtime, job_id) == ["import-completed", "emails-sent"]
    notice = next(n for n in runtime.notifications() if n.attributes.get("event") == "emails-sent")
    sent = len(runtime.sent_emails())
    assert sent > 0
    assert notice.subject == f"Activation emails sent: example.csv - {sent} sent, 0 not delivered"
    assert f"Sent: {sent}" in notice.message
    assert notice.attributes["status"] == "COMPLETED"


def test_a_job_without_emails_gets_no_emails_sent_notice(runtime: LocalRuntime) -> None:
    (job_id,) = runtime.deliver_s3_event(runtime.upload(MIXED / "import.csv", "imports/quiet.csv", {}))
    runtime.run_until_done(job_id, timeout=300)
    assert _events(runtime, job_id) == ["import-completed"]


def test_email_batches_whose_retries_are_spent_count_as_not_delivered(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given every attempt to send the job's emails crashes (the links cannot be stored), so batches end dead-lettered
    from portal_import.aws.directory import Directory

    def crash(self: Directory, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("directory unavailable")

    monkeypatch.setattr(Directory, "set_activations", crash)
    event = runtime.upload(MIXED / "import.csv", "imports/dead.csv", {"send-activation-email": "true"})
    (job_id,) = runtime.deliver_s3_event(event)
    # When the pipeline runs dry (the email dead-letter queue drained by its function)
    runtime.run_until_done(job_id, timeout=300)
    # Then no email went out, every queued one counts as not delivered, and the emails-sent notice says so
    assert runtime.sent_emails() == []
    assert runtime.dead_letters() == 0
    (notice,) = [n for n in runtime.notifications() if n.attributes.get("event") == "emails-sent"]
    assert notice.subject == "Activation emails sent: dead.csv - 0 sent, 21 not delivered"


def test_a_dead_batch_delivered_again_is_counted_once(cloud: Any) -> None:
    cloud.start_job("job-dead", chunks=1, rows=5)
    jobs = cloud.jobs()
    first, first_counted = jobs.account_dead_email_batch("job-dead", "job-dead/c0", recipients=3)
    again, again_counted = jobs.account_dead_email_batch("job-dead", "job-dead/c0", recipients=3)
    other, other_counted = jobs.account_dead_email_batch("job-dead", "job-dead/c0+t", recipients=2)
    assert (first.emails_failed, again.emails_failed, other.emails_failed) == (3, 3, 5)
    assert (first_counted, again_counted, other_counted) == (True, False, True)
