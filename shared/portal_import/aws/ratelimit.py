"""A sending-rate limit shared by every email sender invocation, kept as one item in the jobs table.

The item holds the next free send slot; reserving n sends moves it n/rate seconds on with a conditional
write, so concurrent senders never hand out the same slot.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from portal_import.aws.clients import client

_LIMITER_KEY = "rate-limiter#activation-email"


class SendSlots:
    def __init__(self, table_name: str, rate_per_second: float, clock: Callable[[], float] = time.time) -> None:
        self._table = table_name
        self._rate = rate_per_second
        self._clock = clock
        self._ddb = client("dynamodb")

    def reserve(self, count: int) -> list[float]:
        """Reserves `count` consecutive slots; returns the epoch second at which each send may go."""
        for _ in range(50):
            item = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": _LIMITER_KEY}}, ConsistentRead=True).get(
                "Item"
            )
            previous = item["NextSlot"]["N"] if item else None
            start = max(self._clock(), float(previous) if previous else 0.0)
            end = start + count / self._rate
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={"pk": {"S": _LIMITER_KEY}, "NextSlot": {"N": repr(end)}},
                    ConditionExpression="attribute_not_exists(pk)" if previous is None else "NextSlot = :previous",
                    **({"ExpressionAttributeValues": {":previous": {"N": previous}}} if previous else {}),
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    continue  # another sender moved the slot first: read it again
                raise
            return [start + index / self._rate for index in range(count)]
        raise RuntimeError("could not reserve email send slots: too much contention on the rate limiter")
