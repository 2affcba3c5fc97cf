"""The plan of one email sender's invocation: which recipients go in which SES call, at which slot, and what to do
next (give up missed slots, claim, wait, send), decided from plain values so that the sender's loop only carries
it out (portal_import.flows.send)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from portal_import.domain.messages import EmailRecipient

ShortOf = Literal["quota", "time"] | None  # why fewer slots were reserved than asked for

# How long after its slot a call may still go: with calls of half a second's worth of emails, a call up to a
# quarter second late (plus the call's own time) still keeps any window within R*W + R. A smaller call (capped by
# the Mailer's destinations a call) leaves the rest of that half second as slack too.
LATE_SECONDS = 0.25
# How often one invocation gives up missed slots for fresh ones; after that it sends late rather than never.
MAX_MISSED = 10


@dataclass(frozen=True)
class Calls:
    """How the sends are grouped: recipients a call, and how long after its slot a call may still go."""

    size: int
    late: float

    @classmethod
    def at_rate(cls, rate_per_second: float, *, most: int) -> Calls:
        """Calls of half a second's worth of emails (at least one, at most `most`)."""
        size = max(1, min(most, int(rate_per_second / 2)))
        return cls(size=size, late=LATE_SECONDS + max(0.0, 0.5 - size / rate_per_second))


@dataclass(frozen=True)
class Plan:
    """The recipients not yet sent to, in sending order, and the slots reserved for them: the first len(slots)
    recipients have a slot each (the earliest first); the others wait for another invocation."""

    waiting: tuple[EmailRecipient, ...]
    slots: tuple[float, ...]
    short_of: ShortOf = None
    missed: int = 0  # how often slots were given up

    @classmethod
    def of(cls, recipients: Sequence[EmailRecipient], slots: Sequence[float], short_of: ShortOf) -> Plan:
        return cls(waiting=tuple(recipients), slots=tuple(slots), short_of=short_of)

    @property
    def slotted(self) -> tuple[EmailRecipient, ...]:
        """The recipients that have a slot."""
        return self.waiting[: len(self.slots)]

    @property
    def unslotted(self) -> tuple[EmailRecipient, ...]:
        """The recipients beyond the slots reserved: beyond the quota or the invocation's time."""
        return self.waiting[len(self.slots) :]

    def replaced(self, count: int, fresh: Sequence[float], short_of: ShortOf) -> Plan:
        """The first `count` slots given up: their recipients go last, and the slots reserved instead (`fresh`,
        later than every slot held) go to whoever is then without one."""
        kept = self.slots[count : len(self.slotted)]
        return replace(
            self,
            waiting=self.waiting[count:] + self.waiting[:count],
            slots=kept + tuple(fresh),
            short_of=short_of or self.short_of,
            missed=self.missed + 1,
        )

    def without(self, contact_ids: Collection[str]) -> Plan:
        """The plan once these recipients are out of it (their claims refused); the slots stay."""
        return replace(self, waiting=tuple(r for r in self.waiting if r.contact_id not in contact_ids))

    def after_sending(self, count: int) -> Plan:
        """The plan once the first `count` recipients had their call, with their slots."""
        return replace(self, waiting=self.waiting[count:], slots=self.slots[count:])


@dataclass(frozen=True)
class Replace:
    """The first `count` slots have passed by more than a call may be late: give them up and reserve as many."""

    count: int


@dataclass(frozen=True)
class Claim:
    """Claim these recipients of the next call in the ledger (and settle what was sent since the last write)."""

    recipients: tuple[EmailRecipient, ...]


@dataclass(frozen=True)
class Wait:
    """The next call's slot has not come: wait until then."""

    until: float


@dataclass(frozen=True)
class Send:
    """Send these recipients their emails in one call, now."""

    group: tuple[EmailRecipient, ...]


@dataclass(frozen=True)
class Finished:
    """No recipient with a slot is left."""


Step = Replace | Claim | Wait | Send | Finished


def next_step(plan: Plan, *, now: float, held: Collection[str], calls: Calls) -> Step:
    """What to do next with `plan` at `now`, `held` being the contact ids whose claims this sender holds."""
    slotted = plan.slotted
    if not slotted:
        return Finished()
    gone = sum(1 for slot in plan.slots[: len(slotted)] if now - slot > calls.late)
    if gone and plan.missed < MAX_MISSED:
        return Replace(gone)
    group = slotted[: calls.size]
    unclaimed = tuple(r for r in group if r.contact_id not in held)
    if unclaimed:
        return Claim(unclaimed)
    if plan.slots[0] > now:
        return Wait(plan.slots[0])
    return Send(group)
