"""The email ledger's transactions as built, with plain values: what a step settles and claims becomes items that
fit DynamoDB's transactions, every claim checks the Contact's user, a takeover holds only as it was read, and a
claim that did not hold is refused or taken over by one rule."""

from __future__ import annotations

from typing import Any

from portal_import.aws.ledger_items import CLAIMS_PER_TRANSACTION, TRANSACTION_LIMIT, LedgerItems, Transaction, pieces
from portal_import.domain.claims import ClaimRefused, EmailRecord, NewLink, Settlement

JOB = "job-1"
NOW = 1_900_000_000.0
ITEMS = LedgerItems("directory", "jobs", job_id=JOB, request=JOB, attempt="a1", lease_until=NOW + 300)


def link(contact_id: str) -> NewLink:
    return NewLink(contact_id, f"user-{contact_id}", f"hash-{contact_id}", "2031-01-01T00:00:00Z", f"{contact_id}@x")


def update(item: dict[str, Any]) -> dict[str, Any]:
    ((kind, body),) = item.items()
    assert kind == "Update"
    return dict(body)


def test_settling_writes_the_attempts_settlement_and_the_jobs_counters_and_clears_released_claims() -> None:
    # Given an attempt that sent two emails, gave up on one and released one
    settled = {"c1": Settlement.SENT, "c2": Settlement.UNDELIVERED, "c3": Settlement.SENT, "c4": Settlement.RELEASED}
    # When its settlement is built
    settlement, counter, release = (update(item) for item in ITEMS.settling(settled))
    # Then its settlement item names the recipients sent and given up
    assert settlement["Key"] == {"pk": {"S": "emails#a1"}}
    assert settlement["ExpressionAttributeValues"][":Sent"] == {"SS": ["c1", "c3"]}
    assert settlement["ExpressionAttributeValues"][":Undelivered"] == {"SS": ["c2"]}
    # and the job counts 2 sent and 1 not delivered
    assert counter["Key"] == {"pk": {"S": JOB}}
    assert counter["ExpressionAttributeValues"] == {":sent": {"N": "2"}, ":failed": {"N": "1"}}
    # and the released claim is cleared only while this attempt holds it
    assert release["Key"] == {"pk": {"S": "CONTACT#c4"}, "sk": {"S": "ACTIVATION"}}
    assert release["ConditionExpression"] == "ClaimedBy = :attempt"


def test_a_resends_settlement_moves_no_job_counter_and_releases_alone_write_no_settlement() -> None:
    resend = LedgerItems("directory", "jobs", job_id=JOB, request=f"{JOB}/resend/1", attempt="a2")
    assert [update(item)["Key"]["pk"]["S"] for item in resend.settling({"c1": Settlement.SENT})] == ["emails#a2"]
    assert [update(item)["Key"]["pk"]["S"] for item in ITEMS.settling({"c1": Settlement.RELEASED})] == ["CONTACT#c1"]


def test_a_claim_is_the_new_link_and_the_check_that_the_contacts_user_is_the_jobs() -> None:
    # When a fresh claim of c1 is built
    claim, check = ITEMS.claim(link("c1"))
    # Then the link is written on c1's activation item, held by the attempt until its lease ends
    written = update(claim)
    assert written["Key"] == {"pk": {"S": "CONTACT#c1"}, "sk": {"S": "ACTIVATION"}}
    values = written["ExpressionAttributeValues"]
    assert (values[":hash"], values[":attempt"], values[":lease"]) == (
        {"S": "hash-c1"},
        {"S": "a1"},
        {"N": "1900000300.0"},
    )
    assert values[":to"] == {"S": "c1@x"} and values[":epoch"] == {"N": "1924992000"}
    assert "attribute_not_exists(ClaimedBy) OR ClaimedBy = :attempt" in written["ConditionExpression"]
    # and the link joins every link the user was sent (a replaced one may still ask for a new link)
    assert written["UpdateExpression"].endswith(" ADD IssuedHashes :issued") and values[":issued"] == {
        "SS": ["hash-c1"]
    }
    # and the same transaction checks that c1's portal user is the link's, created by the job
    assert check["ConditionCheck"]["Key"] == {"pk": {"S": "CONTACT#c1"}, "sk": {"S": "USER"}}
    assert check["ConditionCheck"]["ExpressionAttributeValues"] == {":user": {"S": "user-c1"}, ":job": {"S": JOB}}


def test_a_takeover_holds_only_as_it_was_read_and_carries_what_the_holder_settled() -> None:
    # Given c1 held by a dead attempt whose settlement says it was sent for an earlier resend
    read = EmailRecord(holder="dead", carried=(frozenset({"resend-0"}), frozenset()))
    # When the claim takes it over
    written = update(ITEMS.claim(link("c1"), read)[0])
    # Then it holds only while the dead attempt's claim is still there, and keeps that resend's delivery
    assert written["ConditionExpression"].endswith("AND ClaimedBy = :holder")
    assert written["ExpressionAttributeValues"][":holder"] == {"S": "dead"}
    assert written["UpdateExpression"].endswith(" ADD IssuedHashes :issued, SentFor :carriedSent")
    assert written["ExpressionAttributeValues"][":carriedSent"] == {"SS": ["resend-0"]}
    # and a takeover of an item no one holds holds only while no one does
    free = update(ITEMS.claim(link("c1"), EmailRecord())[0])
    assert free["ConditionExpression"].endswith("AND attribute_not_exists(ClaimedBy)")


def test_a_transaction_names_each_item_by_its_contact_and_leaves_contacts_out_whole() -> None:
    # Given the settlement of earlier calls and claims of c1 and c2
    own = ITEMS.settling({"c0": Settlement.SENT})
    transaction = ITEMS.claiming(own, [link("c1"), link("c2")], {})
    # Then the sender's own items come first, then two items a claim
    assert [owner for owner, _ in transaction.items()] == [None, None, "c1", "c1", "c2", "c2"]
    # and leaving c1 out drops both its items, and keeps the sender's own
    assert [owner for owner, _ in transaction.without(["c1"]).items()] == [None, None, "c2", "c2"]


def test_giving_up_counts_one_not_delivered_for_each_recipient_still_in_the_transaction() -> None:
    # Given three recipients of the import's own emails, one held by a dead sender
    marking = ITEMS.marking_undelivered(
        {"c1": ("u1", EmailRecord()), "c2": ("u2", EmailRecord(holder="dead")), "c3": ("u3", EmailRecord())}
    )
    # When one of them changed since it was read and is left out
    items = marking.without(["c3"]).items()
    # Then the job counts the two left as not delivered
    assert [owner for owner, _ in items] == ["c1", "c2", None]
    assert update(items[-1][1])["ExpressionAttributeValues"] == {":sent": {"N": "0"}, ":failed": {"N": "2"}}
    # and the dead sender's claim is cleared as the recipient is given up on
    dead = update(items[1][1])
    assert "REMOVE ClaimedBy, ClaimFor, ClaimExpires" in dead["UpdateExpression"]
    assert dead["ExpressionAttributeValues"][":carriedUndelivered"] == {"SS": [JOB]}
    # and with every recipient left out, nothing is counted
    assert marking.without(["c1", "c2", "c3"]).items() == []


def test_a_resends_recipients_given_up_on_move_no_job_counter() -> None:
    resend = LedgerItems("directory", "jobs", job_id=JOB, request="resend-1")
    assert [owner for owner, _ in resend.marking_undelivered({"c1": ("u1", EmailRecord())}).items()] == ["c1"]


def test_claims_go_beside_the_senders_own_items_then_a_full_transaction_at_a_time() -> None:
    # Given 2 own items and 120 claims
    own = [{"Update": {}}] * 2
    links = [link(f"c{n}") for n in range(120)]
    # When they are cut into transactions
    cut = [(len(items), len(claims)) for items, claims in pieces(own, links)]
    # Then the first holds the own items and 49 claims, the next 50 claims, then the rest
    assert cut == [(2, 49), (0, CLAIMS_PER_TRANSACTION), (0, 21)]
    assert all(items + 2 * claims <= TRANSACTION_LIMIT for items, claims in cut)
    # and with nothing to claim, the own items go alone
    assert [(len(i), len(c)) for i, c in pieces(own, [])] == [(2, 0)]


def test_an_empty_transaction_has_no_items() -> None:
    assert Transaction().items() == []


def test_a_claim_that_did_not_hold_is_refused_or_taken_over_by_what_its_record_says() -> None:
    request = JOB
    # Done in this request, by whoever settled it
    assert EmailRecord(sent_for=frozenset({request})).refusal(request, NOW) is ClaimRefused.DONE
    assert EmailRecord(undelivered_for=frozenset({request})).refusal(request, NOW) is ClaimRefused.DONE
    # Activated: never sent a link again
    assert EmailRecord(activated=True).refusal(request, NOW) is ClaimRefused.ACTIVATED
    # Held by a live sender
    live = EmailRecord(holder="other", claim_expires=NOW + 10)
    assert live.refusal(request, NOW) is ClaimRefused.BUSY
    # Held by a sender that died (its claim ran out): taken over, unless a takeover as read failed already
    dead = EmailRecord(holder="other", claim_expires=NOW - 10)
    assert dead.refusal(request, NOW) is None
    assert dead.refusal(request, NOW, tried=dead) is ClaimRefused.BUSY
    # Sent for another request only: taken over for this one
    assert EmailRecord(sent_for=frozenset({"resend-0"})).refusal(request, NOW) is None
