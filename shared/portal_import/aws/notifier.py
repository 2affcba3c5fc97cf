"""Announcing a job: the SNS topic administrators subscribe to, and an EventBridge event for automation."""

from __future__ import annotations

import json
from typing import Any

from portal_import.aws.clients import client

EVENT_SOURCE = "portal-user-import"


class Notifier:
    def __init__(self, topic_arn: str) -> None:
        self._topic_arn = topic_arn
        self._sns = client("sns")
        self._events = client("events")

    def publish_message(self, *, event: str, subject: str, message: str, detail: dict[str, Any]) -> None:
        self._sns.publish(
            TopicArn=self._topic_arn,
            Subject=subject,
            Message=message,
            MessageAttributes={
                "event": {"DataType": "String", "StringValue": event},
                "jobId": {"DataType": "String", "StringValue": str(detail.get("jobId", ""))},
                "status": {"DataType": "String", "StringValue": str(detail.get("status", ""))},
            },
        )

    def put_event(self, *, detail_type: str, detail: dict[str, Any]) -> None:
        response = self._events.put_events(
            Entries=[{"Source": EVENT_SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail)}]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event: {response.get('Entries')}")
