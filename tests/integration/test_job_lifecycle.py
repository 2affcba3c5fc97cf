"""Jobs through the whole local stack: no job waits forever (the scheduled sweeper finishes a job whose
progress stalled, reporting every row it could not account for), and a file dropped again is a new job."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from portal_import.aws.directory import Directory
from portal_import.aws.userpool import UserPool
from portal_import.flows.split import CHUNK_ROWS
from portal_import_cli.seed import load_directory, read_directory
from portal_import_local.runtime import LocalRuntime, SplitterGaveUp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from generate import write_case

ROWS = 1200  # two chunks


def _csv(raw: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))


@pytest.fixture
def case(runtime: LocalRuntime, tmp_path: Path) -> Path:
    contacts, roles, import_csv = write_case(tmp_path / "case", ROWS)
    load_directory(
        Directory(runtime.stack.directory_table), read_directory(contacts, roles), UserPool(runtime.stack.user_pool_id)
    )
    return import_csv


def _lose_one_message(runtime: LocalRuntime, queue_url: str) -> str:
    sqs = runtime.session.client("sqs")
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1)["Messages"]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return str(message["Body"])


def _queue_of(runtime: LocalRuntime, function: str) -> str:
    return next(t.queue_url for t in runtime.stack.queue_triggers if t.function == function)


def test_rows_of_a_lost_chunk_are_reported_and_the_job_completes(runtime: LocalRuntime, case: Path) -> None:
    # Given one chunk of rows is lost between the splitter and the workers
    (job_id,) = runtime.deliver_s3_event(runtime.upload(case, "imports/lost.csv", {}))
    _lose_one_message(runtime, _queue_of(runtime, "WorkerFunction"))

    # When the pipeline runs dry and the stall period passes
    notice = runtime.run_until_done(job_id, timeout=300)

    # Then every row is in the results; the lost chunk's rows that passed rules 1-4 are Processing error
    success = _csv(runtime.download(f"results/{job_id}/success.csv"))
    failure = _csv(runtime.download(f"results/{job_id}/failure.csv"))
    assert len(success) + len(failure) == ROWS
    lost = [row for row in failure if row["Error"].startswith("Processing error")]
    assert 0 < len(lost) <= CHUNK_ROWS
    assert all("lost" in row["Error"] for row in lost)
    assert notice.attributes["status"] == "COMPLETED"


def test_rows_of_a_lost_chunk_of_a_mapped_file_are_reported_from_its_named_columns(
    runtime: LocalRuntime, case: Path
) -> None:
    # Given the case's file with headers of its own, dropped with its columns named, and one chunk of its rows lost
    lines = case.read_text(encoding="utf-8").splitlines(keepends=True)
    mapped = case.with_name("mapped.csv")
    mapped.write_text("Contact: Contact ID,Portal Role\r\n" + "".join(lines[1:]), encoding="utf-8")
    metadata = {"contactid-column": "Contact: Contact ID", "role-column": "Portal Role"}
    (job_id,) = runtime.deliver_s3_event(runtime.upload(mapped, "imports/mapped.csv", metadata))
    _lose_one_message(runtime, _queue_of(runtime, "WorkerFunction"))

    # When the pipeline runs dry and the sweeper reads the file again for the lost rows
    notice = runtime.run_until_done(job_id, timeout=300)

    # Then every row is in the results, the lost ones with ContactId and Role as the named columns hold them
    failure = _csv(runtime.download(f"results/{job_id}/failure.csv"))
    success = _csv(runtime.download(f"results/{job_id}/success.csv"))
    assert len(success) + len(failure) == ROWS
    written = {number: row for number, row in enumerate(csv.reader(lines[1:]), start=2)}
    lost = [row for row in failure if "lost" in row["Error"]]
    assert lost
    assert all([row["ContactId"], row["Role"]] == written[int(row["RowNumber"])] for row in lost)
    assert notice.attributes["status"] == "COMPLETED"
    summary = json.loads(runtime.download(f"results/{job_id}/summary.json"))
    assert summary["columns"] == {"ContactId": "Contact: Contact ID", "Role": "Portal Role"}


def test_a_lost_aggregate_request_is_asked_again(
    runtime: LocalRuntime, case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the first request for results is lost (taken off the queue, never processed)
    aggregator = runtime.hosts["AggregatorFunction"]
    real_invoke = aggregator.invoke
    lost: list[dict[str, Any]] = []

    def lose_first(event: dict[str, Any]) -> Any:
        if not lost:
            lost.append(event)
            return {"batchItemFailures": []}
        return real_invoke(event)

    monkeypatch.setattr(aggregator, "invoke", lose_first)
    (job_id,) = runtime.deliver_s3_event(runtime.upload(case, "imports/agg.csv", {}))

    # When the stall period passes / Then the job is announced with all of its rows
    notice = runtime.run_until_done(job_id, timeout=300)
    assert lost and notice.attributes["status"] == "COMPLETED"
    rows = _csv(runtime.download(f"results/{job_id}/success.csv")) + _csv(
        runtime.download(f"results/{job_id}/failure.csv")
    )
    assert len(rows) == ROWS
    assert not any(row.get("Error", "").startswith("Processing error") for row in rows)


def test_a_splitter_that_never_finished_is_run_again(
    runtime: LocalRuntime, case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the splitter crashes on every attempt Lambda makes (after sending part of the rows)
    from portal_import.aws.jobs import Jobs

    real_finish = Jobs.finish_split
    crashes = iter(range(3))

    def crash_then_work(self: Jobs, *args: Any, **kwargs: Any) -> Any:
        if next(crashes, None) is not None:
            raise RuntimeError("splitter crashed")
        return real_finish(self, *args, **kwargs)

    monkeypatch.setattr(Jobs, "finish_split", crash_then_work)
    event = runtime.upload(case, "imports/crash.csv", {})
    # (Lambda gives the event up; the runtime names the job the attempts started, which is not given up)
    (job,) = runtime.deliver_s3_event(event)
    items = runtime.session.client("dynamodb").scan(TableName=runtime.stack.jobs_table)["Items"]
    assert [item["pk"]["S"] for item in items if item.get("SourceKey", {}).get("S") == "imports/crash.csv"] == [job]
    assert next(crashes, None) is None  # every attempt crashed

    # When the stall period passes / Then the sweeper splits it again and every row ends where it belongs
    notice = runtime.run_until_done(job, timeout=300)
    rows = _csv(runtime.download(f"results/{job}/success.csv")) + _csv(runtime.download(f"results/{job}/failure.csv"))
    assert len(rows) == ROWS
    assert not any(row.get("Error", "").startswith("Processing error") for row in rows)
    assert notice.attributes["status"] == "COMPLETED"


def test_a_splitter_that_fails_before_any_job_exists_stops_the_run_with_a_sentence(
    runtime: LocalRuntime, case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the job cannot even be created, on every attempt
    from portal_import.aws.jobs import Jobs

    def refuse(self: Jobs, *args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("jobs table unavailable")

    monkeypatch.setattr(Jobs, "create", refuse)
    # When the file's event is delivered / Then the run says that nothing will carry the file on
    with pytest.raises(SplitterGaveUp, match="before it could start a job"):
        runtime.deliver_s3_event(runtime.upload(case, "imports/never.csv", {}))


def test_the_same_file_dropped_again_later_is_a_new_job(runtime: LocalRuntime, case: Path) -> None:
    # Given a file that was imported
    (first,) = runtime.deliver_s3_event(runtime.upload(case, "imports/again.csv", {}))
    runtime.run_until_done(first, timeout=300)
    created = len(_csv(runtime.download(f"results/{first}/success.csv")))

    # When the same file is dropped again (a new object version)
    (second,) = runtime.deliver_s3_event(runtime.upload(case, "imports/again.csv", {}))
    runtime.run_until_done(second, timeout=300)

    # Then it is a new job, and the rows the first one created now fail as User already exists
    assert second != first
    assert _csv(runtime.download(f"results/{second}/success.csv")) == []
    errors = [row["Error"] for row in _csv(runtime.download(f"results/{second}/failure.csv"))]
    assert sum(error.startswith("User already exists") for error in errors) >= created
