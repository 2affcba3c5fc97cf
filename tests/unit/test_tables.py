"""The table's keys and its one batch read: every key asked for is read, in requests DynamoDB accepts, and what
it leaves unprocessed is asked for again after a pause."""

from __future__ import annotations

from typing import Any

import pytest

from portal_import.aws.tables import (
    BATCH_GET_LIMIT,
    activation_key,
    batch_get,
    contact_of,
    unprocessed_delay,
    user_key,
)
from portal_import.errors import Transient
from portal_import.retry import CALL_ATTEMPTS


class BusyTable:
    """Answers each batch read with its items, but leaves the last key of the first request unprocessed."""

    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        assert request["ConsistentRead"] is True
        keys = request["Keys"]
        self.requests.append(keys)
        if len(self.requests) == 1:
            return {"Responses": {table: keys[:-1]}, "UnprocessedKeys": {table: {**request, "Keys": keys[-1:]}}}
        return {"Responses": {table: keys}}


def test_every_key_is_read_once_even_when_the_table_leaves_some_unprocessed() -> None:
    # Given 250 Contacts' activation items, and a table too busy to answer a whole first request
    ddb, pauses = BusyTable(), []
    keys = [activation_key(f"c{n}") for n in range(250)]
    # When they are read
    items = list(batch_get(ddb, "directory", keys, sleep=pauses.append))
    # Then each item came back once, in requests of at most BATCH_GET_LIMIT keys, the unprocessed one asked again
    assert sorted(contact_of(item) for item in items) == sorted(f"c{n}" for n in range(250))
    assert [len(keys) for keys in ddb.requests] == [BATCH_GET_LIMIT, 1, BATCH_GET_LIMIT, 50]
    assert len(pauses) == 1 and 0 < pauses[0] <= 2.0


class JammedTable:
    """Leaves every key unprocessed, every time."""

    def __init__(self) -> None:
        self.requests = 0

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests += 1
        return {"Responses": {}, "UnprocessedKeys": RequestItems}


def test_a_table_that_never_answers_a_read_is_a_passing_fault_after_the_retry_layers_attempts() -> None:
    # Given a table that leaves every key unprocessed (throttled for longer than any pause)
    ddb, pauses = JammedTable(), []
    # When keys are read from it
    with pytest.raises(Transient):
        list(batch_get(ddb, "directory", [activation_key("c1")], sleep=pauses.append))
    # Then it was asked as often as the one retry layer asks, with a pause between, and no more
    assert ddb.requests == CALL_ATTEMPTS
    assert len(pauses) == CALL_ATTEMPTS - 1


def test_the_pause_grows_and_is_capped_at_two_seconds() -> None:
    assert unprocessed_delay(1) <= 0.1 and unprocessed_delay(10) <= 2.0
    assert min(unprocessed_delay(10) for _ in range(20)) >= 1.0


def test_a_contacts_items_share_its_partition_and_differ_by_sort_key() -> None:
    assert activation_key("c1")["pk"] == user_key("c1")["pk"] == {"S": "CONTACT#c1"}
    assert (activation_key("c1")["sk"], user_key("c1")["sk"]) == ({"S": "ACTIVATION"}, {"S": "USER"})
