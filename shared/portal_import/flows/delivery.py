"""Recording SES's events on the activation emails (docs/contracts.md §7): each SQS message is one event record;
what is not an event on one of the stack's emails is counted and dropped, never retried. After an outcome is
recorded, the reputation guard judges the job's emails, and holds the rest when too many bounce or complain."""

from __future__ import annotations

from dataclasses import dataclass

from portal_import.domain.delivery import DeliveryEvent, Dropped, Recording, read_event
from portal_import.domain.guard import GuardSettings, Tally, judge
from portal_import.domain.job import Job
from portal_import.domain.notification import EMAILS_HELD, compose_emails_held
from portal_import.domain.times import now_iso
from portal_import.observability import logger, metrics
from portal_import.ports import Deliveries, HeldEmails, JobReader, Notifier


@dataclass(frozen=True)
class DeliveryDeps:
    deliveries: Deliveries
    jobs: JobReader
    held_emails: HeldEmails
    notifier: Notifier | None  # for the emails-held notice; None: the stack has no topic


def record_delivery_event(body: str, deps: DeliveryDeps, *, configuration_set: str, guard: GuardSettings) -> str:
    """Records one event record (an SQS message's body); returns what became of it, as the metric names it.
    Raises only when the record could not be written for a passing reason (it comes back then)."""
    event = read_event(body, configuration_set)
    if isinstance(event, Dropped):
        logger.warning("Delivery event dropped", extra={"reason": event.reason, "why": event.why})
        return _count(event.reason)
    recording = deps.deliveries.record(event)
    _log(event, recording.value)
    if recording is Recording.RECORDED:
        metrics.add_metric(name=f"ActivationEmails{event.outcome.state.capitalize()}", unit="Count", value=1)
    if recording in (Recording.RECORDED, Recording.REPEATED) and event.outcome.rank >= 2:
        # a repeated event judges again too: the delivery that held the job may have failed to announce it
        guard_the_job(event.job_id, deps, guard)
    return _count(recording.value)


def guard_the_job(job_id: str, deps: DeliveryDeps, settings: GuardSettings) -> None:
    """Holds the job's remaining emails when its outcomes since the last resume are past a limit; the one that
    holds them says so, once, on the results topic."""
    job = deps.jobs.get(job_id)
    if job is None or job.emails_held_notified_at is not None:
        return
    tally = job.guard - job.guard_base
    if job.emails_held_at is None:
        hold = judge(tally, settings, left_to_send=not job.emails_accounted)
        if hold is None or not deps.held_emails.hold(job_id, at=now_iso(), why=hold.reason):
            return
        logger.warning("Activation emails held by the reputation guard", extra={"job": job_id, "why": hold.reason})
        metrics.add_metric(name="ActivationEmailsHeld", unit="Count", value=1)
        reason = hold.reason
    else:
        reason = job.emails_held_why or "too many of its emails bounced or were complained about"
    if deps.notifier is not None and deps.held_emails.claim_notice(job_id):
        try:
            _announce(job, tally, reason, deps.notifier)
        except Exception:
            deps.held_emails.release_notice(job_id)  # the next event of the job publishes it
            raise


def _announce(job: Job, tally: Tally, reason: str, notifier: Notifier) -> None:
    subject, message = compose_emails_held(job_id=job.job_id, source_key=job.source_key, reason=reason)
    outcomes = max(tally.outcomes, 1)
    detail = {
        "jobId": job.job_id,
        "status": job.status.value,
        "emailsWithOutcome": tally.outcomes,
        "bounced": tally.bounced,
        "complained": tally.complained,
        "bounceRatePercent": round(100.0 * tally.bounced / outcomes, 2),
        "complaintRatePercent": round(100.0 * tally.complained / outcomes, 3),
    }
    notifier.publish_message(event=EMAILS_HELD, subject=subject, message=message, detail=detail)


def _count(what: str) -> str:
    name = f"DeliveryEvents{what.capitalize()}"
    metrics.add_metric(name=name, unit="Count", value=1)
    return what


def _log(event: DeliveryEvent, what: str) -> None:
    extra = {"state": event.outcome.state, "job": event.job_id, "recording": what}
    if what in (Recording.SUPERSEDED.value, Recording.UNKNOWN.value):
        logger.info("Delivery event of an email that is not a user's latest", extra=extra)
    else:
        logger.debug("Delivery event", extra=extra)
