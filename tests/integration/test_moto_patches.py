"""The local runtime's faster TransactWriteItems must keep DynamoDB's all-or-nothing behaviour."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

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
