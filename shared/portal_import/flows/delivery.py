"""Recording SES's events on the activation emails (docs/contracts.md §7): each SQS message is one event record;
what is not an event on one of the stack's emails is counted and dropped, never retried."""

from __future__ import annotations

from portal_import.domain.delivery import DeliveryEvent, Dropped, Recording, read_event
from portal_import.observability import logger, metrics
from portal_import.ports import Deliveries


def record_delivery_event(body: str, deliveries: Deliveries, *, configuration_set: str) -> str:
    """Records one event record (an SQS message's body); returns what became of it, as the metric names it.
    Raises only when the record could not be written for a passing reason (it comes back then)."""
    event = read_event(body, configuration_set)
    if isinstance(event, Dropped):
        logger.warning("Delivery event dropped", extra={"reason": event.reason, "why": event.why})
        return _count(event.reason)
    recording = deliveries.record(event)
    _log(event, recording.value)
    if recording is Recording.RECORDED:
        metrics.add_metric(name=f"ActivationEmails{event.outcome.state.capitalize()}", unit="Count", value=1)
    return _count(recording.value)


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
