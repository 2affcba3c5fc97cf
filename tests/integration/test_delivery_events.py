"""SES's events on the activation emails, the way AWS brings them: published by the configuration set's event
destination to the stack's topic, delivered raw to DeliveryEventsQueue, recorded by DeliveryEventsFunction on the
recipient's activation item and the job's counts (docs/contracts.md §7). The records are SES's own shape (AWS's
examples of event publishing to SNS); the mailbox simulator's emulation is tested with the local runtime."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portal_import.aws.deliveries import Deliveries
from portal_import.aws.held_emails import HeldEmails
from portal_import.aws.jobs import Jobs
from portal_import.aws.notifier import Notifier
from portal_import.aws.queues import Queue
from portal_import.domain.guard import GuardSettings
from portal_import.domain.people import PortalUser
from portal_import.flows.delivery import DeliveryDeps, guard_the_job
from portal_import.flows.resume import ResumeDeps, resume_emails

from .conftest import SAMPLE_JOB_ID, _load_event, with_bodies


@pytest.fixture
def sent(cloud: Any, new_users: list[dict[str, Any]], load_event: Any) -> list[dict[str, Any]]:
    """The sample batch's two users, sent their activation emails: each with the attempt whose claim sent it."""
    assert cloud.email_sender(load_event("sqs_emails")) == {"batchItemFailures": []}
    return [{**r, "attempt": _item(cloud, r)["ClaimedBy"]["S"]} for r in new_users]


def _item(cloud: Any, recipient: dict[str, Any]) -> dict[str, Any]:
    key = {"pk": {"S": f"CONTACT#{recipient['contactId']}"}, "sk": {"S": "ACTIVATION"}}
    item: dict[str, Any] = cloud.session.client("dynamodb").get_item(TableName=cloud.stack.directory_table, Key=key)[
        "Item"
    ]
    return item


def record(cloud: Any, recipient: dict[str, Any], kind: str, **overrides: Any) -> dict[str, Any]:
    """An event record as SES publishes it for one recipient of the stack's configuration set."""
    tags = {
        "ses:configuration-set": [cloud.stack.configuration_set],
        "ses:source-ip": ["192.0.2.0"],
        "ses:from-domain": ["example.com"],
        "ses:caller-identity": ["portal-user-import-EmailSenderFunction"],
        "contact": [recipient["contactId"]],
        "job": [SAMPLE_JOB_ID],
        "attempt": [recipient["attempt"]],
    }
    mail = {
        "timestamp": "2025-03-01T09:31:00.000Z",
        "source": "no-reply@example.com",
        "sendingAccountId": "123456789012",
        "messageId": overrides.pop("message_id", f"0100-{recipient['contactId']}"),
        "destination": [recipient["email"]],
        "headersTruncated": False,
        "tags": tags | overrides.pop("tags", {}),
    }
    details = {
        "Send": ("send", {}),
        "Delivery": (
            "delivery",
            {"timestamp": "2025-03-01T09:31:02.000Z", "recipients": [recipient["email"]], "smtpResponse": "250 ok"},
        ),
        "Bounce": (
            "bounce",
            {
                "bounceType": overrides.pop("bounce_type", "Permanent"),
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": recipient["email"],
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": "2025-03-01T09:31:03.000Z",
                "feedbackId": "0100-bounce",
            },
        ),
        "Complaint": (
            "complaint",
            {
                "complainedRecipients": [{"emailAddress": recipient["email"]}],
                "timestamp": "2025-03-01T09:40:00.000Z",
                "feedbackId": "0100-complaint",
                "complaintFeedbackType": "abuse",
            },
        ),
        "DeliveryDelay": (
            "deliveryDelay",
            {
                "timestamp": "2025-03-01T09:35:00.000Z",
                "delayType": "MailboxFull",
                "expirationTime": "2025-03-01T21:31:00.000Z",
                "delayedRecipients": [{"emailAddress": recipient["email"], "status": "4.2.2"}],
            },
        ),
    }
    field, detail = details[kind]
    return {"eventType": kind, "mail": mail, field: detail}


def publish(cloud: Any, *records: dict[str, Any] | str) -> Any:
    """Publishes each record to the stack's delivery events topic, as SES does; delivers what reached the queue."""
    sns = cloud.session.client("sns")
    for item in records:
        body = item if isinstance(item, str) else json.dumps(item)
        sns.publish(TopicArn=cloud.stack.delivery_events_topic_arn, Message=body)
    bodies = cloud.drain(cloud.queue_of("DeliveryEventsFunction"))
    assert len(bodies) == len(records), "the topic's raw subscription delivers each record to the queue"
    responses = []
    for start in range(0, len(bodies), 10):
        event = with_bodies(_sqs_event(10), *bodies[start : start + 10])
        responses.append(cloud.hosts["DeliveryEventsFunction"].invoke(event))
    return responses


def _sqs_event(size: int) -> dict[str, Any]:
    one = _load_event("sqs_emails")["Records"][0]
    return {"Records": [dict(one, messageId=f"m{n}") for n in range(size)]}


def counts(cloud: Any) -> dict[str, int]:
    item = cloud.session.client("dynamodb").get_item(
        TableName=cloud.stack.jobs_table, Key={"pk": {"S": SAMPLE_JOB_ID}}
    )["Item"]
    return {
        state: int(item.get(f"Emails{state}", {}).get("N", "0"))
        for state in ("Delivered", "Bounced", "Complained", "Delayed")
    }


def test_the_stack_sends_with_its_configuration_set_and_records_a_delivery(cloud: Any, sent: Any) -> None:
    # Given the stack's configuration set: TLS required, its events to the stack's topic
    sesv2 = cloud.session.client("sesv2")
    configuration = sesv2.get_configuration_set(ConfigurationSetName=cloud.stack.configuration_set)
    assert configuration["DeliveryOptions"]["TlsPolicy"] == "REQUIRE"
    first, second = sent

    # When SES publishes a Send and a Delivery for the first and a Send for the second
    responses = publish(
        cloud, record(cloud, first, "Send"), record(cloud, first, "Delivery"), record(cloud, second, "Send")
    )

    # Then the first user's email is delivered, the second's pending, and the job counts one delivered
    assert responses == [{"batchItemFailures": []}]
    item = _item(cloud, first)
    assert (item["Delivery"]["S"], item["DeliveryOf"]["S"]) == ("delivered", f"0100-{first['contactId']}")
    assert _item(cloud, second)["Delivery"]["S"] == "pending"
    assert counts(cloud) == {"Delivered": 1, "Bounced": 0, "Complained": 0, "Delayed": 0}


def test_a_complaint_after_a_delivery_wins_and_duplicates_change_nothing(cloud: Any, sent: Any) -> None:
    first, second = sent
    # Given events out of order and repeated: a complaint before its delivery, a bounce and a late delay
    publish(
        cloud,
        record(cloud, first, "Complaint"),
        record(cloud, first, "Delivery"),
        record(cloud, first, "Complaint"),
        record(cloud, second, "Bounce"),
        record(cloud, second, "DeliveryDelay"),
        record(cloud, second, "Bounce"),
    )
    # Then each user's email holds its strongest outcome, and each user is counted once
    assert _item(cloud, first)["Delivery"]["S"] == "complained"
    bounced = _item(cloud, second)
    assert bounced["Delivery"]["S"] == "bounced"
    assert bounced["DeliveryDetail"]["S"] == "Permanent/General: smtp; 550 5.1.1 user unknown"
    assert counts(cloud) == {"Delivered": 0, "Bounced": 1, "Complained": 1, "Delayed": 0}


def test_what_is_not_an_event_of_the_stacks_emails_is_dropped_not_retried(cloud: Any, sent: Any) -> None:
    first, second = sent
    # Given a malformed record, another configuration set's, an untagged one, and an older email's
    foreign = record(cloud, first, "Delivery", tags={"ses:configuration-set": ["another-stack-activation"]})
    untagged = record(cloud, first, "Delivery")
    del untagged["mail"]["tags"]["attempt"]
    older = record(cloud, second, "Bounce", tags={"attempt": ["an-earlier-attempt"]})
    unknown = record(cloud, dict(first, contactId="003000000000000"), "Delivery")
    opened = dict(record(cloud, first, "Send"), eventType="Open")

    # When they arrive
    responses = publish(
        cloud, "not json", json.dumps({"eventType": "Bounce"}), foreign, untagged, older, unknown, opened
    )

    # Then every one is acked (no retry, no dead letter) and nothing is recorded
    assert responses == [{"batchItemFailures": []}]
    assert "Delivery" not in _item(cloud, first) and "Delivery" not in _item(cloud, second)
    assert counts(cloud) == {"Delivered": 0, "Bounced": 0, "Complained": 0, "Delayed": 0}


def test_too_many_bounces_hold_the_jobs_emails_once_and_resume_emails_sends_them(cloud: Any, sent: Any) -> None:
    # Given a job with emails still to send, whose first two emails both bounced for good
    ddb = cloud.session.client("dynamodb")
    ddb.update_item(
        TableName=cloud.stack.jobs_table,
        Key={"pk": {"S": SAMPLE_JOB_ID}},
        UpdateExpression="SET EmailsQueued = :n",
        ExpressionAttributeValues={":n": {"N": "10"}},
    )
    first, second = sent
    publish(cloud, record(cloud, first, "Bounce"), record(cloud, second, "Bounce"))
    jobs = Jobs(cloud.stack.jobs_table)
    assert (jobs.get(SAMPLE_JOB_ID).guard.outcomes, jobs.get(SAMPLE_JOB_ID).guard.bounced) == (2, 2)  # type: ignore[union-attr]

    # When the guard judges the job (at a minimum of 2 emails with an outcome), twice
    topic = cloud.stack.topic_arn
    deliveries = Deliveries(cloud.stack.directory_table, cloud.stack.jobs_table)
    deps = DeliveryDeps(deliveries, jobs, HeldEmails(cloud.stack.jobs_table), Notifier(topic))
    guard_the_job(SAMPLE_JOB_ID, deps, GuardSettings(minimum=2))
    guard_the_job(SAMPLE_JOB_ID, deps, GuardSettings(minimum=2))

    # Then the job's emails are held, and one emails-held notice says why
    held = jobs.get(SAMPLE_JOB_ID)
    assert held is not None and held.emails_held_at is not None
    assert held.emails_held_why == "of 2 emails with an outcome, 100.0% bounced (the limit is 4%)"

    # When another batch of the job arrives at the email sender: a user not reached yet, and one reached already
    third = {"row": 4, "userId": "005THIRDUSER000001", "contactId": "003pOlWe4kL5ZYI0001"}
    cloud.directory().put_users(
        [
            PortalUser(
                contact_id=third["contactId"], user_id=third["userId"], role="Customer", job_id=SAMPLE_JOB_ID, row=4
            )
        ]
    )
    reached = {"row": 2, "userId": first["userId"], "contactId": first["contactId"]}
    batch = {"key": f"{SAMPLE_JOB_ID}#1#0", "jobId": SAMPLE_JOB_ID, "recipients": [third, reached]}
    assert cloud.email_sender(with_bodies(_load_event("sqs_emails"), json.dumps(batch))) == {"batchItemFailures": []}

    # Then the one not reached is kept, not sent, and counted as held (the one reached is nobody's to keep)
    assert len(cloud.sent_emails()) == 2
    kept = jobs.get(SAMPLE_JOB_ID)
    assert kept is not None and kept.emails_held == 1 and kept.parked == [f"{SAMPLE_JOB_ID}#1#0+h0"]

    # When the administrator resumes the job's emails
    email_queue = cloud.queue_of("EmailSenderFunction")
    answer = resume_emails(SAMPLE_JOB_ID, ResumeDeps(jobs, HeldEmails(cloud.stack.jobs_table), Queue(email_queue)))

    # Then the hold ends, the kept batch is queued again, and the guard judges only what comes after
    assert answer == {"resumed": SAMPLE_JOB_ID, "queued": 1}
    resumed = jobs.get(SAMPLE_JOB_ID)
    assert resumed is not None and resumed.emails_held_at is None and resumed.emails_held == 0 and not resumed.parked
    assert (resumed.guard - resumed.guard_base).outcomes == 0
    assert [json.loads(body)["recipients"] for body in cloud.drain(email_queue)] == [[third]]
    assert resume_emails(SAMPLE_JOB_ID, ResumeDeps(jobs, HeldEmails(cloud.stack.jobs_table), Queue(email_queue))) == {
        "refused": f"job {SAMPLE_JOB_ID} has no held emails: nothing to resume."
    }
