"""What `portal-import doctor` reads of the account and the stack (SES, CloudWatch, SNS, Cognito, the directory), as
plain answers for portal_import_cli.doctor to judge; and whether the account's SES is in the sandbox, which `submit
--send-activation-email` warns of. A call the caller may not make, or that fails, is an answer too (Unreadable),
never a traceback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from portal_import.aws.directory import Directory
from portal_import_cli.deployment import AWS_FAILURES, Deployment
from portal_import_cli.doctor import Answers, Unreadable
from portal_import_cli.errors import ACCESS_DENIED

T = TypeVar("T")
# The codes each service answers for a thing that does not exist.
_NOT_FOUND = ("NotFoundException", "ResourceNotFoundException", "NotFound")
# SES's reputation metrics, by the name doctor gives them; the latest value of the last day is read.
_REPUTATION = {"bounce": "Reputation.BounceRate", "complaint": "Reputation.ComplaintRate"}
_REPUTATION_WINDOW = timedelta(days=1)


def _read(what: str, call: Callable[[], T]) -> T | Unreadable | None:
    """The call's answer; None when what it reads does not exist; Unreadable when the caller may not make it, or it
    fails otherwise."""
    try:
        return call()
    except ClientError as error:
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        if code in _NOT_FOUND:
            return None
        if code in ACCESS_DENIED or code == "403":
            return Unreadable(what)
        return Unreadable(
            what, denied=False, reason=f"{error.operation_name} failed ({code}): {details.get('Message')}"
        )


def _present(what: str, call: Callable[[], T]) -> T | Unreadable:
    """An answer about something that always exists (the account, the directory): not found is a failure too."""
    found = _read(what, call)
    return Unreadable(what, denied=False, reason="not found") if found is None else found


def answers(deployment: Deployment) -> Answers:
    outputs = deployment.stack_outputs()
    parameters = deployment.stack_parameters()
    sender = parameters.get("SenderAddress") or ""
    sesv2 = deployment.client("sesv2")
    address = _read(
        f"the SES identity {sender} (ses:GetEmailIdentity)", lambda: sesv2.get_email_identity(EmailIdentity=sender)
    )
    domain: Mapping[str, Any] | Unreadable | None = None
    if address is None:
        name = sender.rpartition("@")[2]
        domain = _read(
            f"the SES identity {name} (ses:GetEmailIdentity)", lambda: sesv2.get_email_identity(EmailIdentity=name)
        )
    set_name = outputs.get("ConfigurationSetName")
    pool_id = deployment.name("user_pool")
    pool = _user_pool(deployment, pool_id)
    return Answers(
        sender=sender,
        address_identity=address,
        domain_identity=domain,
        account=_present("the SES account (ses:GetAccount)", sesv2.get_account),
        reputation=_present("the SES reputation metrics (cloudwatch:GetMetricData)", lambda: _reputation(deployment)),
        email_rate=deployment.email_rate(),
        configuration_set_name=set_name,
        configuration_set=_configuration_set(sesv2, set_name),
        event_destinations=_event_destinations(sesv2, set_name),
        delivery_topic=outputs.get("DeliveryEventsTopicArn"),
        alarm_topic=outputs.get("AlarmTopicArn"),
        subscriptions=_subscriptions(deployment, outputs.get("AlarmTopicArn")),
        user_pool_id=pool_id,
        user_pool=pool,
        roles=_present(
            "the directory's Roles (dynamodb:Query)",
            lambda: Directory(deployment.name("directory_table")).active_roles(),
        ),
        groups=_groups(deployment, pool_id) if isinstance(pool, Mapping) else pool,
    )


def _identity(sesv2: Any, identity: str) -> Mapping[str, Any] | Unreadable | None:
    return _read(
        f"the SES identity {identity} (ses:GetEmailIdentity)",
        lambda: sesv2.get_email_identity(EmailIdentity=identity),
    )


def _configuration_set(sesv2: Any, name: str | None) -> Mapping[str, Any] | Unreadable | None:
    if name is None:
        return None
    return _read(
        f"the configuration set {name} (ses:GetConfigurationSet)",
        lambda: sesv2.get_configuration_set(ConfigurationSetName=name),
    )


def _event_destinations(sesv2: Any, name: str | None) -> list[Mapping[str, Any]] | Unreadable | None:
    if name is None:
        return None
    return _read(
        f"the event destinations of {name} (ses:GetConfigurationSetEventDestinations)",
        lambda: list(sesv2.get_configuration_set_event_destinations(ConfigurationSetName=name)["EventDestinations"]),
    )


def _subscriptions(deployment: Deployment, topic: str | None) -> list[Mapping[str, Any]] | Unreadable | None:
    if topic is None:
        return None

    def read() -> list[Mapping[str, Any]]:
        pages = deployment.client("sns").get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
        return [subscription for page in pages for subscription in page.get("Subscriptions", [])]

    return _read("the alarm topic's subscriptions (sns:ListSubscriptionsByTopic)", read)


def _user_pool(deployment: Deployment, pool_id: str) -> Mapping[str, Any] | Unreadable | None:
    return _read(
        f"the user pool {pool_id} (cognito-idp:DescribeUserPool)",
        lambda: deployment.client("cognito-idp").describe_user_pool(UserPoolId=pool_id)["UserPool"],
    )


def _groups(deployment: Deployment, pool_id: str) -> set[str] | Unreadable | None:
    def read() -> set[str]:
        pages = deployment.client("cognito-idp").get_paginator("list_groups").paginate(UserPoolId=pool_id)
        return {group["GroupName"] for page in pages for group in page.get("Groups", [])}

    return _read(f"the groups of the user pool {pool_id} (cognito-idp:ListGroups)", read)


def _reputation(deployment: Deployment) -> dict[str, float]:
    """The latest of the last day's hourly maxima of each reputation metric SES published (none for an account that
    has sent little)."""
    end = datetime.now(UTC)
    queries = [
        {
            "Id": key,
            "MetricStat": {"Metric": {"Namespace": "AWS/SES", "MetricName": metric}, "Period": 3600, "Stat": "Maximum"},
        }
        for key, metric in _REPUTATION.items()
    ]
    answer = deployment.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=end - _REPUTATION_WINDOW, EndTime=end, ScanBy="TimestampDescending"
    )
    return {result["Id"]: float(result["Values"][0]) for result in answer["MetricDataResults"] if result.get("Values")}


def in_sandbox(deployment: Deployment) -> bool | None:
    """Whether the account's SES is in the sandbox; None when that cannot be read (not allowed, or the call failed)."""
    try:
        account = deployment.client("sesv2").get_account()
    except AWS_FAILURES:
        return None
    return account.get("ProductionAccessEnabled") is False
