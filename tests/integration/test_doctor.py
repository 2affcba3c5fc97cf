"""`portal-import doctor` on the local stack: every check passes once anything is subscribed to the alarm topic (the
local SES has production access and a quota above any local run's needs), and a misconfiguration fails exactly the
check about it; `submit --send-activation-email` says nothing of a sandbox the local account is not in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from portal_import_cli import inspection
from portal_import_cli.deployment import Deployment, Target
from portal_import_cli.main import main
from portal_import_local.stack import STACK_NAME

from .conftest import Cloud

CONFIGURATION_SET = f"{STACK_NAME}-activation"  # the template's ActivationEmailConfigurationSet
ALL_EVENTS = ["send", "reject", "bounce", "complaint", "delivery", "deliveryDelay"]


@pytest.fixture
def stack(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """The local stack with its activation configuration set and event destination; created here (on SES v1 and
    v2, as the local stack does) when the stack does not create them itself, and the outputs naming them added to
    what doctor reads when the stack has none."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # the command sets boto3's default session: undone after
    outputs = {o["OutputKey"]: o["OutputValue"] for o in _described(cloud)["Outputs"]}
    topic = outputs.get("DeliveryEventsTopicArn") or cloud.session.client("sns").create_topic(Name="events")["TopicArn"]
    set_name = outputs.get("ConfigurationSetName", CONFIGURATION_SET)
    sesv2 = cloud.session.client("sesv2")
    if set_name not in sesv2.list_configuration_sets()["ConfigurationSets"]:
        sesv2.create_configuration_set(ConfigurationSetName=set_name, DeliveryOptions={"TlsPolicy": "REQUIRE"})
    if not sesv2.get_configuration_set_event_destinations(ConfigurationSetName=set_name)["EventDestinations"]:
        cloud.session.client("ses").create_configuration_set_event_destination(
            ConfigurationSetName=set_name,
            EventDestination={
                "Name": "delivery-events",
                "Enabled": True,
                "MatchingEventTypes": ALL_EVENTS,
                "SNSDestination": {"TopicARN": topic},
            },
        )
    added = {"ConfigurationSetName": set_name, "DeliveryEventsTopicArn": topic}
    read = Deployment.stack_outputs
    monkeypatch.setattr(Deployment, "stack_outputs", lambda self: {**added, **read(self)})
    cloud.seed_directory()
    yield cloud


def _described(cloud: Cloud) -> dict[str, Any]:
    stack: dict[str, Any] = cloud.session.client("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    return stack


def _subscribe_to_alarms(cloud: Cloud) -> None:
    sqs = cloud.session.client("sqs")
    url = sqs.create_queue(QueueName="on-call")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    alarms = {o["OutputKey"]: o["OutputValue"] for o in _described(cloud)["Outputs"]}["AlarmTopicArn"]
    cloud.session.client("sns").subscribe(TopicArn=alarms, Protocol="sqs", Endpoint=arn)


def _doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    status = main(["doctor", "--stack", STACK_NAME, "--json"])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return status, document


def _failing(document: dict[str, Any]) -> list[str]:
    return [check["name"] for check in document["checks"] if not check["ok"]]


def test_every_check_passes_on_the_local_stack_once_someone_hears_its_alarms(
    stack: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the local stack, nobody subscribed to its alarm topic yet
    status, document = _doctor(capsys)
    # Then that alone fails
    assert (status, _failing(document)) == (1, ["alarm-subscription"])

    # When a queue is subscribed to the alarm topic
    _subscribe_to_alarms(stack)
    status, document = _doctor(capsys)

    # Then every check passes, each saying what holds
    assert (status, document["ok"], _failing(document)) == (0, True, [])
    assert len(document["checks"]) == 10  # their names and order: tests/unit/test_doctor.py
    details = {check["name"]: check["detail"] for check in document["checks"]}
    assert details["sender-identity"] == "no-reply@example.com is verified for sending"
    assert "no reputation data yet" in details["sending-enabled"]
    assert details["daily-quota"] == "1,000,000 of 1,000,000 emails left in the last 24 hours"


def test_a_configuration_set_that_does_not_require_tls_fails_that_check_alone(
    stack: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the local stack, heard, whose configuration set no longer requires TLS (moto has no
    # PutConfigurationSetDeliveryOptions: the set is made again, its event destination kept)
    _subscribe_to_alarms(stack)
    sesv2 = stack.session.client("sesv2")
    sesv2.delete_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
    sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET, DeliveryOptions={"TlsPolicy": "OPTIONAL"})
    try:
        # When the doctor looks
        status, document = _doctor(capsys)
    finally:
        sesv2.delete_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
        sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET, DeliveryOptions={"TlsPolicy": "REQUIRE"})
    # Then that check alone fails, saying what to do
    assert (status, _failing(document)) == (1, ["configuration-set"])
    (detail,) = [check["detail"] for check in document["checks"] if check["name"] == "configuration-set"]
    assert "TlsPolicy OPTIONAL" in detail
    assert "deploy the stack again" in detail


def test_a_role_without_its_group_is_named(stack: Cloud, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the heard local stack, one of whose active Roles lost its group
    _subscribe_to_alarms(stack)
    roles = stack.directory().active_roles()
    gone = sorted(role for role, active in roles.items() if active)[0]
    stack.session.client("cognito-idp").delete_group(GroupName=gone, UserPoolId=stack.stack.user_pool_id)

    # When the doctor looks / Then role-groups alone fails, naming it
    status, document = _doctor(capsys)
    assert (status, _failing(document)) == (1, ["role-groups"])
    assert gone in document["checks"][-1]["detail"]


def test_the_local_account_is_not_in_the_sandbox_so_submit_warns_of_none(stack: Cloud) -> None:
    # The local SES answers GetAccount with production access: submit has nothing to warn of
    assert inspection.in_sandbox(Deployment(Target(stack=STACK_NAME))) is False
