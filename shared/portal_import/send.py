"""Sending one batch of activation emails: fresh tokens on the users, then the emails, at most the rate allows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formataddr
from functools import partial

from botocore.exceptions import BotoCoreError, ClientError

from portal_import.activation import ActivationToken, activation_values, new_token
from portal_import.aws.directory import Activation, Directory
from portal_import.aws.jobs import JobStore
from portal_import.aws.mailer import MAX_DESTINATIONS, Destination, Mailer
from portal_import.aws.notifier import Notifier
from portal_import.aws.queues import QueueSender
from portal_import.aws.ratelimit import SendSlots
from portal_import.completion import announce_emails_sent_if_done
from portal_import.config import EmailDeadLetterSettings, EmailSenderSettings
from portal_import.job import Job
from portal_import.messages import EmailBatch, EmailRecipient
from portal_import.observability import logger
from portal_import.retry import with_retries

# SES answers these when a send may succeed if tried again later; anything else is about this email.
_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
}
# SES's answers for one destination of a bulk send that may succeed if sent again later.
_TRANSIENT_STATUSES = {"AccountThrottled", "TransientFailure", "AccountSendingPaused", "AccountDailyQuotaExceeded"}
SEND_ATTEMPTS = 10
QUOTA_PAUSE_SECONDS = 900  # SQS's longest delay: a paused batch looks at the quota again every 15 minutes
# Time kept back at the end of an invocation to record what was sent and queue the rest.
FINISH_SECONDS = 20.0
# How long after its slot a call may still go: with calls of half a second's worth of emails, a call up to a
# quarter second late (plus the call's own time) still keeps any window within R*W + R.
LATE_SECONDS = 0.25
_MAX_MISSED = 10


def is_transient(error: Exception) -> bool:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    return isinstance(error, (BotoCoreError, ConnectionError, TimeoutError))


@dataclass(frozen=True)
class SendDeps:
    directory: Directory
    jobs: JobStore
    slots: SendSlots
    mailer: Mailer
    email_queue: QueueSender
    notifier: Notifier | None = None  # for the emails-sent notice; None: not this sender's to publish
    clock: Callable[[], float] = field(default=time.time)
    sleep: Callable[[float], None] = field(default=time.sleep)


def send_activation_emails(
    batch: EmailBatch, deps: SendDeps, settings: EmailSenderSettings, *, seconds_left: Callable[[], float] | None = None
) -> int:
    """Sends the batch's emails, each at most once; returns how many went out.

    The shared limiter hands out send slots at the configured rate. Recipients are sent to in SES bulk calls of
    half a second's worth (at most 50), each at its first slot and never later than LATE_SECONDS after it:
    slots missed by more are given up and their recipients go last on fresh slots, since sending late would
    crowd whoever holds the next slots. So no window of W seconds holds more than R*W + R emails, whatever the
    number of senders. Links are made just before sending, for the recipients the limiter can take now.
    Recipients this invocation cannot reach go back on the queue as a new batch, so what was sent is never sent
    again: those beyond today's quota wait QUOTA_PAUSE_SECONDS (sending pauses, no email fails), those beyond
    the invocation's time, or still throttled after retries, come back at once.
    """
    logger.append_keys(job_id=batch.job_id, email_batch=batch.key)
    quota = settings.daily_email_quota or deps.mailer.daily_quota()
    deadline = deps.clock() + seconds_left() - FINISH_SECONDS if seconds_left else None
    # Links are stored before slots are reserved, so that no slot passes while they are written; only for the
    # recipients the limiter has room for (a batch paused for the quota writes none).
    room = deps.slots.available(len(batch.recipients), quota, deadline=deadline)
    now_sending = batch.recipients[: len(room.slots)]
    tokens = {r.contact_id: new_token(settings.activation_link_ttl_hours) for r in now_sending}
    if tokens:
        deps.directory.set_activations(
            [
                Activation(
                    contact_id=r.contact_id,
                    user_id=r.user_id,
                    token_hash=tokens[r.contact_id].token_hash,
                    expires_at=tokens[r.contact_id].expires_at,
                )
                for r in now_sending
            ]
        )
    reservation = deps.slots.reserve(len(tokens), quota, deadline=deadline) if tokens else room
    queue = list(batch.recipients)  # in sending order; the first len(slots) have a slot each
    slots, short_of = list(reservation.slots), reservation.short_of or room.short_of
    per_call = max(1, min(MAX_DESTINATIONS, int(settings.email_rate_per_second / 2)))
    sent = failed = 0
    retry: list[EmailRecipient] = []  # to send again in a new batch, at once
    position = missed = 0
    while position < len(slots):
        now = deps.clock()
        gone = sum(1 for slot in slots[position:] if now - slot > LATE_SECONDS)
        if gone and missed < _MAX_MISSED:
            missed += 1
            again = deps.slots.reserve(gone, quota, deadline=deadline, replacing=True)
            queue[position:] = queue[position + gone :] + queue[position : position + gone]
            slots[position:] = slots[position + gone :] + again.slots
            short_of = again.short_of or short_of
            continue
        wait = slots[position] - now
        if wait > 0:
            deps.sleep(wait)
            continue  # look at the clock again: a sleep can end late
        group = queue[position : min(position + per_call, len(slots))]
        try:
            statuses = _send([_destination(r, tokens[r.contact_id], settings) for r in group], deps, settings)
        except (ClientError, BotoCoreError, ConnectionError, TimeoutError) as error:
            if is_transient(error):  # still throttled after every retry: this and the rest go round again
                retry.extend(queue[position : len(slots)])
                logger.warning("Sending keeps failing; the rest is queued again", extra={"left": len(retry)})
                break
            # Refused as a whole (e.g. the sender identity is not verified): sending again would be refused.
            logger.error("Activation emails refused", extra={"emails": len(group), "error": str(error)[:200]})
            failed += len(group)
            position += len(group)
            continue
        for recipient, status in zip(group, statuses, strict=False):
            if status == "Success":
                sent += 1
            elif status in _TRANSIENT_STATUSES:
                retry.append(recipient)
            else:  # refused for this address (e.g. rejected): sending it again would be refused again
                logger.warning("Activation email refused", extra={"row": recipient.row, "status": status})
                failed += 1
        position += len(group)
    if retry:
        _requeue(_rest(batch, retry, ""), deps, delay=0)
    if len(slots) < len(queue):
        paused = short_of == "quota"
        later = _rest(batch, queue[len(slots) :], "q" if paused else "t")
        _requeue(later, deps, delay=QUOTA_PAUSE_SECONDS if paused else 0)
        logger.warning(
            "Daily email quota spent: sending paused" if paused else "Out of time: the rest is queued again",
            extra={"waiting": len(later.recipients), "quota": quota},
        )
    job = with_retries(lambda: deps.jobs.add_email_results(batch.job_id, sent=sent, failed=failed))
    logger.info("Activation emails sent", extra={"sent": sent, "failed": failed})
    if deps.notifier is not None:
        _announce_if_last(job, deps.jobs, deps.notifier, settings)
    return sent


def account_dead_batch(
    batch: EmailBatch, jobs: JobStore, notifier: Notifier | None, settings: EmailDeadLetterSettings
) -> int:
    """A batch whose retries are spent: its recipients count as not delivered (whether an attempt reached some of
    them is not known), so that the job's emails are all accounted for and its emails-sent notice goes out.
    Returns how many were counted (0 for a batch counted before). The notice is tried on a redelivery too: a
    delivery that counted the batch may have failed to publish it."""
    job, counted = with_retries(
        lambda: jobs.account_dead_email_batch(batch.job_id, batch.key, recipients=len(batch.recipients))
    )
    if counted:
        logger.warning(
            "Dead-lettered email batch: its recipients count as not delivered", extra={"emails": len(batch.recipients)}
        )
    else:
        logger.info("Dead-lettered email batch already accounted")
    if notifier is not None:
        announce_emails_sent_if_done(job, jobs, notifier, link_ttl_hours=settings.activation_link_ttl_hours)
    return len(batch.recipients) if counted else 0


def _announce_if_last(job: Job, jobs: JobStore, notifier: Notifier, settings: EmailSenderSettings) -> None:
    """The emails-sent notice, when this batch was the job's last; never a reason to send the batch again."""
    try:
        announce_emails_sent_if_done(job, jobs, notifier, link_ttl_hours=settings.activation_link_ttl_hours)
    except Exception:  # noqa: BLE001 - raising would redeliver a batch whose emails went out
        logger.exception("Could not publish the emails-sent notice")


def _destination(recipient: EmailRecipient, token: ActivationToken, settings: EmailSenderSettings) -> Destination:
    return Destination(
        address=recipient.email,
        data=activation_values(
            portal_url=settings.portal_url,
            first_name=recipient.first_name,
            token=token.token,
            expires_at=token.expires_at,
        ),
    )


def _send(destinations: list[Destination], deps: SendDeps, settings: EmailSenderSettings) -> list[str]:
    return with_retries(
        partial(
            deps.mailer.send_bulk,
            sender=formataddr((settings.portal_name, settings.sender_address)),
            template=settings.email_template,
            defaults={"portalName": settings.portal_name},
            destinations=destinations,
        ),
        attempts=SEND_ATTEMPTS,
        retryable=is_transient,
        sleep=deps.sleep,
    )


def _rest(batch: EmailBatch, recipients: list[EmailRecipient], reason: str) -> EmailBatch:
    """The recipients left over, as a batch whose key is the same on every run that leaves the same ones."""
    first = batch.recipients.index(recipients[0])
    return EmailBatch(key=f"{batch.key}+{reason}{first}", job_id=batch.job_id, recipients=recipients)


def _requeue(batch: EmailBatch, deps: SendDeps, *, delay: int) -> None:
    with_retries(partial(deps.email_queue.send, batch.to_json(), delay_seconds=delay))
