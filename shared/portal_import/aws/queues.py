"""Sending messages to SQS in batches (SendMessageBatch: 10 entries and 256 KiB a call)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from portal_import.aws.clients import client
from portal_import.domain.packing import packed
from portal_import.errors import Transient

_MAX_ENTRIES = 10
_MAX_BATCH_BYTES = 250_000  # below SQS's 262,144-byte limit for a whole batch, leaving room for attributes


class Queue:
    def __init__(self, queue_url: str) -> None:
        self._url = queue_url
        self._sqs = client("sqs")

    def send(self, body: str, *, delay_seconds: int = 0) -> None:
        if delay_seconds:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=body, DelaySeconds=delay_seconds)
        else:
            self.send_all([body])

    def send_all(self, bodies: Iterable[str]) -> int:
        """Sends every body, packing as many as fit into each call; returns how many were sent."""
        sent = 0
        for batch in packed(bodies, max_items=_MAX_ENTRIES, max_bytes=_MAX_BATCH_BYTES, size=lambda b: len(b.encode())):
            self._send_batch(batch)
            sent += len(batch)
        return sent

    def _send_batch(self, bodies: list[str]) -> None:
        entries = {str(index): body for index, body in enumerate(bodies)}
        attempt = 0
        while entries:
            response = self._sqs.send_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": entry_id, "MessageBody": body} for entry_id, body in entries.items()],
            )
            failed = response.get("Failed", [])
            sender_faults = [entry for entry in failed if entry.get("SenderFault")]
            if sender_faults:
                raise ValueError(f"SQS refused messages: {sender_faults}")
            entries = {entry["Id"]: entries[entry["Id"]] for entry in failed}
            if entries:
                attempt += 1
                if attempt > 5:
                    raise Transient(f"SQS kept failing {len(entries)} messages: {failed}")
                time.sleep(min(0.1 * 2**attempt, 2.0))
