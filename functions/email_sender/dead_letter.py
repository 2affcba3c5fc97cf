"""Email dead letters: a batch whose retries are spent is accounted for, the recipients it did not reach as not
delivered, so that the job's emails finish (the emails-sent notice goes out, `portal-import watch` ends) instead of
waiting forever; `portal-import resend JOB` sends them new links."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import EmailDeadLetterSettings
from portal_import.flows.send import DeadBatchDeps, account_dead_batch
from portal_import.observability import logger, metrics, tracer
from portal_import.records import EmailBatchRecord

settings = EmailDeadLetterSettings.from_env()
processor = BatchProcessor(
    event_type=EventType.SQS,
    model=EmailBatchRecord,
    logger=logger,  # type: ignore[arg-type]  # Powertools' Logger, which has logging.Logger's methods: its redaction applies
    raise_on_entire_batch_failure=False,
)


@lru_cache(maxsize=1)
def _deps() -> DeadBatchDeps:
    return wiring.dead_batch_deps(settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    def record_handler(record: EmailBatchRecord) -> None:
        logger.append_keys(job_id=record.body.job_id, email_batch=record.body.key)
        counted = account_dead_batch(record.body, _deps(), settings)
        metrics.add_metric(name="ActivationEmailsDeadLettered", unit="Count", value=counted)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
