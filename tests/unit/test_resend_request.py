"""What the resend function accepts from `portal-import resend`: the job, --pending and Contact IDs, nothing else;
a request it cannot carry out as asked gets one sentence back, never an exception."""

from __future__ import annotations

from typing import Any

import pytest

from portal_import.flows.resend import ResendDeps, answer

from .fakes import Directory, JobReader, JobTable, Ledger, Queue, Storage
from .sample_jobs import JOB_ID, a_job


def _deps() -> ResendDeps:
    # Only the job store is reached before these requests are refused.
    return ResendDeps(
        directory=Directory(),
        ledger=Ledger(),
        storage=Storage(),
        email_queue=Queue(),
        job_reader=JobReader(JobTable().put(a_job())),
    )


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
