"""Sending one batch of activation emails: fresh tokens on the users, then one email per slot of the rate."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from botocore.exceptions import BotoCoreError, ClientError

from portal_import.activation import ActivationEmail, ActivationToken, new_token
from portal_import.aws.directory import Directory
from portal_import.aws.jobs import JobStore
from portal_import.aws.mailer import Mailer
from portal_import.aws.queues import QueueSender
from portal_import.aws.ratelimit import SendSlots
from portal_import.config import EmailSenderSettings
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
SEND_ATTEMPTS = 10
QUOTA_PAUSE_SECONDS = 900  # SQS's longest delay: a paused batch looks at the quota again every 15 minutes


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
    clock: Callable[[], float] = field(default=time.time)
    sleep: Callable[[float], None] = field(default=time.sleep)


def send_activation_emails(batch: EmailBatch, deps: SendDeps, settings: EmailSenderSettings) -> int:
    """Sends the batch's emails, each at most once; returns how many went out.

    Tokens are made here, just before sending. A send that keeps being throttled is retried with backoff; if
    it still fails, the recipients not yet reached go back on the queue as a new batch, so that what was
    sent is never sent again. Recipients beyond what today's quota allows wait on the queue the same way,
    coming back every QUOTA_PAUSE_SECONDS until the quota refills: sending pauses, no email fails.
    """
    logger.append_keys(job_id=batch.job_id, email_batch=batch.key)
    tokens = {recipient.contact_id: new_token(settings.activation_link_ttl_hours) for recipient in batch.recipients}
    deps.directory.set_activation_tokens(
        [(contact_id, token.token_hash, token.expires_at) for contact_id, token in tokens.items()]
    )
    quota = settings.daily_email_quota or deps.mailer.daily_quota()
    slots = deps.slots.reserve(len(batch.recipients), quota)
    sent = failed = 0
    for index, (recipient, slot) in enumerate(zip(batch.recipients, slots, strict=False)):
        wait = slot - deps.clock()
        if wait > 0:
            deps.sleep(wait)
        try:
            _send_one(recipient, tokens[recipient.contact_id], deps, settings)
        except (ClientError, BotoCoreError, ConnectionError, TimeoutError) as error:
            if not is_transient(error):
                # Refused for this address (e.g. rejected): sending it again would be refused again.
                logger.warning("Activation email refused", extra={"row": recipient.row, "error": str(error)[:200]})
                failed += 1
                continue
            unsent = batch.recipients[index : len(slots)]
            rest = EmailBatch(key=f"{batch.key}+{index}", job_id=batch.job_id, recipients=unsent)
            with_retries(partial(deps.email_queue.send, rest.to_json()))
            logger.warning("Sending keeps failing; the rest is queued again", extra={"left": len(rest.recipients)})
            break
        sent += 1
    if len(slots) < len(batch.recipients):
        # Today's quota is spent: the rest waits on the queue and comes back until the quota refills.
        waiting = batch.recipients[len(slots) :]
        later = EmailBatch(key=f"{batch.key}+q{len(slots)}", job_id=batch.job_id, recipients=waiting)
        with_retries(partial(deps.email_queue.send, later.to_json(), delay_seconds=QUOTA_PAUSE_SECONDS))
        logger.warning("Daily email quota spent: sending paused", extra={"waiting": len(waiting), "quota": quota})
    with_retries(lambda: deps.jobs.add_email_results(batch.job_id, sent=sent, failed=failed))
    logger.info("Activation emails sent", extra={"sent": sent, "failed": failed})
    return sent


def _send_one(recipient: EmailRecipient, token: ActivationToken, deps: SendDeps, settings: EmailSenderSettings) -> None:
    mime = ActivationEmail(
        portal_name=settings.portal_name,
        portal_url=settings.portal_url,
        sender=settings.sender_address,
        recipient=recipient.email,
        first_name=recipient.first_name,
        token=token.token,
        expires_at=token.expires_at,
    ).to_mime()
    with_retries(
        partial(deps.mailer.send_raw, sender=settings.sender_address, recipient=recipient.email, mime=mime),
        attempts=SEND_ATTEMPTS,
        retryable=is_transient,
        sleep=deps.sleep,
    )
