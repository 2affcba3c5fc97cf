"""Where a job's user stands: its activation email (the job's own requests only) and its activation."""

import pytest

from portal_import.domain.claims import EmailRecord
from portal_import.flows.users import activation_standing, email_standing

JOB = "20261201T090000Z-0123456789ab"


@pytest.mark.parametrize(
    ("activation_email", "record", "standing"),
    [
        ("No valid email", EmailRecord(), "no valid email"),
        ("Queued", EmailRecord(sent_for=frozenset({JOB})), "sent"),
        ("Queued", EmailRecord(undelivered_for=frozenset({JOB})), "not delivered"),
        # a resend of the job that reached them after the import's email did not
        ("Queued", EmailRecord(sent_for=frozenset({f"{JOB}/resend/abc"}), undelivered_for=frozenset({JOB})), "sent"),
        ("Queued", EmailRecord(), "queued"),
        ("Not requested", EmailRecord(), "not requested"),
        ("Not requested", EmailRecord(sent_for=frozenset({f"{JOB}/resend/abc"})), "sent"),
        # another job's email is not this job's
        ("Queued", EmailRecord(sent_for=frozenset({"20261101T090000Z-ba9876543210"})), "queued"),
    ],
)
def test_the_email_standing_counts_the_jobs_own_requests(
    activation_email: str, record: EmailRecord, standing: str
) -> None:
    # Given / When / Then
    assert email_standing(activation_email, record, JOB) == standing


@pytest.mark.parametrize(
    ("record", "standing"),
    [
        (EmailRecord(), "pending"),
        (EmailRecord(link_expires=2_000.0), "pending"),
        (EmailRecord(link_expires=999.0), "expired"),
        (EmailRecord(link_expires=999.0, activated=True), "activated"),
    ],
)
def test_the_activation_standing(record: EmailRecord, standing: str) -> None:
    # Given / When / Then (at 1,000 s)
    assert activation_standing(record, 1_000.0) == standing
