"""Aggregator: writes a finished job's result files and announces them, once per job."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import AggregatorSettings
from portal_import.flows.aggregate import AggregateDeps, aggregate_job
from portal_import.observability import logger, metrics, tracer
from portal_import.records import AggregateRequestRecord

# Each failed message is reported and retried alone, even when every message of the batch failed.
processor = BatchProcessor(
    event_type=EventType.SQS,
    model=AggregateRequestRecord,
    logger=logger,  # type: ignore[arg-type]  # Powertools' Logger, which has logging.Logger's methods: its redaction applies
    raise_on_entire_batch_failure=False,
)


@lru_cache(maxsize=1)
def _deps(settings: AggregatorSettings) -> AggregateDeps:
    return wiring.aggregate_deps(settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = AggregatorSettings.from_env()

    def record_handler(record: AggregateRequestRecord) -> None:
        summary = aggregate_job(record.body.job_id, _deps(settings), settings)
        if summary:
            metrics.add_metric(name="JobsCompleted", unit="Count", value=1)
            metrics.add_metric(name="RowsSucceeded", unit="Count", value=summary.succeeded)
            metrics.add_metric(name="RowsFailed", unit="Count", value=summary.failed)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
