"""Sending one batch of activation emails: fresh tokens on the users, then the emails, at most the rate allows."""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import formataddr
from functools import partial

from portal_import.config import EmailDeadLetterSettings, EmailSenderSettings
from portal_import.domain.activation import ActivationToken, activation_defaults, activation_values, new_token
from portal_import.domain.claims import ClaimRefused, Commit, NewLink, Settlement, Standing
from portal_import.domain.delivery import TAG_ATTEMPT, TAG_CONTACT, TAG_JOB
from portal_import.domain.guard import ramp_allows
from portal_import.domain.job import Job
from portal_import.domain.messages import EmailBatch, EmailRecipient, is_renewal
from portal_import.domain.people import Contact
from portal_import.domain.rules import is_valid_email
from portal_import.domain.sending import Calls, Claim, Finished, Plan, Replace, Send, Wait, next_step
from portal_import.domain.times import epoch_of
from portal_import.errors import SendRefused, SettledThenFailed, Transient
from portal_import.flows.completion import announce_emails_sent_if_done
from portal_import.observability import logger, metrics
from portal_import.ports import (
    MAX_DESTINATIONS,
    Destination,
    Directory,
    EmailPace,
    HeldEmails,
    Jobs,
    Ledger,
    Mailer,
    Notifier,
    Queue,
)
from portal_import.retry import with_retries

# SES's answers for one destination of a bulk send that may succeed if sent again later.
_TRANSIENT_STATUSES = {"AccountThrottled", "TransientFailure", "AccountSendingPaused", "AccountDailyQuotaExceeded"}
SEND_ATTEMPTS = 10
QUOTA_PAUSE_SECONDS = 900  # SQS's longest delay: a paused batch looks at the quota again every 15 minutes
# Time kept back at the end of an invocation to record what was sent and queue the rest.
FINISH_SECONDS = 20.0
# Recipients are claimed a call at a time, in the transaction that settles the calls before (100 items: the
# attempt's settlement, the job's counters, and two items a claim: the link, and the check that the Contact's user
# is the batch's): 49 a call. How late a call may go is portal_import.domain.sending's.
PER_CALL = min(MAX_DESTINATIONS, 49)
# How long the emails the guard's ramp holds back wait on the queue before they are looked at again.
GATE_SECONDS = 2
# How long a claim lasts without an invocation deadline to bound it (scripts, tests): Lambda's longest run.
DEFAULT_LEASE_SECONDS = 900.0


@dataclass(frozen=True)
class SendDeps:
    ledger: Ledger
    directory: Directory  # whom each recipient is: address and name, read here, never taken from the message
    jobs: Jobs
    email_pace: EmailPace
    mailer: Mailer
    email_queue: Queue
    notifier: Notifier | None = None  # for the emails-sent notice; None: not this sender's to publish
    held_emails: HeldEmails | None = None  # the reputation guard's hold; None: no guard
    clock: Callable[[], float] = field(default=time.time)
    sleep: Callable[[float], None] = field(default=time.sleep)


def send_activation_emails(
    batch: EmailBatch, deps: SendDeps, settings: EmailSenderSettings, *, deadline: float | None = None
) -> int:
    """Sends each recipient of the batch its activation email unless the ledger has it reached already; returns
    how many this call sent.

    Every recipient is claimed in the ledger (its new link stored) before its email goes out and settled once
    SES answered, so no retry, redelivery or concurrent delivery of a batch sends anyone a second email; the
    one exception is a process that dies between SES accepting an email and settling it (at least once). The
    shared limiter hands out send slots at the configured rate. Recipients are sent to in SES bulk calls of
    half a second's worth (at most PER_CALL), each at its first slot and never later than LATE_SECONDS after
    it (plus what a smaller call leaves of its half second): slots missed by more are given up and their
    recipients go last on fresh slots, since sending late would crowd whoever holds the next slots
    (portal_import.domain.sending plans the calls). So no window of W seconds holds more than R*W + R emails,
    whatever the number of senders. Recipients this invocation cannot reach go back on the queue as a new batch:
    those beyond today's quota wait QUOTA_PAUSE_SECONDS (sending pauses, no email fails), those beyond the
    invocation's time, or still throttled after retries, come back at once, and those another live sender holds
    come back once its claim has run out (in case it dies with them).

    `deadline` is the invocation's end (epoch seconds, portal_import.invocation's convention): claims last until
    then, and sending stops FINISH_SECONDS before it. None: no invocation bounds it (scripts, tests); claims last
    DEFAULT_LEASE_SECONDS and sending runs to the end of the batch.
    """
    logger.append_keys(job_id=batch.job_id, email_batch=batch.key)
    started = deps.clock()
    lease_until = deadline if deadline is not None else started + DEFAULT_LEASE_SECONDS
    people = deps.directory.contacts(r.contact_id for r in batch.recipients)
    sending = _Sending(batch, deps, settings, lease_until=lease_until, people=people)
    if sending.held():  # the reputation guard holds the job's emails: kept, not sent (docs/contracts.md §7)
        sending.park(batch.recipients)
        return 0
    try:
        sending.run(deadline=None if deadline is None else deadline - FINISH_SECONDS)
    except BaseException:
        sending.give_back()
        raise
    sending.settle()
    sending.queue_the_rest(busy_delay=min(QUOTA_PAUSE_SECONDS, math.ceil(lease_until - started)))
    logger.info("Activation emails sent", extra={"sent": sending.sent, "failed": sending.failed})
    if deps.notifier is not None and batch.request_id == batch.job_id:
        job = deps.jobs.get(batch.job_id)
        if job is not None:
            _announce_if_last(job, deps.jobs, deps.notifier, settings)
    return sending.sent


class _Sending:
    """One invocation's work on a batch: what it holds in the ledger, and what it leaves for another."""

    def __init__(
        self,
        batch: EmailBatch,
        deps: SendDeps,
        settings: EmailSenderSettings,
        *,
        lease_until: float,
        people: dict[str, Contact],
    ):
        self.batch = batch
        self.people = people  # the directory's Contacts of the recipients: their addresses and names
        self.deps = deps
        self.settings = settings
        self.lease_until = lease_until
        self.attempt = uuid.uuid4().hex
        self.tokens: dict[str, ActivationToken] = {}  # contact id -> the link of a recipient this run holds
        self.pending = Commit()  # settlements not yet written
        self.sent = self.failed = 0
        self.retry: list[EmailRecipient] = []  # to send again in a new batch, at once
        self.later: list[EmailRecipient] = []  # beyond the quota or the invocation's time
        self.busy: list[EmailRecipient] = []  # held by another live sender
        self.paused = False
        self.parking: list[EmailRecipient] = []  # not sent because the guard holds the job's emails
        self.gated: list[EmailRecipient] = []  # not yet: the first emails' outcomes come first (the guard's ramp)
        self._job: tuple[float, Job | None] = (-1.0, None)  # the job as last read for the guard, and when

    def run(self, *, deadline: float | None) -> None:
        """Sends to the batch's reachable recipients as the plan says, until no one with a slot is left or SES
        keeps failing; leaves in `retry` and `later` whom this invocation did not reach."""
        deps = self.deps
        quota = self.settings.daily_email_quota or deps.mailer.daily_quota()
        calls = Calls.at_rate(self.settings.email_rate_per_second, most=PER_CALL)
        reachable = self._reachable()
        allowed = self._ramp(len(reachable))
        reachable, self.gated = reachable[:allowed], reachable[allowed:]
        first = deps.email_pace.reserve(len(reachable), quota, deadline=deadline)
        plan = Plan.of(reachable, first.slots, first.short_of)
        while True:
            match next_step(plan, now=deps.clock(), held=self.tokens.keys(), calls=calls):
                case Replace(count):
                    fresh = deps.email_pace.reserve(count, quota, deadline=deadline, replacing=True)
                    plan = plan.replaced(count, fresh.slots, fresh.short_of)
                case Claim(recipients):
                    if self.held():
                        self.parking = list(plan.waiting)
                        return
                    plan = plan.without(self._claim(recipients))
                case Wait(until):
                    deps.sleep(max(0.0, until - deps.clock()))  # then the clock is read again: a sleep can end late
                case Send(group):
                    if not self._send_group(group):
                        self._keeps_failing(plan.slotted)
                        break
                    plan = plan.after_sending(len(group))
                case Finished():
                    break
        self.later = list(plan.unslotted)
        self.paused = plan.short_of == "quota"

    def _reachable(self) -> list[EmailRecipient]:
        """The recipients whose Contact has a valid address now; the others are counted as not delivered (once, and
        only a user of the batch's job), since no later delivery of the batch would reach them either."""
        reachable: list[EmailRecipient] = []
        unreachable: list[EmailRecipient] = []
        for recipient in self.batch.recipients:
            person = self.people.get(recipient.contact_id)
            (reachable if person and is_valid_email(person.email) else unreachable).append(recipient)
        if unreachable:
            self.failed += count_undelivered(self.batch, unreachable, self.deps.ledger, now=self.deps.clock())
            logger.warning("Recipients without a valid address now: not delivered", extra={"emails": len(unreachable)})
        return reachable

    def _send_group(self, group: Sequence[EmailRecipient]) -> bool:
        """One SES call for the group, and what SES said of each recipient recorded; False (the group's claims
        given back) when the call still fails with a passing error after every retry."""
        try:
            statuses = self._send(group)
        except Transient:
            self._release(group)
            return False
        except SendRefused as error:
            # Refused as a whole (e.g. the sender identity is not verified): sending again would be refused.
            # SES's wording says what to fix ("Email address is not verified"); its requests hold no cell of
            # the file, and the formatter scrubs the addresses it names.
            logger.error(
                "Activation emails refused",
                extra={"emails": len(group), "error": error, "reason": str(error)[:200]},
            )
            statuses = ["Refused"] * len(group)
        self._record(group, statuses)
        return True

    def _keeps_failing(self, rest: Sequence[EmailRecipient]) -> None:
        """SES still throttles after every retry: the rest with slots goes round again, at once."""
        self.retry.extend(rest)
        logger.warning("Sending keeps failing; the rest is queued again", extra={"left": len(self.retry)})

    def _record(self, group: Sequence[EmailRecipient], statuses: list[str]) -> None:
        """What SES said of each recipient: sent, to send again at once, or refused for good."""
        for recipient, status in zip(group, statuses, strict=False):
            if status == "Success":
                self._settle(recipient, Settlement.SENT)
            elif status in _TRANSIENT_STATUSES:
                self._release([recipient])
                self.retry.append(recipient)
            else:  # refused for this address (e.g. rejected): sending it again would be refused again
                logger.warning("Activation email refused", extra={"row": recipient.row, "status": status})
                self._settle(recipient, Settlement.UNDELIVERED)

    def _claim(self, claiming: Sequence[EmailRecipient]) -> set[str]:
        """Claims `claiming` (their new links) in the write that settles what was sent since the last; returns the
        contact ids refused."""
        ttl = self.settings.activation_link_ttl_hours
        links = {r.contact_id: new_token(ttl, r.contact_id) for r in claiming}
        claims = [
            NewLink(
                contact_id=r.contact_id,
                user_id=r.user_id,
                token_hash=links[r.contact_id].token_hash,
                expires_at=links[r.contact_id].expires_at,
                sent_to=self.people[r.contact_id].email,
            )
            for r in claiming
        ]
        # A transaction is all or nothing: if this one fails, the settlements are still pending, the claims not made.
        refused = self._write(Commit(claims=claims, settled=self.pending.settled))
        self.tokens.update((c, token) for c, token in links.items() if c not in refused)
        for recipient in claiming:
            why = refused.get(recipient.contact_id)
            if why is ClaimRefused.BUSY:
                self.busy.append(recipient)
            elif why is ClaimRefused.NOT_THEIRS:
                # Only a message the stack did not write names another user: nothing is sent, nothing counted.
                logger.warning(
                    "Email batch names a user the job did not create: not sent", extra={"row": recipient.row}
                )
                metrics.add_metric(name="ForeignRecipientsRefused", unit="Count", value=1)
            elif why is not None:
                logger.info("Recipient needs no email from this batch", extra={"row": recipient.row, "why": why.value})
        return set(refused)

    def _settle(self, recipient: EmailRecipient, how: Settlement) -> None:
        self.tokens.pop(recipient.contact_id, None)
        self.pending.settled[recipient.contact_id] = how
        if how is Settlement.SENT:
            self.sent += 1
        elif how is Settlement.UNDELIVERED:
            self.failed += 1

    def _release(self, recipients: Sequence[EmailRecipient]) -> None:
        for recipient in recipients:
            if recipient.contact_id in self.tokens:
                self._settle(recipient, Settlement.RELEASED)

    def settle(self) -> None:
        """Writes what is left to settle, giving back any claim still held."""
        for contact_id in list(self.tokens):
            self.tokens.pop(contact_id)
            self.pending.settled[contact_id] = Settlement.RELEASED
        if self.pending:
            self._write(self.pending)

    def _write(self, step: Commit) -> dict[str, ClaimRefused]:
        try:
            refused = self.deps.ledger.commit(
                step,
                job_id=self.batch.job_id,
                request=self.batch.request_id,
                attempt=self.attempt,
                lease_until=self.lease_until,
                now=self.deps.clock(),
            )
        except SettledThenFailed:
            # The settlements are written; the claims that were not run out by themselves (taken over later).
            self.pending = Commit()
            raise
        self.pending = Commit()  # written: nothing is pending any more
        return refused

    def give_back(self) -> None:
        """After a failure part-way: records what was sent and releases the rest, so that the batch's next
        delivery sends only what this one did not; a failure here leaves the claims to run out."""
        try:
            self.settle()
        except Exception:  # noqa: BLE001 - the failure being raised matters more; the claims run out by themselves
            logger.exception("Could not settle the emails of a failed attempt")

    def _guarded(self) -> Job | None:
        """The job, read at most once a second, when the reputation guard watches this batch's emails (the import's
        own, and new links its users asked for); None when it does not."""
        deps = self.deps
        request = self.batch.request_id
        if deps.held_emails is None or (request != self.batch.job_id and not is_renewal(request)):
            return None
        now = deps.clock()
        if now - self._job[0] >= 1.0:
            self._job = (now, deps.jobs.get(self.batch.job_id))
        return self._job[1]

    def held(self) -> bool:
        """Whether the reputation guard holds the job's emails."""
        job = self._guarded()
        return job is not None and job.emails_held_at is not None

    def _ramp(self, wanted: int) -> int:
        """How many of `wanted` may go now: a job's emails do not run ahead of the guard's judgement of the first
        ones (portal_import.domain.guard.ramp_allows); the others are queued again for a few seconds later."""
        job = self._guarded()
        if job is None or self.settings.guard_minimum_emails <= 0 or self.batch.request_id != self.batch.job_id:
            return wanted  # a user's own request for a new link is one email: held with the job's, never ramped
        quiet_for = self.deps.clock() - epoch_of(job.emails_sent_at) if job.emails_sent_at else None
        allowed = ramp_allows(
            sent=job.emails_sent,
            heard=job.guard.heard,
            minimum=self.settings.guard_minimum_emails,
            quiet_for=quiet_for,
        )
        if allowed < wanted:
            logger.info(
                "Activation emails wait for the outcomes of the job's first ones",
                extra={"sent": job.emails_sent, "heard": job.guard.heard, "now": allowed, "later": wanted - allowed},
            )
            metrics.add_metric(name="ActivationEmailsGated", unit="Count", value=wanted - allowed)
        return min(wanted, allowed)

    def park(self, recipients: Sequence[EmailRecipient]) -> None:
        """Keeps these recipients for `resume-emails`: not sent, not lost, counted as held (those the ledger has
        reached already, or given up on, are nobody's to keep: a batch delivered again holds them too)."""
        records = self.deps.ledger.records(r.contact_id for r in recipients)
        now = self.deps.clock()
        open_ = (Standing.NOT_REACHED, Standing.CLAIMED)
        waiting = [
            r
            for r in recipients
            if r.contact_id not in records or records[r.contact_id].standing(self.batch.request_id, now) in open_
        ]
        if self.deps.held_emails is None or not waiting:
            return
        if self.batch.request_id != self.batch.job_id:
            # A user's own request for a new link: it waits on the queue while the hold lasts, looked at again
            # every 15 minutes, outside the job's counts of its emails (which are the import's).
            _requeue(_waiting(self.batch, waiting), self.deps, delay=QUOTA_PAUSE_SECONDS)
            logger.warning("New link asked for held by the reputation guard", extra={"held": len(waiting)})
            return
        rest = _rest(self.batch, waiting, "h")
        self.deps.held_emails.park(self.batch.job_id, rest.key, rest.to_json(), len(rest.recipients))
        logger.warning("Activation emails held by the reputation guard", extra={"held": len(rest.recipients)})

    def queue_the_rest(self, *, busy_delay: int) -> None:
        """Recipients this invocation did not settle, back on the queue as batches of their own (or, when the guard
        holds the job's emails, kept for `resume-emails`)."""
        batch = self.batch
        if self.parking:
            left = {r.contact_id: r for r in self.parking + self.retry + self.later + self.busy + self.gated}
            self.park(list(left.values()))
            return
        if self.gated:
            _requeue(_waiting(batch, self.gated), self.deps, delay=GATE_SECONDS)
        if self.retry:
            _requeue(_rest(batch, self.retry, ""), self.deps, delay=0)
        if self.later:
            rest = _rest(batch, self.later, "q" if self.paused else "t")
            _requeue(rest, self.deps, delay=QUOTA_PAUSE_SECONDS if self.paused else 0)
            logger.warning(
                "Daily email quota spent: sending paused" if self.paused else "Out of time: the rest is queued again",
                extra={"waiting": len(rest.recipients)},
            )
        if self.busy:
            _requeue(_rest(batch, self.busy, "b"), self.deps, delay=busy_delay)
            logger.warning("Recipients held by another sender: queued again for later", extra={"held": len(self.busy)})

    def _send(self, group: Sequence[EmailRecipient]) -> list[str]:
        destinations = [
            _destination(self.people[r.contact_id], self.tokens[r.contact_id], self.settings, r.contact_id)
            for r in group
        ]
        # Each email's delivery events come back with its Contact and the attempt whose claim sent it.
        tags = {TAG_JOB: self.batch.job_id, TAG_ATTEMPT: self.attempt}
        return _send(destinations, self.deps, self.settings, tags)


@dataclass(frozen=True)
class DeadBatchDeps:
    ledger: Ledger
    jobs: Jobs
    notifier: Notifier | None  # for the emails-sent notice; None: the stack has no topic


def account_dead_batch(batch: EmailBatch, deps: DeadBatchDeps, settings: EmailDeadLetterSettings) -> int:
    """A batch whose retries are spent: each recipient it did not reach counts as not delivered (once, in the
    ledger, whoever else holds the same recipient), so that the job's emails are all accounted for and its
    emails-sent notice goes out; `portal-import resend` can still reach them. Returns how many were counted now.
    The notice is tried on a redelivery too: a delivery that counted the batch may have failed to publish it."""
    counted = count_undelivered(batch, batch.recipients, deps.ledger, now=time.time())
    logger.warning(
        "Dead-lettered email batch: recipients not reached count as not delivered",
        extra={"emails": len(batch.recipients), "counted": counted},
    )
    job = deps.jobs.get(batch.job_id)
    if deps.notifier is not None and job is not None:
        announce_emails_sent_if_done(job, deps.jobs, deps.notifier, link_ttl_hours=settings.activation_link_ttl_hours)
    return counted


def count_undelivered(batch: EmailBatch, recipients: list[EmailRecipient], ledger: Ledger, *, now: float) -> int:
    """Records these recipients of the batch as not delivered, each once, and returns how many were counted now;
    a recipient that is not a user of the batch's job (a message the stack did not write) counts for nothing."""
    users = {r.contact_id: r.user_id for r in recipients}
    strangers = ledger.not_theirs(batch.job_id, users)
    theirs = [(contact_id, user_id) for contact_id, user_id in users.items() if contact_id not in strangers]
    return ledger.mark_undelivered(job_id=batch.job_id, request=batch.request_id, recipients=theirs, now=now)


def _announce_if_last(job: Job, jobs: Jobs, notifier: Notifier, settings: EmailSenderSettings) -> None:
    """The emails-sent notice, when this batch was the job's last; never a reason to send the batch again."""
    try:
        announce_emails_sent_if_done(job, jobs, notifier, link_ttl_hours=settings.activation_link_ttl_hours)
    except Exception:  # noqa: BLE001 - raising would redeliver a batch whose emails went out
        logger.exception("Could not publish the emails-sent notice")


def _destination(
    person: Contact, token: ActivationToken, settings: EmailSenderSettings, contact_id: str
) -> Destination:
    """The email as the directory says whom it is for: its address and name, never the queued message's."""
    return Destination(
        tags={TAG_CONTACT: contact_id},
        address=person.email,
        data=activation_values(
            portal_url=settings.portal_url,
            first_name=person.first_name,
            token=token.token,
            expires_at=token.expires_at,
        ),
    )


def _send(
    destinations: list[Destination], deps: SendDeps, settings: EmailSenderSettings, tags: dict[str, str]
) -> list[str]:
    return with_retries(
        partial(
            deps.mailer.send_bulk,
            sender=formataddr((settings.portal_name, settings.sender_address)),
            template=settings.email_template,
            defaults=activation_defaults(portal_name=settings.portal_name),
            destinations=destinations,
            configuration_set=settings.configuration_set,
            tags=tags,
        ),
        attempts=SEND_ATTEMPTS,
        sleep=deps.sleep,
    )


def _rest(batch: EmailBatch, recipients: list[EmailRecipient], reason: str) -> EmailBatch:
    """The recipients left over, as a batch whose key is the same on every run that leaves the same ones."""
    first = batch.recipients.index(recipients[0])
    return EmailBatch(
        key=f"{batch.key}+{reason}{first}", job_id=batch.job_id, request=batch.request, recipients=recipients
    )


def _waiting(batch: EmailBatch, gated: list[EmailRecipient]) -> EmailBatch:
    """The recipients the guard's ramp holds back, as a batch of their own: when that is the whole batch, it comes
    back under a key that counts its waits (`+w<n>`), so a batch that waits many times keeps a short key."""
    if len(gated) < len(batch.recipients):
        return _rest(batch, gated, "g")
    found = _WAITS.search(batch.key)
    waits = int(found.group(1)) if found else 0
    key = f"{batch.key[: found.start()] if found else batch.key}+w{waits + 1}"
    return EmailBatch(key=key, job_id=batch.job_id, request=batch.request, recipients=gated)


_WAITS = re.compile(r"\+w(\d+)$")


def _requeue(batch: EmailBatch, deps: SendDeps, *, delay: int) -> None:
    deps.email_queue.send(batch.to_json(), delay_seconds=delay)
