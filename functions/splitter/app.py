"""Splitter: an import file landed in imports/ — start its job and fan its rows out to the workers; and, from the
split queue, go on with a file that an earlier invocation had no time left to finish."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3Model, S3RecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import SplitterSettings
from portal_import.flows.split import DroppedFile, SplitDeps, continue_split, split_file
from portal_import.invocation import deadline_of
from portal_import.observability import logger, metrics, tracer
from portal_import.records import SplitContinuationRecord

processor = BatchProcessor(
    event_type=EventType.SQS,
    model=SplitContinuationRecord,
    logger=logger,  # type: ignore[arg-type]  # Powertools' Logger, which has logging.Logger's methods: its redaction applies
    raise_on_entire_batch_failure=False,
)


@lru_cache(maxsize=1)
def _deps(settings: SplitterSettings) -> SplitDeps:
    return wiring.split_deps(settings)


def _dropped(record: S3RecordModel) -> DroppedFile:
    obj = record.s3.object
    if obj is None or not (obj.versionId or obj.sequencer):
        raise ValueError("an S3 ObjectCreated record always names its object and its version or sequencer")
    return DroppedFile(
        bucket=record.s3.bucket.name,
        key=unquote_plus(obj.key),
        version=obj.versionId or obj.sequencer or "",
        version_id=obj.versionId,
        event_time=record.eventTime.isoformat(),
        size=int(obj.size or 0),
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=S3Model)
def handler(event: S3Model, context: LambdaContext) -> dict[str, list[str]]:
    settings = SplitterSettings.from_env()
    deadline = deadline_of(context)
    jobs = [split_file(_dropped(record), _deps(settings), settings, deadline) for record in event.Records]
    started = [job for job in jobs if job]
    metrics.add_metric(name="JobsStarted", unit="Count", value=len(started))
    return {"jobIds": started}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def continue_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = SplitterSettings.from_env()
    deadline = deadline_of(context)

    def record_handler(record: SplitContinuationRecord) -> None:
        continue_split(record.body, _deps(settings), settings, deadline)
        metrics.add_metric(name="SplitsContinued", unit="Count", value=1)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
