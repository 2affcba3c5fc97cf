"""The import console's API decisions on fakes (docs/contracts.md §8): the jobs newest first, a job's page with its
failures by reason and result links, the upload form's key, metadata and size cap, and refusals as sentences."""

from __future__ import annotations

from typing import Any

import pytest

from portal_import.domain.job import JobStatus
from portal_import.domain.results import results_prefix
from portal_import.flows.console import (
    JOBS_SHOWN,
    LINK_SECONDS,
    ConsoleDeps,
    Refused,
    answer,
    job_page,
    jobs_list,
    resend_to_unreached,
    upload_form,
    upload_key,
)
from portal_import.flows.resend import ResendDeps
from portal_import.flows.resume import ResumeDeps

from . import fakes
from .sample_jobs import a_job


def console(*jobs: Any, storage: fakes.Storage | None = None, most: int = 1000) -> tuple[ConsoleDeps, fakes.Uploads]:
    table = fakes.JobTable().put(*jobs)
    storage = storage or fakes.Storage()
    uploads = fakes.Uploads()
    queue = fakes.Queue()
    held = fakes.HeldEmails(table)
    deps = ConsoleDeps(
        console_jobs=fakes.ConsoleJobs(table),
        storage=storage,
        uploads=uploads,
        ledger=fakes.Ledger(),
        held_emails=held,
        resend=ResendDeps(fakes.Directory(), fakes.Ledger(), storage, queue, fakes.JobReader(table)),
        resume=ResumeDeps(fakes.JobReader(table), held, queue),
        max_file_bytes=most,
        send_activation_email_default=True,
    )
    return deps, uploads


def test_the_jobs_list_is_newest_first_and_at_most_jobs_shown_long() -> None:
    jobs = [a_job(job_id=f"2026-12-07T10:{n // 60:02d}:{n % 60:02d}Z-{n:03d}") for n in range(JOBS_SHOWN + 5)]
    deps, _ = console(*jobs)
    listed = [job["jobId"] for job in jobs_list(deps)["jobs"]]
    assert listed == sorted((job.job_id for job in jobs), reverse=True)[:JOBS_SHOWN]


def test_a_running_jobs_page_has_its_counts_and_no_files_yet() -> None:
    deps, _ = console(a_job(total_rows=10, rows_done=4, succeeded=3, failed=1))
    page = job_page(a_job().job_id, deps)
    assert (page["status"], page["rowsDone"], page["totalRows"]) == ("PROCESSING", 4, 10)
    assert page["files"] == {} and page["failuresByReason"] == []


def test_a_finished_jobs_page_counts_failures_by_reason_with_what_to_do_and_links_each_file() -> None:
    # Given a completed job whose failure file holds three rows of two reasons
    job = a_job(status=JobStatus.COMPLETED, total_rows=5, rows_done=5, succeeded=2, failed=3)
    failures = (
        "\ufeffRowNumber,ContactId,Role,Error\r\n2,003A,Nope,Invalid Role: 'Nope' is not active\r\n"
        "3,,Customer,Missing Contact ID\r\n4,003B,Nope,\"Invalid Role: 'Nope, Inc' does not exist\"\r\n"
    )
    storage = fakes.Storage(objects={results_prefix(job.job_id) + "failure.csv": failures.encode()})
    deps, _ = console(job, storage=storage)
    # When its page is read
    page = job_page(job.job_id, deps)
    # Then the failures are counted by reason, most first, each with what to do
    assert [(f["error"], f["rows"]) for f in page["failuresByReason"]] == [
        ("Invalid Role", 2),
        ("Missing Contact ID", 1),
    ]
    assert page["failuresByReason"][0]["whatToDo"].startswith("use the exact, case-sensitive name")
    # and each result file has a link that works for a while
    assert set(page["files"]) == {"success.csv", "failure.csv", "summary.json"}
    assert page["files"]["success.csv"].endswith(f"success.csv?expires={LINK_SECONDS}")


def test_an_unknown_job_is_404_with_a_sentence() -> None:
    deps, _ = console()
    status, document = answer(lambda: job_page("nope", deps))
    assert status == 404 and document == {"error": "There is no job nope: the jobs list shows the recent ones."}


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("partners.csv", "imports/partners.csv"),
        ("C:\\Users\\ana\\Partners Q4.CSV", "imports/Partners Q4.CSV"),
        ("../../results/x.csv", "imports/x.csv"),
        ("export", "imports/export.csv"),
        ("bad\x00\nname.csv", "imports/bad__name.csv"),
        ("   ", "imports/import.csv"),
    ],
)
def test_an_upload_goes_under_imports_by_the_files_own_name(name: str, key: str) -> None:
    assert upload_key(name) == key


def test_the_upload_form_carries_the_options_as_metadata_and_the_stacks_size_cap() -> None:
    deps, uploads = console(most=1000)
    request = {"fileName": "partners.csv", "size": 999, "mode": "validate", "contactIdColumn": "Contact: ID"}
    form = upload_form(request, deps)
    assert form["key"] == "imports/partners.csv" and form["url"] == "https://imports.example/"
    (made,) = uploads.forms
    assert made == {
        "key": "imports/partners.csv",
        "fields": {
            "x-amz-meta-mode": "validate",
            "x-amz-meta-send-activation-email": "true",  # the stack's default, as a bucket drop without it
            "x-amz-meta-contactid-column": "Contact: ID",
        },
        "mostBytes": 1000,
        "expiresIn": LINK_SECONDS,
    }
    upload_form({"fileName": "p.csv", "size": 1, "sendActivationEmail": False}, deps)
    assert uploads.forms[-1]["fields"]["x-amz-meta-send-activation-email"] == "false"


@pytest.mark.parametrize(
    ("request_", "status", "says"),
    [
        ({"fileName": "p.csv", "size": 1001}, 413, "more than this stack takes (1,000): split it"),
        ({"fileName": "p.csv", "size": 0}, 400, "The file is empty"),
        ({"fileName": "p.csv", "size": 5, "mode": "delete"}, 400, "not valid (mode)"),
        ({"size": 5}, 400, "not valid (fileName)"),
        ({"fileName": "p.csv", "size": 5, "bucket": "elsewhere"}, 400, "not valid (bucket)"),
        ("nonsense", 400, "not valid (request)"),
    ],
)
def test_an_upload_the_stack_would_not_take_is_refused_before_any_form(request_: Any, status: int, says: str) -> None:
    deps, uploads = console(most=1000)
    got, document = answer(lambda: upload_form(request_, deps))
    assert got == status and says in document["error"] and uploads.forms == []


def test_resend_on_a_job_with_no_users_yet_is_409_with_the_clis_sentence() -> None:
    deps, _ = console(a_job(status=JobStatus.SPLITTING))
    with pytest.raises(Refused) as refused:
        resend_to_unreached(a_job().job_id, deps)
    assert refused.value.status == 409 and "resend" in str(refused.value)
