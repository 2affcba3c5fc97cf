"""A chunk that fails every retry reaches the rows DLQ; the dead-letter function still accounts for each of
its rows, so the job completes and notifies (exercised through the local runtime, in-process)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from portal_import_local.runtime import LocalRuntime

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "mixed"


def _csv(raw: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))


def test_poison_chunk_rows_end_as_processing_error_and_the_job_completes(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given user creation crashes every time (a fault, not the data)
    import portal_import.flows.work as work

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(work, "_create_users", crash)

    # When the worked example is imported
    event = runtime.upload(FIXTURES / "import.csv", "imports/poison.csv", {"send-activation-email": "true"})
    (job_id,) = runtime.deliver_s3_event(event)
    notice = runtime.run_until_done(job_id, timeout=120)

    # Then the job still completes: rules 1-5 failures keep their own error, the rest are Processing error
    failure = _csv(runtime.download(f"results/{job_id}/failure.csv"))
    success = _csv(runtime.download(f"results/{job_id}/success.csv"))
    assert success == []
    assert len(failure) == 40
    errors = {row["RowNumber"]: row["Error"] for row in failure}
    assert errors["3"] == "Missing Contact ID"
    assert errors["36"].startswith("Invalid Role")
    assert errors["4"].startswith("Processing error: ")
    assert notice.attributes["event"] == "import-completed"
    assert runtime.dead_letters() == 0  # the dead-letter function consumed what reached the DLQ


def test_rows_a_failed_attempt_did_create_are_reported_as_created(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given users are created, but every attempt crashes right after (before the outcome is recorded)
    import portal_import.flows.work as work

    real_create = work._create_users

    def create_then_crash(*args: Any, **kwargs: Any) -> Any:
        real_create(*args, **kwargs)
        raise RuntimeError("crashed after creating users")

    monkeypatch.setattr(work, "_create_users", create_then_crash)

    # When the worked example is imported
    event = runtime.upload(FIXTURES / "import.csv", "imports/half.csv", {"send-activation-email": "true"})
    (job_id,) = runtime.deliver_s3_event(event)
    runtime.run_until_done(job_id, timeout=120)

    # Then the users that exist are in the success file (not lost as failures), with their emails sent
    success = _csv(runtime.download(f"results/{job_id}/success.csv"))
    assert len(success) == 28
    assert {row["ActivationEmail"] for row in success} == {"Queued", "No valid email"}
    assert len(runtime.sent_emails()) == 21
