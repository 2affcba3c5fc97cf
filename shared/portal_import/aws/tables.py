"""The stack's DynamoDB items by key, and the one way to read many of them.

Directory table: a Contact (pk CONTACT#<id>, sk CONTACT), its Salesforce alias (pk SALESFORCE#<18-char id>, sk
CONTACT), its portal User (pk CONTACT#<id>, sk USER) and that User's activation item (pk CONTACT#<id>, sk
ACTIVATION: the current link, and the email ledger's record of who was reached). Jobs table: a job (pk <job id>)
and an email sender's settlement (pk emails#<attempt>). The IAM grants of template.yaml are conditioned on these
partition keys' prefixes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from portal_import.errors import Transient
from portal_import.retry import CALL_ATTEMPTS

Key = dict[str, Any]
Item = dict[str, Any]

_CONTACT = "CONTACT#"
_SETTLEMENT = "emails#"
# BatchGetItem's most keys a request.
BATCH_GET_LIMIT = 100


def contact_key(contact_id: str) -> Key:
    return {"pk": {"S": f"{_CONTACT}{contact_id}"}, "sk": {"S": "CONTACT"}}


def alias_key(salesforce_id: str) -> Key:
    return {"pk": {"S": f"SALESFORCE#{salesforce_id}"}, "sk": {"S": "CONTACT"}}


def user_key(contact_id: str) -> Key:
    return {"pk": {"S": f"{_CONTACT}{contact_id}"}, "sk": {"S": "USER"}}


def activation_key(contact_id: str) -> Key:
    return {"pk": {"S": f"{_CONTACT}{contact_id}"}, "sk": {"S": "ACTIVATION"}}


def job_key(job_id: str) -> Key:
    return {"pk": {"S": job_id}}


def settlement_key(attempt: str) -> Key:
    return {"pk": {"S": f"{_SETTLEMENT}{attempt}"}}


def contact_of(item: Item) -> str:
    """The contact id of a Contact's item (its Contact, User or activation item)."""
    return str(item["pk"]["S"]).removeprefix(_CONTACT)


def attempt_of(item: Item) -> str:
    """The attempt whose settlement this item is."""
    return str(item["pk"]["S"]).removeprefix(_SETTLEMENT)


def batch_get(
    ddb: Any, table: str, keys: Sequence[Key], *, sleep: Callable[[float], None] = time.sleep
) -> Iterator[Item]:
    """The items of `keys` that exist, read consistently, BATCH_GET_LIMIT keys a request. Keys DynamoDB leaves
    unprocessed (the table was busy) are asked for again after a growing pause, as AWS advises, CALL_ATTEMPTS times
    at most, then the read raises Transient; `ddb` is the adapter's client, whose calls retry their own transient
    failures."""
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {table: {"Keys": list(keys[start : start + BATCH_GET_LIMIT]), "ConsistentRead": True}}
        attempt = 0
        while request:
            response = ddb.batch_get_item(RequestItems=request)
            yield from response.get("Responses", {}).get(table, [])
            request = response.get("UnprocessedKeys") or {}
            if request:
                attempt += 1
                if attempt >= CALL_ATTEMPTS:
                    raise Transient(f"{table} left keys unprocessed {attempt} times in a row")
                sleep(unprocessed_delay(attempt))


def unprocessed_delay(attempt: int) -> float:
    """The pause before asking again for what a batch request left unprocessed, its `attempt`-th time: exponential,
    at most two seconds, with jitter so that callers turned away together do not come back together."""
    return min(0.05 * 2**attempt, 2.0) * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret
