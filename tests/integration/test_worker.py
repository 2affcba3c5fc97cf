"""The worker on moto, driven by events/sqs_rows.json (two chunks of the sample job): users created insert-only,
outcomes recorded once per chunk however often SQS delivers it, and failed messages reported one by one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portal_import.domain.messages import ChunkOutcomes

from .conftest import SAMPLE_JOB_ID, with_bodies

# The sample chunks hold rows 2-10 of the job (events/sqs_rows.json).
SAMPLE_ROWS = 9
ALREADY_HAD_A_USER = ("0035JNYkG8jl6v10001", "005UItKqA6dZ1DD0001")  # row 6: a Contact with a portal user


@pytest.fixture
def sample_job(cloud: Any) -> Any:
    """The worked example's directory and the sample job, split into the two chunks of events/sqs_rows.json."""
    cloud.seed_directory()
    cloud.start_job(SAMPLE_JOB_ID, chunks=2, rows=SAMPLE_ROWS)
    return cloud


def outcomes_by_row(cloud: Any, job_id: str = SAMPLE_JOB_ID) -> dict[int, Any]:
    rows: dict[int, Any] = {}
    for key in cloud.keys(f"work/{job_id}/outcomes/"):
        for outcome in ChunkOutcomes.model_validate_json(cloud.read(key)).outcomes:
            rows[outcome.row] = outcome
    return rows


def test_a_chunk_creates_users_and_records_every_rows_outcome(sample_job: Any, load_event: Any) -> None:
    # Given the two sample chunks of a job
    event = load_event("sqs_rows")

    # When SQS delivers them to the worker
    response = sample_job.worker(event)

    # Then nothing is retried, every row has an outcome file entry, and the users exist in the directory
    assert response == {"batchItemFailures": []}
    assert sample_job.keys(f"work/{SAMPLE_JOB_ID}/outcomes/") == [
        f"work/{SAMPLE_JOB_ID}/outcomes/00000000.json",
        f"work/{SAMPLE_JOB_ID}/outcomes/00000001.json",
    ]
    outcomes = outcomes_by_row(sample_job)
    assert sorted(outcomes) == list(range(2, 2 + SAMPLE_ROWS))
    created = {row: o for row, o in outcomes.items() if o.error is None}
    assert sorted(created) == [2, 3, 4, 7]
    users = sample_job.directory().existing_users(o.contact_id for o in created.values())
    for outcome in created.values():
        user = users[outcome.contact_id]
        assert (user.user_id, user.role, user.job_id, user.row) == (
            outcome.user_id,
            outcome.role,
            SAMPLE_JOB_ID,
            outcome.row,
        )
        assert outcome.activation_email == "Queued"
    assert outcomes[5].error == "Missing Contact ID"
    assert outcomes[9].error.startswith("Contact not found")
    assert outcomes[10].error.startswith("Invalid Role")
    # and the job's counters and queues move on: emails for the new users, results once every chunk is in
    job = sample_job.job(SAMPLE_JOB_ID)
    assert (job.rows_done, job.succeeded, job.failed, job.emails_queued) == (SAMPLE_ROWS, 4, 5, 4)
    batches = sample_job.email_messages()
    assert sorted(r["contactId"] for b in batches for r in b["recipients"]) == sorted(
        o.contact_id for o in created.values()
    )
    assert sample_job.aggregate_messages() == [{"jobId": SAMPLE_JOB_ID}]


def test_a_contact_that_already_had_a_user_keeps_it(sample_job: Any, load_event: Any) -> None:
    # Given a chunk naming a Contact that already has a portal user (row 6)
    contact_id, existing_user_id = ALREADY_HAD_A_USER

    # When the worker processes it
    sample_job.worker(load_event("sqs_rows"))

    # Then the row fails with rule 6, naming the user, and the Contact's user is the one it had
    error = outcomes_by_row(sample_job)[6].error
    assert error.startswith("User already exists")
    assert existing_user_id in error
    assert sample_job.directory().existing_users([contact_id])[contact_id].user_id == existing_user_id


def test_15_and_18_character_salesforce_ids_resolve_to_their_contacts(sample_job: Any, load_event: Any) -> None:
    # Given rows naming Contacts by a 15-character (row 3) and an 18-character (row 4) Salesforce ID
    # When the worker processes them
    sample_job.worker(load_event("sqs_rows"))

    # Then each created a user for the Contact that Salesforce ID belongs to, reported by its 19-character ID
    outcomes = outcomes_by_row(sample_job)
    assert (outcomes[3].input_contact_id, outcomes[3].contact_id) == ("003dQrnpUsuUL02", "0033xPkB0HZiG8L0001")
    assert (outcomes[4].input_contact_id, outcomes[4].contact_id) == ("003ZATPp7p6pQP0YDM", "003MctXAzX7aNpD0001")
    users = sample_job.directory().existing_users(["0033xPkB0HZiG8L0001", "003MctXAzX7aNpD0001"])
    assert users["0033xPkB0HZiG8L0001"].user_id == outcomes[3].user_id
    assert users["003MctXAzX7aNpD0001"].user_id == outcomes[4].user_id


def test_one_contact_named_twice_in_a_chunk_through_two_id_forms_gets_one_user(
    sample_job: Any, load_event: Any
) -> None:
    # Given a chunk naming one Contact by its Contact ID (row 7) and by its Salesforce ID (row 8)
    # When the worker processes it
    sample_job.worker(load_event("sqs_rows"))

    # Then the first row creates the user and the second fails by rule 6, naming that new user
    outcomes = outcomes_by_row(sample_job)
    first, second = outcomes[7], outcomes[8]
    assert first.error is None
    assert first.contact_id == "003t7RWpmtcuVPw0001"
    assert second.error.startswith("User already exists")
    assert f"Contact 003t7RWpmtcuVPw0001 already has portal user {first.user_id}" in second.error
    assert second.input_contact_id == "003sQaxUWXp1aEn"


def test_a_chunk_delivered_twice_is_counted_once(sample_job: Any, load_event: Any) -> None:
    # Given the sample chunks already processed
    event = load_event("sqs_rows")
    sample_job.worker(event)
    job_before = sample_job.job(SAMPLE_JOB_ID)
    outcomes_before = outcomes_by_row(sample_job)

    # When SQS delivers the same messages again
    response = sample_job.worker(event)

    # Then nothing changes: counters, users, outcomes, and no second email batch or aggregate request
    assert response == {"batchItemFailures": []}
    job_after = sample_job.job(SAMPLE_JOB_ID)
    assert (job_after.rows_done, job_after.succeeded, job_after.failed, job_after.emails_queued) == (
        job_before.rows_done,
        job_before.succeeded,
        job_before.failed,
        job_before.emails_queued,
    )
    assert outcomes_by_row(sample_job) == outcomes_before
    created = [o for o in outcomes_before.values() if o.error is None]
    users = sample_job.directory().existing_users(o.contact_id for o in created)
    assert {o.contact_id: o.user_id for o in created} == {cid: u.user_id for cid, u in users.items()}
    batches = sample_job.email_messages()
    assert sorted(batch["key"] for batch in batches) == [f"{SAMPLE_JOB_ID}#0#0", f"{SAMPLE_JOB_ID}#1#0"]
    assert sample_job.aggregate_messages() == [{"jobId": SAMPLE_JOB_ID}]


def test_only_the_message_that_failed_is_reported_for_retry(sample_job: Any, load_event: Any) -> None:
    # Given a batch whose second message is not a row chunk
    event = load_event("sqs_rows")
    good, bad = event["Records"]
    event = with_bodies(event, good["body"], json.dumps({"jobId": SAMPLE_JOB_ID, "seq": 1}))

    # When the worker processes the batch
    response = sample_job.worker(event)

    # Then only that message goes back to the queue; the other one's rows are done and counted
    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert sorted(outcomes_by_row(sample_job)) == [2, 3, 4, 5, 6]
    job = sample_job.job(SAMPLE_JOB_ID)
    assert (job.chunks_done, job.rows_done) == ({0}, 5)
    assert sample_job.aggregate_messages() == []


def test_validate_mode_creates_no_user(sample_job: Any, load_event: Any) -> None:
    # Given the first sample chunk sent in validate mode
    event = load_event("sqs_rows")
    chunk = json.loads(event["Records"][0]["body"])
    event = with_bodies(event, json.dumps({**chunk, "mode": "validate"}))

    # When the worker processes it
    assert sample_job.worker(event) == {"batchItemFailures": []}

    # Then the rows that would succeed say so, but no user exists and no email is queued
    outcomes = outcomes_by_row(sample_job)
    would_create = [o for o in outcomes.values() if o.error is None]
    assert sorted(o.row for o in would_create) == [2, 3, 4]
    assert {o.activation_email for o in would_create} == {"Would queue"}
    assert sample_job.directory().existing_users(o.contact_id for o in would_create) == {}
    assert sample_job.email_messages() == []


def test_a_dead_lettered_chunk_still_accounts_for_every_row(sample_job: Any, load_event: Any) -> None:
    # Given both sample chunks exhausted their retries without creating anything and reached the rows DLQ
    event = load_event("sqs_rows")

    # When the dead-letter function receives them
    response = sample_job.hosts["DeadLetterFunction"].invoke(event)

    # Then every row has an outcome: rule 1-4 failures keep their error, the rest are Processing error,
    # and the job is complete (its results are requested)
    assert response == {"batchItemFailures": []}
    outcomes = outcomes_by_row(sample_job)
    assert sorted(outcomes) == list(range(2, 2 + SAMPLE_ROWS))
    assert all(o.error for o in outcomes.values())
    assert {o.error.split(":")[0] for o in outcomes.values()} >= {"Processing error", "Missing Contact ID"}
    job = sample_job.job(SAMPLE_JOB_ID)
    assert (job.rows_done, job.succeeded, job.failed) == (SAMPLE_ROWS, 0, SAMPLE_ROWS)
    assert sample_job.aggregate_messages() == [{"jobId": SAMPLE_JOB_ID}]
    assert sample_job.directory().existing_users(["0037KWyWfty6uEv0001"]) == {}
