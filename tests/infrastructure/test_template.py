"""The stack definition itself: cfn-lint clean in its SAM form and in its transformed CloudFormation form
(cfn-lint misses circular dependencies in the SAM form), and shaped the way the pipeline relies on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import ManualArgs, lint
from moto import mock_aws

from portal_import_local.template import load_template, transform_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(scope="module")
def sam_template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def transformed(sam_template: dict[str, Any]) -> dict[str, Any]:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        return transform_template(sam_template, artifact_bucket="artifacts", parameters={}, iam_client=iam)


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
    # Then each queue is either a DLQ or redrives into one
    assert set(queues) == targets | {name for name, q in queues.items() if "RedrivePolicy" in q.get("Properties", {})}


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
    }
    assert expected <= set(sam_template["Parameters"])


def test_import_administrators_may_drop_files_and_read_results_only(transformed: dict[str, Any]) -> None:
    # Given the managed policy an administrator is given
    statements = transformed["Resources"]["ImportAdministratorsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    grants = {action: statement["Resource"] for statement in statements for action in statement["Action"]}
    # Then they can put files under imports/ and read under results/, and nothing else in the bucket
    assert grants["s3:PutObject"] == {"Fn::Sub": "${ImportBucket.Arn}/imports/*"}
    assert grants["s3:GetObject"] == {"Fn::Sub": "${ImportBucket.Arn}/results/*"}
    assert not any(action in grants for action in ("s3:DeleteObject", "s3:*", "s3:PutBucketPolicy"))
