"""Email sender: sends the activation emails of each batch once, at no more than the configured rate."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import EmailSenderSettings
from portal_import.domain.messages import EmailBatch
from portal_import.flows.send import SendDeps, send_activation_emails
from portal_import.invocation import deadline_of
from portal_import.observability import logger, metrics, tracer
from portal_import.records import EmailBatchRecord

settings = EmailSenderSettings.from_env()
# Each failed message is reported and retried alone, even when every message of the batch failed.
processor = BatchProcessor(
    event_type=EventType.SQS,
    model=EmailBatchRecord,
    logger=logger,  # type: ignore[arg-type]  # Powertools' Logger, which has logging.Logger's methods: its redaction applies
    raise_on_entire_batch_failure=False,
)
# A batch delivered again once it was done (SQS is at-least-once) costs one read, and takes no send slots: the
# email ledger, not this, is what keeps a recipient from a second email when a delivery fails part-way.
idempotency = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=7 * 24 * 3600)
persistence = wiring.idempotency_store(settings)


@lru_cache(maxsize=1)
def _deps() -> SendDeps:
    return wiring.send_deps(settings)


@idempotent_function(data_keyword_argument="batch", config=idempotency, persistence_store=persistence)
def send_once(batch: EmailBatch, context: LambdaContext) -> int:
    return send_activation_emails(batch, _deps(), settings, deadline=deadline_of(context))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)

    def record_handler(record: EmailBatchRecord) -> None:
        # A batch done before answers from the idempotency record, where a batch that sent nothing (all held back,
        # all reached already) reads back as None, not 0.
        sent = send_once(batch=record.body, context=context) or 0
        metrics.add_metric(name="ActivationEmailsSent", unit="Count", value=sent)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
