"""Delivery events: records what SES says became of each activation email (docs/contracts.md §7)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import DeliveryEventsSettings
from portal_import.domain.guard import GuardSettings
from portal_import.flows.delivery import DeliveryDeps, record_delivery_event
from portal_import.observability import logger, metrics, tracer

settings = DeliveryEventsSettings.from_env()
guard = GuardSettings(
    minimum=settings.guard_minimum_emails,
    max_bounce_percent=settings.max_bounce_rate_percent,
    max_complaint_percent=settings.max_complaint_rate_percent,
)
# A record that could not be written comes back alone; one that is not an event of the stack's emails is acked.
processor = BatchProcessor(
    event_type=EventType.SQS,
    logger=logger,  # type: ignore[arg-type]  # Powertools' Logger, which has logging.Logger's methods
    raise_on_entire_batch_failure=False,
)


@lru_cache(maxsize=1)
def _deps() -> DeliveryDeps:
    return wiring.delivery_deps(settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    def record_handler(record: SQSRecord) -> None:
        record_delivery_event(record.body, _deps(), configuration_set=settings.configuration_set, guard=guard)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
