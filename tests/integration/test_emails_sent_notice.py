"""Through the whole local stack: a job that sends activation emails gets, after its results-ready message, one
more on the topic (event emails-sent) with the sent and not-delivered counts; a job without emails gets none."""

from __future__ import annotations

from pathlib import Path

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
