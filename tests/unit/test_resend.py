"""Resending activation emails, on the fakes of its ports: every refusal is one sentence that says what to do, and
the batches queued reach exactly the users the request means, each once, never one who activated."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from portal_import.domain.claims import Settlement
from portal_import.domain.delivery import Recorded
from portal_import.domain.job import JobStatus
from portal_import.domain.messages import EmailBatch
from portal_import.domain.people import Contact
from portal_import.flows.resend import ResendDeps, ResendRefused, answer, resend

from .fakes import Directory, JobReader, JobTable, Ledger, Queue, Storage
from .sample_jobs import JOB_ID, a_job

NOW = 1_900_000_000.0
# Five users the job created: (contact id, user id, ActivationEmail as the success file says it)
ANA, BEN, CY, DEE, EVE = (f"00300000000000{n}AAA1" for n in range(1, 6))
SUCCESS = (
    "\ufeffRowNumber,ContactId,Role,UserId,ActivationEmail\r\n"
    f"2,{ANA},Partner User,005A,Queued\r\n"  # its email was not delivered
    f"3,{BEN},Partner User,005B,Queued\r\n"  # its email was sent
    f"4,{CY},Partner User,005C,Queued\r\n"  # activated since
    f"5,{DEE},Partner User,005D,Not requested\r\n"
    f"6,{EVE},Partner User,005E,No valid email\r\n"
)


@dataclass
class World:
    table: JobTable = field(default_factory=lambda: JobTable().put(a_job(status=JobStatus.COMPLETED)))
    directory: Directory = field(default_factory=Directory)
    ledger: Ledger = field(default_factory=Ledger)
    emails: Queue = field(default_factory=Queue)

    def __post_init__(self) -> None:
        addresses = {ANA: "ana@example.com", BEN: "ben@example.com", CY: "cy@example.com", DEE: "dee@example.com"}
        self.directory.with_contacts(*(Contact(c, email=a) for c, a in addresses.items()))
        self.directory.with_contacts(Contact(EVE, email="nowhere"))
        self.ledger.users = {ANA: ("005A", JOB_ID), BEN: ("005B", JOB_ID), CY: ("005C", JOB_ID)}
        self.ledger.users |= {DEE: ("005D", JOB_ID), EVE: ("005E", JOB_ID)}
        self.ledger.settled = {(JOB_ID, ANA): Settlement.UNDELIVERED, (JOB_ID, BEN): Settlement.SENT}
        self.ledger.activated = {CY}

    @property
    def deps(self) -> ResendDeps:
        storage = Storage(objects={f"results/{JOB_ID}/success.csv": SUCCESS.encode()})
        return ResendDeps(self.directory, self.ledger, storage, self.emails, JobReader(self.table))

    def queued(self) -> list[tuple[int, str, str]]:
        batches = [EmailBatch.model_validate_json(body) for body in self.emails.bodies]
        return [(r.row, r.contact_id, r.user_id) for batch in batches for r in batch.recipients]


def test_by_default_only_the_users_not_reached_get_a_new_link() -> None:
    # Given a completed job: Ana's email not delivered, Ben's sent, Cy activated, Dee's not asked for, Eve no address
    world = World()

    # When its users are resent to
    done = resend(world.table[JOB_ID], world.deps, now=NOW)

    # Then only Ana's user is queued, in a request of its own
    assert world.queued() == [(2, ANA, "005A")]
    assert done.queued == [ANA] and done.request.startswith(f"{JOB_ID}/resend/")
    (batch,) = [EmailBatch.model_validate_json(body) for body in world.emails.bodies]
    assert batch.request_id == done.request
    # and each user left out has the reason
    reasons = {left.contact_id: left.reason for left in done.left_out}
    assert reasons[BEN].startswith("was sent an activation email already")
    assert reasons[CY] == "has already activated their account"
    assert reasons[DEE].startswith("the import did not ask for activation emails")
    assert reasons[EVE] == "the Contact has no valid email address"


def test_pending_sends_to_everyone_not_activated_and_contacts_to_those_named() -> None:
    world = World()
    resend(world.table[JOB_ID], world.deps, pending=True, now=NOW)
    assert [contact for _, contact, _ in world.queued()] == [ANA, BEN, DEE]

    # and --contact reaches the named Contacts, whatever happened before (Ben's email was sent)
    world = World()
    done = resend(world.table[JOB_ID], world.deps, contacts=[BEN, "0039999999999999999", "not an id"], now=NOW)
    assert world.queued() == [(3, BEN, "005B")]
    reasons = {left.contact_id: left.reason for left in done.left_out}
    assert reasons == {
        "0039999999999999999": "this job created no portal user for this Contact",
        "not an id": "no such Contact in the directory",
    }


def test_a_user_being_sent_a_link_right_now_is_left_to_that_send() -> None:
    world = World()
    world.ledger.claims[ANA] = ("another-sender", NOW + 60)
    done = resend(world.table[JOB_ID], world.deps, now=NOW)
    assert world.queued() == []
    assert [left.reason for left in done.left_out if left.contact_id == ANA] == [
        "an activation email to them is being sent right now"
    ]


@pytest.mark.parametrize(
    ("job_changes", "contacts", "pending", "sentence"),
    [
        ({}, [ANA], True, "resend takes --pending or --contact, not both"),
        ({"mode": "validate"}, [], False, f"job {JOB_ID} was a validation: it created no users."),
        ({"status": JobStatus.PROCESSING}, [], False, f"job {JOB_ID} is PROCESSING: resend works on a completed job"),
        ({"status": JobStatus.FAILED}, [], False, f"job {JOB_ID} is FAILED: resend works on a completed job."),
        ({"emails_queued": 4, "emails_sent": 1}, [], False, "is still sending its activation emails (1 of 4 done)"),
        ({"emails_queued": 4, "emails_sent": 1}, [], True, "resend --pending once they are"),
    ],
)
def test_each_refusal_is_a_sentence_and_queues_nothing(
    job_changes: dict[str, object], contacts: list[str], pending: bool, sentence: str
) -> None:
    # Given a job in a state a resend cannot work on as asked
    world = World()
    world.table.change(JOB_ID, **job_changes)

    # When a resend is asked for
    with pytest.raises(ResendRefused) as refused:
        resend(world.table[JOB_ID], world.deps, contacts=contacts, pending=pending, now=NOW)

    # Then it is refused with the sentence, and nothing is queued
    assert sentence in str(refused.value)
    assert world.emails.bodies == []


def test_a_job_still_sending_may_still_be_resent_to_named_contacts() -> None:
    world = World()
    world.table.change(JOB_ID, emails_queued=4, emails_sent=1)
    resend(world.table[JOB_ID], world.deps, contacts=[ANA], now=NOW)
    assert world.queued() == [(2, ANA, "005A")]


def test_the_function_answers_a_request_with_what_it_queued() -> None:
    world = World()
    done = answer({"jobId": JOB_ID, "contacts": [ANA]}, world.deps)
    assert done["queued"] == [ANA] and done["leftOut"] == []
    assert answer({"jobId": "20991231T000000Z-000000000000"}, world.deps)["refused"].startswith("there is no job")


def bounced(address: str, *, complaint: bool = False) -> Recorded:
    """An email to `address` that bounced for good (or was complained about)."""
    state = "complained" if complaint else "bounced"
    detail = "complaint (abuse)" if complaint else "Permanent/General: smtp; 550 5.1.1 user unknown"
    return Recorded(
        attempt="a1",
        state=state,
        rank=5 if complaint else 4,
        detail=detail,
        address=address,
        at="2026-12-01T10:00:00Z",
        permanent=True,
        counted=state,
        version=1,
    )


@pytest.mark.parametrize("complaint", [False, True])
def test_an_address_that_bounced_or_complained_is_never_sent_to_again_whatever_is_asked(complaint: bool) -> None:
    # Given Ben's email bounced for good (or Ben complained), and his Contact's address is the same
    world = World()
    world.ledger.deliveries[BEN] = bounced("Ben@Example.com", complaint=complaint)

    # When every not-activated user is resent to, and when Ben is named
    for asked in ({"pending": True}, {"contacts": [BEN]}):
        done = resend(world.table[JOB_ID], world.deps, now=NOW, **asked)  # type: ignore[arg-type]

        # Then Ben is left out, with what happened and what to do
        assert BEN not in done.queued
        reason = {left.contact_id: left.reason for left in done.left_out}[BEN]
        state = "complained" if complaint else "bounced"
        assert reason.startswith(f"their address {state} (")
        assert reason.endswith("on 2026-12-01: correct the Contact's email address, then resend")


def test_once_the_contacts_address_changed_a_bounced_user_is_sent_to_again() -> None:
    # Given Ben's email bounced at his old address, and his Contact now has another
    world = World()
    world.ledger.deliveries[BEN] = bounced("ben@old.example.com")

    # When he is named
    done = resend(world.table[JOB_ID], world.deps, contacts=[BEN], now=NOW)

    # Then he gets a new link at the new address
    assert done.queued == [BEN]
