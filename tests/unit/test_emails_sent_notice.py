"""The emails-sent notice: once per job, after the results-ready one, whichever step sees the last email."""

from __future__ import annotations

from typing import Any

import pytest

from portal_import.domain.job import Job, JobStatus
from portal_import.domain.notification import EMAILS_SENT, compose_emails_sent
from portal_import.flows.completion import announce_emails_sent_if_done

from .fakes import EmailsNotice, JobTable, Notifier
from .sample_jobs import JOB_ID, a_job


class UnreachableNotifier(Notifier):
    def publish_message(self, *, event: str, subject: str, message: str, detail: dict[str, Any]) -> None:
        raise ConnectionError("SNS unreachable")


def _notice() -> EmailsNotice:
    """The claim on the notice of the job of a_job(), not taken yet."""
    return EmailsNotice(JobTable().put(a_job()))


def _job(**changes: Any) -> Job:
    """A job announced as completed, 20 of its 21 emails sent and one not delivered."""
    announced = {"status": JobStatus.COMPLETED, "emails_queued": 21, "emails_sent": 20, "emails_failed": 1}
    return a_job(**{**announced, "notified_at": "2026-11-25T10:16:00Z", **changes})


def _announce(job: Job, notice: EmailsNotice, notifier: Notifier) -> bool:
    return announce_emails_sent_if_done(job, notice, notifier, link_ttl_hours=72)


def test_the_last_email_of_an_announced_job_publishes_the_notice_once() -> None:
    jobs, notifier = _notice(), Notifier()
    # When the email sender and the aggregator both see the job done
    first = _announce(_job(), jobs, notifier)
    second = _announce(_job(), jobs, notifier)
    # Then one of them publishes, with the emails-sent event and the counts
    assert (first, second) == (True, False)
    (notice,) = notifier.messages
    assert notice["event"] == EMAILS_SENT
    assert notice["subject"] == "Activation emails sent: partners.csv - 20 sent, 1 not delivered"
    assert notice["detail"]["emailsSent"] == 20
    assert notice["detail"]["emailsFailed"] == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"notified_at": None},  # results not announced yet: the aggregator will publish it
        {"emails_sent": 19},  # an email still to go
        {"emails_queued": 0, "emails_sent": 0, "emails_failed": 0},  # no email was asked for
        {"emails_notified_at": "2026-11-25T10:17:00Z"},  # already published
    ],
)
def test_no_notice_before_everything_is_sent_and_announced(changes: dict[str, Any]) -> None:
    notifier = Notifier()
    assert not _announce(_job(**changes), _notice(), notifier)
    assert notifier.messages == []


def test_a_failed_publish_gives_the_claim_back_for_a_retry() -> None:
    jobs = _notice()
    with pytest.raises(ConnectionError):
        _announce(_job(), jobs, UnreachableNotifier())
    assert (jobs.table[JOB_ID].emails_notified_at is not None, jobs.releases) == (False, 1)
    # and the retry publishes it
    notifier = Notifier()
    assert _announce(_job(), jobs, notifier)
    assert len(notifier.messages) == 1


def test_the_notice_says_what_to_do_about_addresses_not_reached() -> None:
    _, message = compose_emails_sent(
        source_key="imports/partners.csv", job_id="j1", sent=20, failed=1, link_ttl_hours=72
    )
    assert "Sent: 20" in message and "Not delivered: 1" in message
    assert "expires 72 hours after it was sent" in message
    assert "an address corrected on the Contact" in message and "`portal-import resend j1` sends each" in message
    _, clean = compose_emails_sent(source_key="imports/p.csv", job_id="j1", sent=5, failed=0, link_ttl_hours=72)
    assert "resend" not in clean
