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

The transactions' items are built by portal_import.aws.ledger_items; here they are written, and claims that do not
hold are looked at and taken over or refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.clients import client, error_code
from portal_import.aws.deliveries import recorded_of
from portal_import.aws.ledger_items import TRANSACTION_LIMIT, Item, LedgerItems, Transaction, pieces
from portal_import.aws.tables import activation_key, attempt_of, batch_get, contact_of, settlement_key, user_key
from portal_import.domain.claims import ClaimLost, ClaimRefused, Commit, EmailRecord, NewLink, Standing
from portal_import.domain.times import iso
from portal_import.errors import SettledThenFailed, Transient

# How often a claim held by another is looked at again within one commit before it is left as busy.
_TAKEOVER_ROUNDS = 4
# A transaction item's cancellation reason when its own condition did not hold.
_FAILED = "ConditionalCheckFailed"


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
        items = LedgerItems(
            self._directory,
            self._jobs,
            job_id=job_id,
            request=request,
            attempt=attempt,
            lease_until=lease_until,
            at=iso(datetime.fromtimestamp(now, UTC)),
        )
        refused: dict[str, ClaimRefused] = {}
        written = False  # the first transaction holds the settlements: once it is written they are never again
        for own, links in pieces(items.settling(step.settled), step.claims):
            try:
                refused |= self._claim(items, own, links, now)
            except Transient as error:
                if written and not isinstance(error, SettledThenFailed):
                    raise SettledThenFailed(f"claims not written after the settlements were: {error}") from error
                raise
            written = True
        return refused

    def _claim(
        self, items: LedgerItems, own: Sequence[Item], links: Sequence[NewLink], now: float
    ) -> dict[str, ClaimRefused]:
        """Writes `own` with every claim of `links` it can take: a claim held by another is looked at and taken
        over when its holder settled it or died; the others are refused. Returns those, by contact id."""
        pending = {link.contact_id: link for link in links}
        takeovers: dict[str, EmailRecord] = {}  # as each was read when its claim did not hold
        refused: dict[str, ClaimRefused] = {}
        wrote_own = False  # the sender's own items (its settlements) are written: never to be written again
        for _ in range(_TAKEOVER_ROUNDS):
            try:
                lost = self._write_what_holds(items.claiming(own, pending.values(), takeovers))
                wrote_own, own = wrote_own or bool(own), ()  # written, with the claims that held
                if not lost:
                    return refused
                refused |= self._look_again(items, pending, lost, takeovers, now)
            except Transient as error:
                if not wrote_own or isinstance(error, SettledThenFailed):
                    raise
                raise SettledThenFailed(f"claims not written after the sender's own items were: {error}") from error
            if not pending:
                return refused
        return refused | dict.fromkeys(pending, ClaimRefused.BUSY)

    def _look_again(
        self,
        items: LedgerItems,
        pending: dict[str, NewLink],
        lost: list[str],
        takeovers: dict[str, EmailRecord],
        now: float,
    ) -> dict[str, ClaimRefused]:
        """The claims that did not hold, read: those to take over stay in `pending` (with `takeovers` as read),
        the others are refused (returned), and `pending` keeps only the ones to try again."""
        refused: dict[str, ClaimRefused] = {}
        strangers = self.not_theirs(items.job_id, {c: pending[c].user_id for c in lost})
        refused |= dict.fromkeys(strangers, ClaimRefused.NOT_THEIRS)
        records = self.records(c for c in lost if c not in strangers)
        for contact_id in [c for c in pending if c not in lost or c in strangers]:
            del pending[contact_id]  # held now, or not theirs
        for contact_id in list(pending):
            record = records.get(contact_id, EmailRecord())
            why = record.refusal(items.request, now, tried=takeovers.get(contact_id))
            if why is None:
                takeovers[contact_id] = record  # settled by its holder, or its holder died: take it over
            else:
                refused[contact_id] = why
                del pending[contact_id]
        return refused

    def _write_what_holds(self, transaction: Transaction) -> list[str]:
        """Writes the transaction; while some contacts' conditions do not hold, writes it again without them.
        Returns those contacts. Raises ClaimLost when one of the sender's own items does not hold."""
        left_out: list[str] = []
        while True:
            named = transaction.items()
            try:
                self._transact([item for _, item in named])
                return left_out
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                failed = [owner for (owner, _), code in zip(named, reasons, strict=False) if code == _FAILED]
                if None in failed:
                    raise ClaimLost("a claim this sender held was taken over by another") from error
                if not failed:
                    raise  # cancelled for a reason that is neither a condition nor passing (those arrive as Transient)
                contacts = [owner for owner in dict.fromkeys(failed) if owner is not None]
                left_out += contacts
                transaction = transaction.without(contacts)

    def _transact(self, actions: list[Item]) -> None:
        if actions:
            # The same token on a retry of the same transaction: DynamoDB applies it once (a call that timed out
            # may have been carried out), so counters are not moved twice.
            token = hashlib.sha256(json.dumps(actions, sort_keys=True).encode()).hexdigest()[:36]
            self._ddb.transact_write_items(TransactItems=actions, ClientRequestToken=token)

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

    def mark_undelivered(self, *, job_id: str, request: str, recipients: Sequence[tuple[str, str]], now: float) -> int:
        """Recipients (contact id, user id) of a request whose retries are spent: each one neither reached nor
        held by a live sender is recorded and counted as undelivered, once. Returns how many this call counted;
        raises LookupError naming how many a live sender still holds (try again once its claim has run out)."""
        users = dict(recipients)
        records = self.records(users)
        standings = {c: records.get(c, EmailRecord()).standing(request, now) for c in users}
        busy = sum(1 for standing in standings.values() if standing is Standing.CLAIMED)
        open_ones = [c for c, standing in standings.items() if standing is Standing.NOT_REACHED]
        items = LedgerItems(self._directory, self._jobs, job_id=job_id, request=request)
        counted = 0
        size = TRANSACTION_LIMIT - 1  # recipients a transaction, beside the job's counter
        for start in range(0, len(open_ones), size):
            piece = {c: (users[c], records.get(c, EmailRecord())) for c in open_ones[start : start + size]}
            changed = self._write_what_holds(items.marking_undelivered(piece))
            counted += len(piece) - len(changed)
            busy += len(changed)  # changed since read: looked at again on the next delivery
        if busy:
            raise LookupError(f"{busy} recipient(s) are still held by a sender; try again once its claim ran out")
        return counted

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
        delivery=recorded_of(item),
        renewals=int(item.get("Renewals", {}).get("N", "0")),
    )
