"""A rate limit shared by every invocation of a step, kept as one item in the jobs table: the email senders'
(their sends, with SES's daily quota), and one for each of Cognito's quota categories the stack calls (its
account-wide rates: every function calling the category takes its slots).

The item holds the next free send slot and the sends counted against today's quota; reserving n sends moves
the slot n/rate seconds on with a conditional write, so concurrent senders never hand out the same slot.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from portal_import.aws.clients import client, condition_failed
from portal_import.errors import Transient
from portal_import.ports import Reservation

EMAIL_LIMITER = "rate-limiter#activation-email"


def cognito_limiter(category: str) -> str:
    """The key of the limiter of one of Cognito's quota categories (UserCreation, UserUpdate, ...): a slot, a call."""
    return f"rate-limiter#cognito-{category}"


class EmailPace:
    def __init__(
        self,
        table_name: str,
        rate_per_second: float,
        clock: Callable[[], float] = time.time,
        *,
        key: str = EMAIL_LIMITER,
    ) -> None:
        self._table = table_name
        self._key = key
        self._rate = rate_per_second
        self._clock = clock
        self._ddb = client("dynamodb")

    def available(self, count: int, daily_quota: int, *, deadline: float | None = None) -> Reservation:
        """How many of `count` sends could be reserved now (slots not yet reserved: only their number counts)."""
        item = self._read()
        _, granted, short_of = self._grant(item, self._clock(), count, daily_quota, deadline, replacing=False)
        return Reservation([0.0] * granted, short_of)

    def _grant(
        self, item: dict[str, Any], now: float, count: int, daily_quota: int, deadline: float | None, *, replacing: bool
    ) -> tuple[float, int, Literal["quota", "time"] | None]:
        """(first slot, how many slots, why fewer than asked) for the limiter as `item` holds it."""
        previous = item.get("NextSlot", {}).get("N")
        start = max(now, float(previous) if previous else 0.0)
        within_quota = count if replacing else max(0, min(count, daily_quota - self._sent_today(item, now)))
        in_time = count if deadline is None else max(0, math.floor((deadline - start) * self._rate))
        granted = min(within_quota, in_time)
        return start, granted, _short_of(count, granted, within_quota, in_time)

    def _read(self) -> dict[str, Any]:
        response = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": self._key}}, ConsistentRead=True)
        return dict(response.get("Item") or {})

    @staticmethod
    def _sent_today(item: dict[str, Any], now: float) -> int:
        today = datetime.fromtimestamp(now, UTC).date().isoformat()
        return int(item.get("SentOnDay", {}).get("N", "0")) if item.get("QuotaDay", {}).get("S") == today else 0

    def reserve(
        self, count: int, daily_quota: int, *, deadline: float | None = None, replacing: bool = False
    ) -> Reservation:
        """Reserves up to `count` consecutive send slots within what today's quota has left and before `deadline`.

        Fewer than `count` (none at all) once the day's quota is spent, or when the slots free before the
        deadline run out. The day is the UTC calendar day, a cautious stand-in for SES's rolling 24 hours.
        `replacing`: the slots stand in for missed ones already counted against the quota, so they are not
        counted again.
        """
        for _ in range(50):
            item = self._read()
            previous = item.get("NextSlot", {}).get("N")
            now = self._clock()
            today = datetime.fromtimestamp(now, UTC).date().isoformat()
            sent_today = self._sent_today(item, now)
            start, granted, short_of = self._grant(item, now, count, daily_quota, deadline, replacing=replacing)
            if granted == 0:
                return Reservation([], short_of)
            end = start + granted / self._rate
            counted = sent_today if replacing else sent_today + granted
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": self._key},
                        "NextSlot": {"N": repr(end)},
                        "QuotaDay": {"S": today},
                        "SentOnDay": {"N": str(counted)},
                    },
                    ConditionExpression="attribute_not_exists(pk)" if previous is None else "NextSlot = :previous",
                    **({"ExpressionAttributeValues": {":previous": {"N": previous}}} if previous else {}),
                )
            except ClientError as error:
                if condition_failed(error):
                    continue  # another sender moved the slot first: read it again
                raise
            return Reservation([start + index / self._rate for index in range(granted)], short_of)
        raise Transient(f"could not reserve slots of {self._key}: too much contention on the rate limiter")


def _short_of(count: int, granted: int, within_quota: int, in_time: int) -> Literal["quota", "time"] | None:
    if granted == count:
        return None
    return "quota" if within_quota <= in_time else "time"


class Pace:
    """Slots at `rate_per_second`, shared by every invocation, without a daily quota: one conditional PutItem
    reserves them when the limiter is idle (the slot in the past), two or more when others reserve too."""

    def __init__(
        self, table_name: str, rate_per_second: float, *, key: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._table = table_name
        self._rate = rate_per_second
        self._key = key
        self._clock = clock
        self._ddb = client("dynamodb")

    def reserve(self, count: int, *, deadline: float | None = None) -> Reservation:
        """Up to `count` consecutive slots, as many as start before `deadline`."""
        now = self._clock()
        start, current = now, None  # first as if idle: the next free slot is not in the future
        for _ in range(50):
            start = now if current is None else max(now, current)
            fit = count if deadline is None else max(0, min(count, math.floor((deadline - start) * self._rate)))
            if fit == 0:
                return Reservation([], "time")
            end = start + fit / self._rate
            if current is None:
                condition, values = "attribute_not_exists(pk) OR NextSlot <= :now", {":now": {"N": repr(now)}}
            else:
                condition, values = "NextSlot = :current", {":current": {"N": repr(current)}}
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={"pk": {"S": self._key}, "NextSlot": {"N": repr(end)}},
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if not condition_failed(error):
                    raise
                held: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
                current = float(held.get("NextSlot", {}).get("N", "0"))
                continue
            return Reservation([start + index / self._rate for index in range(fit)], None if fit == count else "time")
        raise Transient(f"could not reserve slots of {self._key}: too much contention on the rate limiter")
