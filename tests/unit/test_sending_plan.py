"""The plan of an email sender's invocation, with plain values: calls of half a second's worth at their slots, late
slots given up for fresh ones (their recipients last), claims before each call, refused claims out of it."""

from __future__ import annotations

from portal_import.domain.messages import EmailRecipient
from portal_import.domain.sending import (
    LATE_SECONDS,
    MAX_MISSED,
    Calls,
    Claim,
    Finished,
    Plan,
    Replace,
    Send,
    Wait,
    next_step,
)

T = 1_000_000.0
CALLS = Calls(size=3, late=0.25)


def recipients(count: int) -> list[EmailRecipient]:
    return [EmailRecipient(row=n + 2, user_id=f"user{n}", contact_id=f"c{n}") for n in range(count)]


def ids(people: tuple[EmailRecipient, ...]) -> list[str]:
    return [r.contact_id for r in people]


def plan(count: int, *, slots: int, rate: float = 10.0, short_of: str | None = None) -> Plan:
    return Plan.of(recipients(count), [T + n / rate for n in range(slots)], short_of)  # type: ignore[arg-type]


def test_calls_are_half_a_seconds_worth_and_a_small_call_may_be_later() -> None:
    # Given a rate of 20 a second / Then calls of 10, a quarter second late at most
    assert Calls.at_rate(20, most=49) == Calls(size=10, late=LATE_SECONDS)
    # and at 300 a second, the Mailer's cap (49), with the rest of the half second as slack
    big = Calls.at_rate(300, most=49)
    assert big.size == 49 and big.late == LATE_SECONDS + 0.5 - 49 / 300
    # and at 1 a second, one recipient a call (a whole call's worth: no slack)
    assert Calls.at_rate(1, most=49) == Calls(size=1, late=LATE_SECONDS)


def test_a_call_claims_its_recipients_then_waits_for_its_slot_then_sends() -> None:
    # Given 7 recipients with a slot each, before the first slot
    p = plan(7, slots=7)
    now = T - 1
    # When nothing is held / Then the first call's recipients are claimed
    assert next_step(p, now=now, held=set(), calls=CALLS) == Claim(tuple(recipients(3)))
    # and once they are held, it waits for the first slot
    assert next_step(p, now=now, held={"c0", "c1", "c2"}, calls=CALLS) == Wait(T)
    # and at the slot, it sends them in one call
    assert next_step(p, now=T, held={"c0", "c1", "c2"}, calls=CALLS) == Send(tuple(recipients(3)))


def test_only_the_recipients_not_yet_held_are_claimed() -> None:
    p = plan(7, slots=7)
    assert next_step(p, now=T, held={"c0", "c2"}, calls=CALLS) == Claim((recipients(3)[1],))


def test_calls_follow_one_another_until_no_slot_is_left() -> None:
    # Given 7 recipients and 7 slots, sent as the plan says with every claim granted
    p = plan(7, slots=7)
    held: set[str] = set()
    now, calls = T, []
    while not isinstance(step := next_step(p, now=now, held=held, calls=CALLS), Finished):
        if isinstance(step, Claim):
            held |= set(ids(step.recipients))
        elif isinstance(step, Wait):
            now = step.until
        elif isinstance(step, Send):
            calls.append((now, ids(step.group)))
            p = p.after_sending(len(step.group))
    # Then the calls are 3, 3 and 1, each at the slot of its first recipient
    assert calls == [(T, ["c0", "c1", "c2"]), (T + 0.3, ["c3", "c4", "c5"]), (T + 0.6, ["c6"])]
    assert p.waiting == () and p.unslotted == ()


def test_a_call_never_takes_a_recipient_without_a_slot() -> None:
    # Given 5 recipients and slots for 4 (the invocation's time ends)
    p = plan(5, slots=4, short_of="time").after_sending(3)
    # Then the next call is the one recipient with a slot, and the last waits for another invocation
    assert next_step(p, now=T + 0.3, held={"c3"}, calls=CALLS) == Send((recipients(5)[3],))
    done = p.after_sending(1)
    assert next_step(done, now=T + 0.4, held=set(), calls=CALLS) == Finished()
    assert ids(done.unslotted) == ["c4"] and done.short_of == "time"


def test_slots_missed_by_more_than_a_call_may_be_late_are_replaced() -> None:
    # Given slots every tenth of a second, and a sender held up until 0.3 s after the first slot
    p = plan(6, slots=6)
    now = T + 0.3
    # When it looks at the plan / Then the first slot (0.3 s late, more than 0.25) is given up
    assert next_step(p, now=now, held=set(), calls=CALLS) == Replace(1)
    # and once replaced, its recipient goes last, on the fresh slot, and the others keep theirs
    replaced = p.replaced(1, [T + 0.6], None)
    assert ids(replaced.waiting) == ["c1", "c2", "c3", "c4", "c5", "c0"]
    assert replaced.slots == (T + 0.1, T + 0.2, T + 0.3, T + 0.4, T + 0.5, T + 0.6)
    assert replaced.missed == 1
    # and the next call is the recipients whose slots are still good
    assert next_step(replaced, now=now, held={"c1", "c2", "c3"}, calls=CALLS) == Send(tuple(recipients(4)[1:]))


def test_recipients_of_missed_slots_go_behind_those_without_a_slot() -> None:
    # Given 5 recipients, slots for 3 of them, the first two missed, and one slot to be had instead
    p = plan(5, slots=3, short_of="time")
    replaced = p.replaced(2, [T + 5.0], "time")
    # Then the recipient without a slot takes the fresh one, and the two whose slots passed wait for the next run
    assert ids(replaced.slotted) == ["c2", "c3"] and ids(replaced.unslotted) == ["c4", "c0", "c1"]
    assert replaced.slots == (T + 0.2, T + 5.0)


def test_replaced_slots_keep_the_earlier_reason_for_a_short_reservation() -> None:
    # Given a plan short of quota, whose fresh slots came in full
    p = plan(5, slots=3, short_of="quota")
    # Then the plan is still short of quota: the rest waits for the quota to refill
    assert p.replaced(1, [T + 1], None).short_of == "quota"
    # and a fresh reservation short of time says so
    assert plan(3, slots=3).replaced(1, [], "time").short_of == "time"


def test_after_so_many_replacements_a_late_call_goes_rather_than_never() -> None:
    # Given a plan whose slots were given up MAX_MISSED times already
    p = plan(3, slots=3)
    for _ in range(MAX_MISSED):
        p = p.replaced(0, [], None)
    # When its slot has passed long ago / Then it sends rather than give it up again
    assert next_step(p, now=T + 60, held={"c0", "c1", "c2"}, calls=CALLS) == Send(tuple(recipients(3)))


def test_refused_claims_leave_the_plan_and_their_slots_go_to_the_next() -> None:
    # Given the first call's claims, of which the ledger refused two (done already, held by another)
    p = plan(7, slots=7)
    assert next_step(p, now=T, held=set(), calls=CALLS) == Claim(tuple(recipients(3)))
    p = p.without({"c0", "c2"})
    # Then the next call is the one held and the next two, at the first slot
    assert ids(p.waiting) == ["c1", "c3", "c4", "c5", "c6"] and p.slots[0] == T
    assert next_step(p, now=T, held={"c1"}, calls=CALLS) == Claim(tuple(recipients(5)[3:5]))
    # and with fewer recipients than slots, nobody waits for another invocation
    assert p.unslotted == ()


def test_every_claim_refused_finishes_the_plan() -> None:
    p = plan(2, slots=2).without({"c0", "c1"})
    assert next_step(p, now=T, held=set(), calls=CALLS) == Finished()
    assert p.waiting == ()


def test_no_slot_at_all_leaves_every_recipient_for_later() -> None:
    # Given a spent daily quota: no slot reserved
    p = plan(4, slots=0, short_of="quota")
    # Then nothing is sent, and all four wait for the quota
    assert next_step(p, now=T, held=set(), calls=CALLS) == Finished()
    assert ids(p.unslotted) == ["c0", "c1", "c2", "c3"] and p.short_of == "quota"
