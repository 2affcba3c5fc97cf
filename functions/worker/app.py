"""Worker: processes chunks of rows from the rows queue, reporting failed messages individually; as the dead-letter
function, accounts for every row of a chunk whose retries are spent (the rows DLQ); and, as the group function,
puts the users the chunks created in their Roles' groups (the group queue)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import GroupSettings, WorkerSettings
from portal_import.flows.groups import GroupDeps, place_in_groups
from portal_import.flows.work import WorkDeps, account_dead_chunk, process_chunk
from portal_import.invocation import deadline_of
from portal_import.observability import logger, metrics, tracer
from portal_import.records import GroupRequestRecord, RowChunkRecord

# Time kept at the end of an invocation to record a chunk and answer, after its last Cognito call.
DEADLINE_MARGIN_SECONDS = 15
# Time kept at the end of a group invocation after its last slot: one call, with its retries.
GROUP_DEADLINE_MARGIN_SECONDS = 10
# Each failed message is reported and retried alone, even when every message of the batch failed.
processor = BatchProcessor(
    event_type=EventType.SQS,
    model=RowChunkRecord,
    logger=logger,  # type: ignore[arg-type]  # Powertools' Logger, which has logging.Logger's methods: its redaction applies
    raise_on_entire_batch_failure=False,
)

group_processor = BatchProcessor(
    event_type=EventType.SQS,
    model=GroupRequestRecord,
    logger=logger,  # type: ignore[arg-type]  # as above
    raise_on_entire_batch_failure=False,
)


@lru_cache(maxsize=1)
def _deps(settings: WorkerSettings) -> WorkDeps:
    return wiring.work_deps(settings)


@lru_cache(maxsize=1)
def _group_deps(settings: GroupSettings) -> GroupDeps:
    return wiring.group_deps(settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    deps = _deps(WorkerSettings.from_env())
    # Its Cognito calls end this long before the invocation does, leaving room to record the chunk.
    deadline = deadline_of(context) - DEADLINE_MARGIN_SECONDS

    def record_handler(record: RowChunkRecord) -> None:
        delivery = int(record.attributes.ApproximateReceiveCount)
        process_chunk(record.body, deps, delivery=delivery, deadline=deadline)
        metrics.add_metric(name="RowsProcessed", unit="Count", value=len(record.body.rows))

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def dead_letter_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    deps = _deps(WorkerSettings.from_env())

    def record_handler(record: RowChunkRecord) -> None:
        account_dead_chunk(record.body, deps)
        metrics.add_metric(name="ChunksDeadLettered", unit="Count", value=1)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def group_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    deps = _group_deps(GroupSettings.from_env())
    deadline = deadline_of(context) - GROUP_DEADLINE_MARGIN_SECONDS

    def record_handler(record: GroupRequestRecord) -> None:
        place_in_groups(record.body, deps, deadline=deadline)

    return process_partial_response(
        event=event, record_handler=record_handler, processor=group_processor, context=context
    )
