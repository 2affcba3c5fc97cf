"""Through the whole local stack: a job that sends activation emails gets, after its results-ready message, one
more on the topic (event emails-sent) with the sent and not-delivered counts; a job without emails gets none."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from portal_import.aws.ledger import Ledger
from portal_import.domain.claims import Commit, NewLink, Settlement, Standing
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
    def crash(self: Ledger, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("directory unavailable")

    monkeypatch.setattr(Ledger, "commit", crash)
    event = runtime.upload(MIXED / "import.csv", "imports/dead.csv", {"send-activation-email": "true"})
    (job_id,) = runtime.deliver_s3_event(event)
    # When the pipeline runs dry (the email dead-letter queue drained by its function)
    runtime.run_until_done(job_id, timeout=300)
    # Then no email went out, every queued one counts as not delivered, and the emails-sent notice says so
    assert runtime.sent_emails() == []
    assert runtime.dead_letters() == 0
    (notice,) = [n for n in runtime.notifications() if n.attributes.get("event") == "emails-sent"]
    assert notice.subject == "Activation emails sent: dead.csv - 0 sent, 21 not delivered"


def test_a_dead_batch_counts_only_whom_it_did_not_reach_and_only_once(cloud: Any) -> None:
    # Given a job's batch of three, of whom one was sent an email before the batch's retries were spent
    cloud.start_job("job-dead", chunks=1, rows=5)
    ledger = Ledger(cloud.stack.directory_table, cloud.stack.jobs_table)
    now = time.time()
    cloud.enrol("job-dead", [(f"003{x}", f"005{x}", f"{x}@example.com") for x in "abc"])
    link = NewLink(
        contact_id="003a", user_id="005a", token_hash="h", expires_at="2030-01-01T00:00:00Z", sent_to="a@example.com"
    )
    at = {"job_id": "job-dead", "request": "job-dead", "attempt": "first", "lease_until": now + 60}
    ledger.commit(Commit(claims=[link]), now=now, **at)
    ledger.commit(Commit(settled={"003a": Settlement.SENT}), now=now, **at)
    recipients = [("003a", "005a"), ("003b", "005b"), ("003c", "005c")]

    # When the dead batch is accounted, and then again (its message delivered twice)
    first = ledger.mark_undelivered(job_id="job-dead", request="job-dead", recipients=recipients, now=now)
    again = ledger.mark_undelivered(job_id="job-dead", request="job-dead", recipients=recipients, now=now)

    # Then the two it did not reach count as not delivered, once, and the one it reached stays sent
    job = cloud.jobs().get("job-dead")
    assert (first, again, job.emails_sent, job.emails_failed) == (2, 0, 1, 2)
    standings = ledger.standings("job-dead", ["003a", "003b", "003c"], now=now)
    assert standings == {"003a": Standing.SENT, "003b": Standing.UNDELIVERED, "003c": Standing.UNDELIVERED}
