"""The email sender on moto, driven by events/sqs_emails.json: one activation email per new user, whose link
matches the token hash stored on the user, and nothing sent twice when SQS delivers the batch again."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from portal_import.aws.directory import PortalUser

from .conftest import SAMPLE_JOB_ID

LINK_TTL = timedelta(hours=72)  # the template's ActivationLinkTtlHours default


@pytest.fixture
def new_users(cloud: Any, load_event: Any) -> list[dict[str, Any]]:
    """The worked example's directory, the sample job, and the users the worker created for the batch's rows."""
    cloud.seed_directory()
    cloud.start_job(SAMPLE_JOB_ID, chunks=1, rows=5)
    recipients: list[dict[str, Any]] = json.loads(load_event("sqs_emails")["Records"][0]["body"])["recipients"]
    cloud.directory().put_users(
        PortalUser(contact_id=r["contactId"], user_id=r["userId"], role="Customer", job_id=SAMPLE_JOB_ID, row=r["row"])
        for r in recipients
    )
    cloud.verify_sender()
    return recipients


def activation_token(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    (link,) = [word for word in body.split() if "/activate?" in word]
    assert link.startswith("https://portal.example.com/activate?")
    (token,) = parse_qs(urlparse(link).query)["token"]
    return str(token)


def test_each_new_user_gets_one_activation_email_whose_link_matches_the_user(
    cloud: Any, new_users: list[dict[str, Any]], load_event: Any
) -> None:
    # Given a batch of two new users to email
    before = datetime.now(UTC)

    # When SQS delivers it to the email sender
    response = cloud.email_sender(load_event("sqs_emails"))

    # Then each user got exactly one email, from the stack's sender, with a one-time link
    assert response == {"batchItemFailures": []}
    sent = cloud.sent_emails()
    assert sorted(str(m["To"]) for m in sent) == sorted(r["email"] for r in new_users)
    users = cloud.directory().existing_users(r["contactId"] for r in new_users)
    for message in sent:
        assert cloud.stack.parameters["SenderAddress"] in str(message["From"])
        assert "Activate your Customer Portal account" in str(message["Subject"])
        (recipient,) = [r for r in new_users if r["email"] == str(message["To"])]
        assert f"Hello {recipient['firstName']}," in message.get_body(preferencelist=("plain",)).get_content()
        # and only the link's hash is on the user, with an expiry one link-lifetime away
        user = users[recipient["contactId"]]
        assert user.activation_token_hash == hashlib.sha256(activation_token(message).encode()).hexdigest()
        expires = datetime.fromisoformat(user.activation_expires_at.replace("Z", "+00:00"))
        assert before + LINK_TTL - timedelta(seconds=1) <= expires <= datetime.now(UTC) + LINK_TTL
    # and the job counts the emails it sent
    assert cloud.job(SAMPLE_JOB_ID).emails_sent == len(new_users)


def test_a_batch_delivered_again_sends_nothing_more(
    cloud: Any, new_users: list[dict[str, Any]], load_event: Any
) -> None:
    # Given a batch whose emails were sent
    event = load_event("sqs_emails")
    cloud.email_sender(event)
    hashes = {
        c: u.activation_token_hash
        for c, u in cloud.directory().existing_users(r["contactId"] for r in new_users).items()
    }

    # When SQS delivers the same message again
    response = cloud.email_sender(event)

    # Then no one gets a second email, the links already sent still work, and the count stays
    assert response == {"batchItemFailures": []}
    assert len(cloud.sent_emails()) == len(new_users)
    users = cloud.directory().existing_users(r["contactId"] for r in new_users)
    assert {c: u.activation_token_hash for c, u in users.items()} == hashes
    assert cloud.job(SAMPLE_JOB_ID).emails_sent == len(new_users)
