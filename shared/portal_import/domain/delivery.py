"""What became of an activation email, from SES's events (docs/contracts.md §7): reading an event record as SES
publishes it, and the one rule that makes recording them idempotent and order-free.

Every email is sent tagged with the Contact it is for and the sender attempt that claimed it (`attempt`: the
activation item's ClaimedBy, written before the email went out, so an event never arrives before what it is
matched by). The state recorded for an email is that of the highest-ranked event seen for it: any order and any
repetition of one email's events ends in the same state, and the job's counters, which move one unit from the
state counted before to the new one, end the same too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

# What `users` shows for a user's latest email (`delivery`).
PENDING = "pending"  # accepted by SES, no outcome yet
DELAYED = "delayed"
DELIVERED = "delivered"
BOUNCED = "bounced"
COMPLAINED = "complained"

# The states the job counts (its users, each by their latest email); pending is what is left of those sent.
COUNTED = (DELIVERED, BOUNCED, COMPLAINED, DELAYED)

# The tags every activation email carries (SES allows ASCII letters, digits, '_' and '-' in a tag's value).
TAG_CONTACT = "contact"
TAG_JOB = "job"
TAG_ATTEMPT = "attempt"
_CONFIGURATION_SET_TAG = "ses:configuration-set"  # added by SES to every event of a set


@dataclass(frozen=True)
class Outcome:
    state: str
    rank: int  # a higher rank wins over a lower one, whatever the order they arrive in
    permanent: bool = False  # a bounce SES will not retry: resend skips the address, the guard counts it


SENT = Outcome(PENDING, 0)
DELAY = Outcome(DELAYED, 1)
SOFT_BOUNCE = Outcome(BOUNCED, 2)  # a transient bounce, or SES rejected the email: not delivered, may be later
DELIVERY = Outcome(DELIVERED, 3)
HARD_BOUNCE = Outcome(BOUNCED, 4, permanent=True)  # after a delivery too: an asynchronous bounce
COMPLAINT = Outcome(COMPLAINED, 5, permanent=True)  # the person marked it as spam; wins over everything


@dataclass(frozen=True)
class DeliveryEvent:
    """One SES event on one activation email, as the stack needs it."""

    message_id: str
    contact_id: str
    job_id: str
    attempt: str
    outcome: Outcome
    detail: str  # why, for a bounce, complaint, rejection or delay; "" otherwise
    address: str  # the address the email went to
    at: str  # when SES says it happened


@dataclass(frozen=True)
class Dropped:
    """An event record that is not one of the stack's emails' (or not one at all): counted, logged, acked."""

    reason: str  # malformed | ignored | foreign
    why: str


def read_event(body: str, configuration_set: str) -> DeliveryEvent | Dropped:
    """An SQS message body as SES publishes to SNS (raw): the event on one of the stack's emails, or why not."""
    try:
        record = json.loads(body)
        kind = str(record.get("eventType") or record.get("notificationType") or "")
        mail = record["mail"]
        tags = {str(k): v[0] if isinstance(v, list) and v else v for k, v in dict(mail.get("tags") or {}).items()}
        message_id = str(mail["messageId"])
        destination = [str(a) for a in mail.get("destination") or []]
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        return Dropped("malformed", f"not an SES event record: {type(error).__name__}")
    if tags.get(_CONFIGURATION_SET_TAG) != configuration_set:
        return Dropped("foreign", f"sent with configuration set {tags.get(_CONFIGURATION_SET_TAG)!r}")
    if not all(isinstance(tags.get(t), str) and tags.get(t) for t in (TAG_CONTACT, TAG_JOB, TAG_ATTEMPT)):
        return Dropped("foreign", "not tagged with its contact, job and attempt")
    try:
        outcome, detail, at = _outcome(kind, record)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as error:
        return Dropped("malformed", f"a {kind} event without its details: {type(error).__name__}")
    if outcome is None:
        return Dropped("ignored", f"{kind or 'an untyped'} event: nothing to record")
    return DeliveryEvent(
        message_id=message_id,
        contact_id=str(tags[TAG_CONTACT]),
        job_id=str(tags[TAG_JOB]),
        attempt=str(tags[TAG_ATTEMPT]),
        outcome=outcome,
        detail=detail,
        address=destination[0] if destination else "",
        at=at or str(mail.get("timestamp", "")),
    )


def _outcome(kind: str, record: Mapping[str, Any]) -> tuple[Outcome | None, str, str]:
    """The outcome an event says, why (in a sentence's worth), and when."""
    if kind == "Send":
        return SENT, "", ""
    if kind == "Delivery":
        return DELIVERY, "", str(record["delivery"].get("timestamp", ""))
    if kind == "DeliveryDelay":
        delay = record["deliveryDelay"]
        detail = f"{delay.get('delayType', 'delayed')}; SES keeps trying until {delay.get('expirationTime', '?')}"
        return DELAY, detail, str(delay.get("timestamp", ""))
    if kind == "Reject":
        return SOFT_BOUNCE, f"rejected by SES: {record['reject'].get('reason', 'no reason given')}", ""
    if kind == "Bounce":
        bounce = record["bounce"]
        kind_of = f"{bounce.get('bounceType', 'Undetermined')}/{bounce.get('bounceSubType', 'Undetermined')}"
        recipients = bounce.get("bouncedRecipients") or [{}]
        diagnostic = str(recipients[0].get("diagnosticCode") or recipients[0].get("status") or "").strip()
        outcome = HARD_BOUNCE if bounce.get("bounceType") == "Permanent" else SOFT_BOUNCE
        return outcome, f"{kind_of}: {diagnostic}" if diagnostic else kind_of, str(bounce.get("timestamp", ""))
    if kind == "Complaint":
        complaint = record["complaint"]
        feedback = complaint.get("complaintFeedbackType") or "not said"
        return COMPLAINT, f"complaint ({feedback})", str(complaint.get("timestamp", ""))
    return None, "", ""  # Open, Click, Rendering Failure, Subscription: not an outcome of the email


class Recording(Enum):
    """What recording an event did."""

    RECORDED = "recorded"
    REPEATED = "repeated"  # already recorded, or below what is (a duplicate, or a late event of the same email)
    SUPERSEDED = "superseded"  # of an email that is not the User's latest any more (or never was the stack's)
    UNKNOWN = "unknown"  # no activation item for the Contact, or its job is another


@dataclass(frozen=True)
class Recorded:
    """What an activation item says of its latest email's outcome."""

    attempt: str | None = None  # the sender attempt whose email the outcome is of
    message_id: str | None = None
    state: str | None = None
    rank: int = -1
    detail: str = ""
    address: str = ""
    at: str = ""
    permanent: bool = False
    counted: str | None = None  # the state counted for this user on its job (None: pending or nothing)
    version: int = 0  # moves with every write: a write is made only over what was read


@dataclass(frozen=True)
class Change:
    """The write an event makes: the new record, and the job's counters moved from what was counted to it."""

    record: Recorded
    counters: dict[str, int]  # state -> +1 / -1


def transition(recorded: Recorded, event: DeliveryEvent) -> Change | None:
    """What `event` changes on a User whose latest email's outcome is `recorded`; None: nothing (a repeated event,
    or one ranked below what is recorded for the same email)."""
    same_email = recorded.attempt == event.attempt
    if same_email and recorded.rank >= event.outcome.rank:
        return None
    state = event.outcome.state
    counted = state if state in COUNTED else None
    counters: dict[str, int] = {}
    if counted != recorded.counted:
        if counted is not None:
            counters[counted] = 1
        if recorded.counted is not None:
            counters[recorded.counted] = -1
    new = Recorded(
        attempt=event.attempt,
        message_id=event.message_id,
        state=state,
        rank=event.outcome.rank,
        detail=event.detail,
        address=event.address,
        at=event.at,
        permanent=event.outcome.permanent,
        counted=counted,
        version=recorded.version + 1,
    )
    return Change(record=new, counters=counters)


def counter_name(state: str) -> str:
    """The job item's counter of users whose latest email is in `state`."""
    return f"Emails{state.capitalize()}"
