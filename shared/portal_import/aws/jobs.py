"""The jobs table: one item per job holding its options, status and progress counters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.clients import client, condition_failed, update_if
from portal_import.domain.guard import Tally
from portal_import.domain.job import Job, JobStatus
from portal_import.domain.times import now_iso

OPEN_SHARD = "open"
OPEN_JOBS_INDEX = "OpenJobs"


class Jobs:
    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._ddb = client("dynamodb")

    def create(self, job: Job, *, source_version: str, source_version_id: str | None) -> bool:
        """Creates the job; False when it already exists (the same S3 event delivered again)."""
        item: dict[str, Any] = {
            "pk": {"S": job.job_id},
            "SourceBucket": {"S": job.source_bucket},
            "SourceKey": {"S": job.source_key},
            "SourceVersion": {"S": source_version},
            "Mode": {"S": job.mode},
            "SendActivationEmail": {"BOOL": job.send_activation_email},
            "Status": {"S": job.status.value},
            "StartedAt": {"S": job.started_at},
            "UpdatedAt": {"S": job.started_at},
            # Present while the job is open: the sweeper finds stalled jobs through the OpenJobs index.
            "OpenShard": {"S": OPEN_SHARD},
        }
        if source_version_id:
            item["SourceVersionId"] = {"S": source_version_id}
        try:
            self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def _update_if(self, job_id: str, **update: Any) -> dict[str, Any] | None:
        """update_item on the job's item under its ConditionExpression: the response, or None when the condition
        did not hold."""
        return update_if(self._ddb, TableName=self._table, Key={"pk": {"S": job_id}}, **update)

    def open_jobs_idle_since(self, before: str) -> list[Job]:
        """Jobs not yet announced whose last progress is older than `before` (an ISO time)."""
        jobs: list[Job] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": OPEN_JOBS_INDEX,
            "KeyConditionExpression": "OpenShard = :open AND UpdatedAt < :before",
            "ExpressionAttributeValues": {":open": {"S": OPEN_SHARD}, ":before": {"S": before}},
        }
        while True:
            page = self._ddb.query(**kwargs)
            for item in page.get("Items", []):
                job = self.get(item["pk"]["S"])  # the index holds keys only
                if job is not None:
                    jobs.append(job)
            if "LastEvaluatedKey" not in page:
                return jobs
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def touch(self, job_id: str) -> None:
        """Records progress, so that the sweeper leaves the job alone for another stall period."""
        self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": job_id}},
            UpdateExpression="SET UpdatedAt = :now",
            ExpressionAttributeValues={":now": {"S": now_iso()}},
        )

    def job_ids(self, *, source_version_id: str | None = None) -> list[str]:
        """The ids of every job (of the jobs for one S3 object version, when given), in no order.

        A scan: the table holds one item per file dropped (and the email rate limiter's), which an administrator's
        command may read through."""
        condition, values = "attribute_exists(SourceKey)", {}  # only jobs have a SourceKey
        if source_version_id is not None:
            condition, values = "SourceVersionId = :version", {":version": {"S": source_version_id}}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": condition,
            "ProjectionExpression": "pk",
            "ConsistentRead": True,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        ids: list[str] = []
        while True:
            page = self._ddb.scan(**kwargs)
            ids += [item["pk"]["S"] for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return ids
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, job_id: str) -> Job | None:
        response = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": job_id}}, ConsistentRead=True)
        item = response.get("Item")
        return _job_from_item(item) if item else None

    def set_options(self, job_id: str, *, mode: str, send_activation_email: bool) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": job_id}},
            UpdateExpression="SET #mode = :mode, SendActivationEmail = :send",
            ExpressionAttributeNames={"#mode": "Mode"},
            ExpressionAttributeValues={":mode": {"S": mode}, ":send": {"BOOL": send_activation_email}},
        )

    def set_columns(self, job_id: str, columns: Mapping[str, str]) -> None:
        """Records the header of the column each field is read from (ContactId and Role)."""
        self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": job_id}},
            UpdateExpression="SET #columns = :columns",
            ExpressionAttributeNames={"#columns": "Columns"},
            ExpressionAttributeValues={":columns": {"M": {field: {"S": name} for field, name in columns.items()}}},
        )

    def snapshot_roles(self, job_id: str, roles: Mapping[str, bool]) -> dict[str, bool]:
        """Keeps the Roles a job is judged by, taken once; returns the snapshot that stands (an earlier one, if any)."""
        response = self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": job_id}},
            UpdateExpression="SET #roles = if_not_exists(#roles, :roles)",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#roles": "Roles"},
            ExpressionAttributeValues={":roles": {"M": {name: {"BOOL": active} for name, active in roles.items()}}},
            ReturnValues="ALL_NEW",
        )
        return _roles(response["Attributes"]) or {}

    def checkpoint_split(self, job_id: str, *, next_seq: int, rows: int) -> bool:
        """Records that the chunks before `next_seq` (`rows` data records) are queued. The checkpoint only moves
        forward: False when the job is no longer splitting or another invocation got this far or further."""
        moved = self._update_if(
            job_id,
            UpdateExpression="SET SplitNextSeq = :seq, SplitRows = :rows, SplitHandedOn = :no, UpdatedAt = :now",
            ConditionExpression="#status = :splitting AND (attribute_not_exists(SplitNextSeq) OR SplitNextSeq < :seq)",
            ExpressionAttributeNames={"#status": "Status"},
            ExpressionAttributeValues={
                ":seq": {"N": str(next_seq)},
                ":rows": {"N": str(rows)},
                ":no": {"BOOL": False},
                ":now": {"S": now_iso()},
                ":splitting": {"S": JobStatus.SPLITTING.value},
            },
        )
        return moved is not None

    def mark_split_handed_on(self, job_id: str, next_seq: int) -> None:
        """Records that the continuation from checkpoint `next_seq` is queued (unless the checkpoint moved on)."""
        self._update_if(
            job_id,
            UpdateExpression="SET SplitHandedOn = :yes",
            ConditionExpression="SplitNextSeq = :seq",
            ExpressionAttributeValues={":yes": {"BOOL": True}, ":seq": {"N": str(next_seq)}},
        )

    def finish_split(self, job_id: str, *, total_rows: int, chunk_starts: list[int]) -> Job:
        """Records the file's size in rows and chunks; a second attempt that gets here too changes nothing."""
        response = self._update_if(
            job_id,
            UpdateExpression=(
                "SET TotalRows = :total, ChunkCount = :chunks, ChunkStarts = :starts, #status = :processing, "
                "UpdatedAt = :now"
            ),
            ConditionExpression="#status = :splitting",
            ExpressionAttributeNames={"#status": "Status"},
            ExpressionAttributeValues={
                ":total": {"N": str(total_rows)},
                ":chunks": {"N": str(len(chunk_starts))},
                ":starts": {"L": [{"N": str(start)} for start in chunk_starts]},
                ":now": {"S": now_iso()},
                ":processing": {"S": JobStatus.PROCESSING.value},
                ":splitting": {"S": JobStatus.SPLITTING.value},
            },
            ReturnValues="ALL_NEW",
        )
        return _job_from_item(response["Attributes"]) if response else self._existing(job_id)

    def fail(self, job_id: str, error: str) -> Job:
        response = self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": job_id}},
            UpdateExpression="SET #status = :failed, #error = :error",
            ExpressionAttributeNames={"#status": "Status", "#error": "Error"},
            ExpressionAttributeValues={":failed": {"S": JobStatus.FAILED.value}, ":error": {"S": error}},
            ReturnValues="ALL_NEW",
        )
        return _job_from_item(response["Attributes"])

    def record_chunk(self, job_id: str, seq: int, *, rows: int, succeeded: int, failed: int, emails_queued: int) -> Job:
        """Counts a chunk's rows exactly once: a redelivered chunk leaves the counters as they are."""
        response = self._update_if(
            job_id,
            UpdateExpression=(
                "ADD ChunksDone :seq, RowsDone :rows, Succeeded :ok, Failed :failed, EmailsQueued :emails "
                "SET UpdatedAt = :now"
            ),
            ConditionExpression="attribute_exists(pk) AND NOT contains(ChunksDone, :seqn)",
            ExpressionAttributeValues={
                ":seq": {"NS": [str(seq)]},
                ":seqn": {"N": str(seq)},
                ":rows": {"N": str(rows)},
                ":ok": {"N": str(succeeded)},
                ":failed": {"N": str(failed)},
                ":emails": {"N": str(emails_queued)},
                ":now": {"S": now_iso()},
            },
            ReturnValues="ALL_NEW",
        )
        return _job_from_item(response["Attributes"]) if response else self._existing(job_id)

    def _existing(self, job_id: str) -> Job:
        """The job as it stands, after a conditional update that found it changed already."""
        job = self.get(job_id)
        if job is None:
            raise LookupError(f"job {job_id} does not exist")
        return job

    def claim_emails_notice(self, job_id: str) -> bool:
        """True for the one caller that is to publish the job's emails-sent notice, False for any other."""
        claimed = self._update_if(
            job_id,
            UpdateExpression="SET EmailsNotifiedAt = :at",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(EmailsNotifiedAt)",
            ExpressionAttributeValues={":at": {"S": now_iso()}},
        )
        return claimed is not None

    def release_emails_notice(self, job_id: str) -> None:
        """Gives the claim back when publishing failed, so that a retry publishes it."""
        self._ddb.update_item(
            TableName=self._table, Key={"pk": {"S": job_id}}, UpdateExpression="REMOVE EmailsNotifiedAt"
        )

    def stamp_completion(self, job_id: str, at: str) -> str:
        """Sets the completion time once; returns the one that stands."""
        response = self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": job_id}},
            UpdateExpression="SET CompletedAt = if_not_exists(CompletedAt, :at)",
            ExpressionAttributeValues={":at": {"S": at}},
            ReturnValues="ALL_NEW",
        )
        return str(response["Attributes"]["CompletedAt"]["S"])

    def mark_channel(self, job_id: str, attribute: str) -> None:
        """Records when a step of the job's completion happened (ResultsRequestedAt, MessageSentAt, EventSentAt)."""
        self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": job_id}},
            UpdateExpression="SET #channel = :at",
            ExpressionAttributeNames={"#channel": attribute},
            ExpressionAttributeValues={":at": {"S": now_iso()}},
        )

    def mark_notified(self, job_id: str, *, status: JobStatus, completed_at: str) -> Job:
        """Records the job as announced; returns it as it is now."""
        response = self._ddb.update_item(
            TableName=self._table,
            Key={"pk": {"S": job_id}},
            UpdateExpression=(
                "SET #status = :status, CompletedAt = :at, NotifiedAt = :at, UpdatedAt = :at REMOVE OpenShard"
            ),
            ExpressionAttributeNames={"#status": "Status"},
            ExpressionAttributeValues={":status": {"S": status.value}, ":at": {"S": completed_at}},
            ReturnValues="ALL_NEW",
        )
        return _job_from_item(response["Attributes"])


def _number(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    return int(value["N"]) if value else None


def _string(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value["S"] if value else None


def _roles(item: dict[str, Any]) -> dict[str, bool] | None:
    value = item.get("Roles")
    return {name: bool(active["BOOL"]) for name, active in value["M"].items()} if value else None


def _columns(item: dict[str, Any]) -> dict[str, str] | None:
    value = item.get("Columns")
    # A map comes back in no particular order: sorted, ContactId comes before Role wherever the columns are shown.
    return {field: name["S"] for field, name in sorted(value["M"].items())} if value else None


def _tally(item: dict[str, Any], which: str) -> Tally:
    """The guard's counters as the job item holds them (`which`: "" for now, "Base" as at the last resume)."""
    return Tally(
        outcomes=_number(item, f"Guard{which}Outcomes") or 0,
        bounced=_number(item, f"Guard{which}Bounced") or 0,
        complained=_number(item, f"Guard{which}Complained") or 0,
        heard=_number(item, f"Guard{which}Heard") or 0,
    )


def _job_from_item(item: dict[str, Any]) -> Job:
    mode = _string(item, "Mode")
    return Job(
        job_id=item["pk"]["S"],
        source_bucket=item["SourceBucket"]["S"],
        source_key=item["SourceKey"]["S"],
        mode="validate" if mode == "validate" else "import",
        send_activation_email=item.get("SendActivationEmail", {}).get("BOOL", False),
        status=JobStatus(item["Status"]["S"]),
        started_at=item["StartedAt"]["S"],
        error=_string(item, "Error"),
        total_rows=_number(item, "TotalRows"),
        chunk_count=_number(item, "ChunkCount"),
        chunk_starts=[int(value["N"]) for value in item.get("ChunkStarts", {}).get("L", [])],
        source_version_id=_string(item, "SourceVersionId"),
        roles=_roles(item),
        columns=_columns(item),
        split_next_seq=_number(item, "SplitNextSeq") or 0,
        split_rows=_number(item, "SplitRows") or 0,
        split_handed_on=item.get("SplitHandedOn", {}).get("BOOL", False),
        updated_at=_string(item, "UpdatedAt") or item["StartedAt"]["S"],
        chunks_done={int(n) for n in item.get("ChunksDone", {}).get("NS", [])},
        rows_done=_number(item, "RowsDone") or 0,
        succeeded=_number(item, "Succeeded") or 0,
        failed=_number(item, "Failed") or 0,
        emails_queued=_number(item, "EmailsQueued") or 0,
        emails_sent=_number(item, "EmailsSent") or 0,
        emails_failed=_number(item, "EmailsFailed") or 0,
        emails_delivered=_number(item, "EmailsDelivered") or 0,
        emails_bounced=_number(item, "EmailsBounced") or 0,
        emails_complained=_number(item, "EmailsComplained") or 0,
        emails_delayed=_number(item, "EmailsDelayed") or 0,
        emails_held=_number(item, "EmailsHeld") or 0,
        emails_held_at=_string(item, "EmailsHeldAt"),
        emails_sent_at=_string(item, "EmailsSentAt"),
        emails_held_why=_string(item, "EmailsHeldWhy"),
        emails_held_notified_at=_string(item, "EmailsHeldNotifiedAt"),
        parked=sorted(item.get("ParkedBatches", {}).get("SS", [])),
        guard=_tally(item, ""),
        guard_base=_tally(item, "Base"),
        users_activated=_number(item, "UsersActivated") or 0,
        links_renewed=_number(item, "LinksRenewed") or 0,
        completed_at=_string(item, "CompletedAt"),
        results_requested_at=_string(item, "ResultsRequestedAt"),
        message_sent_at=_string(item, "MessageSentAt"),
        event_sent_at=_string(item, "EventSentAt"),
        notified_at=_string(item, "NotifiedAt"),
        emails_notified_at=_string(item, "EmailsNotifiedAt"),
    )
