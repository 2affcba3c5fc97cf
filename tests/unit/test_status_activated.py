"""`portal-import status` counts the users an import created who have activated: in the report a person reads (with
the command that reaches the others once the job is done) and in the `--json` document scripts read."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from portal_import.domain.job import Job, JobStatus
from portal_import_cli.progress import job_json
from portal_import_cli.rendering import print_report as _print_report

from .sample_jobs import a_job

JOB = "20261201T090000Z-0123456789ab"


def completed_import(**counts: int) -> Job:
    """A finished import of 10 rows, 8 users created and their 6 emails sent."""
    done = {"status": JobStatus.COMPLETED, "completed_at": "2026-12-01T09:01:00.000Z", "total_rows": 10}
    rows = {"rows_done": 10, "succeeded": 8, "failed": 2, "emails_queued": 6, "emails_sent": 6}
    where = {"job_id": JOB, "source_bucket": "imports-bucket", "source_key": "imports/people.csv"}
    return a_job(**where, **done, **{**rows, **counts}, started_at="2026-12-01T09:00:00.000Z")


def users_line(job: Job, capsys: pytest.CaptureFixture[str]) -> list[str]:
    _print_report(job)
    return [line.strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("users")]


def test_the_report_says_how_many_activated_and_suggests_a_resend_only_where_it_helps(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a finished import of whose 8 users 3 have activated, every email sent seconds ago
    lines = users_line(completed_import(users_activated=3), capsys)

    # Then one line counts them, and sends no one a new link while theirs still work
    users = f"`portal-import users {JOB}`"
    assert lines == [f"users    3 of 8 activated (the others' links work until they expire; {users} shows whose have)"]

    # and when some emails were not delivered, it names the resend that reaches exactly those
    lines = users_line(completed_import(users_activated=3, emails_sent=4, emails_failed=2), capsys)
    assert lines == [f"users    3 of 8 activated (`portal-import resend {JOB}` sends the 2 not delivered a new link)"]

    # and when some bounced, a resend helps only once their addresses are corrected
    lines = users_line(completed_import(users_activated=3, emails_bounced=1), capsys)
    assert lines == [
        f"users    3 of 8 activated (1 bounced: correct their Contacts' addresses, then "
        f"`portal-import resend {JOB} --contact ID`; {users} lists them)"
    ]


def test_once_everyone_activated_the_report_only_counts_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert users_line(completed_import(users_activated=8), capsys) == ["users    8 of 8 activated"]


@pytest.mark.parametrize(
    "still",
    [
        {"status": JobStatus.PROCESSING},  # rows still being processed: resend works on a completed job
        {"emails_sent": 4},  # emails still going out: resend --pending waits for them
    ],
    ids=["processing", "sending"],
)
def test_while_the_job_goes_on_the_report_counts_without_suggesting_a_resend(
    still: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    job = dataclasses.replace(completed_import(users_activated=1), **still)
    assert users_line(job, capsys) == ["users    1 of 8 activated"]


@pytest.mark.parametrize(
    "job",
    [completed_import(succeeded=0, failed=10), dataclasses.replace(completed_import(), mode="validate")],
    ids=["nobody-created", "validate"],
)
def test_a_job_that_created_nobody_has_no_users_line(job: Job, capsys: pytest.CaptureFixture[str]) -> None:
    assert users_line(job, capsys) == []


def test_the_json_document_has_the_activated_count_beside_every_other_count() -> None:
    # Given a finished import of whose users 3 have activated / When scripts read it
    job = completed_import(users_activated=3)
    document = job_json(job)

    # Then usersActivated is there, and nothing job_json says was lost
    assert document["usersActivated"] == 3
    assert document == {**job_json(job), "usersActivated": 3}
    assert (document["succeeded"], document["finished"]) == (8, True)
