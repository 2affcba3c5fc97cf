"""The email ledger's writes as DynamoDB transaction items, built from plain values: a sender's settlements and
the job's counters, its claims (each a new link on the activation item and the check of the Contact's USER item),
released claims, and recipients given up on. Nothing here talks to DynamoDB; portal_import.aws.ledger writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portal_import.aws.tables import activation_key, job_key, settlement_key, user_key
from portal_import.domain.claims import EmailRecord, NewLink, Settlement

Item = dict[str, Any]

TRANSACTION_LIMIT = 100
# A claim is two items of its transaction: the activation item's update and the check of the Contact's user item.
ITEMS_PER_CLAIM = 2
CLAIMS_PER_TRANSACTION = TRANSACTION_LIMIT // ITEMS_PER_CLAIM

# Neither reached nor given up in this request, and not activated.
_OPEN = (
    "(attribute_not_exists(SentFor) OR NOT contains(SentFor, :request)) "
    "AND (attribute_not_exists(UndeliveredFor) OR NOT contains(UndeliveredFor, :request)) "
    "AND attribute_not_exists(ActivatedAt)"
)
_LINK_AND_CLAIM = (
    # JobId: the job that created the User, whose count of users activated the activation page moves.
    "SET ContactId = :contact, UserId = :user, JobId = :job, TokenHash = :hash, ExpiresAt = :expires, "
    # The link's expiry in epoch seconds, as the activation page compares it (the table has no time to live: the
    # item keeps who was reached and who activated after its link ran out).
    "ExpiresAtEpoch = :epoch, ClaimedBy = :attempt, ClaimFor = :request, ClaimExpires = :lease, "
    # The address the link goes to: the one activation verifies, whatever the pool or the Contact says later.
    "SentTo = :to"
)
# Every link the user was ever sent, by hash: a replaced one may still ask for a new link (docs/contracts.md §6).
_ISSUED = "IssuedHashes :issued"
# The Contact's portal user (insert only, never changed) is the one claimed for, and the claiming job created it.
_THE_JOBS_USER = "UserId = :user AND JobId = :job"
_UNCLAIMED = "REMOVE ClaimedBy, ClaimFor, ClaimExpires"


@dataclass(frozen=True)
class JobCounter:
    """The job's email counters (jobs table), which move with the import's own settlements."""

    table: str
    job_id: str

    def item(self, *, sent: int, failed: int, at: str = "") -> Item:
        """The counters moved; with `at`, when the job's emails were last sent (the reputation guard's ramp)."""
        values: Item = {":sent": {"N": str(sent)}, ":failed": {"N": str(failed)}}
        expression = "ADD EmailsSent :sent, EmailsFailed :failed"
        if at and sent:
            expression += " SET EmailsSentAt = :at"
            values[":at"] = {"S": at}
        return _update(self.table, job_key(self.job_id), expression, values)


@dataclass(frozen=True)
class Transaction:
    """One all-or-nothing write. `own`: the sender's own items, each of which must hold (a release of a claim it no
    longer holds fails the write); `contacts`: each contact's items, which the ledger leaves out, with the contact,
    when one of their conditions does not hold; `failed_counter`: a job whose count of emails not delivered grows
    by one for each contact written."""

    own: tuple[Item, ...] = ()
    contacts: Mapping[str, tuple[Item, ...]] = field(default_factory=dict)
    failed_counter: JobCounter | None = None

    def items(self) -> list[tuple[str | None, Item]]:
        """The transaction's items, each with the contact it is for (None: one of the sender's own)."""
        named: list[tuple[str | None, Item]] = [(None, item) for item in self.own]
        named += [(contact_id, item) for contact_id, items in self.contacts.items() for item in items]
        if self.failed_counter is not None and self.contacts:
            named.append((None, self.failed_counter.item(sent=0, failed=len(self.contacts))))
        return named

    def without(self, contact_ids: Iterable[str]) -> Transaction:
        """The same transaction with these contacts left out."""
        left_out = set(contact_ids)
        kept = {c: items for c, items in self.contacts.items() if c not in left_out}
        return Transaction(own=self.own, contacts=kept, failed_counter=self.failed_counter)


@dataclass(frozen=True)
class LedgerItems:
    """Builds the items of one sender's (or one dead batch's) writes for one request of a job."""

    directory_table: str
    jobs_table: str
    job_id: str
    request: str  # the job id for the import's own emails, a resend's id otherwise
    attempt: str = ""  # the sending invocation, whose claims these are
    lease_until: float = 0.0  # when its claims run out
    at: str = ""  # when the write is made (ISO 8601)

    def settling(self, settled: Mapping[str, Settlement]) -> tuple[Item, ...]:
        """The sender's own items for what it settles: the recipients sent and given up on its settlement item,
        with the job's counters for the import's own emails, and its released claims cleared."""
        own: list[Item] = []
        sent = sorted(c for c, how in settled.items() if how is Settlement.SENT)
        undelivered = sorted(c for c, how in settled.items() if how is Settlement.UNDELIVERED)
        if sent or undelivered:
            own.append(self._settlement(sent, undelivered))
            if self.request == self.job_id:
                counter = JobCounter(self.jobs_table, self.job_id)
                own.append(counter.item(sent=len(sent), failed=len(undelivered), at=self.at))
        own += [self._release(c) for c, how in settled.items() if how is Settlement.RELEASED]
        return tuple(own)

    def claiming(
        self, own: Sequence[Item], links: Iterable[NewLink], takeovers: Mapping[str, EmailRecord]
    ) -> Transaction:
        """`own` with a claim of each link: taken over from the holder as `takeovers` read it, or a fresh one."""
        return Transaction(
            own=tuple(own),
            contacts={link.contact_id: self.claim(link, takeovers.get(link.contact_id)) for link in links},
        )

    def claim(self, link: NewLink, takeover: EmailRecord | None = None) -> tuple[Item, Item]:
        """The new link on the activation item, held by this attempt until its lease ends, and the check that the
        Contact's portal user is the link's user, created by the claiming job: a message naming another user,
        Contact or job sends nothing (docs/contracts.md §6, who may do what)."""
        values = {
            ":contact": {"S": link.contact_id},
            ":user": {"S": link.user_id},
            ":job": {"S": self.job_id},
            ":hash": {"S": link.token_hash},
            ":expires": {"S": link.expires_at},
            ":epoch": {"N": str(_epoch(link.expires_at))},
            ":to": {"S": link.sent_to},
            ":attempt": {"S": self.attempt},
            ":request": {"S": self.request},
            ":lease": {"N": repr(self.lease_until)},
            ":issued": {"SS": [link.token_hash]},
        }
        if takeover is None:
            condition, update = (
                f"{_OPEN} AND (attribute_not_exists(ClaimedBy) OR ClaimedBy = :attempt)",
                f" ADD {_ISSUED}",
            )
        else:
            # Only as it was read: the holder's claim still there, what its settlement says carried over.
            condition = _held_as_read(takeover)
            update, carried = _carried(takeover, also=_ISSUED)
            values |= carried | _holder(takeover)
        check = {
            "ConditionCheck": {
                "TableName": self.directory_table,
                "Key": user_key(link.contact_id),
                "ConditionExpression": _THE_JOBS_USER,
                "ExpressionAttributeValues": {":user": {"S": link.user_id}, ":job": {"S": self.job_id}},
            }
        }
        key = activation_key(link.contact_id)
        return _update(self.directory_table, key, _LINK_AND_CLAIM + update, values, condition), check

    def marking_undelivered(self, recipients: Mapping[str, tuple[str, EmailRecord]]) -> Transaction:
        """Each recipient (contact id -> its user, its record as read) recorded as not delivered in the request,
        unless it changed since it was read; the import's own count the job's emails not delivered."""
        counter = JobCounter(self.jobs_table, self.job_id) if self.request == self.job_id else None
        return Transaction(
            contacts={c: (self._undelivered(c, user_id, record),) for c, (user_id, record) in recipients.items()},
            failed_counter=counter,
        )

    def _settlement(self, sent: list[str], undelivered: list[str]) -> Item:
        """The attempt's settlement item gains the recipients sent and given up (at least one of either)."""
        values: Item = {":request": {"S": self.request}}
        adds = []
        for name, ids in (("Sent", sent), ("Undelivered", undelivered)):
            if ids:
                values[f":{name}"] = {"SS": ids}
                adds.append(f"{name} :{name}")
        expression = f"SET Request = :request ADD {', '.join(adds)}"
        return _update(self.jobs_table, settlement_key(self.attempt), expression, values)

    def _release(self, contact_id: str) -> Item:
        values = {":attempt": {"S": self.attempt}}
        return _update(self.directory_table, activation_key(contact_id), _UNCLAIMED, values, "ClaimedBy = :attempt")

    def _undelivered(self, contact_id: str, user_id: str, record: EmailRecord) -> Item:
        values: Item = {":contact": {"S": contact_id}, ":user": {"S": user_id}, ":request": {"S": self.request}}
        update = "SET ContactId = if_not_exists(ContactId, :contact), UserId = if_not_exists(UserId, :user)"
        if record.holder:  # a holder that died before it settled, or settled for another request
            carry, carried = _carried(record, undelivered=self.request)
            update += f"{carry} {_UNCLAIMED}"
            values |= carried | _holder(record)
        else:
            update += " ADD UndeliveredFor :requests"
            values[":requests"] = {"SS": [self.request]}
        key = activation_key(contact_id)
        return _update(self.directory_table, key, update, values, _held_as_read(record))


def pieces(own: Sequence[Item], links: Sequence[NewLink]) -> Iterator[tuple[Sequence[Item], Sequence[NewLink]]]:
    """`own` and `links` as transactions' worth: as many claims as fit beside the sender's own items, then the
    other claims CLAIMS_PER_TRANSACTION at a time."""
    while len(own) > TRANSACTION_LIMIT:  # never in practice: a call releases at most its own recipients
        yield own[:TRANSACTION_LIMIT], []
        own = own[TRANSACTION_LIMIT:]
    room = (TRANSACTION_LIMIT - len(own)) // ITEMS_PER_CLAIM
    yield own, links[:room]
    for start in range(room, len(links), CLAIMS_PER_TRANSACTION):
        yield [], links[start : start + CLAIMS_PER_TRANSACTION]


def _update(table: str, key: Item, expression: str, values: Item, condition: str | None = None) -> Item:
    update: Item = {"TableName": table, "Key": key, "UpdateExpression": expression}
    if condition is not None:
        update["ConditionExpression"] = condition
    update["ExpressionAttributeValues"] = values
    return {"Update": update}


def _held_as_read(record: EmailRecord) -> str:
    """Open in the request, and held by the holder it was read with (or by none)."""
    return f"{_OPEN} AND ClaimedBy = :holder" if record.holder else f"{_OPEN} AND attribute_not_exists(ClaimedBy)"


def _holder(record: EmailRecord) -> Item:
    return {":holder": {"S": record.holder}} if record.holder else {}


def _carried(record: EmailRecord, *, undelivered: str | None = None, also: str = "") -> tuple[str, Item]:
    """The ADD clause, and its values, that put what the holder's settlement says onto the item (and the request
    `undelivered` as given up on, if named; and `also`, another ADD action of the same write)."""
    sent_for, undelivered_for = record.carried
    adds: list[str] = [also] if also else []
    values: Item = {}
    if sent_for:
        values[":carriedSent"] = {"SS": sorted(sent_for)}
        adds.append("SentFor :carriedSent")
    gave_up = set(undelivered_for) | ({undelivered} if undelivered else set())
    if gave_up:
        values[":carriedUndelivered"] = {"SS": sorted(gave_up)}
        adds.append("UndeliveredFor :carriedUndelivered")
    return (f" ADD {', '.join(adds)}" if adds else ""), values


def _epoch(moment: str) -> int:
    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp())
