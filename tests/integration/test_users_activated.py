"""The jobs table on moto: the count of a job's users who activated, as the activation adds to it, is what
`portal-import status` reads back."""

from __future__ import annotations

from .conftest import SAMPLE_JOB_ID as JOB_ID
from .conftest import Cloud


def test_a_job_reads_back_the_activations_counted_on_its_item(cloud: Cloud) -> None:
    # Given a job that created users, none of whom has activated yet
    cloud.start_job(JOB_ID, chunks=1, rows=5)
    cloud.jobs().record_chunk(JOB_ID, 0, rows=5, succeeded=4, failed=1, emails_queued=4)
    assert cloud.job(JOB_ID).users_activated == 0

    # When two of them activate (each activation adds one to its job's item, as the activation function does)
    for _ in range(2):
        count_activation(cloud)

    # Then the job says so, beside the counts it had
    job = cloud.job(JOB_ID)
    assert (job.users_activated, job.succeeded, job.failed) == (2, 4, 1)


def count_activation(cloud: Cloud) -> None:
    cloud.session.client("dynamodb").update_item(
        TableName=cloud.stack.jobs_table,
        Key={"pk": {"S": JOB_ID}},
        UpdateExpression="ADD UsersActivated :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
