"""Activation links as the activation page uses them: found by the token's hash, held while the password is set,
and marked used.

A link is the User's activation item (directory table, pk CONTACT#<id>, sk ACTIVATION; written by the email
ledger, portal_import.aws.ledger): its TokenHash is the current link's, so a newer link replaces every older one.
A token that names its Contact (portal_import.domain.activation) is found by its item directly: the item's
IssuedHashes keep every link the user was sent, so a replaced link is known as theirs (it may ask for a new link,
at most once per RENEWAL_SECONDS: RenewedAt). An older token is found by the table's TokenHash index. Either way the
item itself, read consistently, has the last word. Activating
takes a hold on the item first (one conditional write), so that of two requests with one token at most one sets
the password; the hold ends when the User is marked activated, or runs out when its holder died.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.clients import client, condition_failed, transact_if
from portal_import.aws.tables import activation_key, contact_of, job_key, user_key
from portal_import.domain.activation import RENEWAL_SECONDS
from portal_import.domain.people import Link

LINK_INDEX = "ByTokenHash"
# A hold outlives the activation function's timeout, so that it never ends while its holder still works.
HOLD_SECONDS = 60


class Links:
    def __init__(self, directory_table: str, jobs_table: str) -> None:
        self._directory = directory_table
        self._jobs = jobs_table
        self._ddb = client("dynamodb")

    def find(self, token_hash: str, contact_id: str = "") -> Link | None:
        """The link with this hash: the user's current one, or (given the token's Contact) one it replaced or that
        was used (current False); None when the hash is no link of theirs, or unknown."""
        if not contact_id:
            return self._find_current(token_hash)
        item = self._ddb.get_item(TableName=self._directory, Key=activation_key(contact_id), ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return None
        if item.get("TokenHash", {}).get("S") == token_hash:
            return _link(item)
        if token_hash in item.get("IssuedHashes", {}).get("SS", []):
            return _link(item, current=False)
        return None

    def role_of(self, link: Link) -> str:
        """The Role the file gave the link's user (its Contact's USER item), "" when the item names another user or
        none (a portal user that existed before the stack has no known Role)."""
        item = self._ddb.get_item(
            TableName=self._directory,
            Key=user_key(link.contact_id),
            ConsistentRead=True,
            ProjectionExpression="UserId, #role",
            ExpressionAttributeNames={"#role": "Role"},
        ).get("Item", {})
        if item.get("UserId", {}).get("S") != link.user_id:
            return ""
        return str(item.get("Role", {}).get("S", ""))

    def _find_current(self, token_hash: str) -> Link | None:
        """The current link with this hash, by the table's index (tokens that do not name their Contact)."""
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
        return transact_if(self._ddb, TransactItems=actions, ClientRequestToken=hold)

    def renew(self, link: Link, token_hash: str, now: float) -> bool:
        """Takes the user's renewal window (docs/contracts.md §6): RenewedAt becomes now, the user's and its job's
        counts of renewals move, in one transaction; False when the user renewed less than RENEWAL_SECONDS ago (or
        activated meanwhile, or the link is not theirs any more)."""
        actions = [
            {
                "Update": {
                    "TableName": self._directory,
                    "Key": activation_key(link.contact_id),
                    "UpdateExpression": "SET RenewedAt = :now ADD Renewals :one",
                    "ConditionExpression": (
                        "attribute_not_exists(ActivatedAt) AND (TokenHash = :hash OR contains(IssuedHashes, :hash)) "
                        "AND (attribute_not_exists(RenewedAt) OR RenewedAt <= :since)"
                    ),
                    "ExpressionAttributeValues": {
                        ":now": {"N": repr(now)},
                        ":one": {"N": "1"},
                        ":hash": {"S": token_hash},
                        ":since": {"N": repr(now - RENEWAL_SECONDS)},
                    },
                }
            },
            *self._job_renewals(link, 1),
        ]
        return transact_if(self._ddb, TransactItems=actions)

    def unrenew(self, link: Link, now: float) -> None:
        """Gives the renewal window taken at `now` back: the new link could not be queued, so nothing was sent."""
        actions = [
            {
                "Update": {
                    "TableName": self._directory,
                    "Key": activation_key(link.contact_id),
                    "UpdateExpression": "REMOVE RenewedAt ADD Renewals :minus",
                    "ConditionExpression": "RenewedAt = :at",
                    "ExpressionAttributeValues": {":at": {"N": repr(now)}, ":minus": {"N": "-1"}},
                }
            },
            *self._job_renewals(link, -1),
        ]
        transact_if(self._ddb, TransactItems=actions)  # False: given back already

    def _job_renewals(self, link: Link, by: int) -> list[dict[str, Any]]:
        if not link.job_id:
            return []
        update = {
            "TableName": self._jobs,
            "Key": job_key(link.job_id),
            "UpdateExpression": "ADD LinksRenewed :by",
            "ExpressionAttributeValues": {":by": {"N": str(by)}},
        }
        return [{"Update": update}]


def _link(item: dict[str, Any], *, current: bool = True) -> Link:
    return Link(
        contact_id=contact_of(item),
        user_id=item.get("UserId", {}).get("S", ""),
        job_id=item.get("JobId", {}).get("S", ""),
        expires=float(item.get("ExpiresAtEpoch", {}).get("N", "0")),
        activated="ActivatedAt" in item,
        sent_to=item.get("SentTo", {}).get("S", ""),
        current=current,
        renewed_at=float(item["RenewedAt"]["N"]) if "RenewedAt" in item else None,
    )
