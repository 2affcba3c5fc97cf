"""Activation links as the activation page uses them: found by the token's hash, held while the password is set,
and marked used.

A link is the User's activation item (directory table, pk CONTACT#<id>, sk ACTIVATION; written by the email
ledger, portal_import.aws.ledger): its TokenHash is the current link's, so a newer link replaces every older one.
The table's TokenHash index finds the item; the item itself, read consistently, has the last word. Activating
takes a hold on the item first (one conditional write), so that of two requests with one token at most one sets
the password; the hold ends when the User is marked activated, or runs out when its holder died.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.clients import client, condition_failed, transaction_condition_failed
from portal_import.aws.tables import activation_key, contact_of, job_key
from portal_import.domain.people import Link

LINK_INDEX = "ByTokenHash"
# A hold outlives the activation function's timeout, so that it never ends while its holder still works.
HOLD_SECONDS = 60


class Links:
    def __init__(self, directory_table: str, jobs_table: str) -> None:
        self._directory = directory_table
        self._jobs = jobs_table
        self._ddb = client("dynamodb")

    def find(self, token_hash: str) -> Link | None:
        """The current link with this hash, or None (unknown, replaced by a newer one, or used)."""
        found = self._ddb.query(
            TableName=self._directory,
            IndexName=LINK_INDEX,
            KeyConditionExpression="TokenHash = :hash",
            ExpressionAttributeValues={":hash": {"S": token_hash}},
            Limit=2,
        )
        for entry in found.get("Items", []):
            item = self._ddb.get_item(
                TableName=self._directory, Key=activation_key(contact_of(entry)), ConsistentRead=True
            )
            current = item.get("Item")
            if current and current.get("TokenHash", {}).get("S") == token_hash:  # the index may lag a new link
                return _link(current)
        return None

    def hold(self, link: Link, token_hash: str, now: float) -> str | None:
        """Takes the link's hold for this request, or None when it is not usable any more (used, expired,
        replaced, or held by another request). Returns the hold's id."""
        hold = uuid.uuid4().hex
        try:
            self._ddb.update_item(
                TableName=self._directory,
                Key=activation_key(link.contact_id),
                UpdateExpression="SET HeldBy = :hold, HeldUntil = :until",
                ConditionExpression=(
                    "TokenHash = :hash AND attribute_not_exists(ActivatedAt) AND ExpiresAtEpoch > :now "
                    "AND (attribute_not_exists(HeldUntil) OR HeldUntil <= :now)"
                ),
                ExpressionAttributeValues={
                    ":hold": {"S": hold},
                    ":until": {"N": repr(now + HOLD_SECONDS)},
                    ":hash": {"S": token_hash},
                    ":now": {"N": repr(now)},
                },
            )
        except ClientError as error:
            if condition_failed(error):
                return None
            raise
        return hold

    def release(self, link: Link, hold: str) -> None:
        """Gives the hold back: the password was not set, the link stays as it was."""
        try:
            self._ddb.update_item(
                TableName=self._directory,
                Key=activation_key(link.contact_id),
                UpdateExpression="REMOVE HeldBy, HeldUntil",
                ConditionExpression="HeldBy = :hold",
                ExpressionAttributeValues={":hold": {"S": hold}},
            )
        except ClientError as error:
            if not condition_failed(error):
                raise

    def mark_activated(self, link: Link, hold: str, now: float) -> bool:
        """The User activated: the link is used (its hash removed, so no token finds it again), the User is never
        sent a link again (ActivatedAt), and its job counts one more user activated, in one transaction.
        False when the hold was lost (it ran out and another request took it)."""
        moment = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._directory,
                    "Key": activation_key(link.contact_id),
                    "UpdateExpression": "SET ActivatedAt = :at REMOVE TokenHash, HeldBy, HeldUntil",
                    "ConditionExpression": "HeldBy = :hold AND attribute_not_exists(ActivatedAt)",
                    "ExpressionAttributeValues": {":at": {"S": moment}, ":hold": {"S": hold}},
                }
            }
        ]
        if link.job_id:
            actions.append(
                {
                    "Update": {
                        "TableName": self._jobs,
                        "Key": job_key(link.job_id),
                        "UpdateExpression": "ADD UsersActivated :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            )
        try:
            self._ddb.transact_write_items(TransactItems=actions, ClientRequestToken=hold)
        except ClientError as error:
            if transaction_condition_failed(error):
                return False
            raise
        return True


def _link(item: dict[str, Any]) -> Link:
    return Link(
        contact_id=contact_of(item),
        user_id=item.get("UserId", {}).get("S", ""),
        job_id=item.get("JobId", {}).get("S", ""),
        expires=float(item.get("ExpiresAtEpoch", {}).get("N", "0")),
        activated="ActivatedAt" in item,
        sent_to=item.get("SentTo", {}).get("S", ""),
    )
