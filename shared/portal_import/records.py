"""The SQS records that carry each message between functions, as Powertools parses them (body typed)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json
from pydantic import ConfigDict

from portal_import.domain.messages import AggregateRequest, EmailBatch, GroupRequest, RowChunk, SplitContinuation


class _Record(SqsRecordModel):
    # A record that fails validation is reported without its body: an email batch holds addresses and names.
    model_config = ConfigDict(hide_input_in_errors=True)


class RowChunkRecord(_Record):
    body: Json[RowChunk]


class GroupRequestRecord(_Record):
    body: Json[GroupRequest]


class EmailBatchRecord(_Record):
    body: Json[EmailBatch]


class AggregateRequestRecord(_Record):
    body: Json[AggregateRequest]


class SplitContinuationRecord(_Record):
    body: Json[SplitContinuation]
