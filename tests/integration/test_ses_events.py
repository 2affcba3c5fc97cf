"""SES event publishing on the local stack: a bulk templated send through a configuration set gets the mailbox
simulator's events, published to the set's SNS event destination once due, and delivered raw to a queue on that
topic, each tagged and carrying the MessageId SES returned for its destination; an unknown set is refused as SES
refuses it. The schedule's clock is the test's, so nothing waits for the seconds the events take."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from portal_import_local import ses_events
from portal_import_local.runtime import LocalRuntime

TEMPLATE_NAME = "mailbox-test"
EVERY_TYPE = ["send", "reject", "bounce", "complaint", "delivery", "deliveryDelay"]


class Clock:
    """The schedule's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(ses_events.SCHEDULE, "clock", fake)
    ses_events.SCHEDULE.clear()  # nothing an earlier test left
    yield fake
    ses_events.SCHEDULE.clear()


def _configuration_set(runtime: LocalRuntime, name: str, matching: list[str]) -> str:
    """The set `name` with an SNS event destination matching those types (made once: moto keeps destinations'
    names for good); returns a queue subscribed raw to its topic, as the stack subscribes its own."""
    session = runtime.session
    topic = session.client("sns").create_topic(Name=f"{name}-events")["TopicArn"]
    ses = session.client("ses")
    if name not in [s["Name"] for s in ses.list_configuration_sets().get("ConfigurationSets", [])]:
        session.client("sesv2").create_configuration_set(
            ConfigurationSetName=name, DeliveryOptions={"TlsPolicy": "REQUIRE"}
        )
        ses.create_configuration_set_event_destination(
            ConfigurationSetName=name,
            EventDestination={
                "Name": f"{name}-destination",
                "Enabled": True,
                "MatchingEventTypes": matching,
                "SNSDestination": {"TopicARN": topic},
            },
        )
    sqs = session.client("sqs")
    url = str(sqs.create_queue(QueueName=f"{name}-queue")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    session.client("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return url


def _send(runtime: LocalRuntime, addresses: list[str], **options: Any) -> list[str]:
    """A bulk templated send, one destination an address, each tagged with its contact; the MessageIds SES
    returned, in the destinations' order."""
    ses = runtime.session.client("ses")
    with contextlib.suppress(ClientError):  # made by an earlier test of the module
        ses.create_template(Template={"TemplateName": TEMPLATE_NAME, "SubjectPart": "Hi", "TextPart": "Hello"})
    response = ses.send_bulk_templated_email(
        Source=runtime.stack.parameters["SenderAddress"],
        Template=TEMPLATE_NAME,
        DefaultTemplateData="{}",
        Destinations=[
            {
                "Destination": {"ToAddresses": [address]},
                "ReplacementTemplateData": "{}",
                "ReplacementTags": [{"Name": "contact", "Value": f"C{n}"}],
            }
            for n, address in enumerate(addresses)
        ],
        **options,
    )
    return [status["MessageId"] for status in response["Status"]]


def _received(runtime: LocalRuntime, url: str) -> list[dict[str, Any]]:
    sqs = runtime.session.client("sqs")
    records = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            records.append(json.loads(message["Body"]))  # raw: the body is SES's record itself
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return records


def _by_message(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    types: dict[str, list[str]] = {}
    for record in records:
        types.setdefault(record["mail"]["messageId"], []).append(record["eventType"])
    return types


TAGS = [{"Name": "job", "Value": "20260301T093012Z-5f2c1e9a7b3d"}, {"Name": "attempt", "Value": "2"}]


def test_the_simulators_events_reach_the_sets_topic_once_due_each_with_its_message_id_and_tags(
    runtime: LocalRuntime, clock: Clock
) -> None:
    # Given a configuration set whose SNS destination takes every event type, and a queue on its topic
    queue = _configuration_set(runtime, "mailbox-all", EVERY_TYPE)
    addresses = [
        "success+1@simulator.amazonses.com",
        "Bounce@simulator.amazonses.com",
        "complaint@simulator.amazonses.com",
    ]

    # When three emails go out through it in one bulk send, tagged
    ids = _send(runtime, addresses, ConfigurationSetName="mailbox-all", DefaultTags=TAGS)

    # Then nothing is published before it is due
    assert ses_events.SCHEDULE.seconds_to_next() is not None
    assert runtime.pump() is False
    assert _received(runtime, queue) == []
    # And half a second on, each message's Send has been published (and pumping said so)
    clock.now += 0.5
    assert runtime.pump() is True
    assert _by_message(_received(runtime, queue)) == {message_id: ["Send"] for message_id in ids}
    # And a few seconds on, each recipient's outcome, in the order SES publishes them
    clock.now += 10
    runtime.pump()
    records = _received(runtime, queue)
    assert _by_message(records) == {ids[0]: ["Delivery"], ids[1]: ["Bounce"], ids[2]: ["Delivery", "Complaint"]}
    assert not runtime.ses_events_scheduled()
    # And every record is tagged with the set, the call's tags and its destination's own
    for record in records:
        n = ids.index(record["mail"]["messageId"])
        assert record["mail"]["destination"] == [addresses[n]]
        tags = record["mail"]["tags"]
        assert tags["ses:configuration-set"] == ["mailbox-all"]
        assert (tags["job"], tags["attempt"], tags["contact"]) == (["20260301T093012Z-5f2c1e9a7b3d"], ["2"], [f"C{n}"])
    bounce = next(record["bounce"] for record in records if record["eventType"] == "Bounce")
    assert (bounce["bounceType"], bounce["bounceSubType"]) == ("Permanent", "General")


def test_only_the_event_types_the_destination_matches_are_published(runtime: LocalRuntime, clock: Clock) -> None:
    # Given a set whose destination takes bounces and complaints only (named as CloudFormation and SESv2 do)
    queue = _configuration_set(runtime, "mailbox-feedback", ["BOUNCE", "complaint", "DELIVERY_DELAY"])

    # When a delivered, a bounced and a complained-about email go out through it, and their events are due
    ids = _send(
        runtime,
        ["success@simulator.amazonses.com", "bounce@simulator.amazonses.com", "complaint@simulator.amazonses.com"],
        ConfigurationSetName="mailbox-feedback",
    )
    clock.now += 60
    runtime.pump()

    # Then only the bounce and the complaint reach the topic
    assert _by_message(_received(runtime, queue)) == {ids[1]: ["Bounce"], ids[2]: ["Complaint"]}


def test_a_send_naming_an_unknown_set_is_refused_and_sends_nothing(runtime: LocalRuntime, clock: Clock) -> None:
    before = runtime.sent_message_count()
    with pytest.raises(ClientError) as refused:
        _send(runtime, ["success@simulator.amazonses.com"], ConfigurationSetName="no-such-set")
    assert refused.value.response["Error"]["Code"] == "ConfigurationSetDoesNotExist"
    assert "no-such-set" in refused.value.response["Error"]["Message"]
    assert runtime.sent_message_count() == before
    assert not runtime.ses_events_scheduled()


def test_a_send_without_a_configuration_set_publishes_nothing(runtime: LocalRuntime, clock: Clock) -> None:
    ids = _send(runtime, ["bounce@simulator.amazonses.com"])
    assert len(ids) == 1
    assert not runtime.ses_events_scheduled()


def test_waiting_for_the_events_ends_once_each_is_published_and_gives_up_at_its_timeout(
    runtime: LocalRuntime, clock: Clock
) -> None:
    # Given events scheduled that will not be due before the wait's timeout
    queue = _configuration_set(runtime, "mailbox-all", EVERY_TYPE)
    (message_id,) = _send(runtime, ["complaint@simulator.amazonses.com"], ConfigurationSetName="mailbox-all")

    # When the runtime waits for them / Then it gives up at its timeout, saying how many are left
    with pytest.raises(TimeoutError, match="3 still to publish"):
        runtime.run_until_ses_events_recorded(0.05)

    # And once they are due, waiting ends with every one of them published
    clock.now += 60
    runtime.run_until_ses_events_recorded(5)
    assert _by_message(_received(runtime, queue)) == {message_id: ["Send", "Delivery", "Complaint"]}
