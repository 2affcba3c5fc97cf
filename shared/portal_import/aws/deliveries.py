"""SES's delivery events recorded on the User's activation item (directory table, pk CONTACT#<id>, sk ACTIVATION),
with the counts of the job that created the User (jobs table), in one transaction (docs/contracts.md §7).

An event is for the User's latest email when its `attempt` tag is the item's ClaimedBy: the sender attempt that
claimed the User before sending (portal_import.aws.ledger). Its outcome is written only over the outcome read
(DeliveryVersion), so two events of one email recorded at once cannot both count; portal_import.domain.delivery
says what each event changes.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.clients import client, error_code
from portal_import.aws.tables import activation_key, job_key
from portal_import.domain.delivery import DeliveryEvent, Recorded, Recording, counter_name, transition
from portal_import.domain.guard import guard_delta
from portal_import.errors import Transient

# How often an event is tried again at once when another event of the same User was recorded between read and write.
_ROUNDS = 3


class Deliveries:
    def __init__(self, directory_table: str, jobs_table: str) -> None:
        self._directory = directory_table
        self._jobs = jobs_table
        self._ddb = client("dynamodb")

    def record(self, event: DeliveryEvent) -> Recording:
        """Records the event's outcome on its User, once; raises Transient when it keeps losing to other writes."""
        for _ in range(_ROUNDS):
            item = self._ddb.get_item(
                TableName=self._directory, Key=activation_key(event.contact_id), ConsistentRead=True
            ).get("Item")
            if item is None or item.get("JobId", {}).get("S") != event.job_id:
                return Recording.UNKNOWN
            if item.get("ClaimedBy", {}).get("S") != event.attempt:
                return Recording.SUPERSEDED
            recorded = recorded_of(item)
            change = transition(recorded, event)
            if change is None:
                return Recording.REPEATED
            names = {counter_name(state): moved for state, moved in change.counters.items()}
            if self._write(event, change.record, names | guard_delta(recorded, change.record)):
                return Recording.RECORDED
        raise Transient(f"the outcome of an email kept changing while it was recorded ({_ROUNDS} times)")

    def _write(self, event: DeliveryEvent, new: Recorded, counters: dict[str, int]) -> bool:
        """The outcome on the item and the job's counters moved; False when the item changed since it was read
        (`new` is one version on from the record read: version 1 over an item with none recorded)."""
        values: dict[str, Any] = {
            ":attempt": {"S": event.attempt},
            ":version": {"N": str(new.version)},
            ":message": {"S": new.message_id or ""},
            ":state": {"S": new.state or ""},
            ":rank": {"N": str(new.rank)},
            ":detail": {"S": new.detail},
            ":address": {"S": new.address},
            ":at": {"S": new.at},
            ":permanent": {"BOOL": new.permanent},
        }
        update = (
            "SET DeliveryAttempt = :attempt, DeliveryVersion = :version, DeliveryOf = :message, Delivery = :state, "
            "DeliveryRank = :rank, DeliveryDetail = :detail, DeliveryTo = :address, DeliveryAt = :at, "
            "DeliveryPermanent = :permanent"
        )
        if new.counted is None:
            update += " REMOVE DeliveryCounted"
        else:
            update += ", DeliveryCounted = :counted"
            values[":counted"] = {"S": new.counted}
        condition = "ClaimedBy = :attempt AND attribute_not_exists(DeliveryVersion)"
        if new.version > 1:
            condition = "ClaimedBy = :attempt AND DeliveryVersion = :read"
            values[":read"] = {"N": str(new.version - 1)}
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._directory,
                    "Key": activation_key(event.contact_id),
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        if counters:
            actions.append(self._counters(event.job_id, counters))
        try:
            self._ddb.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException":
                return False
            raise
        return True

    def _counters(self, job_id: str, counters: dict[str, int]) -> dict[str, Any]:
        """The job item's counters moved (counter name -> by how much)."""
        names = {f"#c{i}": name for i, name in enumerate(sorted(counters))}
        values = {f":c{i}": {"N": str(counters[name])} for i, name in enumerate(sorted(counters))}
        adds = ", ".join(f"#c{i} :c{i}" for i in range(len(counters)))
        return {
            "Update": {
                "TableName": self._jobs,
                "Key": job_key(job_id),
                "UpdateExpression": f"ADD {adds}",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }


def recorded_of(item: dict[str, Any]) -> Recorded:
    """The latest email's outcome as the activation item holds it (nothing recorded yet: Recorded())."""
    if "DeliveryVersion" not in item:
        return Recorded()
    return Recorded(
        attempt=item.get("DeliveryAttempt", {}).get("S"),
        message_id=item.get("DeliveryOf", {}).get("S"),
        state=item.get("Delivery", {}).get("S"),
        rank=int(item.get("DeliveryRank", {}).get("N", "-1")),
        detail=item.get("DeliveryDetail", {}).get("S", ""),
        address=item.get("DeliveryTo", {}).get("S", ""),
        at=item.get("DeliveryAt", {}).get("S", ""),
        permanent=item.get("DeliveryPermanent", {}).get("BOOL", False),
        counted=item.get("DeliveryCounted", {}).get("S"),
        version=int(item["DeliveryVersion"]["N"]),
    )
