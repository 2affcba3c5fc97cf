"""The stack's security as template.yaml states it: private, encrypted storage whose results and activation links
expire; each function granted only what its code calls; and every check checkov skips, skipped for a stated reason."""

from __future__ import annotations

import ast
import functools
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from portal_import.aws import activations, clients, directory, ledger, ratelimit, userpool
from portal_import.aws import jobs as jobs_adapter
from portal_import.aws.activations import Links
from portal_import.aws.directory import Directory
from portal_import.aws.jobs import Jobs
from portal_import.aws.ledger import Ledger
from portal_import.aws.ratelimit import EMAIL_LIMITER, EmailPace, Pace, cognito_limiter
from portal_import.aws.userpool import CONTACT_ID_ATTRIBUTE
from portal_import.config import WorkerSettings
from portal_import.domain.claims import Commit, NewLink, Settlement
from portal_import.domain.job import Job, JobStatus, job_id_for
from portal_import.domain.people import PoolUser, PortalUser
from portal_import.wiring import work_deps

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

MANAGED = "arn:aws:iam::aws:policy/"
LOGS = MANAGED + "service-role/AWSLambdaBasicExecutionRole"
XRAY = MANAGED + "AWSXrayWriteOnlyAccess"
# What SAM attaches for an SQS event: receive, delete and read attributes on any queue (and logs).
SQS_POLLING = MANAGED + "service-role/AWSLambdaSQSQueueExecutionRole"
# Actions that name no resource, so only "*" can be granted for them.
NO_RESOURCE_ACTIONS = {"ses:GetSendQuota", "ses:GetAccount", "cloudwatch:GetMetricData"}
# What the worker does in the portal users' pool (the stack's own or the adopted one): create a row's user (or find
# the one an earlier attempt created), put one with no valid email in its Role's group, create a missing group. Its
# dead-letter function does the same for the users a dead chunk's attempts claimed; the group function puts the
# others in their groups (creating a missing one), and does nothing else; no other function (but the activation
# page) does anything in a pool.
POOL_USERS = ("WorkerFunction", "DeadLetterFunction")
GROUP_GRANTS = {"cognito-idp:AdminAddUserToGroup", "cognito-idp:CreateGroup"}
COGNITO_GRANTS = {
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminGetUser",
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:CreateGroup",
}
# What the activation page does in the pool: read the pool's password rules and the link's user (enabled?), put it
# in its Role's group (creating a missing one), set its password for good and mark its email verified. It creates no
# user.
ACTIVATION_GRANTS = {
    "cognito-idp:DescribeUserPool",
    "cognito-idp:AdminGetUser",
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:CreateGroup",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminUpdateUserAttributes",
}

# A job's item, named as portal_import.domain.job.job_id_for names it (the file's arrival time, then a hash): the
# functions that write jobs may write nothing else of the jobs table, neither the rate limiters' nor the email
# ledger's items.
JOB_ITEMS = "????????T??????Z-????????????"
# The attributes each write may name (dynamodb:Attributes), in the template's order;
# test_each_write_names_only_the_attributes_its_code_writes derives them from the code.
JOB_CREATED = (
    "pk",
    "SourceBucket",
    "SourceKey",
    "SourceVersion",
    "SourceVersionId",
    "Mode",
    "SendActivationEmail",
    "Status",
    "StartedAt",
    "UpdatedAt",
    "OpenShard",
)
JOB_SPLIT = (
    "pk",
    "Mode",
    "SendActivationEmail",
    "Columns",
    "Roles",
    "SplitNextSeq",
    "SplitRows",
    "SplitHandedOn",
    "Status",
    "UpdatedAt",
    "TotalRows",
    "ChunkCount",
    "ChunkStarts",
    "Error",
    "ResultsRequestedAt",
)
JOB_COUNTED = ("pk", "ChunksDone", "RowsDone", "Succeeded", "Failed", "EmailsQueued", "UpdatedAt", "ResultsRequestedAt")
JOB_SWEPT = (
    "pk",
    "UpdatedAt",
    "Mode",
    "SendActivationEmail",
    "Columns",
    "Roles",
    "SplitNextSeq",
    "SplitRows",
    "SplitHandedOn",
    "Status",
    "TotalRows",
    "ChunkCount",
    "ChunkStarts",
    "Error",
    "ChunksDone",
    "RowsDone",
    "Succeeded",
    "Failed",
    "EmailsQueued",
    "ResultsRequestedAt",
)
JOB_ANNOUNCED = (
    "pk",
    "CompletedAt",
    "MessageSentAt",
    "EventSentAt",
    "Status",
    "NotifiedAt",
    "UpdatedAt",
    "OpenShard",
    "EmailsNotifiedAt",
)
USER_ITEM = ("pk", "sk", "ContactId", "UserId", "Role", "CreatedAt", "JobId", "RowNumber")
LIMITER_ITEM = ("pk", "NextSlot")


def _write(action: str, table: str, attributes: tuple[str, ...], keys: str = JOB_ITEMS) -> str:
    """A grant of a write on `table`, for items whose partition key is like `keys`, naming only `attributes`."""
    return f"{action} {table} if dynamodb:Attributes={'|'.join(attributes)} dynamodb:LeadingKeys={keys}"


# What each function may do, as "action resource [if condition]": the calls its code path makes, nothing more.
# A grant added here must be one the code needs (see shared/portal_import/aws/ for the calls each adapter makes).
GRANTS = {
    "SplitterFunction": {
        "s3:GetObject ImportBucket/imports/*",
        "s3:GetObjectVersion ImportBucket/imports/*",
        "dynamodb:GetItem JobsTable",
        _write("dynamodb:PutItem", "JobsTable", JOB_CREATED),
        _write("dynamodb:UpdateItem", "JobsTable", JOB_SPLIT),
        "dynamodb:Query DirectoryTable if dynamodb:LeadingKeys=ROLE",
        "sqs:SendMessage* RowsQueue",
        "sqs:SendMessage* AggregateQueue",
        "sqs:SendMessage* SplitQueue",
        "sqs:SendMessage DroppedFileDeadLetterQueue",
    },
    "SplitContinuationFunction": {
        "s3:GetObject ImportBucket/imports/*",
        "s3:GetObjectVersion ImportBucket/imports/*",
        "dynamodb:GetItem JobsTable",
        _write("dynamodb:UpdateItem", "JobsTable", JOB_SPLIT),
        "dynamodb:Query DirectoryTable if dynamodb:LeadingKeys=ROLE",
        "sqs:SendMessage* RowsQueue",
        "sqs:SendMessage* AggregateQueue",
        "sqs:SendMessage* SplitQueue",
    },
    "WorkerFunction": {
        "dynamodb:BatchGetItem DirectoryTable",
        _write("dynamodb:PutItem", "DirectoryTable", USER_ITEM, "CONTACT#*"),
        "dynamodb:GetItem JobsTable",
        _write("dynamodb:UpdateItem", "JobsTable", JOB_COUNTED),
        _write("dynamodb:PutItem", "JobsTable", LIMITER_ITEM, "rate-limiter#cognito-*"),  # its Cognito calls' pace
        *(f"{action} UserPool" for action in COGNITO_GRANTS),
        "s3:PutObject ImportBucket/work/*",
        "sqs:SendMessage* EmailQueue",
        "sqs:SendMessage* AggregateQueue",
        "sqs:SendMessage* GroupQueue",  # the users it created with an email address, for the group pass
    },
    "DeadLetterFunction": {
        "dynamodb:BatchGetItem DirectoryTable",
        "dynamodb:GetItem JobsTable",
        _write("dynamodb:UpdateItem", "JobsTable", JOB_COUNTED),
        _write("dynamodb:PutItem", "JobsTable", LIMITER_ITEM, "rate-limiter#cognito-*"),
        *(f"{action} UserPool" for action in COGNITO_GRANTS),  # finishing the pool users its attempts claimed
        "s3:PutObject ImportBucket/work/*",
        "sqs:SendMessage* EmailQueue",
        "sqs:SendMessage* AggregateQueue",
        "sqs:SendMessage* GroupQueue",
    },
    "GroupFunction": {
        _write("dynamodb:PutItem", "JobsTable", LIMITER_ITEM, "rate-limiter#cognito-*"),  # UserUpdate's pace
        *(f"{action} UserPool" for action in GROUP_GRANTS),
    },
    "SweeperFunction": {
        "s3:GetObject ImportBucket/imports/*",
        "s3:GetObjectVersion ImportBucket/imports/*",
        "s3:PutObject ImportBucket/work/*",
        "dynamodb:GetItem JobsTable",
        _write("dynamodb:UpdateItem", "JobsTable", JOB_SWEPT),
        "dynamodb:Query JobsTable/index/OpenJobs",
        "dynamodb:Query DirectoryTable if dynamodb:LeadingKeys=ROLE",
        "sqs:SendMessage* RowsQueue",
        "sqs:SendMessage* AggregateQueue",
    },
    "EmailSenderFunction": {
        "ses:SendBulkTemplatedEmail identity/* if ses:FromAddress=SenderAddress",
        "ses:SendBulkTemplatedEmail template/${AWS::StackName}-activation-email if ses:FromAddress=SenderAddress",
        "ses:SendBulkTemplatedEmail configuration-set/${AWS::StackName}-activation if ses:FromAddress=SenderAddress",
        "ses:GetSendQuota *",
        "dynamodb:GetItem IdempotencyTable",
        "dynamodb:PutItem IdempotencyTable",
        "dynamodb:UpdateItem IdempotencyTable",
        "dynamodb:DeleteItem IdempotencyTable",
        "dynamodb:GetItem JobsTable if dynamodb:LeadingKeys=rate-limiter#activation-email",
        "dynamodb:PutItem JobsTable if dynamodb:LeadingKeys=rate-limiter#activation-email",
        "dynamodb:GetItem JobsTable",
        "dynamodb:UpdateItem JobsTable",
        "dynamodb:BatchGetItem JobsTable if dynamodb:LeadingKeys=emails#*",  # email settlements of sender attempts
        "dynamodb:UpdateItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*",  # the email ledger and links
        "dynamodb:BatchGetItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*",  # and the recipients' Contacts
        "dynamodb:ConditionCheckItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*",  # the Contact's user
        "sqs:SendMessage* EmailQueue",
        "sns:Publish NotificationTopic",  # the emails-sent notice
    },
    "DeliveryEventsFunction": {
        "dynamodb:GetItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*",  # the recipient's activation item
        "dynamodb:UpdateItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*",  # its email's outcome
        "dynamodb:UpdateItem JobsTable",  # the job's counts of outcomes, and the guard's hold
        "dynamodb:GetItem JobsTable",  # the guard reads the job's counts
        "sns:Publish NotificationTopic",  # the emails-held notice
    },
    "ResendFunction": {
        "s3:GetObject ImportBucket/results/*",  # the users a job created: its success file
        "dynamodb:GetItem JobsTable",
        "dynamodb:BatchGetItem JobsTable if dynamodb:LeadingKeys=emails#*",
        "dynamodb:BatchGetItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*|SALESFORCE#*",  # read, never written
        "dynamodb:UpdateItem JobsTable",  # resume-emails: the job's hold ends
        "dynamodb:DeleteItem JobsTable if dynamodb:LeadingKeys=held#*",  # and the batches it kept, once queued
        "sqs:SendMessage* EmailQueue",
    },
    "ConsoleFunction": {
        "s3:GetObject ImportBucket/results/*",  # result links, and the users a job created
        "s3:PutObject ImportBucket/imports/*",  # the presigned POST an upload goes with: imports/ only
        "dynamodb:GetItem JobsTable",
        "dynamodb:Scan JobsTable",  # the jobs list
        "dynamodb:UpdateItem JobsTable",  # Resume emails: the job's hold ends
        "dynamodb:DeleteItem JobsTable if dynamodb:LeadingKeys=held#*",
        "dynamodb:BatchGetItem JobsTable if dynamodb:LeadingKeys=emails#*",
        "dynamodb:BatchGetItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*|SALESFORCE#*",  # read, never written
        "sqs:SendMessage* EmailQueue",  # Resend
    },
    "EmailDeadLetterFunction": {
        "dynamodb:GetItem JobsTable",
        "dynamodb:UpdateItem JobsTable",
        "dynamodb:BatchGetItem JobsTable if dynamodb:LeadingKeys=emails#*",
        "dynamodb:UpdateItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*",  # the email ledger
        "dynamodb:BatchGetItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*",
        "sns:Publish NotificationTopic",  # the emails-sent notice
    },
    "ActivationFunction": {
        "dynamodb:Query DirectoryTable/index/ByTokenHash",  # a link by its token's hash
        # the link's item, read consistently, and its Contact's USER item (the Role the file gave the user)
        "dynamodb:GetItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*",
        "dynamodb:UpdateItem DirectoryTable if dynamodb:LeadingKeys=CONTACT#*",  # held, released, used, renewed
        # the job's counts of activations and renewals, nothing else
        "dynamodb:UpdateItem JobsTable if dynamodb:Attributes=pk|UsersActivated|LinksRenewed",
        "sqs:SendMessage* EmailQueue",  # a new link its user asked for
        _write("dynamodb:PutItem", "JobsTable", LIMITER_ITEM, "rate-limiter#cognito-*"),  # its Cognito calls' pace
        *(f"{action} UserPool" for action in ACTIVATION_GRANTS),
    },
    "AggregatorFunction": {
        "s3:GetObject ImportBucket/work/*",
        "s3:ListBucket ImportBucket if s3:prefix=work/*",
        "s3:GetObject ImportBucket/results/*",  # the signer of the notification's pre-signed links
        "s3:PutObject ImportBucket/results/*",
        "s3:AbortMultipartUpload ImportBucket/results/*",
        "dynamodb:GetItem JobsTable",
        _write("dynamodb:UpdateItem", "JobsTable", JOB_ANNOUNCED),
        "sns:Publish NotificationTopic",
        "events:PutEvents event-bus/default if events:source=portal-user-import",
    },
}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


_ARN_PREFIX = re.compile(r"^arn:\$\{AWS::Partition\}:[a-z0-9-]+:(\$\{AWS::Region\})?:(\$\{AWS::AccountId\})?:")


def _name(value: Any) -> str:
    """A resource (or condition value) as a reader of the template names it: JobsTable, ImportBucket/work/*."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return str(value["Ref"])
    if "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    sub = value["Fn::Sub"]
    text, variables = (sub, {}) if isinstance(sub, str) else sub
    for variable, replacement in variables.items():
        text = text.replace(f"${{{variable}}}", _name(replacement))
    text = _ARN_PREFIX.sub("", re.sub(r"\$\{(\w+)\.Arn\}", r"\1", text))
    # The splitter names the bucket as it is built (the template explains why), not through its ARN.
    return str(text).replace("${AWS::StackName}-imports-${AWS::AccountId}-${AWS::Region}", "ImportBucket")


def _statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def _grants(role: dict[str, Any]) -> set[str]:
    grants: set[str] = set()
    for statement in _statements(role):
        if statement["Effect"] != "Allow":
            continue
        conditions = " ".join(
            sorted(
                f"{key}={'|'.join(_name(v) for v in _list(value))}"
                for operator in statement.get("Condition", {}).values()
                for key, value in operator.items()
            )
        )
        for action in _list(statement["Action"]):
            for resource in _list(statement["Resource"]):
                grants.add(f"{action} {_name(resource)}" + (f" if {conditions}" if conditions else ""))
    return grants


def _roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each function's execution role, by the function's logical id."""
    resources = template["Resources"]
    return {
        name: resources[resource["Properties"]["Role"]["Fn::GetAtt"][0]]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def _checkov_skips(sam_template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in sam_template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            yield name, skip


def test_every_check_checkov_skips_carries_its_reason(sam_template: dict[str, Any]) -> None:
    # Given the checks the template tells checkov to skip
    skips = list(_checkov_skips(sam_template))
    assert skips
    for resource, skip in skips:
        # Then each names one check and says, in a sentence, why it does not apply to that resource
        assert re.fullmatch(r"CKV2?_AWS_\d+", str(skip.get("id", ""))), (resource, skip)
        comment = str(skip.get("comment") or "")
        assert len(comment.split()) >= 5, f"{resource} skips {skip.get('id')} without a reason"
    # and no resource skips a check twice
    assert len(skips) == len({(resource, skip["id"]) for resource, skip in skips})


def test_each_function_is_granted_only_what_its_code_calls(deployed: dict[str, Any]) -> None:
    # Given each function's role as deployed / Then its grants are exactly the ones its code needs
    assert {name: _grants(role) for name, role in _roles(deployed).items()} == GRANTS


def test_only_the_functions_that_put_users_in_the_pool_may_act_in_it_and_only_in_the_one_in_use(
    deployed: dict[str, Any], adopting: dict[str, Any]
) -> None:
    pools = {"its own pool": (deployed, "UserPool"), "an adopted pool": (adopting, "userpool/${UserPoolId}")}
    for stack, (template, pool) in pools.items():
        # Given the stack with its own pool or adopting one: each function's grants in Cognito
        cognito = {
            name: {grant for grant in _grants(role) if grant.startswith("cognito-idp:")}
            for name, role in _roles(template).items()
        }
        # Then the worker's (and its dead-letter function's) are exactly what it calls, on that pool and no other
        # resource, unconditioned
        for function in POOL_USERS:
            assert cognito.pop(function) == {f"{action} {pool}" for action in COGNITO_GRANTS}, (stack, function)
        # and the activation page's and the group pass's are what they call, on that pool only
        assert cognito.pop("ActivationFunction") == {f"{action} {pool}" for action in ACTIVATION_GRANTS}, stack
        assert cognito.pop("GroupFunction") == {f"{action} {pool}" for action in GROUP_GRANTS}, stack
        # and no other function may do anything in any pool
        assert {name: grants for name, grants in cognito.items() if grants} == {}, stack


def test_no_grant_is_for_every_action_or_on_every_resource(deployed: dict[str, Any], adopting: dict[str, Any]) -> None:
    # Given every policy of the stack, with its own user pool and adopting one
    policies = [
        statement
        for template in (deployed, adopting)
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
        for statement in _statements(resource)
    ] + [
        statement
        for template in (deployed, adopting)
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    for statement in (s for s in policies if s["Effect"] == "Allow"):
        actions = _list(statement["Action"])
        # Then no statement allows every action, or every action of a service
        assert not [action for action in actions if action == "*" or action.endswith(":*")], statement
        # and "*" is the resource only of actions that name none
        if "*" in _list(statement["Resource"]):
            assert set(actions) <= NO_RESOURCE_ACTIONS, statement


def test_functions_receive_only_from_their_own_queue(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    sources = {
        resource["Properties"]["FunctionName"]["Ref"]: resource["Properties"]["EventSourceArn"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    for name, role in _roles(transformed).items():
        managed = set(role["Properties"].get("ManagedPolicyArns", []))
        denied = [
            statement["NotResource"]
            for statement in _statements(role)
            if statement["Effect"] == "Deny" and "sqs:ReceiveMessage" in _list(statement["Action"])
        ]
        if name in sources:
            # Then SAM's polling policy (any queue in the account) is narrowed to the function's own queue
            assert managed == {LOGS, XRAY, SQS_POLLING}, name
            assert denied == [sources[name]], name
        else:
            # and a function no queue triggers has only logs and traces from AWS managed policies
            assert managed == {LOGS, XRAY}, name
            assert denied == [], name


def test_a_dropped_file_the_splitter_keeps_failing_on_is_kept(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    # Given the splitter, which S3 invokes asynchronously
    target = resources["SplitterFunction"]["Properties"]["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
    # Then an event whose every attempt failed goes to a queue of its own, which no function consumes
    assert resources[target]["Type"] == "AWS::SQS::Queue"
    consumed = {
        resource["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    redrive_targets = {
        resource["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for resource in resources.values()
        if resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in resource["Properties"]
    }
    assert target not in consumed | redrive_targets
    assert resources[target]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_the_bucket_is_private_encrypted_versioned_and_refuses_plain_http(sam_template: dict[str, Any]) -> None:
    resources = sam_template["Resources"]
    bucket = resources["ImportBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    (policy,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert policy["Bucket"] == {"Ref": "ImportBucket"}
    assert {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [{"Fn::GetAtt": ["ImportBucket", "Arn"]}, {"Fn::Sub": "${ImportBucket.Arn}/*"}],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    } in [{k: v for k, v in s.items() if k != "Sid"} for s in policy["PolicyDocument"]["Statement"]]


def test_results_and_work_files_expire_old_versions_included(sam_template: dict[str, Any]) -> None:
    rules = sam_template["Resources"]["ImportBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    by_prefix = {rule.get("Prefix"): rule for rule in rules if rule["Status"] == "Enabled"}
    for prefix in ("results/", "work/"):
        # Then the file expires, and so does the noncurrent version that expiring leaves in a versioned bucket
        assert by_prefix[prefix]["ExpirationInDays"] > 0
        assert by_prefix[prefix]["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0


def test_queues_topic_and_tables_are_encrypted_at_rest(sam_template: dict[str, Any]) -> None:
    for name, resource in sam_template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::SQS::Queue":
            assert properties.get("SqsManagedSseEnabled") or properties.get("KmsMasterKeyId"), name
        elif resource["Type"] == "AWS::SNS::Topic":
            assert properties.get("KmsMasterKeyId"), name
        elif resource["Type"] == "AWS::DynamoDB::Table":
            assert properties["SSESpecification"]["SSEEnabled"], name


def test_directory_and_jobs_can_be_restored_to_a_point_in_time(sam_template: dict[str, Any]) -> None:
    for name in ("DirectoryTable", "JobsTable"):
        properties = sam_template["Resources"][name]["Properties"]
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], name


def test_result_links_expire_within_a_week(sam_template: dict[str, Any]) -> None:
    ttl = sam_template["Parameters"]["ResultLinkTtlSeconds"]
    # A SigV4 pre-signed link cannot outlive 7 days; the stack refuses a longer setting
    assert ttl["Default"] <= ttl["MaxValue"] <= 7 * 24 * 3600


def _allows(parameter: dict[str, Any], value: str) -> bool:
    """Whether CloudFormation takes the value for a String parameter: its AllowedPattern (a Java regular expression;
    these use nothing Python's reads otherwise) matched whole, within its MaxLength."""
    fits = len(value) <= int(parameter.get("MaxLength", len(value)))
    return fits and re.fullmatch(parameter["AllowedPattern"], value) is not None


def test_activation_links_point_only_at_an_https_portal(sam_template: dict[str, Any]) -> None:
    parameter = sam_template["Parameters"]["PortalUrl"]
    # Given the base of the links that carry a password-setting token / Then only https, without query or fragment
    # (empty: the stack's own page, which API Gateway serves over https)
    for url in ("", "https://portal.example.com", "https://portal.example.com:8443/customers", "https://p.example/"):
        assert _allows(parameter, url), url
    for url in (
        "http://portal.example.com",
        "HTTP://portal.example.com",
        "ftp://portal.example.com",
        "javascript:alert(1)",
        "https://",
        "https:///activate",
        "https://portal.example.com/?next=evil",
        "https://portal.example.com/#token",
        "https://portal.example.com /x",
        "//portal.example.com",
    ):
        assert not _allows(parameter, url), url
    assert "https" in parameter["ConstraintDescription"]


def test_activation_links_last_at_most_30_days(sam_template: dict[str, Any]) -> None:
    ttl = sam_template["Parameters"]["ActivationLinkTtlHours"]
    assert (ttl["Type"], ttl["MinValue"], ttl["MaxValue"]) == ("Number", 1, 720)
    assert ttl["MinValue"] <= ttl["Default"] <= ttl["MaxValue"]


def test_the_portal_name_is_one_short_line_of_text(sam_template: dict[str, Any]) -> None:
    parameter = sam_template["Parameters"]["PortalName"]
    # Given the name that activation emails and the pool's sender line show / Then any letters, digits, spaces and
    # punctuation, in any script
    for name in (parameter["Default"], "Portail Société", "O'Brien & Co. — Partners", "Ünïcödé ポータル", "x" * 45):
        assert _allows(parameter, name), name
    # and nothing that would forge a line, reorder what is shown or be empty, nor longer than 45 characters
    for name in (
        "",
        "Portal\r\nBcc: everyone@example.com",
        "Portal\nline",
        "Tab\there",
        "Bell\x07",
        "\x1b[31mRed",
        "Delete\x7f",
        "Next line\x85",
        "Line\u2028separator",
        "Paragraph\u2029separator",
        "\u202eodnetni",  # right-to-left override: shows reversed
        "\u2066isolate\u2069",
        "x" * 46,
    ):
        assert not _allows(parameter, name), repr(name)
    assert "control character" in parameter["ConstraintDescription"]


def _fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(variable, value)


@pytest.fixture
def directory_table(sam_template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The directory table created on moto from the template's own properties, its index included."""
    _fake_credentials(monkeypatch)
    properties = sam_template["Resources"]["DirectoryTable"]["Properties"]
    clients.client.cache_clear()
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName="directory",
            BillingMode=properties["BillingMode"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
            GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
        )
        yield {"name": "directory", "client": ddb}
    clients.client.cache_clear()


def test_a_link_is_found_by_its_hash_and_its_item_outlives_it(
    sam_template: dict[str, Any], directory_table: dict[str, Any]
) -> None:
    ddb = directory_table["client"]
    ddb.create_table(
        TableName="jobs",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    # Given a User the job created, and its activation link stored the way the email sender stores it (claimed in
    # the email ledger)
    Directory(directory_table["name"]).create_users([PortalUser(contact_id="C1", user_id="U1", role="R", job_id="J1")])
    link = NewLink(
        contact_id="C1", user_id="U1", token_hash="ab" * 32, expires_at="2030-01-02T03:04:05Z", sent_to="p@example.com"
    )
    Ledger(directory_table["name"], "jobs").commit(
        Commit(claims=[link]), job_id="J1", request="J1", attempt="a", lease_until=time.time() + 60, now=time.time()
    )
    # When the activation page looks for it by the token's hash, and the User activates
    store = Links(directory_table["name"], "jobs")
    found = store.find("ab" * 32)
    assert found is not None
    assert (found.contact_id, found.user_id, found.job_id, found.sent_to) == ("C1", "U1", "J1", "p@example.com")
    assert found.expires == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    hold = store.hold(found, "ab" * 32, time.time())
    assert hold is not None
    assert store.mark_activated(found, hold, time.time())
    # Then the hash finds nothing any more, but the item stays: DynamoDB deletes none of it (no time to live),
    # so who was sent a link and who activated is kept after the link expired or was used
    assert store.find("ab" * 32) is None
    assert "TimeToLiveSpecification" not in sam_template["Resources"]["DirectoryTable"]["Properties"]
    item = ddb.get_item(TableName=directory_table["name"], Key={"pk": {"S": "CONTACT#C1"}, "sk": {"S": "ACTIVATION"}})
    assert "ActivatedAt" in item["Item"]
    assert "TokenHash" not in item["Item"]
    jobs = ddb.get_item(TableName="jobs", Key={"pk": {"S": "J1"}})["Item"]
    assert jobs["UsersActivated"] == {"N": "1"}


class _RecordingDynamoDB:
    """Stands in for the DynamoDB client: records the partition key of each item a call reads or writes."""

    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = defaultdict(set)
        self.tables: dict[str, str] = {}  # partition key -> table, for transactions that span tables

    def query(self, **call: Any) -> dict[str, Any]:
        self.keys["dynamodb:Query"].update(value["S"] for value in call["ExpressionAttributeValues"].values())
        return {"Items": []}

    def get_item(self, **call: Any) -> dict[str, Any]:
        self.keys["dynamodb:GetItem"].add(call["Key"]["pk"]["S"])
        return {}

    def put_item(self, **call: Any) -> dict[str, Any]:
        self.keys["dynamodb:PutItem"].add(call["Item"]["pk"]["S"])
        return {}

    def transact_write_items(self, **call: Any) -> dict[str, Any]:
        for action in call["TransactItems"]:
            ((kind, write),) = action.items()
            key = write["Item"] if kind == "Put" else write["Key"]
            self.keys[f"dynamodb:{kind}Item"].add(key["pk"]["S"])
            self.tables[key["pk"]["S"]] = write["TableName"]
        return {}

    def batch_get_item(self, **call: Any) -> dict[str, Any]:
        """Answers that each activation item read is claimed by attempt 'a', so its settlement is read next."""
        responses: dict[str, list[dict[str, Any]]] = {}
        for table, request in call["RequestItems"].items():
            for key in request["Keys"]:
                self.keys["dynamodb:BatchGetItem"].add(key["pk"]["S"])
                self.tables[key["pk"]["S"]] = table
                if key.get("sk", {}).get("S") == "ACTIVATION":
                    claimed = {"ClaimedBy": {"S": "a"}, "ClaimFor": {"S": "J1"}, "ClaimExpires": {"N": "0"}}
                    responses.setdefault(table, []).append({**key, **claimed})
        return {"Responses": responses}


def _leading_keys(role: dict[str, Any], action: str, table: str) -> list[str]:
    (patterns,) = [
        _list(operator["dynamodb:LeadingKeys"])
        for statement in _statements(role)
        if statement["Effect"] == "Allow"
        and action in _list(statement["Action"])
        and table in [_name(resource) for resource in _list(statement["Resource"])]
        for operator in statement.get("Condition", {}).values()
        if "dynamodb:LeadingKeys" in operator
    ]
    return [str(pattern) for pattern in patterns]


def _within(keys: set[str], patterns: list[str]) -> bool:
    return bool(keys) and all(any(fnmatchcase(key, pattern) for pattern in patterns) for key in keys)


def test_the_keys_iam_conditions_allow_are_the_keys_the_code_uses(
    deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto does not evaluate IAM conditions: a key the code changed would only be refused in AWS. So: given the
    # adapters' requests, recorded
    ddb = _RecordingDynamoDB()
    monkeypatch.setattr(directory, "client", lambda service: ddb)
    monkeypatch.setattr(ratelimit, "client", lambda service: ddb)
    monkeypatch.setattr(ledger, "client", lambda service: ddb)
    table = Directory("directory")
    table.active_roles()
    roles = set(ddb.keys.pop("dynamodb:Query"))
    table.create_users([PortalUser(contact_id="0031234567890123456", user_id="U1", role="Partner User")])
    users = set(ddb.keys.pop("dynamodb:PutItem"))
    emails = Ledger("directory", "jobs")
    link = NewLink(
        contact_id="0031234567890123456",
        user_id="U1",
        token_hash="ab",
        expires_at="2030-01-01T00:00:00Z",
        sent_to="p@example.com",
    )
    at = {"job_id": "J1", "request": "J1", "attempt": "a", "lease_until": 2e9, "now": 1e9}
    emails.commit(Commit(claims=[link]), **at)
    emails.commit(Commit(settled={link.contact_id: Settlement.SENT}), **at)
    emails.standings("J1", [link.contact_id], now=1e9)
    emails.mark_undelivered(job_id="J1", request="J1", recipients=[(link.contact_id, "U1")], now=1e9)
    ledger_actions = ("dynamodb:UpdateItem", "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem")
    ledger_keys = {
        (action, table): {key for key in ddb.keys[action] if ddb.tables.get(key, "directory") == name}
        for action in ledger_actions
        for table, name in (("DirectoryTable", "directory"), ("JobsTable", "jobs"))
    }
    for action in ledger_actions:
        ddb.keys.pop(action)
    EmailPace("jobs", rate_per_second=10).reserve(1, daily_quota=10)
    limiter = ddb.keys
    # Then each request's partition key is one its function's conditioned grant allows
    grants = _roles(deployed)
    for function in ("SplitterFunction", "SplitContinuationFunction", "SweeperFunction"):
        assert _within(roles, _leading_keys(grants[function], "dynamodb:Query", "DirectoryTable")), function
    # (and `portal-import doctor`, which reads the Roles as a job does, under the administrators' policy)
    administrators = {"Properties": {"Policies": [deployed["Resources"]["ImportAdministratorsPolicy"]["Properties"]]}}
    assert _within(roles, _leading_keys(administrators, "dynamodb:Query", "DirectoryTable"))
    assert _within(users, _leading_keys(grants["WorkerFunction"], "dynamodb:PutItem", "DirectoryTable"))
    sender = grants["EmailSenderFunction"]
    for function in ("EmailSenderFunction", "EmailDeadLetterFunction"):
        for action, table in (("dynamodb:UpdateItem", "DirectoryTable"), ("dynamodb:BatchGetItem", "DirectoryTable")):
            keys = ledger_keys[action, table]
            assert _within(keys, _leading_keys(grants[function], action, table)), (function, action)
        # the settlement items of sender attempts, read to tell a settled claim from a dead one
        settlements = ledger_keys["dynamodb:BatchGetItem", "JobsTable"]
        assert _within(settlements, _leading_keys(grants[function], "dynamodb:BatchGetItem", "JobsTable")), function
    # a claim's check that the Contact's user is the batch's
    checks = ledger_keys["dynamodb:ConditionCheckItem", "DirectoryTable"]
    assert _within(checks, _leading_keys(sender, "dynamodb:ConditionCheckItem", "DirectoryTable"))
    for action in ("dynamodb:GetItem", "dynamodb:PutItem"):
        assert _within(limiter[action], _leading_keys(sender, action, "JobsTable")), action


class _RecordingCognito:
    """Stands in for the Cognito client: records each call as its IAM action and the pool it names, answering as a
    pool where an earlier attempt already created one of the users and one Role's group is missing."""

    def __init__(self, users: dict[str, str], groups: set[str]) -> None:
        self.calls: list[tuple[str, str]] = []
        self._users = dict(users)  # username -> custom:contact_id
        self._groups = set(groups)

    @property
    def once(self) -> _RecordingCognito:
        """The same client, as the adapter makes its paced calls (retrying them itself)."""
        return self

    def _record(self, action: str, call: dict[str, Any]) -> None:
        self.calls.append((f"cognito-idp:{action}", call["UserPoolId"]))

    @staticmethod
    def _refuse(code: str, action: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": code}}, action)

    def admin_create_user(self, **call: Any) -> dict[str, Any]:
        self._record("AdminCreateUser", call)
        if call["Username"] in self._users:
            raise self._refuse("UsernameExistsException", "AdminCreateUser")
        attributes = {item["Name"]: item["Value"] for item in call["UserAttributes"]}
        self._users[call["Username"]] = attributes[CONTACT_ID_ATTRIBUTE]
        return {"User": {"Username": call["Username"]}}

    def admin_get_user(self, **call: Any) -> dict[str, Any]:
        self._record("AdminGetUser", call)
        contact = self._users[call["Username"]]
        return {"Username": call["Username"], "UserAttributes": [{"Name": CONTACT_ID_ATTRIBUTE, "Value": contact}]}

    def admin_add_user_to_group(self, **call: Any) -> dict[str, Any]:
        self._record("AdminAddUserToGroup", call)
        if call["GroupName"] not in self._groups:
            raise self._refuse("ResourceNotFoundException", "AdminAddUserToGroup")
        return {}

    def create_group(self, **call: Any) -> dict[str, Any]:
        self._record("CreateGroup", call)
        self._groups.add(call["GroupName"])
        return {"Group": {"GroupName": call["GroupName"]}}


def _environment(template: dict[str, Any], function: str, parameters: dict[str, str]) -> dict[str, str]:
    """A function's environment as the template sets it: a parameter's value, a resource's logical id for its name."""
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()} | parameters

    def value(node: Any) -> str:
        if isinstance(node, str):
            return node
        if "Ref" in node:
            return values.get(node["Ref"], node["Ref"])
        if "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
            return re.sub(r"\$\{(\w+)\}", lambda found: values.get(found[1], found[0]), node["Fn::Sub"])
        return _name(node)

    variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    return {name: value(node) for name, node in variables.items()}


@pytest.mark.parametrize("function", POOL_USERS)
def test_the_cognito_calls_the_worker_code_makes_are_those_granted_on_the_pool_it_is_given(
    function: str, adopting: dict[str, Any], adopted_pool_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto does not evaluate IAM either. So: given the worker's code built from the environment the template gives
    # the function (the worker, its dead-letter function) when the stack adopts a pool, its requests recorded
    _fake_credentials(monkeypatch)
    clients.client.cache_clear()
    cognito = _RecordingCognito(users={"U-EARLIER": "0031234567890123457"}, groups={"Partner User"})
    limiters = _RecordingDynamoDB()
    monkeypatch.setattr(userpool, "client", lambda service: cognito)
    monkeypatch.setattr(ratelimit, "client", lambda service: limiters)
    settings = WorkerSettings.from_env(_environment(adopting, function, {"UserPoolId": adopted_pool_id}))
    deps = work_deps(settings)
    # When it puts in the pool a new user, and one an earlier attempt created whose Role's group is missing
    deps.user_pool.create_users(
        [
            PoolUser(user_id="U-NEW", contact_id="0031234567890123456", email="ada@example.com"),
            PoolUser(user_id="U-EARLIER", contact_id="0031234567890123457"),
        ]
    )
    deps.user_pool.add_to_groups([("U-NEW", "Partner User"), ("U-EARLIER", "New Role")])
    clients.client.cache_clear()
    # Then every call names the adopted pool, and is an action granted to the function on that pool
    role = _roles(adopting)[function]
    granted = {grant.split()[0] for grant in _grants(role) if grant.endswith(" userpool/${UserPoolId}")}
    assert {pool for _, pool in cognito.calls} == {adopted_pool_id}
    actions = {action for action, _ in cognito.calls}
    assert actions <= granted
    assert {"cognito-idp:AdminGetUser", "cognito-idp:CreateGroup"} <= actions  # the earlier user, the missing group
    # and the limiters pacing those calls are items its conditioned grant lets it write (and reads on the table)
    assert _within(limiters.keys["dynamodb:PutItem"], _leading_keys(role, "dynamodb:PutItem", "JobsTable"))
    assert "dynamodb:GetItem JobsTable" in _grants(role)


class _RecordingActivations:
    """Stands in for the DynamoDB client of the activation store: answers one link, records each key and each
    attribute name a write names, by table."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], set[str]] = defaultdict(set)  # (action, table) -> partition keys
        self.attributes: dict[str, set[str]] = defaultdict(set)  # table -> attribute names written

    def _write(self, action: str, call: dict[str, Any]) -> None:
        self.keys[action, call["TableName"]].add(call["Key"]["pk"]["S"])
        names = re.findall(r"\b([A-Z][A-Za-z]+)\b", call["UpdateExpression"])
        self.attributes[call["TableName"]].update(n for n in names if n not in {"SET", "REMOVE", "ADD", "DELETE"})

    def query(self, **call: Any) -> dict[str, Any]:
        self.keys["dynamodb:Query", f"{call['TableName']}/index/{call['IndexName']}"].add("TokenHash")
        return {"Items": [{"pk": {"S": "CONTACT#C1"}, "sk": {"S": "ACTIVATION"}, "TokenHash": {"S": "ab"}}]}

    def get_item(self, **call: Any) -> dict[str, Any]:
        self.keys["dynamodb:GetItem", call["TableName"]].add(call["Key"]["pk"]["S"])
        item = {"pk": {"S": "CONTACT#C1"}, "TokenHash": {"S": "ab"}, "UserId": {"S": "U1"}, "JobId": {"S": "J1"}}
        return {"Item": {**item, "ExpiresAtEpoch": {"N": "2000000000"}}}

    def update_item(self, **call: Any) -> dict[str, Any]:
        self._write("dynamodb:UpdateItem", call)
        return {}

    def transact_write_items(self, **call: Any) -> dict[str, Any]:
        for action in call["TransactItems"]:
            self._write("dynamodb:UpdateItem", action["Update"])  # a transaction's Update needs UpdateItem
        return {}


def test_the_activation_page_writes_only_what_its_grants_allow(
    deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto evaluates no IAM condition. Given the activation store's requests for one link, recorded
    ddb = _RecordingActivations()
    monkeypatch.setattr(activations, "client", lambda service: ddb)
    store = Links("directory", "jobs")
    link = store.find("ab")
    assert link is not None
    hold = store.hold(link, "ab", 1e9)
    assert hold is not None
    store.release(link, hold)
    store.mark_activated(link, hold, 1e9)
    store.role_of(link)
    # Then the link's items are Contacts' (CONTACT#…), and of the job it writes only its count of users activated
    role = _roles(deployed)["ActivationFunction"]
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem"):
        assert _within(ddb.keys[action, "directory"], _leading_keys(role, action, "DirectoryTable")), action
    assert ddb.keys["dynamodb:Query", "directory/index/ByTokenHash"]
    (allowed,) = [
        set(operator["dynamodb:Attributes"])
        for statement in _statements(role)
        if "JobsTable" in [_name(resource) for resource in _list(statement["Resource"])]
        and "dynamodb:UpdateItem" in _list(statement["Action"])
        for operator in statement.get("Condition", {}).values()
    ]
    assert ddb.keys["dynamodb:UpdateItem", "jobs"] == {"J1"}
    assert ddb.attributes["jobs"] | {"pk"} <= allowed


def test_the_activation_function_keeps_the_page_out_of_traces_and_logs_no_event() -> None:
    source = (ROOT / "functions" / "activation" / "app.py").read_text(encoding="utf-8")
    # The page holds the token (its form's hidden field): X-Ray must not record the response, nor the logger the event
    # (pinned off, whatever POWERTOOLS_LOGGER_LOG_EVENT says), nor the resolver's debug mode (POWERTOOLS_DEV) print it.
    # tests/integration/test_activation_logs.py proves it with both variables set.
    assert "@tracer.capture_lambda_handler(capture_response=False)" in source
    assert "log_event=False" in source and "debug=False" in source
    assert "log_event=True" not in source and "print(" not in source


# The functions whose every DynamoDB write names the items and attributes it may touch. (The email sender's, its
# dead-letter function's and the activation page's writes are pinned by the tests of their flows above.)
ATTRIBUTE_BOUND = (
    "SplitterFunction",
    "SplitContinuationFunction",
    "WorkerFunction",
    "DeadLetterFunction",
    "SweeperFunction",
    "AggregatorFunction",
)
DYNAMODB_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
# Where the flows reach the tables: the ports of shared/portal_import/ports.py, named as the flows name them (the
# deps field, or the parameter, that holds each). The job store's role ports all go to aws.jobs.Jobs.
JOB_PORTS = {
    "job_reader",
    "split_progress",
    "chunk_tally",
    "stalled_jobs",
    "channels",
    "announcements",
    "emails_notice",
    "console_jobs",
}
PORTS = {*JOB_PORTS, "jobs", "directory", "user_pool"}
# The port calls that write nothing (reads); any other is run through its adapter below to learn what it writes.
PORT_READS = {
    ("job_reader", "get"),
    ("jobs", "get"),
    ("console_jobs", "get"),
    ("console_jobs", "job_ids"),
    ("stalled_jobs", "open_jobs_idle_since"),
    ("directory", "active_roles"),
    ("directory", "resolve"),
    ("directory", "contacts"),
    ("directory", "existing_users"),
}
_SHARED = ROOT / "shared"


def test_every_port_of_the_job_store_is_one_whose_calls_are_followed() -> None:
    # Given the ports of ports.py that the jobs table's adapter implements (named, snake_case, as the flows name the
    # field or parameter that holds each)
    tree = ast.parse((_SHARED / "portal_import" / "ports.py").read_text(encoding="utf-8"))
    job_ports = {
        re.sub(r"(?<!^)(?=[A-Z])", "_", node.name).lower()
        for node in tree.body
        if isinstance(node, ast.ClassDef) and "(aws.jobs.Jobs)" in (ast.get_docstring(node) or "")
    }
    # Then the writes test follows the calls of each (a port it did not know would hide its writes from it)
    assert job_ports == JOB_PORTS | {"jobs"}


def _module_file(module: str) -> Path | None:
    path = _SHARED.joinpath(*module.split(".")).with_suffix(".py")
    return path if path.is_file() else None


@functools.cache
def _read_module(path: Path) -> tuple[dict[str, ast.FunctionDef], dict[str, tuple[Path, str | None]]]:
    """A module's functions by name, and each name it imports from portal_import: (its module's file, the
    function's name), or (the module's file, None) for a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    imported: dict[str, tuple[Path, str | None]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("portal_import"):
            for alias in node.names:
                module = _module_file(f"{node.module}.{alias.name}")
                source = _module_file(str(node.module))
                if module is not None:
                    imported[alias.asname or alias.name] = (module, None)
                elif source is not None:
                    imported[alias.asname or alias.name] = (source, alias.name)
    return functions, imported


def _port_calls(path: Path, function: str) -> set[tuple[str, str, tuple[str, ...]]]:
    """Every port call a function can make, directly or through any function of functions/ and shared/ it calls
    by name: (port, method, the call's string arguments), e.g. ("jobs", "mark_channel", ("ResultsRequestedAt",))."""
    calls: set[tuple[str, str, tuple[str, ...]]] = set()
    seen: set[tuple[Path, str]] = set()
    todo = [(path, function)]
    while todo:
        here = todo.pop()
        functions, imported = _read_module(here[0])
        if here in seen or here[1] not in functions:
            continue  # a class, or a function already read
        seen.add(here)
        for node in (n for n in ast.walk(functions[here[1]]) if isinstance(n, ast.Call)):
            callee = node.func
            if isinstance(callee, ast.Name):
                target = (here[0], callee.id) if callee.id in functions else imported.get(callee.id)
                if target is not None and target[1] is not None:
                    todo.append((target[0], target[1]))
            elif isinstance(callee, ast.Attribute):
                owner = callee.value
                port = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
                if port in PORTS:
                    texts = tuple(
                        a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                    )
                    calls.add((str(port), callee.attr, texts))
                elif isinstance(owner, ast.Name) and owner.id in imported and imported[owner.id][1] is None:
                    todo.append((imported[owner.id][0], callee.attr))  # module.function(...)
    return calls


_EXPRESSION_WORDS = {
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
    "if_not_exists",
    "list_append",
}


def _named(expression: str | None, aliases: dict[str, str]) -> set[str]:
    """The attribute names an update or condition expression names (#aliases resolved, :values left out)."""
    tokens = re.findall(r"#\w+|:\w+|[A-Za-z_]\w*", expression or "")
    return {aliases[t] if t.startswith("#") else t for t in tokens if t[0] != ":" and t not in _EXPRESSION_WORDS}


_TABLES = {"jobs": "JobsTable", "directory": "DirectoryTable"}  # the recorder's table names, as the template's


class _RecordingWrites:
    """Stands in for the DynamoDB client of the adapters: records each write as the IAM action it needs, the table,
    its partition key and every attribute name the request names (its key or item and its expressions: what AWS
    puts in dynamodb:Attributes, or more); answers with a job item where an adapter reads one back."""

    def __init__(self, job_id: str) -> None:
        self.writes: list[tuple[str, str, str, set[str]]] = []  # (action, table, partition key, attribute names)
        self._job = {
            "pk": {"S": job_id},
            "SourceBucket": {"S": "bucket"},
            "SourceKey": {"S": "imports/a.csv"},
            "Status": {"S": "PROCESSING"},
            "StartedAt": {"S": "2026-12-01T10:00:00Z"},
            "CompletedAt": {"S": "2026-12-01T10:05:00Z"},
        }

    def _record(self, action: str, call: dict[str, Any], item: dict[str, Any]) -> None:
        aliases = call.get("ExpressionAttributeNames", {})
        names = (
            set(item) | _named(call.get("UpdateExpression"), aliases) | _named(call.get("ConditionExpression"), aliases)
        )
        self.writes.append((action, _TABLES[call["TableName"]], item["pk"]["S"], names))

    def put_item(self, **call: Any) -> dict[str, Any]:
        self._record("dynamodb:PutItem", call, call["Item"])
        return {}

    def update_item(self, **call: Any) -> dict[str, Any]:
        self._record("dynamodb:UpdateItem", call, call["Key"])
        return {"Attributes": self._job}

    def transact_write_items(self, **call: Any) -> dict[str, Any]:
        for action in call["TransactItems"]:
            ((kind, write),) = action.items()
            self._record(f"dynamodb:{kind}Item", write, write["Item"] if kind == "Put" else write["Key"])
        return {}

    def get_item(self, **call: Any) -> dict[str, Any]:
        return {"Item": self._job}


def _run_adapter(call: tuple[str, str, tuple[str, ...]], job_id: str) -> None:
    """Makes the adapter request(s) a port call stands for (the adapters wiring.py gives the functions)."""
    port, method, texts = call
    jobs = Jobs("jobs")
    job = Job(
        job_id=job_id,
        source_bucket="bucket",
        source_key="imports/a.csv",
        mode="import",
        send_activation_email=True,
        status=JobStatus.SPLITTING,
        started_at="2026-12-01T10:00:00Z",
    )
    made = {
        ("split_progress", "create"): lambda: jobs.create(job, source_version="v1", source_version_id="v1"),
        ("stalled_jobs", "touch"): lambda: jobs.touch(job_id),
        ("split_progress", "set_options"): lambda: jobs.set_options(job_id, mode="import", send_activation_email=True),
        ("split_progress", "set_columns"): lambda: jobs.set_columns(
            job_id, {"ContactId": "Contact Id", "Role": "Role"}
        ),
        ("split_progress", "snapshot_roles"): lambda: jobs.snapshot_roles(job_id, {"Partner User": True}),
        ("split_progress", "checkpoint_split"): lambda: jobs.checkpoint_split(job_id, next_seq=3, rows=3000),
        ("split_progress", "mark_split_handed_on"): lambda: jobs.mark_split_handed_on(job_id, 3),
        ("split_progress", "finish_split"): lambda: jobs.finish_split(
            job_id, total_rows=3000, chunk_starts=[2, 1002, 2002]
        ),
        ("split_progress", "fail"): lambda: jobs.fail(job_id, "The file is empty."),
        ("chunk_tally", "record_chunk"): lambda: jobs.record_chunk(
            job_id, 0, rows=9, succeeded=8, failed=1, emails_queued=8
        ),
        ("emails_notice", "claim_emails_notice"): lambda: jobs.claim_emails_notice(job_id),
        ("emails_notice", "release_emails_notice"): lambda: jobs.release_emails_notice(job_id),
        ("announcements", "stamp_completion"): lambda: jobs.stamp_completion(job_id, "2026-12-01T10:05:00Z"),
        ("announcements", "mark_notified"): lambda: jobs.mark_notified(
            job_id, status=JobStatus.COMPLETED, completed_at="2026-12-01T10:05:00Z"
        ),
        ("directory", "create_users"): lambda: Directory("directory").create_users(
            [PortalUser(contact_id="0031234567890123456", user_id="U1", role="Customer", job_id=job_id, row=2)]
        ),
        # The pool's adapter paces its calls on the limiter of their quota category (wiring.work_deps)
        ("user_pool", "create_users"): lambda: Pace("jobs", 50, key=cognito_limiter("UserCreation")).reserve(2),
        ("user_pool", "add_to_groups"): lambda: Pace("jobs", 25, key=cognito_limiter("UserUpdate")).reserve(2),
    }
    if (port, method) == ("channels", "mark_channel"):
        assert texts, "mark_channel is called with an attribute this test cannot read: name it as a literal"
        for attribute in texts:
            jobs.mark_channel(job_id, attribute)
        return
    assert (port, method) in made, f"{port}.{method}: tell this test what that call writes (or that it reads)"
    made[port, method]()


def _writes_of_the_code(
    function: str, sam_template: dict[str, Any], job_id: str
) -> list[tuple[str, str, str, set[str]]]:
    """The DynamoDB writes a function's code can make: its handler's port calls, each made through its adapter."""
    properties = sam_template["Resources"][function]["Properties"]
    module, handler = properties["Handler"].rsplit(".", 1)
    calls = _port_calls(ROOT / properties["CodeUri"] / f"{module}.py", handler)
    recorder = _RecordingWrites(job_id)
    for call in sorted(calls - {c for c in calls if c[:2] in PORT_READS}):
        with pytest.MonkeyPatch.context() as patch:
            for adapter in (jobs_adapter, directory, ratelimit):
                patch.setattr(adapter, "client", lambda service: recorder)
            _run_adapter(call, job_id)
    return recorder.writes


def _granted_writes(role: dict[str, Any]) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """Each DynamoDB write a role allows, by (action, table): (the attributes it may name, the keys it may write)."""
    granted: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for statement in (s for s in _statements(role) if s["Effect"] == "Allow"):
        conditions = {
            key: _list(value) for operator in statement.get("Condition", {}).values() for key, value in operator.items()
        }
        for action in set(_list(statement["Action"])) & DYNAMODB_WRITES:
            for resource in _list(statement["Resource"]):
                key = (action, _name(resource))
                assert key not in granted, f"{key} is granted twice: one statement each, or the conditions blur"
                granted[key] = (conditions.get("dynamodb:Attributes", []), conditions.get("dynamodb:LeadingKeys", []))
    return granted


@pytest.mark.parametrize("function", ATTRIBUTE_BOUND)
def test_each_write_names_only_the_attributes_its_code_writes(
    function: str, sam_template: dict[str, Any], deployed: dict[str, Any]
) -> None:
    # moto evaluates no IAM condition: an attribute the code writes and the template leaves out would be refused
    # only on AWS. So: given every DynamoDB write the function's code can make (its handler's calls followed through
    # the flows to the ports, each made through its adapter and recorded)
    job_id = job_id_for("bucket", "imports/a.csv", "v1", "2026-12-01T10:00:00+00:00")
    made: dict[tuple[str, str], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for action, table, key, names in _writes_of_the_code(function, sam_template, job_id):
        made[action, table][0].update(names)
        made[action, table][1].add(key)
    granted = _granted_writes(_roles(deployed)[function])
    # Then the function is granted exactly those writes, each naming exactly the attributes the code writes
    assert set(granted) == set(made), function
    for write, (attributes, keys) in granted.items():
        assert set(attributes) == made[write][0], (function, write)
        # and only on the items the code writes: a job's, a Contact's, the Cognito limiter's
        assert _within(made[write][1], keys), (function, write, keys)


def test_a_function_that_writes_jobs_cannot_write_the_items_beside_them(deployed: dict[str, Any]) -> None:
    # Given the jobs table's items that are not jobs: the shared rate limiters and the email ledger's settlements
    others = [EMAIL_LIMITER, cognito_limiter("UserCreation"), cognito_limiter("UserUpdate"), "emails#6f1c2a"]
    job_id = job_id_for("bucket", "imports/a.csv", "v1", "2026-12-01T10:00:00+00:00")
    writers = set()
    for function in ATTRIBUTE_BOUND:
        for (_, table), (_, keys) in _granted_writes(_roles(deployed)[function]).items():
            if table == "JobsTable" and keys != ["rate-limiter#cognito-*"]:  # the workers' own limiter aside
                writers.add(function)
                # Then each function's write of a job reaches any job and none of them
                assert _within({job_id}, keys), (function, keys)
                assert not [other for other in others if _within({other}, keys)], (function, keys)
    assert writers == set(ATTRIBUTE_BOUND)  # every one of them writes jobs
