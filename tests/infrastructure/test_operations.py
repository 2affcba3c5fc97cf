"""What a deployed stack does for its operators, as template.yaml states it: alarms that fire on one failure and reach
the alarm topic (and two on SES's reputation of the account), the dashboard, logs kept a bounded time, the records
of who was given access kept through a stack mistake, bounded concurrency, the sender's identity created, and a
layer built for what it claims.

CloudWatch's semantics are modelled from its documentation (Metric Math syntax and functions; alarms'
TreatMissingData): a metric that published no data point in a period has no value there; arithmetic between time
series has a value only where every operand has one; FILL(m, v) has m's value where m has one and v elsewhere; a
missing result with TreatMissingData notBreaching does not breach. moto evaluates no alarm, so this is a model
checked against the documentation, not against AWS.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

_TERM = re.compile(r"FILL\((\w+), (\d+(?:\.\d+)?)\)|(\w+)")


def evaluate(expression: str, values: dict[str, float | None]) -> float | None:
    """One period of a sum of metrics (`a + FILL(b, 0) + …`) as CloudWatch evaluates it; None: no value."""
    total = 0.0
    for term in expression.split(" + "):
        match = _TERM.fullmatch(term.strip())
        assert match, f"the model knows only sums of metrics and FILL: {term!r}"
        filled, fill_value, plain = match.groups()
        value = values[filled or plain]
        if value is None and filled:
            value = float(fill_value)
        if value is None:
            return None  # one operand without a data point: no value for the sum
        total += value
    return total


def fires(alarm: dict[str, Any], values: dict[str, float | None]) -> bool:
    properties = alarm["Properties"]
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["EvaluationPeriods"] == 1
    (total,) = [m for m in properties["Metrics"] if m.get("ReturnData")]
    value = evaluate(total["Expression"], values)
    if value is None:
        return properties.get("TreatMissingData") == "breaching"
    return value > float(properties["Threshold"])


ALARMS = ("DeadLettersAlarm", "FunctionErrorsAlarm", "FunctionThrottlesAlarm")
# SES's account-wide reputation as it publishes it (AWS/SES, no dimensions, a ratio 0..1), at the rates at which
# SES reviews an account: 5 % bounces, 0.1 % complaints
REPUTATION_ALARMS = {
    "SesBounceRateAlarm": ("Reputation.BounceRate", 0.05),
    "SesComplaintRateAlarm": ("Reputation.ComplaintRate", 0.001),
}


@pytest.mark.parametrize("name", ALARMS)
def test_each_alarm_fires_on_one_failure_of_one_metric_while_the_others_publish_nothing(
    sam_template: dict[str, Any], name: str
) -> None:
    alarm = sam_template["Resources"][name]
    metrics = [m["Id"] for m in alarm["Properties"]["Metrics"] if "MetricStat" in m]
    assert all(
        m["MetricStat"]["Stat"] in ("Sum", "Maximum") for m in alarm["Properties"]["Metrics"] if "MetricStat" in m
    )
    for failing in metrics:
        # Given one function that failed once (one message in one dead-letter queue), and nothing else ran
        values: dict[str, float | None] = dict.fromkeys(metrics, None)
        values[failing] = 1.0
        # Then the alarm fires
        assert fires(alarm, values), (name, failing)
    # and it stays quiet when nothing published, or everything published zeros
    assert not fires(alarm, dict.fromkeys(metrics, None))
    assert not fires(alarm, dict.fromkeys(metrics, 0.0))


def test_a_plain_sum_would_stay_quiet_when_the_others_publish_nothing() -> None:
    # The form the alarms had: it needs every metric to have a data point, which idle functions never publish
    assert evaluate("f0 + f1", {"f0": 1.0, "f1": None}) is None
    assert evaluate("FILL(f0, 0) + FILL(f1, 0)", {"f0": 1.0, "f1": None}) == 1.0


def test_the_alarm_topic_is_one_cloudwatch_can_publish_to(sam_template: dict[str, Any]) -> None:
    resources = sam_template["Resources"]
    topic = resources["AlarmTopic"]["Properties"]
    # Given the alarms' topic: its key is the stack's own (CloudWatch cannot use the AWS managed SNS key)
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = resources["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (cloudwatch,) = [
        s for s in key["KeyPolicy"]["Statement"] if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # and its policy lets this account's alarms publish
    policy = resources["AlarmTopicPolicy"]
    assert policy["Properties"]["Topics"] == [{"Ref": "AlarmTopic"}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Principal"], statement["Action"]) == ({"Service": "cloudwatch.amazonaws.com"}, "sns:Publish")
    # and every alarm publishes there, on alarm and back to OK
    for name in (*ALARMS, *REPUTATION_ALARMS):
        properties = resources[name]["Properties"]
        assert properties["AlarmActions"] == properties["OKActions"] == [{"Ref": "AlarmTopic"}]


@pytest.mark.parametrize("name", REPUTATION_ALARMS)
def test_the_sender_reputation_alarms_fire_where_ses_reviews_the_account(
    sam_template: dict[str, Any], name: str
) -> None:
    metric, threshold = REPUTATION_ALARMS[name]
    properties = sam_template["Resources"][name]["Properties"]
    # Given the account's own rate, as SES publishes it without any configuration set
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/SES", metric)
    assert "Dimensions" not in properties
    # Then the highest rate of the hour at or above SES's review line fires the alarm to the alarm topic
    assert (properties["Statistic"], properties["Period"], properties["EvaluationPeriods"]) == ("Maximum", 3600, 1)
    assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanOrEqualToThreshold", threshold)
    assert properties["AlarmActions"] == properties["OKActions"] == [{"Ref": "AlarmTopic"}]
    # and an hour without a published rate keeps the alarm as it was (a quiet hour does not lower the rate)
    assert properties["TreatMissingData"] == "ignore"
    # and its description says what is at stake and what to do
    description = properties["AlarmDescription"]
    assert "may pause" in description and "portal-import resend" in description
    assert len(description) <= 1024  # CloudWatch's limit


def dashboard_widgets(sam_template: dict[str, Any]) -> list[dict[str, Any]]:
    body = sam_template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    # what !Sub substitutes, replaced by a plain value: the rest must already be JSON
    widgets: list[dict[str, Any]] = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    return widgets


def test_the_dashboard_shows_the_accounts_email_outcomes_and_reputation_at_the_alarms_thresholds(
    sam_template: dict[str, Any],
) -> None:
    widgets = dashboard_widgets(sam_template)
    (heading,) = [w for w in widgets if w["type"] == "text"]
    assert "Activation email outcomes (the account's SES)" in heading["properties"]["markdown"]

    def metrics_of(widget: dict[str, Any]) -> list[str]:
        # CloudWatch's shorthand: "." repeats the namespace of the line above
        rows = widget["properties"]["metrics"]
        assert rows[0][0] == "AWS/SES" and all(row[0] in ("AWS/SES", ".") for row in rows)
        assert all(len([part for part in row if isinstance(part, str)]) == 2 for row in rows)  # no dimensions
        return [row[1] for row in rows]

    ses = [w for w in widgets if w["type"] == "metric" and "AWS/SES" in str(w["properties"]["metrics"])]
    outcomes, reputation = sorted(ses, key=lambda w: w["x"])
    assert metrics_of(outcomes) == ["Send", "Delivery", "Bounce", "Complaint", "Reject"]
    assert outcomes["properties"]["stat"] == "Sum"
    assert metrics_of(reputation) == ["Reputation.BounceRate", "Reputation.ComplaintRate"]
    # the lines the alarms fire at are the alarms' own thresholds
    lines = {a["label"]: a["value"] for a in reputation["properties"]["annotations"]["horizontal"]}
    resources = sam_template["Resources"]
    assert lines == {
        "Bounce rate alarm": resources["SesBounceRateAlarm"]["Properties"]["Threshold"],
        "Complaint rate alarm": resources["SesComplaintRateAlarm"]["Properties"]["Threshold"],
    }
    # and no widget overlaps another
    cells = [(w["x"] + dx, w["y"] + dy) for w in widgets for dx in range(w["width"]) for dy in range(w["height"])]
    assert len(cells) == len(set(cells))


def test_only_the_functions_publish_to_the_results_topic_so_the_managed_key_serves_it(
    sam_template: dict[str, Any],
) -> None:
    resources = sam_template["Resources"]
    assert resources["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    text = str({k: v for k, v in resources.items() if v["Type"] in ("AWS::Events::Rule", "AWS::S3::Bucket")})
    # no rule targets it and no bucket notifies it: a service principal would need a key policy the managed key lacks
    assert "NotificationTopic" not in text and "AlarmTopic" not in text
    for name, resource in resources.items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            assert "NotificationTopic" not in str(resource), name


def test_every_log_group_is_kept_for_the_retention_the_operator_sets(sam_template: dict[str, Any]) -> None:
    resources = sam_template["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    groups = {n: r for n, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    for name, function in functions.items():
        # Given each function / Then its lines go to a log group of the stack's
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert group in groups, name
    # and every log group of the stack (the functions', and the activation and console APIs' access logs) keeps
    # them LogRetentionDays
    assert len(groups) == len(functions) + 2
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    allowed = sam_template["Parameters"]["LogRetentionDays"]["AllowedValues"]
    assert sam_template["Parameters"]["LogRetentionDays"]["Default"] in allowed


@pytest.mark.parametrize("name", ["DirectoryTable", "JobsTable", "ImportBucket"])
def test_who_was_given_access_and_every_result_outlive_a_stack_deleted_or_replaced(
    sam_template: dict[str, Any], name: str
) -> None:
    resource = sam_template["Resources"][name]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    if resource["Type"] == "AWS::DynamoDB::Table":
        assert resource["Properties"]["DeletionProtectionEnabled"] is True


def test_every_queue_consumer_runs_at_most_as_many_instances_as_a_parameter_says(sam_template: dict[str, Any]) -> None:
    capped = {}
    for name, resource in sam_template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                capped[name] = event["Properties"]["ScalingConfig"]["MaximumConcurrency"]
    assert capped == {
        "SplitContinuationFunction": {"Ref": "QueueConsumerConcurrency"},
        "WorkerFunction": {"Ref": "WorkerConcurrency"},
        "DeadLetterFunction": {"Ref": "QueueConsumerConcurrency"},
        "EmailSenderFunction": 2,  # more senders would not send faster: the shared limiter sets the rate
        "GroupFunction": 2,  # likewise (UserUpdate's limiter), and the pass books no more than 2 s of its slots
        "EmailDeadLetterFunction": {"Ref": "QueueConsumerConcurrency"},
        "AggregatorFunction": {"Ref": "QueueConsumerConcurrency"},
        "DeliveryEventsFunction": {"Ref": "QueueConsumerConcurrency"},
    }
    for parameter in ("WorkerConcurrency", "QueueConsumerConcurrency"):
        spec = sam_template["Parameters"][parameter]
        assert 2 <= spec["MinValue"] <= int(spec["Default"]) <= 10  # SQS's smallest cap is 2


def test_the_sender_identity_is_created_as_the_operator_chooses_and_its_dkim_records_are_outputs(
    sam_template: dict[str, Any],
) -> None:
    resources, outputs = sam_template["Resources"], sam_template["Outputs"]
    assert "Default" not in sam_template["Parameters"]["SenderAddress"]  # every deploy says who sends
    assert sam_template["Parameters"]["SenderIdentity"]["AllowedValues"] == ["address", "domain", "existing"]
    address, domain = resources["SenderAddressIdentity"], resources["SenderDomainIdentity"]
    assert (address["Type"], address["Condition"]) == ("AWS::SES::EmailIdentity", "SenderIsAddress")
    assert address["Properties"]["EmailIdentity"] == {"Ref": "SenderAddress"}
    assert (domain["Type"], domain["Condition"]) == ("AWS::SES::EmailIdentity", "SenderIsDomain")
    assert domain["Properties"]["EmailIdentity"] == {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "SenderAddress"}]}]}
    for number in (1, 2, 3):
        record = outputs[f"SenderDkimRecord{number}"]
        assert record["Condition"] == "SenderIsDomain"
        assert f"DkimDNSTokenName{number}" in record["Value"]["Fn::Sub"]
        assert f"DkimDNSTokenValue{number}" in record["Value"]["Fn::Sub"]
    assert "SenderIdentity" in outputs


def test_samconfig_names_a_region_and_the_parameters_an_operator_decides() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))["default"]
    assert config["global"]["parameters"]["region"]
    overrides = config["deploy"]["parameters"]["parameter_overrides"]
    assert "SenderIdentity=" in overrides and "LogRetentionDays=" in overrides


def test_the_bucket_name_holds_the_region_so_a_second_region_of_the_account_deploys(
    sam_template: dict[str, Any],
) -> None:
    name = sam_template["Resources"]["ImportBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    assert name == "${AWS::StackName}-imports-${AWS::AccountId}-${AWS::Region}"


def test_the_layer_claims_the_runtime_and_architecture_it_is_built_for(sam_template: dict[str, Any]) -> None:
    layer = sam_template["Resources"]["SharedLayer"]["Properties"]
    functions = sam_template["Globals"]["Function"]
    assert layer["CompatibleRuntimes"] == [functions["Runtime"]]
    assert layer["CompatibleArchitectures"] == functions["Architectures"]
    build = (ROOT / "shared" / "Makefile").read_text(encoding="utf-8")
    assert "--python-version $(LAMBDA_PYTHON)" in build and "LAMBDA_PYTHON ?= 3.12" in build
    assert functions["Runtime"] == "python3.12" and functions["Architectures"] == ["arm64"]
    assert "manylinux2014_aarch64" in build
    assert "--no-compile" in build  # no bytecode of the building machine's Python
    assert "-name __pycache__ -prune -exec rm -rf" in build


def test_the_dashboard_shows_this_stacks_email_outcomes_and_every_queue(sam_template: dict[str, Any]) -> None:
    widgets = dashboard_widgets(sam_template)
    body = sam_template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    # the stack's own count of its emails' outcomes, as DeliveryEventsFunction records them, beside those sent
    (emails,) = [w for w in widgets if w["properties"].get("title") == "Activation emails"]
    names = [row[1] for row in emails["properties"]["metrics"]]
    assert names[:6] == [
        "ActivationEmailsSent",
        "ActivationEmailsDelivered",
        "ActivationEmailsBounced",
        "ActivationEmailsComplained",
        "ActivationEmailsDelayed",
        "ActivationEmailsHeld",
    ]
    # and every queue of the stack waits in the queues widget (the delivery events' and their dead letters too)
    queues = [name for name, r in sam_template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"]
    assert all(f"${{{queue}.QueueName}}" in body for queue in queues)


def test_every_activation_email_is_sent_with_a_set_whose_events_come_back_to_the_stack_only(
    sam_template: dict[str, Any],
) -> None:
    resources = sam_template["Resources"]
    # Given the stack's configuration set: TLS required, reputation metrics on, sending on
    configuration = resources["ActivationEmailConfigurationSet"]["Properties"]
    assert configuration["Name"] == {"Fn::Sub": "${AWS::StackName}-activation"}
    assert configuration["DeliveryOptions"] == {"TlsPolicy": "REQUIRE"}
    assert configuration["ReputationOptions"] == {"ReputationMetricsEnabled": True}
    # and its one event destination: every outcome of an email, to the stack's own topic
    destination = resources["ActivationEmailEventDestination"]
    assert destination["Properties"]["ConfigurationSetName"] == {"Ref": "ActivationEmailConfigurationSet"}
    events = destination["Properties"]["EventDestination"]
    assert events["Enabled"] is True
    assert set(events["MatchingEventTypes"]) == {"send", "reject", "bounce", "complaint", "delivery", "deliveryDelay"}
    assert events["SnsDestination"] == {"TopicARN": {"Ref": "DeliveryEventsTopic"}}
    assert destination["DependsOn"] == "DeliveryEventsTopicPolicy"  # SES checks it may publish on creation
    # and the topic takes SES's publishing for this configuration set of this account only, encrypted with a key
    # of the stack's own that SES may use (an AWS managed key cannot be granted to a service)
    (publish,) = resources["DeliveryEventsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert publish["Principal"] == {"Service": "ses.amazonaws.com"} and publish["Action"] == "sns:Publish"
    assert publish["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"},
        "aws:SourceArn": {
            "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/"
            "${AWS::StackName}-activation"
        },
    }
    topic = resources["DeliveryEventsTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "DeliveryEventsTopicKey"}
    key = resources["DeliveryEventsTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    services = {s["Principal"].get("Service") for s in key if "Service" in s["Principal"]}
    assert services == {"ses.amazonaws.com", "sns.amazonaws.com"}
    assert all(
        s["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        for s in key
        if "Service" in s["Principal"]
    )
    # and the queue gets SES's record itself (raw), retried then dead-lettered, read by the delivery events function
    subscription = resources["DeliveryEventsSubscription"]["Properties"]
    assert subscription == {
        "TopicArn": {"Ref": "DeliveryEventsTopic"},
        "Protocol": "sqs",
        "Endpoint": {"Fn::GetAtt": ["DeliveryEventsQueue", "Arn"]},
        "RawMessageDelivery": True,
    }
    queue = resources["DeliveryEventsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeliveryEventsDeadLetterQueue", "Arn"]}
    function = resources["DeliveryEventsFunction"]["Properties"]
    (trigger,) = function["Events"].values()
    assert trigger["Properties"]["Queue"] == {"Fn::GetAtt": ["DeliveryEventsQueue", "Arn"]}
    assert trigger["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # and the sender and the recorder name the same set, and the guard's parameters reach both
    sender = resources["EmailSenderFunction"]["Properties"]["Environment"]["Variables"]
    recorder = function["Environment"]["Variables"]
    assert sender["CONFIGURATION_SET"] == recorder["CONFIGURATION_SET"] == configuration["Name"]
    assert sender["GUARD_MINIMUM_EMAILS"] == recorder["GUARD_MINIMUM_EMAILS"] == {"Ref": "GuardMinimumEmails"}
    assert recorder["MAX_BOUNCE_RATE_PERCENT"] == {"Ref": "MaxBounceRatePercent"}
    assert recorder["MAX_COMPLAINT_RATE_PERCENT"] == {"Ref": "MaxComplaintRatePercent"}
    parameters = sam_template["Parameters"]
    defaults = [
        parameters[p]["Default"] for p in ("GuardMinimumEmails", "MaxBounceRatePercent", "MaxComplaintRatePercent")
    ]
    assert defaults == [50, 4, 0.08]
