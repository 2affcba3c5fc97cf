"""The email ledger on moto, with the stack's tables: who holds a recipient, when another may take it over, and
what a takeover keeps of the holder's settlement."""

from __future__ import annotations

from typing import Any

import pytest

from portal_import.aws.ledger import Ledger
from portal_import.domain.claims import ClaimLost, ClaimRefused, Commit, NewLink, Settlement, Standing
from portal_import.errors import SettledThenFailed, Transient

JOB = "job-ledger"
NOW = 1_900_000_000.0


def link(contact_id: str, token: str = "hash") -> NewLink:
    return NewLink(
        contact_id=contact_id,
        user_id=f"user-{contact_id}",
        token_hash=token,
        expires_at="2031-01-01T00:00:00Z",
        sent_to=f"{contact_id}@example.com",
    )


@pytest.fixture
def ledger(cloud: Any) -> Ledger:
    cloud.start_job(JOB, chunks=1, rows=5)
    cloud.enrol(JOB, [(c, f"user-{c}", f"{c}@example.com") for c in ("c1", "c2", "c3")])  # the job's users
    return Ledger(cloud.stack.directory_table, cloud.stack.jobs_table)


def claim(ledger: Ledger, attempt: str, *contacts: str, request: str = JOB, now: float = NOW) -> dict[str, Any]:
    step = Commit(claims=[link(c, token=f"{attempt}-{c}") for c in contacts])
    return ledger.commit(step, job_id=JOB, request=request, attempt=attempt, lease_until=now + 300, now=now)


def settle(ledger: Ledger, attempt: str, how: Settlement, *contacts: str, request: str = JOB) -> None:
    step = Commit(settled=dict.fromkeys(contacts, how))
    ledger.commit(step, job_id=JOB, request=request, attempt=attempt, lease_until=NOW + 300, now=NOW)


def test_a_live_holder_keeps_its_recipient_until_it_settles_it(ledger: Ledger, cloud: Any) -> None:
    # Given a sender holds a recipient and has not settled it
    assert claim(ledger, "first", "c1") == {}
    # When another claims it while the first is alive / Then it is refused as busy
    assert claim(ledger, "second", "c1") == {"c1": ClaimRefused.BUSY}
    # and once the first settled it as sent, it is done: counted once, for the first
    settle(ledger, "first", Settlement.SENT, "c1")
    assert claim(ledger, "second", "c1") == {"c1": ClaimRefused.DONE}
    assert ledger.standings(JOB, ["c1"], now=NOW) == {"c1": Standing.SENT}
    assert cloud.jobs().get(JOB).emails_sent == 1


def test_a_claim_whose_holder_died_is_taken_over_with_a_new_link(ledger: Ledger, cloud: Any) -> None:
    # Given a sender that claimed a recipient and died before settling it
    claim(ledger, "dead", "c1")
    # When another claims it after the dead one's claim ran out
    later = NOW + 301
    refused = claim(ledger, "next", "c1", now=later)
    # Then it holds it now, with its own link (the dead one's email, if it went, carries a link that no longer works)
    assert refused == {}
    assert ledger.standings(JOB, ["c1"], now=later) == {"c1": Standing.CLAIMED}
    links = cloud.directory().activations(["c1"])
    assert links["c1"].token_hash == "next-c1"


def test_a_resend_takes_over_a_settled_claim_and_keeps_what_it_settled(ledger: Ledger) -> None:
    # Given the import's email reached a recipient (its sender's claim settled, its lease not yet over)
    claim(ledger, "import", "c1")
    settle(ledger, "import", Settlement.SENT, "c1")
    # When a resend claims and sends to the same recipient
    resend = f"{JOB}/resend/1"
    assert claim(ledger, "resender", "c1", request=resend) == {}
    settle(ledger, "resender", Settlement.SENT, "c1", request=resend)
    # Then the import's delivery is still on record: a late redelivery of the import's batch sends nothing
    assert claim(ledger, "late", "c1", now=NOW + 1000) == {"c1": ClaimRefused.DONE}
    record = ledger.records(["c1"])["c1"]
    assert record.sent_for == {JOB, resend}


def test_a_released_recipient_is_open_to_the_next_claim_at_once(ledger: Ledger) -> None:
    claim(ledger, "first", "c1")
    settle(ledger, "first", Settlement.RELEASED, "c1")
    assert claim(ledger, "second", "c1") == {}


def test_a_dead_batch_counts_the_recipients_of_a_dead_sender_once(ledger: Ledger, cloud: Any) -> None:
    # Given one recipient sent, one held by a sender that died, one never claimed
    claim(ledger, "first", "c1", "c2")
    settle(ledger, "first", Settlement.SENT, "c1")
    later = NOW + 301
    # When the batch's retries are spent and it is accounted for, twice
    first = ledger.mark_undelivered(
        job_id=JOB, request=JOB, recipients=[(c, f"u{c}") for c in ("c1", "c2", "c3")], now=later
    )
    again = ledger.mark_undelivered(
        job_id=JOB, request=JOB, recipients=[(c, f"u{c}") for c in ("c1", "c2", "c3")], now=later
    )
    # Then the two not reached count once as not delivered, and the one reached stays sent
    job = cloud.jobs().get(JOB)
    assert (first, again, job.emails_sent, job.emails_failed) == (2, 0, 1, 2)
    assert ledger.standings(JOB, ["c1", "c2", "c3"], now=later) == {
        "c1": Standing.SENT,
        "c2": Standing.UNDELIVERED,
        "c3": Standing.UNDELIVERED,
    }


def test_a_claim_for_a_user_the_job_did_not_create_is_refused_and_the_others_in_its_step_hold(ledger: Ledger) -> None:
    # Given a step claiming two of the job's users, a Contact the job created no user for, and c3 under c1's user
    forged = NewLink("c3", "user-c1", "hash", "2031-01-01T00:00:00Z", "c3@example.com")
    step = Commit(claims=[link("c1"), link("c9"), forged, link("c2")])
    # When it is committed
    refused = ledger.commit(step, job_id=JOB, request=JOB, attempt="first", lease_until=NOW + 300, now=NOW)
    # Then the two that are not the job's users are refused, nothing is written on them, and the others are held
    assert refused == {"c9": ClaimRefused.NOT_THEIRS, "c3": ClaimRefused.NOT_THEIRS}
    assert ledger.standings(JOB, ["c1", "c2", "c3", "c9"], now=NOW) == {
        "c1": Standing.CLAIMED,
        "c2": Standing.CLAIMED,
    }


def test_an_activated_user_is_never_claimed_again(ledger: Ledger, cloud: Any) -> None:
    # Given a User who activated after the import's email
    claim(ledger, "import", "c1")
    settle(ledger, "import", Settlement.SENT, "c1")
    cloud.session.client("dynamodb").update_item(
        TableName=cloud.stack.directory_table,
        Key={"pk": {"S": "CONTACT#c1"}, "sk": {"S": "ACTIVATION"}},
        UpdateExpression="SET ActivatedAt = :at REMOVE TokenHash",
        ExpressionAttributeValues={":at": {"S": "2030-01-01T00:00:00Z"}},
    )
    # When a resend claims it / Then it is refused as activated
    assert claim(ledger, "resender", "c1", request=f"{JOB}/resend/1") == {"c1": ClaimRefused.ACTIVATED}


def test_a_sender_whose_claim_was_taken_over_may_not_release_it(ledger: Ledger) -> None:
    # Given a slow sender whose claim ran out and was taken over by the next
    claim(ledger, "slow", "c1")
    assert claim(ledger, "next", "c1", now=NOW + 301) == {}
    # When the slow one releases it / Then it is told the claim is lost, and the next still holds it
    with pytest.raises(ClaimLost):
        settle(ledger, "slow", Settlement.RELEASED, "c1")
    assert ledger.records(["c1"])["c1"].holder == "next"


def test_a_failure_after_the_settlements_were_written_says_so(
    ledger: Ledger, cloud: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a sender that sent to c1, and c2 claimed by a sender that died
    claim(ledger, "sender", "c1")
    claim(ledger, "dead", "c2")
    later = NOW + 301
    # and DynamoDB throttles every write after the one that settles (the first is cancelled: c2 is held)
    writes = {"n": 0}
    transact = ledger._transact

    def first_only(actions: list[dict[str, Any]]) -> None:
        writes["n"] += 1
        if writes["n"] > 2:
            raise Transient("throttled")
        transact(actions)

    monkeypatch.setattr(ledger, "_transact", first_only)

    # When it settles c1 and claims c2 in one commit (c2 is taken over in a second write, which fails)
    step = Commit(claims=[link("c2", token="sender-c2")], settled={"c1": Settlement.SENT})
    with pytest.raises(SettledThenFailed):
        ledger.commit(step, job_id=JOB, request=JOB, attempt="sender", lease_until=later + 300, now=later)

    # Then the settlement is written, counted once: the caller knows not to write it again
    assert cloud.jobs().get(JOB).emails_sent == 1
    # and a failure of the first write, which wrote nothing, is an ordinary passing failure
    writes["n"] = 2
    with pytest.raises(Transient) as failed:
        settle(ledger, "other", Settlement.SENT, "c3")
    assert not isinstance(failed.value, SettledThenFailed)
