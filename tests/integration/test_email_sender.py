"""The email sender on moto, driven by events/sqs_emails.json: one activation email per new user, whose link
matches the token hash stored on the user, and nothing sent twice when SQS delivers the batch again."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from .conftest import SAMPLE_JOB_ID

LINK_TTL = timedelta(hours=72)  # the template's ActivationLinkTtlHours default


def activation_token(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    (link,) = [word for word in body.split() if "/activate?" in word]
    # PortalUrl empty: the stack's own page (local), under its REST API's stage as on AWS
    assert link.startswith("http://127.0.0.1:4566/v1/activate?")
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
    links = cloud.directory().activations(r["contactId"] for r in new_users)
    for message in sent:
        assert cloud.stack.parameters["SenderAddress"] in str(message["From"])
        assert "Activate your Customer Portal account" in str(message["Subject"])
        (recipient,) = [r for r in new_users if r["email"] == str(message["To"])]
        assert f"Hello {recipient['firstName']}," in message.get_body(preferencelist=("plain",)).get_content()
        # and only the link's hash is kept for the user, with an expiry one link-lifetime away
        link = links[recipient["contactId"]]
        assert link.user_id == recipient["userId"]
        assert link.token_hash == hashlib.sha256(activation_token(message).encode()).hexdigest()
        expires = datetime.fromisoformat(link.expires_at.replace("Z", "+00:00"))
        assert before + LINK_TTL - timedelta(seconds=1) <= expires <= datetime.now(UTC) + LINK_TTL
    # and the job counts the emails it sent
    assert cloud.job(SAMPLE_JOB_ID).emails_sent == len(new_users)


def test_a_batch_delivered_again_sends_nothing_more(
    cloud: Any, new_users: list[dict[str, Any]], load_event: Any
) -> None:
    # Given a batch whose emails were sent
    event = load_event("sqs_emails")
    cloud.email_sender(event)
    hashes = {c: a.token_hash for c, a in cloud.directory().activations(r["contactId"] for r in new_users).items()}

    # When SQS delivers the same message again
    response = cloud.email_sender(event)

    # Then no one gets a second email, the links already sent still work, and the count stays
    assert response == {"batchItemFailures": []}
    assert len(cloud.sent_emails()) == len(new_users)
    links = cloud.directory().activations(r["contactId"] for r in new_users)
    assert {c: a.token_hash for c, a in links.items()} == hashes
    assert cloud.job(SAMPLE_JOB_ID).emails_sent == len(new_users)


def _delayed_bodies(cloud: Any, queue_url: str) -> list[str]:
    """Messages sent with a delay are invisible to ReceiveMessage until it passes; moto still holds them."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[queue_url.rsplit("/", 1)[-1]]
    return [message.body for message in queue._messages if message.delayed]


def test_a_spent_daily_quota_pauses_sending_until_it_refills(
    cloud: Any, new_users: list[dict[str, Any]], load_event: Any
) -> None:
    # Given the account's SES quota (moto: 200 a day) has room for one more email today
    jobs_table = cloud.stack.jobs_table
    limiter = {"pk": {"S": "rate-limiter#activation-email"}}
    today = datetime.now(UTC).date().isoformat()
    ddb = cloud.session.client("dynamodb")
    ddb.put_item(
        TableName=jobs_table,
        Item={**limiter, "NextSlot": {"N": "0"}, "QuotaDay": {"S": today}, "SentOnDay": {"N": "199"}},
    )

    # When a batch of two is delivered
    assert cloud.email_sender(load_event("sqs_emails")) == {"batchItemFailures": []}

    # Then one email goes out and the other waits on the queue, delayed: paused, not failed
    assert len(cloud.sent_emails()) == 1
    (waiting,) = _delayed_bodies(cloud, cloud.queue_of("EmailSenderFunction"))
    assert [r["contactId"] for r in json.loads(waiting)["recipients"]] == [new_users[1]["contactId"]]
    assert cloud.job(SAMPLE_JOB_ID).emails_sent == 1

    # When the quota has refilled (a new day) and the waiting batch comes back
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    ddb.update_item(
        TableName=jobs_table,
        Key=limiter,
        UpdateExpression="SET QuotaDay = :d",
        ExpressionAttributeValues={":d": {"S": yesterday}},
    )
    event = load_event("sqs_emails")
    event["Records"][0]["body"] = waiting
    event["Records"][0]["md5OfBody"] = hashlib.md5(waiting.encode()).hexdigest()

    # Then the second email goes out too, and nothing was sent twice
    assert cloud.email_sender(event) == {"batchItemFailures": []}
    assert sorted(str(m["To"]) for m in cloud.sent_emails()) == sorted(r["email"] for r in new_users)
    assert cloud.job(SAMPLE_JOB_ID).emails_sent == 2


def test_tokens_are_kept_only_as_hashes_that_expire(
    cloud: Any, new_users: list[dict[str, Any]], load_event: Any
) -> None:
    # Given a batch sent: each recipient's link holds a token
    cloud.email_sender(load_event("sqs_emails"))
    tokens = [activation_token(message) for message in cloud.sent_emails()]
    assert len(tokens) == len(new_users)
    # When everything the directory holds is read
    items = cloud.session.client("dynamodb").scan(TableName=cloud.stack.directory_table)["Items"]
    stored = json.dumps(items)
    # Then no token is there in the clear, only its hash
    assert not [token for token in tokens if token in stored]
    assert all(hashlib.sha256(token.encode()).hexdigest() in stored for token in tokens)
    # and each link's item carries the expiry, also as epoch seconds (what `users` compares with the clock)
    links = [item for item in items if "TokenHash" in item]
    assert len(links) == len(new_users)
    for item in links:
        expires = datetime.fromisoformat(item["ExpiresAt"]["S"].replace("Z", "+00:00"))
        assert int(item["ExpiresAtEpoch"]["N"]) == int(expires.timestamp())


def test_a_batch_that_sent_nothing_delivered_again_is_not_a_failure(
    cloud: Any, new_users: list[dict[str, Any]], load_event: Any
) -> None:
    # Given the batch's users reached, and a second batch of the same users, which sends nothing
    cloud.email_sender(load_event("sqs_emails"))
    again = load_event("sqs_emails")
    body = json.loads(again["Records"][0]["body"])
    body["key"] += "+w1"
    again["Records"][0]["body"] = json.dumps(body)
    again["Records"][0]["md5OfBody"] = hashlib.md5(again["Records"][0]["body"].encode()).hexdigest()
    assert cloud.email_sender(again) == {"batchItemFailures": []}

    # When SQS delivers that second batch again (its idempotency record says it sent nothing)
    response = cloud.email_sender(again)

    # Then it succeeds: it is not retried into the dead-letter queue, and nobody gets a second email
    assert response == {"batchItemFailures": []}
    assert len(cloud.sent_emails()) == len(new_users)
