"""A sending-rate limit shared by every email sender invocation, kept as one item in the jobs table.

The item holds the next free send slot and the sends counted against today's quota; reserving n sends moves
the slot n/rate seconds on with a conditional write, so concurrent senders never hand out the same slot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from portal_import.aws.clients import client

_LIMITER_KEY = "rate-limiter#activation-email"


class SendSlots:
    def __init__(self, table_name: str, rate_per_second: float, clock: Callable[[], float] = time.time) -> None:
        self._table = table_name
        self._rate = rate_per_second
        self._clock = clock
        self._ddb = client("dynamodb")

    def reserve(self, count: int, daily_quota: int) -> list[float]:
        """Reserves up to `count` consecutive send slots within what today's quota has left.

        Returns the epoch second at which each send may go: fewer than `count` (none at all) once the day's
        quota is spent. The day is the UTC calendar day, a cautious stand-in for SES's rolling 24 hours.
        """
        for _ in range(50):
            item = (
                self._ddb.get_item(TableName=self._table, Key={"pk": {"S": _LIMITER_KEY}}, ConsistentRead=True).get(
                    "Item"
                )
                or {}
            )
            previous = item.get("NextSlot", {}).get("N")
            now = self._clock()
            today = datetime.fromtimestamp(now, UTC).date().isoformat()
            sent_today = (
                int(item.get("SentOnDay", {}).get("N", "0")) if item.get("QuotaDay", {}).get("S") == today else 0
            )
            granted = max(0, min(count, daily_quota - sent_today))
            if granted == 0:
                return []
            start = max(now, float(previous) if previous else 0.0)
            end = start + granted / self._rate
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": _LIMITER_KEY},
                        "NextSlot": {"N": repr(end)},
                        "QuotaDay": {"S": today},
                        "SentOnDay": {"N": str(sent_today + granted)},
                    },
                    ConditionExpression="attribute_not_exists(pk)" if previous is None else "NextSlot = :previous",
                    **({"ExpressionAttributeValues": {":previous": {"N": previous}}} if previous else {}),
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    continue  # another sender moved the slot first: read it again
                raise
            return [start + index / self._rate for index in range(granted)]
        raise RuntimeError("could not reserve email send slots: too much contention on the rate limiter")
