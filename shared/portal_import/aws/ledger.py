"""The email ledger: for each recipient of an email request, whether it was reached, kept on the User's activation
item (pk CONTACT#<id>, sk ACTIVATION) beside the current link.

A request is what a set of activation emails is for: the import's own emails (request = the job id) or one
`portal-import resend` (request = its id). A sender claims a recipient (writing the new link's hash) before it
sends to it, and settles the claim once SES answered: sent, undelivered (refused for good), or released (not
sent, someone tries again). A claim is held until the claiming invocation's deadline, so a concurrent or later
delivery of the same recipient never sends while it is held, and takes over a claim whose holder died. Settling
and counting happen in one transaction with the job's email counters, so every recipient is counted once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.clients import client

_TRANSACTION_LIMIT = 100
_BATCH_GET_LIMIT = 100


class Settlement(Enum):
    SENT = "sent"
    UNDELIVERED = "undelivered"
    RELEASED = "released"


class Standing(Enum):
    """Where a recipient stands in one request, as the ledger knows it."""

    NOT_REACHED = "not reached"  # never claimed, or released: no email of this request went out
    CLAIMED = "claimed"  # a sender holds it; an email may be on its way
    SENT = "sent"
    UNDELIVERED = "undelivered"
    ACTIVATED = "activated"  # the User set a password: never sent a link again


@dataclass(frozen=True)
class NewLink:
    """A claim: the recipient's new link, stored before the email that carries it is sent."""

    contact_id: str
    user_id: str
    token_hash: str
    expires_at: str


@dataclass
class Commit:
    """One step of a sender: claims to take and earlier claims to settle (contact ids)."""

    claims: list[NewLink] = field(default_factory=list)
    settled: dict[str, Settlement] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.claims or self.settled)


class ClaimLost(RuntimeError):
    """A claim this sender held was settled or taken by another: it is not this sender's to settle any more."""


class ClaimRefused(Enum):
    DONE = "done"  # already sent or undelivered in this request: counted by whoever settled it
    BUSY = "busy"  # another live sender holds it
    ACTIVATED = "activated"


@dataclass(frozen=True)
class EmailRecord:
    """A User's activation item as the ledger reads it: the requests that reached it or gave up, any claim."""

    sent_for: frozenset[str] = frozenset()
    undelivered_for: frozenset[str] = frozenset()
    claim_expires: float | None = None  # the end of the claim a sender holds, if one does
    activated: bool = False

    def standing(self, request: str, now: float) -> Standing:
        if self.activated:
            return Standing.ACTIVATED
        if request in self.sent_for:
            return Standing.SENT
        if request in self.undelivered_for:
            return Standing.UNDELIVERED
        if self.claim_expires is not None and self.claim_expires >= now:
            return Standing.CLAIMED
        return Standing.NOT_REACHED


def _key(contact_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CONTACT#{contact_id}"}, "sk": {"S": "ACTIVATION"}}


def _epoch(moment: str) -> int:
    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp())


# A recipient of this request is open to a claim while it is not settled, not activated, and held by nobody
# alive (or by this very attempt).
_CLAIMABLE = (
    "(attribute_not_exists(SentFor) OR NOT contains(SentFor, :request)) "
    "AND (attribute_not_exists(UndeliveredFor) OR NOT contains(UndeliveredFor, :request)) "
    "AND attribute_not_exists(ActivatedAt) "
    "AND (attribute_not_exists(ClaimedBy) OR ClaimedBy = :attempt OR ClaimExpires < :now)"
)
_HELD = "ClaimedBy = :attempt AND ClaimFor = :request"
_SETTLE = {
    Settlement.SENT: "SET SentAt = :now ADD SentFor :requests REMOVE ClaimedBy, ClaimFor, ClaimExpires",
    Settlement.UNDELIVERED: "ADD UndeliveredFor :requests REMOVE ClaimedBy, ClaimFor, ClaimExpires",
    Settlement.RELEASED: "REMOVE ClaimedBy, ClaimFor, ClaimExpires",
}
_SETTLE_VALUES = {
    Settlement.SENT: (":now", ":requests", ":attempt", ":request"),
    Settlement.UNDELIVERED: (":requests", ":attempt", ":request"),
    Settlement.RELEASED: (":attempt", ":request"),
}


class EmailLedger:
    def __init__(self, directory_table: str, jobs_table: str) -> None:
        self._directory = directory_table
        self._jobs = jobs_table
        self._ddb = client("dynamodb")

    def commit(
        self, step: Commit, *, job_id: str, request: str, attempt: str, lease_until: float, now: float
    ) -> dict[str, ClaimRefused]:
        """Settles, then claims, in as few transactions as fit; the import's settlements move the job's counters
        in the same transaction. Returns the claims refused, by contact id (the others are held now)."""
        values = {
            ":request": {"S": request},
            ":requests": {"SS": [request]},
            ":attempt": {"S": attempt},
            ":now": {"N": repr(now)},
        }
        values[":lease"] = {"N": repr(lease_until)}
        settled = list(step.settled.items())
        claims = list(step.claims)
        refused: dict[str, ClaimRefused] = {}
        while settled or claims:
            # Settlements first (with their counter), then claims in what room the transaction has left.
            piece, settled = dict(settled[: _TRANSACTION_LIMIT - 1]), settled[_TRANSACTION_LIMIT - 1 :]
            counter = self._count(job_id, piece) if request == job_id else None
            fixed = [self._settle(contact_id, how, values) for contact_id, how in piece.items()]
            fixed += [counter] if counter else []
            room = 0 if settled else _TRANSACTION_LIMIT - len(fixed)
            links, claims = claims[:room], claims[room:]
            refused.update(self._transact_claiming(fixed, links, values, now))
        return refused

    def _settle(self, contact_id: str, how: Settlement, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._directory,
                "Key": _key(contact_id),
                "UpdateExpression": _SETTLE[how],
                "ConditionExpression": _HELD,
                # DynamoDB refuses values the expressions do not use.
                "ExpressionAttributeValues": {name: values[name] for name in _SETTLE_VALUES[how]},
            }
        }

    def _count(self, job_id: str, settled: dict[str, Settlement]) -> dict[str, Any] | None:
        sent = sum(1 for how in settled.values() if how is Settlement.SENT)
        failed = sum(1 for how in settled.values() if how is Settlement.UNDELIVERED)
        if not sent and not failed:
            return None
        return {
            "Update": {
                "TableName": self._jobs,
                "Key": {"pk": {"S": job_id}},
                "UpdateExpression": "ADD EmailsSent :sent, EmailsFailed :failed",
                "ExpressionAttributeValues": {":sent": {"N": str(sent)}, ":failed": {"N": str(failed)}},
            }
        }

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        if actions:
            self._ddb.transact_write_items(TransactItems=actions)

    def _transact_claiming(
        self, fixed: list[dict[str, Any]], links: Sequence[NewLink], values: dict[str, Any], now: float
    ) -> dict[str, ClaimRefused]:
        """Writes `fixed` with every claim of `links` it can take. Returns the claims refused, by contact id."""
        by_contact = {link.contact_id: link for link in links}
        failed = self._transact_what_holds(
            list(by_contact),
            lambda pending: (
                [(None, action) for action in fixed]
                + [(contact_id, self._claim_action(by_contact[contact_id], values)) for contact_id in pending]
            ),
        )
        standing = self.standings(values[":request"]["S"], failed, now=now) if failed else {}
        return {contact_id: _refusal(standing.get(contact_id, Standing.NOT_REACHED)) for contact_id in failed}

    def _transact_what_holds(
        self, contact_ids: list[str], actions: Callable[[list[str]], list[tuple[str | None, dict[str, Any]]]]
    ) -> list[str]:
        """One transaction of `actions(pending)`, each named by the contact it is for (None: not one's own);
        when some contacts' conditions do not hold it is tried again without them. Returns those contacts."""
        failed: list[str] = []
        pending = list(contact_ids)
        while True:
            named = actions(pending)
            try:
                self._transact([action for _, action in named])
                return failed
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                refused = [
                    owner for (owner, _), code in zip(named, reasons, strict=False) if code == "ConditionalCheckFailed"
                ]
                if None in refused:
                    raise ClaimLost("a claim this sender held was taken over by another") from error
                if not refused:
                    raise  # cancelled for another reason (a conflict, throttling): retried as transient
                failed += [owner for owner in refused if owner is not None]
                pending = [contact_id for contact_id in pending if contact_id not in failed]

    def _claim_action(self, link: NewLink, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._directory,
                "Key": _key(link.contact_id),
                "UpdateExpression": (
                    "SET ContactId = :contact, UserId = :user, TokenHash = :hash, ExpiresAt = :expires, "
                    # The table's time-to-live attribute: DynamoDB deletes the link once it expired.
                    "ExpiresAtEpoch = :epoch, ClaimedBy = :attempt, ClaimFor = :request, ClaimExpires = :lease"
                ),
                "ConditionExpression": _CLAIMABLE,
                "ExpressionAttributeValues": {
                    ":contact": {"S": link.contact_id},
                    ":user": {"S": link.user_id},
                    ":hash": {"S": link.token_hash},
                    ":expires": {"S": link.expires_at},
                    ":epoch": {"N": str(_epoch(link.expires_at))},
                    **{name: values[name] for name in (":attempt", ":request", ":lease", ":now")},
                },
            }
        }

    def mark_undelivered(self, *, job_id: str, request: str, recipients: Sequence[tuple[str, str]], now: float) -> int:
        """Recipients (contact id, user id) of a request whose retries are spent: each one neither settled nor
        held by a live sender is recorded and counted as undelivered, once. Returns how many this call counted;
        raises LookupError naming how many a live sender still holds (try again once its claim has run out)."""
        values = {":request": {"S": request}, ":requests": {"SS": [request]}, ":now": {"N": repr(now)}}
        users = dict(recipients)
        contact_ids = list(users)
        counted = busy = 0
        for start in range(0, len(contact_ids), _TRANSACTION_LIMIT - 1):
            piece = contact_ids[start : start + _TRANSACTION_LIMIT - 1]

            def actions(pending: list[str]) -> list[tuple[str | None, dict[str, Any]]]:
                named: list[tuple[str | None, dict[str, Any]]] = [
                    (contact_id, self._undelivered_action(contact_id, users[contact_id], values))
                    for contact_id in pending
                ]
                counter = (
                    self._count(job_id, dict.fromkeys(pending, Settlement.UNDELIVERED)) if request == job_id else None
                )
                return [*named, (None, counter)] if counter and pending else named

            failed = self._transact_what_holds(piece, actions)
            counted += len(piece) - len(failed)
            standing = self.standings(request, failed, now=now) if failed else {}
            busy += sum(1 for c in failed if standing.get(c) in (Standing.CLAIMED, Standing.NOT_REACHED))
        if busy:
            raise LookupError(f"{busy} recipient(s) are still held by a sender; try again once its claim ran out")
        return counted

    def _undelivered_action(self, contact_id: str, user_id: str, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._directory,
                "Key": _key(contact_id),
                "UpdateExpression": (
                    "SET ContactId = if_not_exists(ContactId, :contact), UserId = if_not_exists(UserId, :user) "
                    "ADD UndeliveredFor :requests"
                ),
                "ConditionExpression": (
                    "(attribute_not_exists(SentFor) OR NOT contains(SentFor, :request)) "
                    "AND (attribute_not_exists(UndeliveredFor) OR NOT contains(UndeliveredFor, :request)) "
                    "AND (attribute_not_exists(ClaimedBy) OR ClaimExpires < :now)"
                ),
                "ExpressionAttributeValues": {
                    ":contact": {"S": contact_id},
                    ":user": {"S": user_id},
                    **values,
                },
            }
        }

    def standings(self, request: str, contact_ids: Iterable[str], *, now: float) -> dict[str, Standing]:
        """Where each of these Contacts' Users stands in `request` (absent: no activation item at all)."""
        return {contact_id: record.standing(request, now) for contact_id, record in self.records(contact_ids).items()}

    def records(self, contact_ids: Iterable[str]) -> dict[str, EmailRecord]:
        """What the ledger holds on each of these Contacts' Users (absent: nothing yet)."""
        found: dict[str, EmailRecord] = {}
        for item in self._batch_get([_key(cid) for cid in sorted(set(contact_ids))]):
            found[item["pk"]["S"].removeprefix("CONTACT#")] = EmailRecord(
                sent_for=frozenset(item.get("SentFor", {}).get("SS", [])),
                undelivered_for=frozenset(item.get("UndeliveredFor", {}).get("SS", [])),
                claim_expires=float(item["ClaimExpires"]["N"]) if "ClaimedBy" in item else None,
                activated="ActivatedAt" in item,
            )
        return found

    def _batch_get(self, keys: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self._directory: {"Keys": list(keys[start : start + _BATCH_GET_LIMIT]), "ConsistentRead": True}
            }
            while request:
                response = self._ddb.batch_get_item(RequestItems=request)
                yield from response.get("Responses", {}).get(self._directory, [])
                request = response.get("UnprocessedKeys") or {}


def _refusal(standing: Standing) -> ClaimRefused:
    if standing is Standing.ACTIVATED:
        return ClaimRefused.ACTIVATED
    if standing in (Standing.SENT, Standing.UNDELIVERED):
        return ClaimRefused.DONE
    return ClaimRefused.BUSY  # held by a live sender (or freed a moment ago: its holder requeued it)
