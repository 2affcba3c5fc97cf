"""Splitter: an import file landed in imports/ — start its job and fan its rows out to the workers."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3Model, S3RecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import.config import SplitterSettings
from portal_import.observability import logger, metrics, tracer
from portal_import.split import DroppedFile, SplitDeps, split_file


@lru_cache(maxsize=1)
def _deps(settings: SplitterSettings) -> SplitDeps:
    return SplitDeps.build(settings)


def _dropped(record: S3RecordModel) -> DroppedFile:
    obj = record.s3.object
    if obj is None:
        raise ValueError("an S3 ObjectCreated record always names its object")
    return DroppedFile(
        bucket=record.s3.bucket.name,
        key=unquote_plus(obj.key),
        version=obj.versionId or obj.sequencer,
        version_id=obj.versionId,
        event_time=record.eventTime.isoformat(),
        size=obj.size or 0,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=S3Model)
def handler(event: S3Model, context: LambdaContext) -> dict[str, list[str]]:
    settings = SplitterSettings.from_env()
    jobs = [split_file(_dropped(record), _deps(settings), settings) for record in event.Records]
    started = [job for job in jobs if job]
    metrics.add_metric(name="JobsStarted", unit="Count", value=len(started))
    return {"jobIds": started}
