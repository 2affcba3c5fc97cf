"""The email ledger: for each recipient of an email request, whether it was reached.

A request is what a set of activation emails is for: the import's own emails (request = the job id) or one
`portal-import resend` (request = its id). A sender claims a recipient on the User's activation item (pk
CONTACT#<id>, sk ACTIVATION), writing the new link's hash there, before it sends to it; once SES answered it
settles the claim: sent or undelivered (refused for good) go onto its attempt's settlement item (jobs table,
pk `emails#<attempt>`, one per invocation), released claims (not sent; someone tries again) are cleared.

A claim is held until the claiming invocation's deadline, so no concurrent or later delivery sends to a recipient
while it is held; a claim whose holder settled it or died is taken over, and what the holder's settlement says of
it (sent for its request) is carried onto the activation item then. Settling, the next claims and the job's
email counters are one transaction, so every recipient is counted once and a call takes one write.

A claim holds only while the Contact's portal user (pk CONTACT#<id>, sk USER) is the user the batch names and was
created by the batch's job: a condition check in the claim's own transaction, so a message naming someone else's
user sends nothing. The claim records the address the email goes to (SentTo): the one activation verifies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.clients import client, error_code
from portal_import.aws.tables import (
    activation_key,
    attempt_of,
    batch_get,
    contact_of,
    job_key,
    settlement_key,
    user_key,
)
from portal_import.domain.claims import ClaimLost, ClaimRefused, Commit, EmailRecord, NewLink, Settlement, Standing

_TRANSACTION_LIMIT = 100
# A claim is two items of its transaction: the activation item's update and the check of the Contact's user item.
_ITEMS_PER_CLAIM = 2
_CLAIMS_PER_TRANSACTION = _TRANSACTION_LIMIT // _ITEMS_PER_CLAIM
# How often a claim held by another is looked at again within one commit before it is left as busy.
_TAKEOVER_ROUNDS = 4


def _epoch(moment: str) -> int:
    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp())


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
# The Contact's portal user (insert only, never changed) is the one claimed for, and the claiming job created it.
_THE_JOBS_USER = "UserId = :user AND JobId = :job"
_UNCLAIMED = "REMOVE ClaimedBy, ClaimFor, ClaimExpires"


class Ledger:
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
            ":lease": {"N": repr(lease_until)},
            ":job": {"S": job_id},
        }
        released = [c for c, how in step.settled.items() if how is Settlement.RELEASED]
        head: list[dict[str, Any]] = []
        if len(released) < len(step.settled):
            head.append(self._settlement(attempt, request, step.settled))
            counter = self._count(job_id, step.settled) if request == job_id else None
            head += [counter] if counter else []
        head += [self._release(c, values) for c in released]
        while len(head) > _TRANSACTION_LIMIT:  # never in practice: a call releases at most its own recipients
            self._transact_claiming(head[:_TRANSACTION_LIMIT], [], values, now)
            head = head[_TRANSACTION_LIMIT:]
        room = (_TRANSACTION_LIMIT - len(head)) // _ITEMS_PER_CLAIM
        refused = self._transact_claiming(head, step.claims[:room], values, now)
        for start in range(room, len(step.claims), _CLAIMS_PER_TRANSACTION):
            piece = step.claims[start : start + _CLAIMS_PER_TRANSACTION]
            refused.update(self._transact_claiming([], piece, values, now))
        return refused

    def _settlement(self, attempt: str, request: str, settled: dict[str, Settlement]) -> dict[str, Any]:
        """The attempt's settlement item gains the recipients sent and given up (at least one of either)."""
        values: dict[str, Any] = {":request": {"S": request}}
        adds = []
        for name, how in (("Sent", Settlement.SENT), ("Undelivered", Settlement.UNDELIVERED)):
            ids = sorted(c for c, settlement in settled.items() if settlement is how)
            if ids:
                values[f":{name}"] = {"SS": ids}
                adds.append(f"{name} :{name}")
        return {
            "Update": {
                "TableName": self._jobs,
                "Key": settlement_key(attempt),
                "UpdateExpression": f"SET Request = :request ADD {', '.join(adds)}",
                "ExpressionAttributeValues": values,
            }
        }

    def _release(self, contact_id: str, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._directory,
                "Key": activation_key(contact_id),
                "UpdateExpression": _UNCLAIMED,
                "ConditionExpression": "ClaimedBy = :attempt",
                "ExpressionAttributeValues": {":attempt": values[":attempt"]},
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
                "Key": job_key(job_id),
                "UpdateExpression": "ADD EmailsSent :sent, EmailsFailed :failed",
                "ExpressionAttributeValues": {":sent": {"N": str(sent)}, ":failed": {"N": str(failed)}},
            }
        }

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        if actions:
            # The same token on a retry of the same transaction: DynamoDB applies it once (a call that timed out
            # may have been carried out), so counters are not moved twice.
            token = hashlib.sha256(json.dumps(actions, sort_keys=True).encode()).hexdigest()[:36]
            self._ddb.transact_write_items(TransactItems=actions, ClientRequestToken=token)

    def _transact_claiming(
        self, fixed: list[dict[str, Any]], links: Sequence[NewLink], values: dict[str, Any], now: float
    ) -> dict[str, ClaimRefused]:
        """Writes `fixed` with every claim of `links` it can take: a claim held by another is looked at and taken
        over when its holder settled it or died; the others are refused. Returns those, by contact id."""
        by_contact = {link.contact_id: link for link in links}
        refused: dict[str, ClaimRefused] = {}
        takeovers: dict[str, EmailRecord] = {}
        request = values[":request"]["S"]
        for _ in range(_TAKEOVER_ROUNDS):
            pending = [c for c in by_contact if c not in refused]
            claims = partial(self._claims_with, fixed, by_contact, values, takeovers)
            failed = self._transact_what_holds(pending, claims)
            if not failed:
                return refused
            fixed = []  # written with the claims that held
            strangers = self.not_theirs(values[":job"]["S"], {c: by_contact[c].user_id for c in failed})
            refused.update(dict.fromkeys(strangers, ClaimRefused.NOT_THEIRS))
            failed = [c for c in failed if c not in strangers]
            records = self.records(failed)
            by_contact = {c: by_contact[c] for c in failed}
            for contact_id in failed:
                record = records.get(contact_id, EmailRecord())
                standing = record.standing(request, now)
                if standing is Standing.ACTIVATED:
                    refused[contact_id] = ClaimRefused.ACTIVATED
                elif standing in (Standing.SENT, Standing.UNDELIVERED):
                    refused[contact_id] = ClaimRefused.DONE
                elif standing is Standing.CLAIMED or takeovers.get(contact_id) == record:
                    refused[contact_id] = ClaimRefused.BUSY  # held by a live sender (or changing under us)
                else:
                    takeovers[contact_id] = record  # settled by its holder, or its holder died: take it over
            if all(c in refused for c in by_contact):
                return refused
        refused.update(dict.fromkeys((c for c in by_contact if c not in refused), ClaimRefused.BUSY))
        return refused

    def _claims_with(
        self,
        fixed: list[dict[str, Any]],
        links: dict[str, NewLink],
        values: dict[str, Any],
        takeovers: dict[str, EmailRecord],
        pending: list[str],
    ) -> list[tuple[str | None, dict[str, Any]]]:
        named: list[tuple[str | None, dict[str, Any]]] = [(None, action) for action in fixed]
        for c in pending:
            claim = self._claim_action(links[c], values, takeovers.get(c))
            named += [(c, claim), (c, self._user_check(links[c], values))]
        return named

    def _user_check(self, link: NewLink, values: dict[str, Any]) -> dict[str, Any]:
        """A claim holds only while the Contact's portal user is the link's user, created by the claiming job: a
        message naming another user, Contact or job sends nothing (docs/contracts.md §6, who may do what)."""
        return {
            "ConditionCheck": {
                "TableName": self._directory,
                "Key": user_key(link.contact_id),
                "ConditionExpression": _THE_JOBS_USER,
                "ExpressionAttributeValues": {":user": {"S": link.user_id}, ":job": values[":job"]},
            }
        }

    def not_theirs(self, job_id: str, users: dict[str, str]) -> set[str]:
        """Of these Contacts (contact id -> the user named for it), those whose portal user is another user, or
        was not created by `job_id`, or who have none."""
        found = {
            contact_of(item): item for item in self._batch_get(self._directory, [user_key(c) for c in sorted(users)])
        }
        return {
            contact_id
            for contact_id, user_id in users.items()
            if contact_id not in found
            or found[contact_id].get("UserId", {}).get("S") != user_id
            or found[contact_id].get("JobId", {}).get("S") != job_id
        }

    def _claim_action(self, link: NewLink, values: dict[str, Any], takeover: EmailRecord | None) -> dict[str, Any]:
        update = _LINK_AND_CLAIM
        claim_values = {
            ":contact": {"S": link.contact_id},
            ":user": {"S": link.user_id},
            ":hash": {"S": link.token_hash},
            ":expires": {"S": link.expires_at},
            ":epoch": {"N": str(_epoch(link.expires_at))},
            ":to": {"S": link.sent_to},
            **{name: values[name] for name in (":attempt", ":request", ":lease", ":job")},
        }
        if takeover is None:
            condition = f"{_OPEN} AND (attribute_not_exists(ClaimedBy) OR ClaimedBy = :attempt)"
        else:
            # Only as it was read: the holder's claim still there, what its settlement says carried over.
            condition = (
                f"{_OPEN} AND ClaimedBy = :holder"
                if takeover.holder
                else f"{_OPEN} AND attribute_not_exists(ClaimedBy)"
            )
            if takeover.holder:
                claim_values[":holder"] = {"S": takeover.holder}
            update += _carry(takeover, claim_values)
        return {
            "Update": {
                "TableName": self._directory,
                "Key": activation_key(link.contact_id),
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": claim_values,
            }
        }

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
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                codes = zip((owner for owner, _ in named), reasons, strict=False)
                refused = [owner for owner, code in codes if code == "ConditionalCheckFailed"]
                if None in refused:
                    raise ClaimLost("a claim this sender held was taken over by another") from error
                if not refused:
                    raise  # cancelled for another reason (a conflict, throttling): retried as transient
                failed += [owner for owner in refused if owner is not None]
                pending = [contact_id for contact_id in pending if contact_id not in failed]

    def mark_undelivered(self, *, job_id: str, request: str, recipients: Sequence[tuple[str, str]], now: float) -> int:
        """Recipients (contact id, user id) of a request whose retries are spent: each one neither reached nor
        held by a live sender is recorded and counted as undelivered, once. Returns how many this call counted;
        raises LookupError naming how many a live sender still holds (try again once its claim has run out)."""
        users = dict(recipients)
        records = self.records(users)
        open_ones: list[str] = []
        busy = 0
        for contact_id in users:
            standing = records.get(contact_id, EmailRecord()).standing(request, now)
            if standing is Standing.CLAIMED:
                busy += 1
            elif standing is Standing.NOT_REACHED:
                open_ones.append(contact_id)
        values = {":request": {"S": request}, ":requests": {"SS": [request]}}
        counted = 0
        for start in range(0, len(open_ones), _TRANSACTION_LIMIT - 1):
            piece = open_ones[start : start + _TRANSACTION_LIMIT - 1]

            def actions(pending: list[str]) -> list[tuple[str | None, dict[str, Any]]]:
                named: list[tuple[str | None, dict[str, Any]]] = [
                    (c, self._undelivered_action(c, users[c], records.get(c, EmailRecord()), values)) for c in pending
                ]
                settled = dict.fromkeys(pending, Settlement.UNDELIVERED)
                counter = self._count(job_id, settled) if request == job_id else None
                return [*named, (None, counter)] if counter and pending else named

            changed = self._transact_what_holds(piece, actions)
            counted += len(piece) - len(changed)
            busy += len(changed)  # changed since read: looked at again on the next delivery
        if busy:
            raise LookupError(f"{busy} recipient(s) are still held by a sender; try again once its claim ran out")
        return counted

    def _undelivered_action(
        self, contact_id: str, user_id: str, record: EmailRecord, values: dict[str, Any]
    ) -> dict[str, Any]:
        marked = {":contact": {"S": contact_id}, ":user": {"S": user_id}, ":request": values[":request"]}
        update = "SET ContactId = if_not_exists(ContactId, :contact), UserId = if_not_exists(UserId, :user)"
        if record.holder:  # a holder that died before it settled, or settled for another request
            marked[":holder"] = {"S": record.holder}
            condition = f"{_OPEN} AND ClaimedBy = :holder"
            update += _carry(record, marked, undelivered=values[":requests"]) + " " + _UNCLAIMED
        else:
            condition = f"{_OPEN} AND attribute_not_exists(ClaimedBy)"
            marked[":requests"] = values[":requests"]
            update += " ADD UndeliveredFor :requests"
        return {
            "Update": {
                "TableName": self._directory,
                "Key": activation_key(contact_id),
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": marked,
            }
        }

    def standings(self, request: str, contact_ids: Iterable[str], *, now: float) -> dict[str, Standing]:
        """Where each of these Contacts' Users stands in `request` (absent: no activation item at all)."""
        return {contact_id: record.standing(request, now) for contact_id, record in self.records(contact_ids).items()}

    def records(self, contact_ids: Iterable[str]) -> dict[str, EmailRecord]:
        """What the ledger holds on each of these Contacts' Users (absent: nothing yet)."""
        items = {
            contact_of(item): item
            for item in self._batch_get(self._directory, [activation_key(cid) for cid in sorted(set(contact_ids))])
        }
        holders = sorted({item["ClaimedBy"]["S"] for item in items.values() if "ClaimedBy" in item})
        settlements = {
            attempt_of(item): item
            for item in self._batch_get(self._jobs, [settlement_key(attempt) for attempt in holders])
        }
        return {contact_id: _record(item, settlements) for contact_id, item in items.items()}

    def _batch_get(self, table: str, keys: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        return batch_get(self._ddb, table, keys)


def _record(item: dict[str, Any], settlements: dict[str, dict[str, Any]]) -> EmailRecord:
    sent = set(item.get("SentFor", {}).get("SS", []))
    undelivered = set(item.get("UndeliveredFor", {}).get("SS", []))
    holder = item["ClaimedBy"]["S"] if "ClaimedBy" in item else None
    carried: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
    claim_expires = None
    if holder is not None:
        contact_id = contact_of(item)
        settlement = settlements.get(holder, {})
        held_for = item.get("ClaimFor", {}).get("S", "")
        if contact_id in settlement.get("Sent", {}).get("SS", []):
            carried = (frozenset({held_for}), frozenset())
        elif contact_id in settlement.get("Undelivered", {}).get("SS", []):
            carried = (frozenset(), frozenset({held_for}))
        else:
            claim_expires = float(item.get("ClaimExpires", {}).get("N", "0"))
    return EmailRecord(
        sent_for=frozenset(sent | carried[0]),
        undelivered_for=frozenset(undelivered | carried[1]),
        claim_expires=claim_expires,
        activated="ActivatedAt" in item,
        link_expires=float(item["ExpiresAtEpoch"]["N"]) if "ExpiresAtEpoch" in item else None,
        holder=holder,
        carried=carried,
    )


def _carry(record: EmailRecord, values: dict[str, Any], undelivered: dict[str, Any] | None = None) -> str:
    """The ADD clause that puts what the holder's settlement says onto the item (and `undelivered`, if given)."""
    sent_for, undelivered_for = record.carried
    adds: list[str] = []
    if sent_for:
        values[":carriedSent"] = {"SS": sorted(sent_for)}
        adds.append("SentFor :carriedSent")
    gave_up = set(undelivered_for) | (set(undelivered["SS"]) if undelivered else set())
    if gave_up:
        values[":carriedUndelivered"] = {"SS": sorted(gave_up)}
        adds.append("UndeliveredFor :carriedUndelivered")
    return f" ADD {', '.join(adds)}" if adds else ""
