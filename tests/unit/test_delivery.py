"""What became of an email, from SES's events: any order and any repetition of one email's events end in the same
state and the same counts (the property the delivery events function relies on, since neither SES nor SNS nor SQS
keeps order or delivers once), and every record that is not an event of the stack's emails is said why."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from portal_import.domain.claims import EmailRecord
from portal_import.domain.delivery import (
    COMPLAINT,
    DELAY,
    DELIVERY,
    HARD_BOUNCE,
    SENT,
    SOFT_BOUNCE,
    DeliveryEvent,
    Dropped,
    Outcome,
    Recorded,
    read_event,
    transition,
)

SET = "stack-activation"


def event(outcome: Outcome, attempt: str = "a1") -> DeliveryEvent:
    return DeliveryEvent(
        message_id=f"m-{attempt}",
        contact_id="c1",
        job_id="j1",
        attempt=attempt,
        outcome=outcome,
        detail="",
        address="ana@example.com",
        at="",
    )


def replay(events: list[DeliveryEvent], recorded: Recorded | None = None) -> tuple[Recorded, Counter[str]]:
    """The item and the job's counters after the events, applied as the function applies them."""
    state = recorded or Recorded()
    counts: Counter[str] = Counter()
    if state.counted:
        counts[state.counted] += 1
    for each in events:
        change = transition(state, each)
        if change is not None:
            state = change.record
            counts.update(change.counters)
    return state, counts


OUTCOMES = [SENT, DELAY, SOFT_BOUNCE, DELIVERY, HARD_BOUNCE, COMPLAINT]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_any_order_and_any_repetition_of_an_emails_events_end_the_same(outcomes: list[Outcome], rng: Any) -> None:
    # Given one email's events, in the order they happened, and the same events shuffled and some repeated
    shuffled = [event(o) for o in outcomes] + [event(rng.choice(outcomes)) for _ in range(rng.randint(0, 3))]
    rng.shuffle(shuffled)

    # Then both end in the state of the strongest event, counted once
    in_order, counts = replay([event(o) for o in outcomes])
    out_of_order, counts_shuffled = replay(shuffled)
    strongest = max(outcomes, key=lambda o: o.rank)
    assert (
        (in_order.state, in_order.rank) == (out_of_order.state, out_of_order.rank) == (strongest.state, strongest.rank)
    )
    assert +counts == +counts_shuffled
    assert sum((+counts).values()) == (0 if strongest.state == "pending" else 1)


def test_a_newer_emails_events_replace_the_older_ones_and_move_the_count() -> None:
    # Given a user whose first email bounced
    bounced, counts = replay([event(SENT), event(HARD_BOUNCE)])
    assert +counts == Counter({"bounced": 1})

    # When a newer email (another attempt) is accepted and then delivered
    after, moved = replay([event(SENT, "a2")], bounced)
    assert after.state == "pending" and +moved == Counter()
    delivered, counted = replay([event(DELIVERY, "a2")], after)

    # Then the user counts once, as delivered, and a late event of the older email is not this function's to apply
    assert +counted == Counter({"delivered": 1})
    assert not delivered.permanent


def test_a_complaint_or_permanent_bounce_blocks_the_address_and_a_soft_bounce_does_not() -> None:
    assert replay([event(HARD_BOUNCE)])[0].permanent
    assert replay([event(DELIVERY), event(COMPLAINT)])[0].permanent
    soft, _ = replay([event(SOFT_BOUNCE)])
    assert soft.state == "bounced" and not soft.permanent
    # an out-of-office reply after a delivery (a transient bounce) cannot undo the delivery
    assert replay([event(DELIVERY), event(SOFT_BOUNCE)])[0].state == "delivered"


def test_users_see_the_latest_emails_outcome_or_pending_for_a_newer_one() -> None:
    recorded, _ = replay([event(HARD_BOUNCE)])
    assert EmailRecord().latest_delivery() == (None, None)  # nothing reached SES
    reached = EmailRecord(sent_for=frozenset({"j1"}), holder="a1", delivery=recorded)
    assert reached.latest_delivery() == ("bounced", None)
    assert EmailRecord(sent_for=frozenset({"j1"}), holder="a1").latest_delivery() == ("pending", None)
    newer = EmailRecord(
        sent_for=frozenset({"j1", "r2"}), holder="a2", carried=(frozenset({"r2"}), frozenset()), delivery=recorded
    )
    assert newer.latest_delivery() == ("pending", None)
    assert newer.blocked_address() == "ana@example.com"


def ses_record(kind: str, detail: dict[str, Any] | None = None, **tags: str) -> str:
    """An event record as SES publishes one (AWS's example of event publishing to SNS)."""
    tagged = {"ses:configuration-set": [SET], "contact": ["c1"], "job": ["j1"], "attempt": ["a1"]}
    tagged |= {name: [value] for name, value in tags.items()}
    record: dict[str, Any] = {
        "eventType": kind,
        "mail": {"messageId": "m1", "destination": ["ana@example.com"], "timestamp": "t0", "tags": tagged},
    }
    if detail is not None:
        record[kind[0].lower() + kind[1:]] = detail
    return json.dumps(record)


def test_each_event_type_reads_as_its_outcome_with_why() -> None:
    bounce = {
        "bounceType": "Permanent",
        "bounceSubType": "NoEmail",
        "bouncedRecipients": [{"emailAddress": "ana@example.com", "diagnosticCode": "smtp; 550 5.1.1 no such user"}],
        "timestamp": "t1",
    }
    read = read_event(ses_record("Bounce", bounce), SET)
    assert isinstance(read, DeliveryEvent)
    assert (read.outcome, read.detail, read.at) == (
        HARD_BOUNCE,
        "Permanent/NoEmail: smtp; 550 5.1.1 no such user",
        "t1",
    )
    assert (read.contact_id, read.job_id, read.attempt, read.message_id) == ("c1", "j1", "a1", "m1")
    transient = read_event(ses_record("Bounce", dict(bounce, bounceType="Transient", bounceSubType="MailboxFull")), SET)
    assert isinstance(transient, DeliveryEvent) and transient.outcome == SOFT_BOUNCE
    complaint = read_event(ses_record("Complaint", {"complaintFeedbackType": "abuse", "timestamp": "t2"}), SET)
    assert isinstance(complaint, DeliveryEvent) and (complaint.outcome, complaint.detail) == (
        COMPLAINT,
        "complaint (abuse)",
    )
    delay = read_event(ses_record("DeliveryDelay", {"delayType": "MailboxFull", "expirationTime": "t9"}), SET)
    assert isinstance(delay, DeliveryEvent) and delay.detail == "MailboxFull; SES keeps trying until t9"
    reject = read_event(ses_record("Reject", {"reason": "Bad content"}), SET)
    assert isinstance(reject, DeliveryEvent) and reject.detail == "rejected by SES: Bad content"


def test_what_is_not_an_event_of_the_stacks_emails_is_dropped_with_the_reason() -> None:
    def reason(body: str) -> str:
        read = read_event(body, SET)
        assert isinstance(read, Dropped), body
        return read.reason

    assert reason("not json") == "malformed"
    assert reason(json.dumps({"eventType": "Send"})) == "malformed"  # no mail
    assert reason(json.dumps([1, 2])) == "malformed"
    assert reason(ses_record("Bounce")) == "malformed"  # a bounce without its bounce object
    assert reason(ses_record("Delivery", {}, **{"ses:configuration-set": "another-set"})) == "foreign"
    assert reason(ses_record("Delivery", {}, attempt="")) == "foreign"
    assert reason(ses_record("Open", {})) == "ignored"
    assert reason(ses_record("Rendering Failure", {})) == "ignored"
