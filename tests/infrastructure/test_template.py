"""The stack definition itself: cfn-lint clean in its SAM form and in its transformed CloudFormation form
(cfn-lint misses circular dependencies in the SAM form), and shaped the way the pipeline relies on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def _problems(text: str) -> list[str]:
    matches = lint(text, config=ManualArgs(regions=["us-east-1"]))
    return [f"{match.rule.id} {match.message} ({match.linenumber})" for match in matches]


def test_sam_template_passes_cfn_lint() -> None:
    # Given the SAM template as written / When cfn-lint reads it / Then it reports nothing
    assert _problems(TEMPLATE.read_text(encoding="utf-8")) == []


def test_transformed_template_passes_cfn_lint(transformed: dict[str, Any]) -> None:
    # Given the CloudFormation that SAM deploys / When cfn-lint reads it / Then nothing, circular references included
    assert _problems(json.dumps(transformed, indent=1)) == []


def test_every_queue_has_a_dead_letter_queue(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    queues = {name: r for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q.get("Properties", {})
    }
    function_dlqs = {
        r["Properties"]["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function" and "DeadLetterConfig" in r["Properties"]
    }
    # Then each queue is either a DLQ (of a queue or of a function) or redrives into one
    redriving = {name for name, q in queues.items() if "RedrivePolicy" in q.get("Properties", {})}
    assert set(queues) == targets | function_dlqs | redriving


def test_queue_visibility_is_six_times_the_consumer_timeout(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mappings
    for mapping in mappings:
        queue = resources[mapping["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
        function = resources[mapping["FunctionName"]["Ref"]]["Properties"]
        assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_only_csv_files_under_imports_start_a_job(sam_template: dict[str, Any]) -> None:
    events = sam_template["Resources"]["SplitterFunction"]["Properties"]["Events"]
    (event,) = events.values()
    rules = {rule["Name"]: rule["Value"] for rule in event["Properties"]["Filter"]["S3Key"]["Rules"]}
    assert (event["Type"], rules) == ("S3", {"prefix": "imports/", "suffix": ".csv"})


def test_stack_parameters_cover_what_operators_tune(sam_template: dict[str, Any]) -> None:
    expected = {
        "PortalUrl",
        "PortalName",
        "SenderAddress",
        "EmailRatePerSecond",
        "SendActivationEmailDefault",
        "NotificationEmail",
        "UserPoolId",
        "PasswordMinimumLength",
        "PasswordRequireSymbols",
        "PasswordRequireNumbers",
        "PasswordRequireUppercase",
        "PasswordRequireLowercase",
        "CognitoUserCreationRate",
        "CognitoUserUpdateRate",
        "CognitoUserAccountRecoveryRate",
        "CognitoUserReadRate",
    }
    assert expected <= set(sam_template["Parameters"])


def test_import_administrators_may_drop_files_read_results_and_resend_links_only(transformed: dict[str, Any]) -> None:
    # Given the managed policy an administrator is given
    statements = transformed["Resources"]["ImportAdministratorsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    grants = {action: statement["Resource"] for statement in statements for action in statement["Action"]}
    # Then they can put files under imports/ and read under results/, and nothing else in the bucket
    assert grants["s3:PutObject"] == {"Fn::Sub": "${ImportBucket.Arn}/imports/*"}
    assert grants["s3:GetObject"] == {"Fn::Sub": "${ImportBucket.Arn}/results/*"}
    assert not any(action in grants for action in ("s3:DeleteObject", "s3:*", "s3:PutBucketPolicy"))
    # and follow jobs with the command (read the jobs table, find the stack), writing nothing anywhere else
    assert grants["dynamodb:GetItem"] == grants["dynamodb:Scan"] == {"Fn::GetAtt": ["JobsTable", "Arn"]}
    assert grants["cloudformation:DescribeStacks"] == {"Ref": "AWS::StackId"}
    # and see whom emails reached (read the directory's Contacts and email ledger), and ask the stack's resend
    # function for new links: never queue an email themselves (tests/infrastructure/test_who_may_do_what.py)
    assert grants["dynamodb:BatchGetItem"] == [
        {"Fn::GetAtt": ["DirectoryTable", "Arn"]},
        {"Fn::GetAtt": ["JobsTable", "Arn"]},
    ]
    assert grants["lambda:InvokeFunction"] == {"Fn::GetAtt": ["ResendFunction", "Arn"]}
    # and check the account and the stack before sending (`portal-import doctor`): reads only
    # (tests/infrastructure/test_who_may_do_what.py)
    assert set(grants) == {
        "ses:GetAccount",
        "cloudwatch:GetMetricData",
        "ses:GetEmailIdentity",
        "ses:GetConfigurationSet",
        "ses:GetConfigurationSetEventDestinations",
        "sns:ListSubscriptionsByTopic",
        "cognito-idp:DescribeUserPool",
        "cognito-idp:ListGroups",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "lambda:InvokeFunction",
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListBucket",
        "sns:Subscribe",
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "cloudformation:DescribeStacks",
    }


def test_every_function_and_the_layer_build_with_their_makefile(sam_template: dict[str, Any]) -> None:
    # `sam build` here has no python3.12, and must not build pydantic-core for this CPU: each BuildMethod is
    # makefile, and the Makefile in the code folder has the build-<LogicalId> target SAM runs
    built = {
        name: resource
        for name, resource in sam_template["Resources"].items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
    }
    assert len(built) == 14
    for name, resource in built.items():
        assert resource["Metadata"]["BuildMethod"] == "makefile", name
        properties = resource["Properties"]
        folder = ROOT / (properties.get("CodeUri") or properties["ContentUri"])
        rules = (folder / "Makefile").read_text(encoding="utf-8").splitlines()
        targets = {t for rule in rules if ":" in rule and rule[:1] not in "\t# " for t in rule.split(":")[0].split()}
        assert f"build-{name}" in targets, name


def test_alarms_watch_every_dead_letter_queue_and_every_function(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    dead_letter_queues = {
        name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue" and name.endswith("DeadLetterQueue")
    }
    functions = {name for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}

    def watched(alarm: str) -> set[str]:
        properties = resources[alarm]["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        (total,) = [m for m in properties["Metrics"] if m.get("ReturnData")]
        stats = [m for m in properties["Metrics"] if "MetricStat" in m]
        # the expression adds up every metric of the alarm, each filled with 0 where it has no data point
        terms = total["Expression"].split(" + ")
        assert all(re.fullmatch(r"FILL\(\w+, 0\)", term) for term in terms), terms
        assert sorted(term[5:-4] for term in terms) == sorted(m["Id"] for m in stats)
        values = [m["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for m in stats]
        return {next(iter(v.values())) if "Ref" in v else v["Fn::GetAtt"][0] for v in values}

    assert watched("DeadLettersAlarm") == dead_letter_queues
    # a dead-letter queue its own function drains is watched through what that function receives: its messages
    # never wait visible long enough to be seen
    drained = {
        r["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    } & dead_letter_queues
    metrics = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: m["MetricStat"]["Metric"]["MetricName"]
        for m in resources["DeadLettersAlarm"]["Properties"]["Metrics"]
        if "MetricStat" in m
    }
    assert drained == {"RowsDeadLetterQueue", "EmailDeadLetterQueue"}
    assert {queue: metrics[queue] for queue in drained} == dict.fromkeys(drained, "NumberOfMessagesReceived")
    assert watched("FunctionErrorsAlarm") == functions
    assert watched("FunctionThrottlesAlarm") == functions
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
