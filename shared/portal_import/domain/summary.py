"""A finished job's summary (docs/contracts.md §3): what summary.json holds, what the notification's detail
carries, and what the CLI and the local runtime read back. One model, so that no reader repeats its keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The result files of a job, under results_prefix(job_id) (results.py): their names, in the order they are listed.
SUCCESS_FILE = "success.csv"
FAILURE_FILE = "failure.csv"
SUMMARY_FILE = "summary.json"
RESULT_FILES = (SUCCESS_FILE, FAILURE_FILE, SUMMARY_FILE)


@dataclass(frozen=True)
class Summary:
    job_id: str
    source_key: str
    status: str  # COMPLETED or FAILED
    error: str | None
    mode: str
    columns: dict[str, str] | None  # the header of each field's column; None: the header was never read
    total_rows: int
    succeeded: int
    failed: int
    send_activation_email: bool
    emails_queued: int
    started_at: str
    completed_at: str
    success_key: str
    failure_key: str

    @property
    def file_name(self) -> str:
        return self.source_key.rsplit("/", 1)[-1]

    @property
    def validate(self) -> bool:
        return self.mode == "validate"

    def to_json(self) -> dict[str, Any]:
        """summary.json's document, its keys as docs/contracts.md §3 names them."""
        return {json_name: getattr(self, name) for name, json_name in _JSON_NAMES.items()}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Summary:
        """A summary.json read back (its extra keys, such as a notification detail's, are left out)."""
        values: dict[str, Any] = {name: document.get(json_name) for name, json_name in _JSON_NAMES.items()}
        return cls(**values)


_JSON_NAMES = {
    "job_id": "jobId",
    "source_key": "sourceKey",
    "status": "status",
    "error": "error",
    "mode": "mode",
    "columns": "columns",
    "total_rows": "totalRows",
    "succeeded": "succeeded",
    "failed": "failed",
    "send_activation_email": "sendActivationEmail",
    "emails_queued": "emailsQueued",
    "started_at": "startedAt",
    "completed_at": "completedAt",
    "success_key": "successKey",
    "failure_key": "failureKey",
}
