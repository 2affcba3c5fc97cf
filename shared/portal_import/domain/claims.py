"""The email ledger's terms: a sender's claims on the recipients of an email request, how it settles them, and
where a recipient stands (what the email sender, `resend` and `users` read; portal_import.aws.ledger keeps them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from portal_import.domain.delivery import PENDING, Recorded


class Settlement(Enum):
    SENT = "sent"
    UNDELIVERED = "undelivered"
    RELEASED = "released"


class Standing(Enum):
    """Where a recipient stands in one request, as the ledger knows it."""

    NOT_REACHED = "not reached"  # never claimed, released, or claimed by a sender that died before it settled
    CLAIMED = "claimed"  # a live sender holds it; an email may be on its way
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
    sent_to: str  # the address the email goes to: the one activation verifies


@dataclass
class Commit:
    """One step of a sender: claims to take and earlier claims to settle (contact ids)."""

    claims: list[NewLink] = field(default_factory=list)
    settled: dict[str, Settlement] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.claims or self.settled)


class ClaimLost(RuntimeError):
    """A claim this sender held was taken by another: it is not this sender's to settle any more."""


class ClaimRefused(Enum):
    DONE = "done"  # already sent or undelivered in this request: counted by whoever settled it
    BUSY = "busy"  # another live sender holds it
    ACTIVATED = "activated"
    NOT_THEIRS = "not the job's user"  # the Contact's portal user is not the one named, or another job created it


@dataclass(frozen=True)
class EmailRecord:
    """A User's activation item as the ledger reads it, with its holder's settlement taken into account."""

    sent_for: frozenset[str] = frozenset()  # the requests whose email reached the User
    undelivered_for: frozenset[str] = frozenset()  # the requests that gave up on the User
    claim_expires: float | None = None  # the end of a claim a sender holds and has not settled
    activated: bool = False
    link_expires: float | None = None  # when the User's current link stops working (epoch seconds)
    holder: str | None = None  # the attempt whose claim is on the item (settled or not)
    carried: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())  # what its settlement says
    delivery: Recorded = field(default_factory=Recorded)  # what SES's events said of the latest email they were about
    renewals: int = 0  # the new links the User asked for from their activation page

    def latest_delivery(self) -> tuple[str | None, str | None]:
        """What became of the User's latest email that SES accepted, and why (docs/contracts.md §7): None when no
        email reached SES; pending until its first outcome (a newer email than the one recorded is pending)."""
        if not self.sent_for:
            return None, None
        recorded = self.delivery
        newer = self.holder is not None and self.holder != recorded.attempt and bool(self.carried[0])
        if recorded.state is None or newer:
            return PENDING, None
        return recorded.state, recorded.detail or None

    def blocked_address(self) -> str | None:
        """The address SES will not deliver to (a permanent bounce, a complaint) as it was sent to, or None."""
        return self.delivery.address if self.delivery.permanent and self.delivery.address else None

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

    def refusal(self, request: str, now: float, *, tried: EmailRecord | None = None) -> ClaimRefused | None:
        """Why a claim in `request` that did not hold, read back as this record, is refused; None: it may be taken
        over as read (its holder settled it, or died). `tried`: the record a takeover already went by and failed on;
        read unchanged, it is changing under us, and is left as busy like one a live sender holds."""
        standing = self.standing(request, now)
        if standing is Standing.ACTIVATED:
            return ClaimRefused.ACTIVATED
        if standing in (Standing.SENT, Standing.UNDELIVERED):
            return ClaimRefused.DONE
        if standing is Standing.CLAIMED or tried == self:
            return ClaimRefused.BUSY
        return None
