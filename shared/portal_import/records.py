"""The SQS records that carry each message between functions, as Powertools parses them (body typed)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json

from portal_import.messages import AggregateRequest, EmailBatch, RowChunk, SplitContinuation


class RowChunkRecord(SqsRecordModel):
    body: Json[RowChunk]


class EmailBatchRecord(SqsRecordModel):
    body: Json[EmailBatch]


class AggregateRequestRecord(SqsRecordModel):
    body: Json[AggregateRequest]


class SplitContinuationRecord(SqsRecordModel):
    body: Json[SplitContinuation]
