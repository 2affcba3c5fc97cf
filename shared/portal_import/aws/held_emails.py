"""The reputation guard's writes on the jobs table (docs/contracts.md §7): a job's emails held (EmailsHeldAt on the
job item, set once: whoever sets it announces it), the email batches that arrive or are left while it is held
parked as items of their own (pk `held#<job>#<batch key>`, the batch's JSON; the job item lists their keys and
counts their recipients in EmailsHeld), and a resume that clears the hold, moves the guard's base to its counters
and hands the parked batches back.
"""

from __future__ import annotations

from typing import Any

from portal_import.aws.clients import client, transact_if, update_if
from portal_import.aws.tables import job_key

_PARKED = "held#"


def parked_key(job_id: str, batch_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"{_PARKED}{job_id}#{batch_key}"}}


class HeldEmails:
    def __init__(self, jobs_table: str) -> None:
        self._table = jobs_table
        self._ddb = client("dynamodb")

    def hold(self, job_id: str, *, at: str, why: str) -> bool:
        """Holds the job's emails; False when they already are (another event got there first)."""
        held = update_if(
            self._ddb,
            TableName=self._table,
            Key=job_key(job_id),
            UpdateExpression="SET EmailsHeldAt = :at, EmailsHeldWhy = :why",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(EmailsHeldAt)",
            ExpressionAttributeValues={":at": {"S": at}, ":why": {"S": why}},
        )
        return held is not None

    def claim_notice(self, job_id: str) -> bool:
        """The one emails-held notice of the current hold is this caller's to publish; False when another's."""
        claimed = update_if(
            self._ddb,
            TableName=self._table,
            Key=job_key(job_id),
            UpdateExpression="SET EmailsHeldNotifiedAt = EmailsHeldAt",
            ConditionExpression="attribute_exists(EmailsHeldAt) AND attribute_not_exists(EmailsHeldNotifiedAt)",
        )
        return claimed is not None

    def release_notice(self, job_id: str) -> None:
        """The notice could not be published: the next event of the job tries again."""
        self._ddb.update_item(
            TableName=self._table, Key=job_key(job_id), UpdateExpression="REMOVE EmailsHeldNotifiedAt"
        )

    def park(self, job_id: str, batch_key: str, body: str, recipients: int) -> None:
        """Keeps a batch until the job is resumed, once (a redelivery of the same batch parks nothing more)."""
        # False: parked already by an earlier delivery of the same batch (a conflict with another write is raised)
        transact_if(
            self._ddb,
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": parked_key(job_id, batch_key),
                        "UpdateExpression": "SET Batch = :body",
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ExpressionAttributeValues": {":body": {"S": body}},
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": job_key(job_id),
                        "UpdateExpression": "ADD EmailsHeld :n, ParkedBatches :key",
                        "ExpressionAttributeValues": {
                            ":n": {"N": str(recipients)},
                            ":key": {"SS": [batch_key]},
                        },
                    }
                },
            ],
        )

    def release(self, job_id: str) -> None:
        """Ends the hold; the guard judges only what comes after (its base moves to its counters)."""
        self._ddb.update_item(
            TableName=self._table,
            Key=job_key(job_id),
            UpdateExpression=(
                "REMOVE EmailsHeldAt, EmailsHeldWhy, EmailsHeldNotifiedAt "
                "SET GuardBaseOutcomes = if_not_exists(GuardOutcomes, :zero), "
                "GuardBaseBounced = if_not_exists(GuardBounced, :zero), "
                "GuardBaseComplained = if_not_exists(GuardComplained, :zero), "
                "GuardBaseHeard = if_not_exists(GuardHeard, :zero)"
            ),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":zero": {"N": "0"}},
        )

    def parked(self, job_id: str, batch_key: str) -> str | None:
        """A parked batch's JSON (None: handed back already)."""
        item = self._ddb.get_item(TableName=self._table, Key=parked_key(job_id, batch_key), ConsistentRead=True)
        return item["Item"]["Batch"]["S"] if "Item" in item else None

    def unpark(self, job_id: str, batch_key: str, recipients: int) -> None:
        """Forgets a parked batch that was handed back (queued again), and its count."""
        # False: handed back already by an earlier resume
        transact_if(
            self._ddb,
            TransactItems=[
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": parked_key(job_id, batch_key),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": job_key(job_id),
                        "UpdateExpression": "ADD EmailsHeld :n DELETE ParkedBatches :key",
                        "ExpressionAttributeValues": {
                            ":n": {"N": str(-recipients)},
                            ":key": {"SS": [batch_key]},
                        },
                    }
                },
            ],
        )
