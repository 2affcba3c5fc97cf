"""Who may do what, as template.yaml states it (docs/contracts.md §6): holding ImportAdministrators lets a caller drop
files, read results and ask the stack for new links, never put a message on a queue, write the directory, or touch
the user pool; every queue refuses any principal but the stack's own roles, each exactly the roles whose code sends
to it. moto evaluates neither identity nor queue policies, so these are pinned here (the takeover itself is replayed
against the local stack in tests/integration/test_takeover.py)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

# What an administrator's commands need, and nothing that writes: no queue, no table write, no pool, no email.
_WRITES = (
    "sqs:",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
    "cognito-idp:",
    "ses:",
    "sns:Publish",
)
_SES = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
# What `portal-import doctor` reads of the account and the stack: each action, and the resource it is granted on.
_DIAGNOSIS = {
    "ses:GetAccount": "*",
    "cloudwatch:GetMetricData": "*",
    "ses:GetEmailIdentity": {"Fn::Sub": _SES + ":identity/*"},
    "ses:GetConfigurationSet": {"Fn::Sub": _SES + ":configuration-set/${AWS::StackName}-activation"},
    "sns:ListSubscriptionsByTopic": {"Ref": "AlarmTopic"},
    "cognito-idp:DescribeUserPool": {"Fn::GetAtt": ["UserPool", "Arn"]},
    "dynamodb:Query": {"Fn::GetAtt": ["DirectoryTable", "Arn"]},
}
_DIAGNOSIS["ses:GetConfigurationSetEventDestinations"] = _DIAGNOSIS["ses:GetConfigurationSet"]
_DIAGNOSIS["cognito-idp:ListGroups"] = _DIAGNOSIS["cognito-idp:DescribeUserPool"]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _admin_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policy = template["Resources"]["ImportAdministratorsPolicy"]["Properties"]["PolicyDocument"]
    return list(policy["Statement"])


def _queue_of(resource: Any) -> str | None:
    """The queue a statement's resource names (its ARN, or SAM's SQSSendMessagePolicy form), if it names one."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], list):
        named = resource["Fn::Sub"][1].get("queueName", {})
        return str(named["Fn::GetAtt"][0]) if "Fn::GetAtt" in named else None
    return None


def _senders(template: dict[str, Any]) -> dict[str, set[str]]:
    """Each queue's senders, as the roles' own grants say: queue -> the roles allowed to send to it."""
    resources = template["Resources"]
    senders: dict[str, set[str]] = defaultdict(set)
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement["Effect"] != "Allow":
                    continue
                if not any(str(action).startswith("sqs:SendMessage") for action in _list(statement["Action"])):
                    continue
                for queue in map(_queue_of, _list(statement["Resource"])):
                    if queue is not None:
                        senders[queue].add(name)
    return senders


def test_administrators_may_ask_for_resends_but_write_no_queue_table_pool_or_email(deployed: dict[str, Any]) -> None:
    # Given the ImportAdministrators policy
    statements = _admin_statements(deployed)
    actions = {str(action) for statement in statements for action in _list(statement["Action"])}
    # Then it grants no write to a queue, the tables, the pool or SES, and no Deny is needed to say so: of SES and
    # the pool, only doctor's reads
    assert all(statement["Effect"] == "Allow" for statement in statements)
    assert not [action for action in actions if action.startswith(_WRITES) and action not in _DIAGNOSIS], actions
    # and the one function it may invoke is the resend function, which decides whom and where itself
    (invoke,) = [statement for statement in statements if "lambda:InvokeFunction" in _list(statement["Action"])]
    assert _list(invoke["Action"]) == ["lambda:InvokeFunction"]
    assert _list(invoke["Resource"]) == [{"Fn::GetAtt": ["ResendFunction", "Arn"]}]
    assert not [action for action in actions if action.startswith("lambda:") and action != "lambda:InvokeFunction"]


def test_every_queue_refuses_every_principal_but_the_roles_whose_code_sends_to_it(deployed: dict[str, Any]) -> None:
    # Given every queue of the stack, its queue policy, and the roles the template grants SendMessage on it
    resources = deployed["Resources"]
    queues = sorted(name for name, resource in resources.items() if resource["Type"] == "AWS::SQS::Queue")
    policies = {
        queue["Ref"]: resource["Properties"]["PolicyDocument"]
        for resource in resources.values()
        if resource["Type"] == "AWS::SQS::QueuePolicy"
        for queue in resource["Properties"]["Queues"]
    }
    senders = _senders(deployed)
    assert senders["EmailQueue"] >= {"WorkerFunctionRole", "EmailSenderFunctionRole", "ResendFunctionRole"}
    for queue in queues:
        # Then each queue has a policy that denies SendMessage to any principal with an ARN but its senders' roles
        assert queue in policies, f"{queue} has no queue policy: any principal of the account may send to it"
        (statement,) = [s for s in policies[queue]["Statement"] if s["Effect"] == "Deny"]
        assert statement["Principal"] == "*"
        for allowed_service in [s for s in policies[queue]["Statement"] if s["Effect"] != "Deny"]:
            # the one queue a service sends to: SNS, from the stack's delivery events topic only
            assert queue == "DeliveryEventsQueue"
            assert allowed_service["Principal"] == {"Service": "sns.amazonaws.com"}
            assert allowed_service["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "DeliveryEventsTopic"}}}
        assert _list(statement["Action"]) == ["sqs:SendMessage"]  # SendMessageBatch is authorised as SendMessage
        assert statement["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
        allowed = {
            role["Fn::GetAtt"][0]
            for role in _list(statement["Condition"].get("ArnNotEquals", {}).get("aws:PrincipalArn", []))
        }
        assert allowed == senders.get(queue, set()), queue
        # and only principals with an ARN are refused: SQS's own redrive to a dead-letter queue has none
        assert statement["Condition"]["Null"] == {"aws:PrincipalArn": "false"}


def test_the_resend_function_reads_the_directory_and_writes_none_of_it(deployed: dict[str, Any]) -> None:
    resources = deployed["Resources"]
    role = resources[resources["ResendFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]]
    granted = [
        (str(action), statement["Resource"])
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        for action in _list(statement["Action"])
    ]
    actions = {action for action, _ in granted}
    # its only writes: emails queued, and resume-emails' end of a job's hold on the jobs table (never the directory)
    writes = [(a, r) for a, r in granted if a.startswith(_WRITES) and not a.startswith("sqs:Send")]
    assert {a for a, _ in writes} == {"dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert all(r == {"Fn::GetAtt": ["JobsTable", "Arn"]} for _, r in writes), writes
    assert not [action for action in actions if action.startswith(("cognito-idp:", "ses:"))]


def test_doctor_reads_the_account_and_the_stack_and_may_change_nothing(deployed: dict[str, Any]) -> None:
    # Given the ImportAdministrators statements that serve `portal-import doctor`
    statements = [s for s in _admin_statements(deployed) if s["Sid"].startswith("DiagnoseTheStack")]
    grants = {action: statement["Resource"] for statement in statements for action in _list(statement["Action"])}
    # Then they grant exactly its reads (Get, Describe, List, Query), each on the stack's own resource where the
    # action names one
    assert grants == _DIAGNOSIS
    assert all(action.split(":")[1].startswith(("Get", "Describe", "List", "Query")) for action in grants)
    # and the directory only for its Roles, as a job reads them
    (roles,) = [s for s in statements if "dynamodb:Query" in _list(s["Action"])]
    assert roles["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["ROLE"]}}


def test_doctor_reads_the_adopted_pool_when_the_stack_adopts_one(adopting: dict[str, Any]) -> None:
    statements = [s for s in _admin_statements(adopting) if s["Sid"] == "DiagnoseTheStackUserPool"]
    (pool,) = statements
    assert pool["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/${UserPoolId}"
    }
