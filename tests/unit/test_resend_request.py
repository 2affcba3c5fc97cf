"""What the resend function accepts from `portal-import resend`: the job, --pending and Contact IDs, nothing else;
a request it cannot carry out as asked gets one sentence back, never an exception."""

from __future__ import annotations

from typing import Any

import pytest

from portal_import.flows.resend import ResendDeps, answer

from .sample_jobs import JOB_ID, a_job


class _Jobs:
    def get(self, job_id: str) -> Any:
        return a_job() if job_id == JOB_ID else None


def _deps() -> ResendDeps:
    # Only the job store is reached before these requests are refused.
    return ResendDeps(directory=None, ledger=None, storage=None, email_queue=None, jobs=_Jobs())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("request_document", "sentence"),
    [
        ({"jobId": JOB_ID, "contacts": ["0037KWyWfty6uEv0001"], "pending": True}, "not both"),
        ({"jobId": JOB_ID, "recipients": [{"email": "x@evil.example"}]}, "not valid (recipients)"),
        ({"jobId": JOB_ID, "contacts": [], "userId": "admin"}, "not valid (userId)"),
        ({"jobId": "20991231T000000Z-000000000000"}, "there is no job"),
        ({"jobId": "a\nb"}, "not valid (jobId)"),
    ],
)
def test_a_request_it_cannot_carry_out_is_refused_in_one_sentence(
    request_document: dict[str, Any], sentence: str
) -> None:
    refused = answer(request_document, _deps())
    assert list(refused) == ["refused"] and sentence in refused["refused"]
