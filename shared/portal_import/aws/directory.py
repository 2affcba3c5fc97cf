"""The directory table: Contacts (findable by Salesforce ID), Roles with an active flag, and portal Users.

Items: Contact (pk CONTACT#<id>, sk CONTACT), its Salesforce alias (pk SALESFORCE#<18-char id>, sk CONTACT),
its portal User (pk CONTACT#<id>, sk USER: at most one per Contact, ever, and never changed once written), the
User's current activation link (pk CONTACT#<id>, sk ACTIVATION: the token's hash and expiry, replaced by each new
link; written by the email ledger, portal_import.aws.ledger, which keeps there who was reached), and Roles
(pk ROLE, sk <name>).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.clients import client, error_code
from portal_import.aws.tables import activation_key, alias_key, batch_get, contact_key, user_key
from portal_import.domain.ids import ContactRef
from portal_import.domain.people import Activation, Contact, CreateResult, PortalUser

_TRANSACTION_LIMIT = 100
_BATCH_WRITE_LIMIT = 25


def _s(item: dict[str, Any], name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def _user_from_item(item: dict[str, Any]) -> PortalUser:
    return PortalUser(
        contact_id=_s(item, "ContactId"),
        user_id=_s(item, "UserId"),
        role=_s(item, "Role"),
        job_id=_s(item, "JobId"),
        row=int(item.get("RowNumber", {}).get("N", "0")),
        created_at=_s(item, "CreatedAt"),
    )


def _user_item(user: PortalUser) -> dict[str, Any]:
    item: dict[str, Any] = {
        **user_key(user.contact_id),
        "ContactId": {"S": user.contact_id},
        "UserId": {"S": user.user_id},
        "Role": {"S": user.role},
        "CreatedAt": {"S": user.created_at},
    }
    if user.job_id:
        item["JobId"] = {"S": user.job_id}
        item["RowNumber"] = {"N": str(user.row)}
    return item


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Directory:
    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")

    # Reads

    def active_roles(self) -> dict[str, bool]:
        """Every Role by name with its active flag, read once when a job starts."""
        roles: dict[str, bool] = {}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :role",
            "ExpressionAttributeValues": {":role": {"S": "ROLE"}},
            "ConsistentRead": True,
        }
        while True:
            page = self._ddb.query(**kwargs)
            for item in page.get("Items", []):
                roles[item["sk"]["S"]] = bool(item.get("Active", {}).get("BOOL", False))
            if "LastEvaluatedKey" not in page:
                return roles
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def resolve(self, refs: Iterable[ContactRef]) -> dict[str, Contact]:
        """Contacts by ref.key for the refs that name an existing Contact (others are absent)."""
        refs = [ref for ref in refs if ref.kind != "invalid"]
        aliases = {ref.key for ref in refs if ref.kind == "salesforce"}
        contact_of_alias: dict[str, str] = {}
        for item in self._batch_get([alias_key(sf) for sf in sorted(aliases)]):
            contact_of_alias[item["pk"]["S"].removeprefix("SALESFORCE#")] = _s(item, "ContactId")
        wanted = {ref.key for ref in refs if ref.kind == "contact"} | set(contact_of_alias.values())
        contacts = {
            _s(item, "ContactId"): Contact(
                contact_id=_s(item, "ContactId"),
                salesforce_id=_s(item, "SalesforceId"),
                email=_s(item, "Email"),
                first_name=_s(item, "FirstName"),
                last_name=_s(item, "LastName"),
            )
            for item in self._batch_get([contact_key(cid) for cid in sorted(wanted)])
        }
        resolved: dict[str, Contact] = {}
        for ref in refs:
            contact_id = contact_of_alias.get(ref.key, "") if ref.kind == "salesforce" else ref.key
            if contact_id in contacts:
                resolved[ref.key] = contacts[contact_id]
        return resolved

    def contacts(self, contact_ids: Iterable[str]) -> dict[str, Contact]:
        """The Contacts of these 19-character IDs that exist, by ID."""
        return self.resolve(ContactRef("contact", contact_id, "") for contact_id in set(contact_ids))

    def existing_users(self, contact_ids: Iterable[str]) -> dict[str, PortalUser]:
        keys = [user_key(cid) for cid in sorted(set(contact_ids))]
        return {user.contact_id: user for user in map(_user_from_item, self._batch_get(keys))}

    def _batch_get(self, keys: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        return batch_get(self._ddb, self._table, keys)

    # Writes

    def create_users(self, users: Sequence[PortalUser]) -> CreateResult:
        """Creates each user unless its Contact already has one (insert only, conditional on the item)."""
        created: list[PortalUser] = []
        existing: dict[str, PortalUser] = {}
        for chunk in _chunks(users, _TRANSACTION_LIMIT):
            pending = list(chunk)
            while pending:
                refused = self._put_users(pending)
                if not refused:
                    created.extend(pending)
                    break
                existing.update(refused)
                pending = [user for user in pending if user.contact_id not in refused]
        return CreateResult(created=created, existing=existing)

    def _put_users(self, users: Sequence[PortalUser]) -> dict[str, PortalUser]:
        """Writes all or none; returns the users already there when a condition refused the transaction."""
        actions = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _user_item(user),
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for user in users
        ]
        try:
            self._ddb.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            refused = {
                user.contact_id: _user_from_item(dict(reason.get("Item") or {}))
                for user, reason in zip(users, reasons, strict=False)
                if reason.get("Code") == "ConditionalCheckFailed"
            }
            if not refused:
                raise  # neither a condition nor passing (a conflict or throttling arrives as Transient): it fails
            missing = [cid for cid, user in refused.items() if not user.user_id]
            if missing:  # the old item was not returned: read it
                refused.update(self.existing_users(missing))
            return refused
        return {}

    def activations(self, contact_ids: Iterable[str]) -> dict[str, Activation]:
        """The current link of each of these Contacts' Users that has one."""
        keys = [activation_key(cid) for cid in sorted(set(contact_ids))]
        return {
            _s(item, "ContactId"): Activation(
                contact_id=_s(item, "ContactId"),
                user_id=_s(item, "UserId"),
                token_hash=_s(item, "TokenHash"),
                expires_at=_s(item, "ExpiresAt"),
            )
            for item in self._batch_get(keys)
        }

    # Seeding (local runtime, `directory load`)

    def put_roles(self, roles: dict[str, bool]) -> None:
        self._batch_write(
            [
                {"pk": {"S": "ROLE"}, "sk": {"S": name}, "Name": {"S": name}, "Active": {"BOOL": active}}
                for name, active in roles.items()
            ]
        )

    def put_contacts(self, contacts: Iterable[Contact]) -> None:
        items: list[dict[str, Any]] = []
        for contact in contacts:
            items.append(
                {
                    **contact_key(contact.contact_id),
                    "ContactId": {"S": contact.contact_id},
                    "SalesforceId": {"S": contact.salesforce_id},
                    "Email": {"S": contact.email},
                    "FirstName": {"S": contact.first_name},
                    "LastName": {"S": contact.last_name},
                }
            )
            if contact.salesforce_id:
                items.append({**alias_key(contact.salesforce_id), "ContactId": {"S": contact.contact_id}})
        self._batch_write(items)

    def put_users(self, users: Iterable[PortalUser]) -> None:
        self._batch_write([_user_item(user) for user in users])

    def _batch_write(self, items: Sequence[dict[str, Any]]) -> None:
        for chunk in _chunks(items, _BATCH_WRITE_LIMIT):
            request: dict[str, Any] = {self._table: [{"PutRequest": {"Item": item}} for item in chunk]}
            attempt = 0
            while request:
                response = self._ddb.batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if request:
                    attempt += 1
                    time.sleep(min(0.05 * 2**attempt, 2.0))
