"""Powertools idempotency records, with the 'completed' write retried in-process.

Once a batch's emails went out, failing to record it as completed would leave the record in progress and
the message retried until it reached the dead-letter queue: that write is retried before giving up.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from portal_import.retry import with_retries


class DurableDynamoDBPersistenceLayer(DynamoDBPersistenceLayer):
    def _update_record(self, data_record: DataRecord) -> None:
        with_retries(lambda: DynamoDBPersistenceLayer._update_record(self, data_record))
