"""The local runtime's SES mailbox simulator: which events each address gets, in which order, how long after the send,
and records in the shape SES publishes to SNS through a configuration set (what the DeliveryEvents function reads)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portal_import_local.faults import FaultPlan
from portal_import_local.mailbox import (
    BOUNCE_DELAY,
    COMPLAINT_DELAY,
    DELIVERY_DELAY,
    SEND_DELAY,
    SentMail,
    events_of,
    simulated,
)

SENT_AT = datetime(2026, 3, 1, 9, 30, 12, 345000, tzinfo=UTC)


def _mail(*recipients: str, tags: dict[str, str] | None = None) -> SentMail:
    return SentMail(
        message_id="0102019abc-1111-2222-3333-444455556666-000000",
        source="Partner Portal <portal@example.com>",
        destination=recipients,
        sent_at=SENT_AT,
        account_id="123456789012",
        region="eu-west-1",
        configuration_set="portal-import-activation",
        tags=tags or {"job": "20260301T093012Z-5f2c1e9a7b3d", "attempt": "1", "contact": "003000000000001AAA"},
    )


def _types(address: str) -> list[tuple[float, str]]:
    return [(delay, record["eventType"]) for delay, record in events_of(_mail(address))]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("success@simulator.amazonses.com", [(SEND_DELAY, "Send"), (DELIVERY_DELAY, "Delivery")]),
        ("bounce@simulator.amazonses.com", [(SEND_DELAY, "Send"), (BOUNCE_DELAY, "Bounce")]),
        ("ooto@simulator.amazonses.com", [(SEND_DELAY, "Send"), (DELIVERY_DELAY, "Delivery")]),
        (
            "complaint@simulator.amazonses.com",
            [(SEND_DELAY, "Send"), (DELIVERY_DELAY, "Delivery"), (COMPLAINT_DELAY, "Complaint")],
        ),
        ("suppressionlist@simulator.amazonses.com", [(SEND_DELAY, "Send"), (BOUNCE_DELAY, "Bounce")]),
        ("someone@simulator.amazonses.com", [(SEND_DELAY, "Send"), (DELIVERY_DELAY, "Delivery")]),
        ("ada@example.com", [(SEND_DELAY, "Send"), (DELIVERY_DELAY, "Delivery")]),
    ],
)
def test_each_simulator_address_gets_its_events_a_few_seconds_after_the_send(
    address: str, expected: list[tuple[float, str]]
) -> None:
    # Given a message to the address / When SES handles it / Then these events come, in this order, this late
    assert _types(address) == expected
    assert all(0 < delay < 10 for delay, _ in expected)


@pytest.mark.parametrize(
    ("address", "outcome"),
    [
        ("bounce+row-17@simulator.amazonses.com", "bounce"),
        ("Complaint@Simulator.AmazonSES.com", "complaint"),
        ("OOTO+a+b@SIMULATOR.amazonses.com", "ooto"),
        ("Ada Lovelace <suppressionlist+x@simulator.amazonses.com>", "suppressionlist"),
        ("bounce@example.com", "success"),  # only the simulator's domain is special
        ("bounce@simulator.amazonses.com.example.com", "success"),
        ("bounce-team@simulator.amazonses.com", "success"),
        ("xbounce@simulator.amazonses.com", "success"),
    ],
)
def test_labels_and_letter_case_do_not_change_the_outcome_and_other_domains_are_delivered(
    address: str, outcome: str
) -> None:
    assert simulated(address) == outcome


def _record(address: str, event_type: str) -> dict[str, Any]:
    (record,) = [record for _, record in events_of(_mail(address)) if record["eventType"] == event_type]
    return record


def test_every_record_carries_the_mail_with_the_automatic_tags_and_the_calls_tags() -> None:
    # Given a bulk send's message through the configuration set, tagged by the call and its destination
    for _, record in events_of(_mail("complaint+7@simulator.amazonses.com")):
        mail = record["mail"]
        # Then each event's mail says which message it was, from whom, to whom, and carries every tag
        assert mail["messageId"] == "0102019abc-1111-2222-3333-444455556666-000000"
        assert mail["timestamp"] == "2026-03-01T09:30:12.345Z"
        assert mail["source"] == "Partner Portal <portal@example.com>"
        assert mail["sourceArn"] == "arn:aws:ses:eu-west-1:123456789012:identity/portal@example.com"
        assert mail["sendingAccountId"] == "123456789012"
        assert mail["destination"] == ["complaint+7@simulator.amazonses.com"]
        assert mail["headersTruncated"] is False
        tags = mail["tags"]
        assert tags["ses:configuration-set"] == ["portal-import-activation"]
        assert tags["ses:from-domain"] == ["example.com"]
        assert tags["ses:caller-identity"] and tags["ses:source-ip"]
        assert tags["job"] == ["20260301T093012Z-5f2c1e9a7b3d"]
        assert tags["attempt"] == ["1"]
        assert tags["contact"] == ["003000000000001AAA"]


def test_a_send_record_is_empty_and_a_delivery_record_says_when_and_to_whom() -> None:
    send = _record("success@simulator.amazonses.com", "Send")
    assert send["send"] == {}
    assert set(send) == {"eventType", "mail", "send"}

    delivery = _record("success+1@simulator.amazonses.com", "Delivery")["delivery"]
    assert delivery["recipients"] == ["success+1@simulator.amazonses.com"]
    assert delivery["timestamp"] == "2026-03-01T09:30:13.345Z"  # a second after the send
    assert delivery["processingTimeMillis"] == 1000
    assert delivery["smtpResponse"].startswith("250 ")
    assert delivery["reportingMTA"]


def test_a_bounce_is_permanent_and_says_the_user_is_unknown() -> None:
    bounce = _record("bounce@simulator.amazonses.com", "Bounce")["bounce"]
    assert (bounce["bounceType"], bounce["bounceSubType"]) == ("Permanent", "General")
    assert bounce["bouncedRecipients"] == [
        {
            "emailAddress": "bounce@simulator.amazonses.com",
            "action": "failed",
            "status": "5.1.1",
            "diagnosticCode": "smtp; 550 5.1.1 user unknown",
        }
    ]
    assert bounce["timestamp"] == "2026-03-01T09:30:13.845Z"
    assert bounce["feedbackId"] and bounce["reportingMTA"].startswith("dsn; ")


def test_the_suppression_list_address_bounces_as_suppressed() -> None:
    bounce = _record("suppressionlist@simulator.amazonses.com", "Bounce")["bounce"]
    assert (bounce["bounceType"], bounce["bounceSubType"]) == ("Permanent", "Suppressed")
    (recipient,) = bounce["bouncedRecipients"]
    assert recipient["emailAddress"] == "suppressionlist@simulator.amazonses.com"
    assert "suppression list" in recipient["diagnosticCode"]


def test_a_complaint_is_abuse_reported_after_the_delivery() -> None:
    complaint = _record("complaint@simulator.amazonses.com", "Complaint")["complaint"]
    assert complaint["complainedRecipients"] == [{"emailAddress": "complaint@simulator.amazonses.com"}]
    assert complaint["complaintFeedbackType"] == "abuse"
    assert complaint["timestamp"] == "2026-03-01T09:30:14.345Z"
    assert complaint["arrivalDate"] and complaint["userAgent"] and complaint["feedbackId"]


def test_a_message_to_several_recipients_has_one_send_and_each_recipients_outcome() -> None:
    recipients = ["success@simulator.amazonses.com", "bounce@simulator.amazonses.com"]
    events = events_of(_mail(*recipients))
    assert [record["eventType"] for _, record in events] == ["Send", "Delivery", "Bounce"]
    assert all(record["mail"]["destination"] == recipients for _, record in events)
    assert events[1][1]["delivery"]["recipients"] == recipients[:1]
    assert [r["emailAddress"] for r in events[2][1]["bounce"]["bouncedRecipients"]] == recipients[1:]


def test_with_a_seed_delays_jitter_by_half_either_way_so_a_complaint_may_come_before_its_delivery() -> None:
    # Given the fault plan's jitter, seeded
    faults = FaultPlan(seed=7)
    orders = set()
    for _ in range(200):
        # When a complaint address's events are scheduled
        events = events_of(_mail("complaint@simulator.amazonses.com"), faults.event_delay)
        delays = {record["eventType"]: delay for delay, record in events}
        # Then each delay is within half of its own either way, and the timestamps follow them
        assert DELIVERY_DELAY / 2 <= delays["Delivery"] <= DELIVERY_DELAY * 1.5
        assert COMPLAINT_DELAY / 2 <= delays["Complaint"] <= COMPLAINT_DELAY * 1.5
        complaint = next(record for _, record in events if record["eventType"] == "Complaint")
        stamp = (SENT_AT + timedelta(seconds=delays["Complaint"])).isoformat(timespec="milliseconds")
        assert complaint["complaint"]["timestamp"] == stamp.replace("+00:00", "Z")
        orders.add(delays["Complaint"] < delays["Delivery"])
    # And sometimes the complaint comes first, as AWS allows
    assert orders == {True, False}


def test_without_a_seed_delays_are_as_written_and_a_seed_replays_the_same_delays() -> None:
    assert FaultPlan().event_delay(2.0) == 2.0
    assert FaultPlan(seed=3).event_delay(2.0) == FaultPlan(seed=3).event_delay(2.0) != 2.0
