"""Sending a batch of activation emails, with fakes for the adapters: calls stay within the rate, every recipient
is sent to once or queued again, and what SES refuses for good is counted as failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from portal_import.config import EmailSenderSettings
from portal_import.domain.activation import hash_token
from portal_import.domain.claims import ClaimRefused, Commit, Settlement
from portal_import.domain.guard import Tally
from portal_import.domain.job import JobStatus
from portal_import.domain.messages import EmailBatch, EmailRecipient
from portal_import.domain.people import Contact
from portal_import.domain.times import now_iso
from portal_import.errors import SettledThenFailed, Transient
from portal_import.flows.resume import ResumeDeps, resume_emails
from portal_import.flows.send import (
    FINISH_SECONDS,
    GATE_SECONDS,
    QUOTA_PAUSE_SECONDS,
    SendDeps,
    send_activation_emails,
)
from portal_import.ports import Destination

from . import fakes
from .sample_jobs import a_job


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Ledger(fakes.Ledger):
    """The shared ledger, which also holds the sender to settling only the claims it holds."""

    def commit(
        self, step: Commit, *, job_id: str, request: str, attempt: str, lease_until: float, now: float
    ) -> dict[str, ClaimRefused]:
        for contact_id in step.settled:
            assert self.claims[contact_id][0] == attempt
        return super().commit(step, job_id=job_id, request=request, attempt=attempt, lease_until=lease_until, now=now)


def settings(rate: float, quota: int = 0) -> EmailSenderSettings:
    return EmailSenderSettings.model_validate(
        {
            "JOBS_TABLE": "jobs",
            "DIRECTORY_TABLE": "directory",
            "IDEMPOTENCY_TABLE": "idempotency",
            "EMAIL_QUEUE_URL": "https://sqs/emails",
            "ACTIVATION_LINK_TTL_HOURS": "72",
            "PORTAL_NAME": "Customer Portal",
            "PORTAL_URL": "https://portal.example.com",
            "SENDER_ADDRESS": "no-reply@example.com",
            "ACTIVATION_EMAIL_TEMPLATE": "stack-activation-email",
            "EMAIL_RATE_PER_SECOND": str(rate),
            "DAILY_EMAIL_QUOTA": str(quota),
            "CONFIGURATION_SET": "stack-activation",
        }
    )


def batch(size: int) -> EmailBatch:
    return EmailBatch(
        key="job#0#0",
        job_id="job",
        recipients=[EmailRecipient(row=n + 2, user_id=f"user{n}", contact_id=f"contact{n}") for n in range(size)],
    )


def directory_of(size: int) -> fakes.Directory:
    return fakes.Directory({f"contact{n}": Contact(f"contact{n}", email=f"c{n}@example.com") for n in range(size)})


def owners_of(size: int) -> dict[str, tuple[str, str]]:
    """Contact n's portal user is user n, created by the job of batch()."""
    return {f"contact{n}": (f"user{n}", "job") for n in range(size)}


def batches_on(queue: fakes.Queue) -> list[tuple[EmailBatch, int]]:
    """The batches put back on the email queue, each with its delay."""
    return [
        (EmailBatch.model_validate_json(body), delay) for body, delay in zip(queue.bodies, queue.delays, strict=True)
    ]


def world(rate: float) -> tuple[Clock, SendDeps, fakes.Mailer, Ledger, fakes.Directory, fakes.Queue]:
    clock = Clock()
    mailer, ledger, queue = fakes.Mailer(clock=clock), Ledger(users=owners_of(5000)), fakes.Queue()
    directory = directory_of(5000)
    deps = SendDeps(
        ledger=ledger,
        directory=directory,
        jobs=fakes.Jobs(),
        email_pace=fakes.EmailPace(clock, rate),
        mailer=mailer,
        email_queue=queue,
        clock=clock,
        sleep=clock.sleep,
    )
    return clock, deps, mailer, ledger, directory, queue


def test_no_window_holds_more_than_the_rate_allows_and_the_rate_is_kept_up() -> None:
    # Given 230 recipients and a rate of 20 emails a second
    clock, deps, mailer, ledger, _, _ = world(rate=20)
    start = clock()

    # When the batch is sent
    sent = send_activation_emails(batch(230), deps, settings(rate=20))

    # Then every recipient got one email, in calls of half a second's worth of recipients
    addresses = [d.address for _, call in mailer.calls for d in call]
    assert sent == ledger.sent == 230 and sorted(addresses) == sorted(f"c{n}@example.com" for n in range(230))
    assert max(len(call) for _, call in mailer.calls) == 10
    # and the ledger holds no claim any more: every recipient is settled
    assert ledger.claims == {}
    # and no window of W seconds holds more than 20*W + 20 sends
    times = sorted(t for t, call in mailer.calls for _ in call)
    for w in (0.5, 1, 3):
        busiest = max(sum(1 for t in times if first <= t < first + w) for first in times)
        assert busiest <= 20 * w + 20
    # and the rate is kept up: 230 emails take about 230/20 seconds
    assert clock() - start <= 230 / 20
    # and each link's token is on its user, hashed
    for _, call in mailer.calls:
        for destination in call:
            token = destination.data["link"].split("token=")[1]
            contact = "contact" + destination.address.removeprefix("c").removesuffix("@example.com")
            assert ledger.tokens[contact] == hash_token(token)


def test_recipients_beyond_the_invocations_time_are_queued_again_not_sent() -> None:
    # Given 100 recipients at 1 email a second and an invocation with 60 seconds left
    clock, deps, mailer, ledger, _, queue = world(rate=1)

    # When the batch is sent
    sent = send_activation_emails(batch(100), deps, settings(rate=1), deadline=clock() + 60.0)

    # Then what fits before the finishing margin was sent, and the rest is back on the queue at once
    fits = int(60 - FINISH_SECONDS)
    assert sent == ledger.sent == fits
    ((rest, delay),) = batches_on(queue)
    assert delay == 0 and rest.key == f"job#0#0+t{fits}"
    assert [r.row for r in rest.recipients] == [n + 2 for n in range(fits, 100)]
    assert {d.address for _, call in mailer.calls for d in call}.isdisjoint(
        f"c{r.contact_id.removeprefix('contact')}@example.com" for r in rest.recipients
    )


def test_a_spent_daily_quota_pauses_the_rest() -> None:
    # Given a quota of 30 emails a day and a batch of 50
    _, deps, _, ledger, _, queue = world(rate=50)

    # When the batch is sent
    send_activation_emails(batch(50), deps, settings(rate=50, quota=30))

    # Then 30 went out and 20 wait on the queue for the quota to refill
    ((later, delay),) = batches_on(queue)
    assert ledger.sent == 30 and len(later.recipients) == 20 and delay == QUOTA_PAUSE_SECONDS


def test_throttled_recipients_go_round_again_and_rejected_ones_fail() -> None:
    # Given SES throttles one recipient and rejects another
    _, deps, mailer, ledger, _, queue = world(rate=50)
    mailer.refuse = {"c3@example.com": "AccountThrottled", "c7@example.com": "MessageRejected"}

    # When a batch of 10 is sent
    sent = send_activation_emails(batch(10), deps, settings(rate=50))

    # Then 8 were sent, the rejected one counts as failed, and the throttled one is queued again
    assert (sent, ledger.sent, ledger.failed) == (8, 8, 1)
    ((again, delay),) = batches_on(queue)
    assert delay == 0 and [r.contact_id for r in again.recipients] == ["contact3"]


def test_slots_missed_while_held_up_are_replaced_instead_of_crowding_the_next() -> None:
    # Given a sender that is held up for a second (a slow call, a busy machine) after its first call
    clock, deps, mailer, ledger, _, _ = world(rate=20)
    held_up = [1.0]

    def slow_first_call(destinations: Sequence[Destination]) -> None:
        clock.now += held_up.pop() if held_up else 0.0

    mailer.on_call = slow_first_call

    # When it sends 60 emails at 20 a second
    send_activation_emails(batch(60), deps, settings(rate=20))

    # Then all went out, and still no window of W seconds holds more than 20*W + 20
    assert ledger.sent == 60
    times = sorted(t for t, call in mailer.calls for _ in call)
    for w in (0.25, 0.5, 1, 2):
        busiest = max(sum(1 for t in times if first <= t < first + w) for first in times)
        assert busiest <= 20 * w + 20
    # and the recipients whose slots passed while it was held up went last, on fresh slots
    last_call = [d.address for d in mailer.calls[-1][1]]
    assert {f"c{n}@example.com" for n in range(10, 15)} <= set(last_call)


def test_replaced_slots_do_not_count_twice_against_the_daily_quota() -> None:
    # Given a quota of exactly 60 emails and a sender held up after its first call
    clock, deps, mailer, ledger, _, queue = world(rate=20)
    held_up = [1.0]

    def slow_first_call(destinations: Sequence[Destination]) -> None:
        clock.now += held_up.pop() if held_up else 0.0

    mailer.on_call = slow_first_call

    # When it sends 60 emails
    send_activation_emails(batch(60), deps, settings(rate=20, quota=60))

    # Then all 60 went out today: the slots it missed and replaced were not charged to the quota twice
    assert ledger.sent == 60 and batches_on(queue) == []


def test_a_batch_that_fails_part_way_sends_only_the_rest_when_delivered_again() -> None:
    # Given a sender whose fourth SES call dies with an error that is no answer from SES (a bug, a lost process)
    _, deps, mailer, ledger, _, queue = world(rate=20)
    calls = [0]

    def dies_on_the_fourth_call(destinations: Sequence[Destination]) -> None:
        calls[0] += 1
        if calls[0] == 4:
            raise RuntimeError("the process went away")

    mailer.on_call = dies_on_the_fourth_call
    emails = batch(60)

    # When the batch fails part-way and is delivered again (twice, as SQS may)
    with pytest.raises(RuntimeError):
        send_activation_emails(emails, deps, settings(rate=20))
    reached_first = {d.address for _, call in mailer.calls for d in call}
    again = send_activation_emails(emails, deps, settings(rate=20))
    once_more = send_activation_emails(emails, deps, settings(rate=20))

    # Then the first attempt's emails are kept, the next sent only the others, and the third nothing at all
    addresses = [d.address for _, call in mailer.calls for d in call]
    assert len(reached_first) == 30 and again == 30 and once_more == 0
    assert sorted(addresses) == sorted(f"c{n}@example.com" for n in range(60))
    assert (ledger.sent, ledger.failed, ledger.claims, batches_on(queue)) == (60, 0, {}, [])


def test_recipients_another_live_sender_holds_are_left_to_it_and_looked_at_again_later() -> None:
    # Given another sender, still running, holds the claims of two of the batch's recipients
    clock, deps, mailer, ledger, _, queue = world(rate=20)
    ledger.claims.update({"contact1": ("another", clock() + 300), "contact4": ("another", clock() + 300)})

    # When the batch is sent
    sent = send_activation_emails(batch(10), deps, settings(rate=20), deadline=clock() + 300.0)

    # Then those two get no email from this sender; they come back on the queue once the other's claim ran out
    assert sent == 8
    assert {d.address for _, call in mailer.calls for d in call}.isdisjoint({"c1@example.com", "c4@example.com"})
    ((later, delay),) = batches_on(queue)
    assert [r.contact_id for r in later.recipients] == ["contact1", "contact4"] and delay == 300


def test_a_send_that_stays_throttled_puts_every_recipient_back_once() -> None:
    # Given SES throttles every call, and an invocation with time for 40 of 100 recipients at 1 a second
    clock, deps, mailer, ledger, _, queue = world(rate=1)

    def throttled(destinations: Sequence[Destination]) -> None:
        raise Transient("ClientError: Maximum sending rate exceeded.")

    mailer.on_call = throttled

    # When the batch is sent
    sent = send_activation_emails(batch(100), deps, settings(rate=1), deadline=clock() + 60.0)

    # Then nothing went out, no claim is left held, and each recipient is back on the queue exactly once
    requeued = [r.contact_id for rest, _ in batches_on(queue) for r in rest.recipients]
    assert sent == 0 and ledger.claims == {} and ledger.sent == 0
    assert sorted(requeued) == sorted(f"contact{n}" for n in range(100))


def test_a_message_names_whom_but_the_directory_says_where_and_to_whom() -> None:
    # Given a batch as an attacker would write it in the old message shape: an outside address and name beside a
    # Contact and its user, and a Contact whose address changed since the email was queued
    _, deps, mailer, ledger, directory, _ = world(rate=50)
    people = directory.people
    people["contact1"] = Contact("contact1", email="moved@example.com", first_name="Ada")
    forged = EmailBatch.model_validate(
        {
            "key": "job#0#0",
            "jobId": "job",
            "recipients": [
                {"row": 2, "userId": "user0", "contactId": "contact0", "email": "evil@attacker.test", "firstName": "X"},
                {"row": 3, "userId": "user1", "contactId": "contact1"},
            ],
        }
    )

    # When it is sent
    send_activation_emails(forged, deps, settings(50))

    # Then each email went where the directory says, with its name, and each link records that address
    sent = {d.address: d.data for _, call in mailer.calls for d in call}
    assert set(sent) == {"c0@example.com", "moved@example.com"}
    assert sent["moved@example.com"]["greeting"] == "Hello Ada,"
    assert ledger.sent_to == {"contact0": "c0@example.com", "contact1": "moved@example.com"}


@pytest.mark.parametrize(
    "forgery",
    [
        {"userId": "user1", "contactId": "contact0"},  # another Contact's user, on this Contact
        {"userId": "user0", "contactId": "contact0", "jobId": "another-job"},  # a user another job created
        {"userId": "admin", "contactId": "contact0"},  # any user of the pool
    ],
)
def test_a_recipient_that_is_not_the_contacts_user_of_the_job_gets_nothing_and_counts_nothing(
    forgery: dict[str, str],
) -> None:
    # Given a batch naming one real recipient and one the job did not create
    _, deps, mailer, ledger, _, queue = world(rate=50)
    job = forgery.get("jobId", "job")
    ledger.users["contact0"] = ("user0", "job")
    wrong = EmailRecipient(row=9, user_id=forgery["userId"], contact_id=forgery["contactId"])
    real = EmailRecipient(row=2, user_id="user2", contact_id="contact2")
    forged = EmailBatch(key=f"{job}#0#0", job_id=job, recipients=[wrong, real] if job == "job" else [wrong])

    # When it is sent
    sent = send_activation_emails(forged, deps, settings(50))

    # Then only the job's own user got an email; the other was neither sent, counted nor queued again
    addresses = [d.address for _, call in mailer.calls for d in call]
    assert addresses == (["c2@example.com"] if job == "job" else [])
    assert sent == len(addresses) and ledger.failed == 0 and batches_on(queue) == []
    assert "contact0" not in ledger.tokens


def test_a_recipient_whose_contact_lost_its_address_is_counted_not_delivered_once() -> None:
    _, deps, mailer, ledger, directory, _ = world(rate=50)
    people = directory.people
    people["contact0"] = replace(people["contact0"], email="not an address")
    send_activation_emails(batch(3), deps, settings(50))
    assert sorted(d.address for _, call in mailer.calls for d in call) == ["c1@example.com", "c2@example.com"]
    assert ledger.failed == 1 and ledger.sent == 2


def guarded_world(**job: Any) -> tuple[Clock, SendDeps, fakes.Mailer, fakes.Queue, fakes.HeldEmails]:
    """world() with the reputation guard on: the batch's job in a table as `job` says it."""
    clock, deps, mailer, _, _, queue = world(rate=100)
    table = fakes.JobTable().put(a_job(job_id="job", status=JobStatus.COMPLETED, **job))
    held = fakes.HeldEmails(table)
    return clock, replace(deps, jobs=fakes.Jobs(table), held_emails=held), mailer, queue, held


def test_a_jobs_emails_do_not_run_ahead_of_their_outcomes() -> None:
    # Given a job whose first 50 emails went out a few seconds ago and none has an outcome yet
    clock, deps, mailer, queue, _ = guarded_world(emails_queued=200, emails_sent=50, emails_sent_at=now_iso())

    # When its next batch comes, twice
    assert send_activation_emails(batch(30), deps, settings(rate=100)) == 0
    ((waiting, delay),) = batches_on(queue)
    assert send_activation_emails(waiting, deps, settings(rate=100)) == 0

    # Then nothing is sent: the batch waits a few seconds on the queue, whole, under a key that counts its waits
    assert mailer.calls == []
    (first, _), (second, _) = batches_on(queue)
    assert (first.key, second.key, delay) == ("job#0#0+w1", "job#0#0+w2", GATE_SECONDS)
    assert len(second.recipients) == 30

    # When 40 of the 50 have been heard from
    deps.jobs.table.change("job", guard=Tally(outcomes=40, heard=40))  # type: ignore[attr-defined]
    clock.sleep(1.5)

    # Then the batch goes: 40 may be unheard from now, and 10 still are
    assert send_activation_emails(second, deps, settings(rate=100)) == 30


def test_once_the_job_is_held_a_batch_is_kept_not_sent_and_comes_back_on_resume() -> None:
    # Given a job whose emails the guard held
    _, deps, mailer, queue, held = guarded_world(emails_queued=200, emails_held_at=now_iso(), emails_held_why="x")

    # When a batch of it arrives, twice (SQS delivers at least once)
    for _ in range(2):
        assert send_activation_emails(batch(20), deps, settings(rate=100)) == 0

    # Then nothing is sent, and the batch is kept once, its recipients counted as held
    assert mailer.calls == [] and queue.bodies == []
    job = deps.jobs.get("job")
    assert job is not None and (job.emails_held, job.parked) == (20, ["job#0#0+h0"])

    # When the administrator resumes the job's emails
    answer = resume_emails("job", ResumeDeps(deps.jobs, held, queue))

    # Then the kept batch is back on the queue, and the job holds nothing
    assert answer == {"resumed": "job", "queued": 20}
    ((back, _),) = batches_on(queue)
    assert len(back.recipients) == 20
    job = deps.jobs.get("job")
    assert job is not None and (job.emails_held_at, job.emails_held, job.parked) == (None, 0, [])


def test_a_new_link_a_user_asks_for_waits_on_the_queue_while_the_job_is_held_and_goes_once_it_is_not() -> None:
    # Given a job whose emails the guard held, and a new link one of its users asked for from the page
    _, deps, mailer, queue, _ = guarded_world(emails_queued=200, emails_held_at=now_iso(), emails_held_why="x")
    asked = EmailBatch(key="job/renew/r1#0", job_id="job", request="job/renew/r1", recipients=batch(1).recipients)

    # When it arrives: nothing is sent, it waits 15 minutes on the queue, whole, and the job's counts do not move
    assert send_activation_emails(asked, deps, settings(rate=100)) == 0
    ((waiting, delay),) = batches_on(queue)
    assert (waiting.key, waiting.request_id, delay) == ("job/renew/r1#0+w1", "job/renew/r1", QUOTA_PAUSE_SECONDS)
    job = deps.jobs.get("job")
    assert job is not None and (job.emails_held, job.parked) == (0, [])
    assert mailer.calls == []

    # When the hold has ended and it comes back: it is sent, never ramped behind the job's own emails
    deps.jobs.table.change("job", emails_held_at=None)  # type: ignore[attr-defined]
    assert send_activation_emails(waiting, deps, settings(rate=100)) == 1
    assert [d.address for _, call in mailer.calls for d in call] == ["c0@example.com"]


class LedgerFailingAfterSettling(Ledger):
    """A ledger whose commit, once, writes the settlements and then fails for a passing reason (its claims'
    transaction throttled): what it settled must never be handed to it again."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settlements: list[str] = []  # every contact settled as sent or not delivered, each time it is handed one
        self.failed_once = False

    def commit(
        self, step: Commit, *, job_id: str, request: str, attempt: str, lease_until: float, now: float
    ) -> dict[str, ClaimRefused]:
        self.settlements += [c for c, how in step.settled.items() if how is not Settlement.RELEASED]
        if step.settled and step.claims and not self.failed_once:
            self.failed_once = True
            super().commit(
                Commit(settled=step.settled),
                job_id=job_id,
                request=request,
                attempt=attempt,
                lease_until=lease_until,
                now=now,
            )
            raise SettledThenFailed("claims throttled after the settlements were written")
        return super().commit(step, job_id=job_id, request=request, attempt=attempt, lease_until=lease_until, now=now)


def test_settlements_written_before_a_failure_are_never_written_again() -> None:
    # Given a ledger that fails once right after writing a call's settlements
    _, deps, _, _, _, _ = world(rate=20)
    ledger = LedgerFailingAfterSettling(users=owners_of(5000))
    deps = replace(deps, ledger=ledger)

    # When a batch is sent and that failure ends the attempt
    with pytest.raises(Transient):
        send_activation_emails(batch(60), deps, settings(rate=20))

    # Then every recipient it settled was handed to the ledger once: the job's counters moved once for each
    assert ledger.settlements and len(ledger.settlements) == len(set(ledger.settlements))
