"""The local runtime's faster TransactWriteItems must keep DynamoDB's all-or-nothing behaviour, and its faster
plain UpdateItem must end as moto's own does."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import create_backend_app

from portal_import_local import moto_patches


@pytest.fixture
def table(aws: boto3.Session) -> Any:
    moto_patches.install()
    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="t", Item={"pk": {"S": "taken"}, "v": {"S": "old"}})
    ddb.put_item(TableName="t", Item={"pk": {"S": "updated"}, "n": {"N": "1"}})
    return ddb


def _put(pk: str) -> dict[str, Any]:
    return {"Put": {"TableName": "t", "Item": {"pk": {"S": pk}}, "ConditionExpression": "attribute_not_exists(pk)"}}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(table: Any) -> None:
    # Given a transaction that adds an item, updates one, and then fails a condition
    actions = [
        _put("new"),
        {
            "Update": {
                "TableName": "t",
                "Key": {"pk": {"S": "updated"}},
                "UpdateExpression": "SET n = :two",
                "ExpressionAttributeValues": {":two": {"N": "2"}},
            }
        },
        _put("taken"),
    ]
    # When it runs / Then it is cancelled, with the reason on the failing action
    with pytest.raises(ClientError) as raised:
        table.transact_write_items(TransactItems=actions)
    reasons = [r.get("Code") for r in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    # And nothing it did stays
    assert "Item" not in table.get_item(TableName="t", Key={"pk": {"S": "new"}})
    assert table.get_item(TableName="t", Key={"pk": {"S": "updated"}})["Item"]["n"] == {"N": "1"}
    assert table.get_item(TableName="t", Key={"pk": {"S": "taken"}})["Item"]["v"] == {"S": "old"}


def test_a_transaction_whose_conditions_hold_applies_every_action(table: Any) -> None:
    table.transact_write_items(TransactItems=[_put("a"), _put("b")])
    assert {table.get_item(TableName="t", Key={"pk": {"S": k}})["Item"]["pk"]["S"] for k in "ab"} == {"a", "b"}


def test_items_read_back_exactly_as_written_through_the_fast_response_path(table: Any) -> None:
    # Given an item with every kind of value the stack stores, and a binary one that JSON cannot carry
    item = {
        "pk": {"S": "every-kind"},
        "s": {"S": 'Zoë, "quoted"'},
        "n": {"N": "12.5"},
        "yes": {"BOOL": True},
        "nothing": {"NULL": True},
        "numbers": {"NS": ["1", "2"]},
        "list": {"L": [{"S": "a"}, {"N": "1"}]},
        "map": {"M": {"k": {"S": "v"}}},
        "blob": {"B": b"\x00\x01"},
    }
    table.put_item(TableName="t", Item=item)

    # When it is read with GetItem and BatchGetItem
    got = table.get_item(TableName="t", Key={"pk": {"S": "every-kind"}})["Item"]
    batch = table.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "every-kind"}}, {"pk": {"S": "taken"}}]}})

    # Then both return exactly what was written
    assert got == item
    assert sorted(batch["Responses"]["t"], key=lambda i: i["pk"]["S"]) == [
        item,
        {"pk": {"S": "taken"}, "v": {"S": "old"}},
    ]


def test_a_condition_parsed_once_is_still_judged_item_by_item(table: Any) -> None:
    # Given a condition already used for one write
    table.put_item(TableName="t", Item={"pk": {"S": "fresh"}}, ConditionExpression="attribute_not_exists(pk)")

    # When the same condition guards a write to an item that exists
    with pytest.raises(ClientError) as refused:
        table.put_item(TableName="t", Item={"pk": {"S": "taken"}}, ConditionExpression="attribute_not_exists(pk)")

    # Then it is refused, and the existing item is unchanged
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert table.get_item(TableName="t", Key={"pk": {"S": "taken"}})["Item"] == {
        "pk": {"S": "taken"},
        "v": {"S": "old"},
    }


def test_a_deep_queue_still_hides_received_messages_until_their_visibility_ends(aws: boto3.Session) -> None:
    # Given a queue a few hundred messages deep
    moto_patches.install()
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    for start in range(0, 300, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{start + n}"} for n in range(10)]
        )

    # When one message is received, then made visible again
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=300)["Messages"]
    hidden = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    shown = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])

    # Then it was hidden while received and is visible once its timeout is over
    assert hidden["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert shown["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"


# Keys any S3 client can send, among them what XML 1.0 cannot carry (ESC, NUL), a carriage return (which XML reads
# back as a line feed), what URL-encoding itself uses (%, +), a bidi override, and the longest key S3 takes.
AWKWARD_KEYS = [
    "imports/esc\x1b[2J.csv",
    "imports/nul\x00.csv",
    "imports/cr\r.csv",
    "imports/lf\n\ttab.csv",
    "imports/100%25 a+b.csv",
    "imports/\u202evsc.exe",
    "imports/del\x7f\x85.csv",
    "imports/" + "k" * 1012 + ".csv",
]


def test_every_version_is_listed_under_its_own_key_whatever_the_key_holds(aws: boto3.Session) -> None:
    # Given a versioned bucket holding each awkward key, one of them deleted since (a delete marker)
    moto_patches.install()
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="drop")
    s3.put_bucket_versioning(Bucket="drop", VersioningConfiguration={"Status": "Enabled"})
    for key in AWKWARD_KEYS:
        s3.put_object(Bucket="drop", Key=key, Body=b"ContactId,Role\n")
    s3.delete_object(Bucket="drop", Key=AWKWARD_KEYS[0])

    # When the versions are listed two a page, as local serve lists them
    pages = list(
        s3.get_paginator("list_object_versions").paginate(
            Bucket="drop", Prefix="imports/", PaginationConfig={"PageSize": 2}
        )
    )

    # Then each version is there once, under a key that reads the object back
    listed = [version for page in pages for version in page.get("Versions", [])]
    assert sorted(version["Key"] for version in listed) == sorted(AWKWARD_KEYS)
    for version in listed:
        s3.head_object(Bucket="drop", Key=version["Key"], VersionId=version["VersionId"])
    assert [marker["Key"] for page in pages for marker in page.get("DeleteMarkers", [])] == [AWKWARD_KEYS[0]]


# Plain updates (SET a = :v, ADD a :v, REMOVE a) are carried out by the patch; each must end as moto's own would.
PLAIN_UPDATES = [
    ("SET v = :s, w = :n", None),
    ("ADD n :one, tags :set", None),
    ("ADD n :one SET v = :s REMOVE gone", None),
    ("REMOVE v, n", None),
    ("SET v = :s", "attribute_not_exists(pk)"),
    ("ADD tags :set", "attribute_exists(pk) AND NOT contains(tags, :tag)"),
    ("SET v = :s ADD fresh :set", "attribute_not_exists(v) OR v = :s"),
    ("ADD n :s", None),  # a type mismatch: moto's own error
]
VALUES = {
    ":s": {"S": "new"},
    ":n": {"N": "7"},
    ":one": {"N": "1"},
    ":set": {"SS": ["b", "c"]},
    ":tag": {"S": "a"},
}


@pytest.mark.parametrize(("expression", "condition"), PLAIN_UPDATES)
@pytest.mark.parametrize("existing", [True, False])
def test_a_plain_update_ends_as_motos_own_does(
    aws: boto3.Session, monkeypatch: pytest.MonkeyPatch, expression: str, condition: str | None, existing: bool
) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    moto_patches.install()
    ddb = aws.client("dynamodb")
    outcomes = []
    for name, update_item in (("patched", moto_patches._update_item), ("moto", moto_patches._original_update_item)):
        monkeypatch.setattr(DynamoDBBackend, "update_item", update_item)
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        if existing:
            item = {"pk": {"S": "k"}, "v": {"S": "old"}, "n": {"N": "1"}, "tags": {"SS": ["a"]}, "gone": {"S": "x"}}
            ddb.put_item(TableName=name, Item=item)
        named = set(re.findall(r":\w+", f"{expression} {condition or ''}"))
        used = {k: v for k, v in VALUES.items() if k in named}
        call: dict[str, Any] = {
            "TableName": name,
            "Key": {"pk": {"S": "k"}},
            "UpdateExpression": expression,
            "ExpressionAttributeValues": used,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if condition:
            call["ConditionExpression"] = condition
        try:
            answer: Any = ddb.update_item(**call).get("Attributes")
        except ClientError as error:
            answer = (error.response["Error"]["Code"], error.response.get("Item"))
        stored = ddb.get_item(TableName=name, Key={"pk": {"S": "k"}}).get("Item")
        outcomes.append((_sets_sorted(answer), _sets_sorted(stored)))
    assert outcomes[0] == outcomes[1]


def _sets_sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: sorted(v) if k in ("SS", "NS") else _sets_sorted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sets_sorted(v) for v in value]
    return value


def test_the_local_sesv2_answers_what_doctor_reads_as_ses_would(aws: boto3.Session) -> None:
    # Given the local SES, a verified address and domain (SES v1, as the local stack verifies them), a configuration
    # set made on SES v2 without SendingOptions and its destination made on SES v1 (as the local stack makes them),
    # and three emails sent
    moto_patches.install()
    ses, sesv2 = aws.client("ses"), aws.client("sesv2")
    ses.verify_email_identity(EmailAddress="no-reply@example.com")
    ses.verify_domain_identity(Domain="portal.example.com")
    sesv2.create_configuration_set(ConfigurationSetName="activation", DeliveryOptions={"TlsPolicy": "REQUIRE"})
    ses.create_configuration_set_event_destination(
        ConfigurationSetName="activation",
        EventDestination={
            "Name": "events",
            "Enabled": True,
            "MatchingEventTypes": ["send", "bounce", "deliveryDelay", "renderingFailure"],
            "SNSDestination": {"TopicARN": "arn:aws:sns:us-east-1:123456789012:events"},
        },
    )
    ses.send_email(
        Source="no-reply@example.com",
        Destination={"ToAddresses": ["a@example.org", "b@example.org", "c@example.org"]},
        Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
    )

    # Then the account has production access, sending on, and a quota no local run reaches, with what was sent
    account = sesv2.get_account()
    assert (account["ProductionAccessEnabled"], account["SendingEnabled"], account["EnforcementStatus"]) == (
        True,
        True,
        "HEALTHY",
    )
    assert account["SendQuota"] == {
        "Max24HourSend": float(moto_patches.SES_DAILY_QUOTA),
        "MaxSendRate": moto_patches.SES_MAX_SEND_RATE,
        "SentLast24Hours": 3.0,
    }
    # and the identities are verified for sending, the domain's DKIM set up
    address = sesv2.get_email_identity(EmailIdentity="no-reply@example.com")
    domain = sesv2.get_email_identity(EmailIdentity="portal.example.com")
    assert address["VerifiedForSendingStatus"] and domain["VerifiedForSendingStatus"]
    assert domain["DkimAttributes"]["Status"] == "SUCCESS"
    # and the set sends (SESv2's default), its one destination spelled as SESv2 spells it
    assert sesv2.get_configuration_set(ConfigurationSetName="activation")["SendingOptions"] == {"SendingEnabled": True}
    (destination,) = sesv2.get_configuration_set_event_destinations(ConfigurationSetName="activation")[
        "EventDestinations"
    ]
    assert destination == {
        "Name": "events",
        "Enabled": True,
        "MatchingEventTypes": ["SEND", "BOUNCE", "DELIVERY_DELAY", "RENDERING_FAILURE"],
        "SnsDestination": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:events"},
    }


def test_the_local_sesv2_says_what_ses_says_of_a_set_turned_off_or_missing(aws: boto3.Session) -> None:
    moto_patches.install()
    sesv2 = aws.client("sesv2")
    sesv2.create_configuration_set(ConfigurationSetName="off", SendingOptions={"SendingEnabled": False})
    assert sesv2.get_configuration_set(ConfigurationSetName="off")["SendingOptions"] == {"SendingEnabled": False}
    assert sesv2.get_configuration_set_event_destinations(ConfigurationSetName="off")["EventDestinations"] == []
    with pytest.raises(ClientError) as missing:
        sesv2.get_configuration_set_event_destinations(ConfigurationSetName="nowhere")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"


@pytest.mark.parametrize(
    "path",
    ["/v2/email/account", "/v2/email/configuration-sets/activation/event-destinations"],
    ids=["GetAccount", "GetConfigurationSetEventDestinations"],
)
def test_the_local_sesv2_routes_what_it_answers_behind_local_serve(aws: boto3.Session, path: str) -> None:
    # Given the routes moto's server (local serve's) builds for SESv2
    moto_patches.install()
    routes = create_backend_app("sesv2").url_map.bind("localhost")
    # Then the operations answered here reach SESv2's handler (moto's "/v2/.*" is a literal path to the server)
    endpoint, _ = routes.match(path, method="GET")
    assert endpoint.startswith("SESV2Response.dispatch")


def test_a_stack_reads_a_json_template_as_json_and_a_yaml_one_as_moto_does(aws: boto3.Session) -> None:
    moto_patches.install()
    cloudformation = aws.client("cloudformation")
    json_body = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "from-json"}}}}'
    yaml_body = (
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub from-${AWS::Region}\n"
    )
    for name, body in (("json", json_body), ("yaml", yaml_body)):
        cloudformation.create_stack(StackName=name, TemplateBody=body)
    queues = sorted(url.rsplit("/", 1)[-1] for url in aws.client("sqs").list_queues()["QueueUrls"])
    assert queues == ["from-json", "from-us-east-1"]
    assert cloudformation.get_template(StackName="json")["TemplateBody"]["Resources"]["Q"]["Type"] == "AWS::SQS::Queue"
