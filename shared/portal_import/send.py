"""Sending one batch of activation emails: fresh tokens on the users, then one email per slot of the rate."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from portal_import.activation import ActivationEmail, new_token
from portal_import.aws.directory import Directory
from portal_import.aws.jobs import JobStore
from portal_import.aws.mailer import Mailer
from portal_import.aws.ratelimit import SendSlots
from portal_import.config import EmailSenderSettings
from portal_import.messages import EmailBatch
from portal_import.observability import logger


@dataclass(frozen=True)
class SendDeps:
    directory: Directory
    jobs: JobStore
    slots: SendSlots
    mailer: Mailer
    clock: Callable[[], float] = field(default=time.time)
    sleep: Callable[[float], None] = field(default=time.sleep)


def send_activation_emails(batch: EmailBatch, deps: SendDeps, settings: EmailSenderSettings) -> int:
    """Returns how many emails were sent.

    Tokens are made here, just before sending, so that a batch retried after a crash issues new links that
    replace the old ones: the latest email a person receives always works.
    """
    logger.append_keys(job_id=batch.job_id, email_batch=batch.key)
    tokens = {recipient.contact_id: new_token(settings.activation_link_ttl_hours) for recipient in batch.recipients}
    deps.directory.set_activation_tokens(
        [(contact_id, token.token_hash, token.expires_at) for contact_id, token in tokens.items()]
    )
    slots = deps.slots.reserve(len(batch.recipients))
    for recipient, slot in zip(batch.recipients, slots, strict=True):
        wait = slot - deps.clock()
        if wait > 0:
            deps.sleep(wait)
        token = tokens[recipient.contact_id]
        email = ActivationEmail(
            portal_name=settings.portal_name,
            portal_url=settings.portal_url,
            sender=settings.sender_address,
            recipient=recipient.email,
            first_name=recipient.first_name,
            token=token.token,
            expires_at=token.expires_at,
        )
        deps.mailer.send_raw(sender=settings.sender_address, recipient=recipient.email, mime=email.to_mime())
    deps.jobs.add_emails_sent(batch.job_id, len(batch.recipients))
    logger.info("Activation emails sent", extra={"count": len(batch.recipients)})
    return len(batch.recipients)
