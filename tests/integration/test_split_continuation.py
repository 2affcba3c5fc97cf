"""A file that takes longer to read than one splitter invocation has goes on from a checkpoint in the next
(events/sqs_split.json): every row still reaches the workers exactly once, rule 4 still sees the whole file, and
every row is judged by the Roles of the job's start, however often a continuation is delivered."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import portal_import.flows.split as split
import portal_import_local.host as host
from portal_import.aws.directory import Directory
from portal_import.aws.jobs import Jobs
from portal_import.aws.queues import Queue
from portal_import.aws.userpool import UserPool
from portal_import.domain.job import JobStatus
from portal_import_cli.seed import load_directory, read_directory
from portal_import_local.runtime import LocalRuntime
from portal_import_local.stack import FunctionSpec

from .conftest import with_bodies

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from generate import write_case

DATA_ROWS = 6500  # seven chunks
ROWS_THROUGH_THE_STACK = 1200  # two chunks
BLANK = ("", "")


class _ShortOfTime(host.LambdaContext):
    """A splitter invocation's time runs short as soon as it has queued its first batch of chunks."""

    def __init__(self, spec: FunctionSpec, *args: Any, **kwargs: Any) -> None:
        super().__init__(spec, *args, **kwargs)
        self._splitter = spec.logical_id.startswith("Split")

    def get_remaining_time_in_millis(self) -> int:
        # The splitter's deadline (portal_import.invocation.deadline_of) is then already within the margin.
        short = int(split.TIME_MARGIN_SECONDS * 1000) - 1
        return short if self._splitter else super().get_remaining_time_in_millis()


@pytest.fixture
def short_invocations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every invocation has time for one chunk: a file of a few thousand rows takes several."""
    monkeypatch.setattr(split, "CHUNKS_PER_BATCH", 1)
    monkeypatch.setattr(host, "LambdaContext", _ShortOfTime)


def _contact(n: int) -> str:
    return f"003{n:012d}0001"


def _records() -> list[tuple[str, str]]:
    """DATA_ROWS data records and one blank one; rules 1-4 failures on both sides of the chunk boundaries."""
    records = [(_contact(n), "Partner User" if n % 2 else "Customer") for n in range(DATA_ROWS)]
    records[5] = ("", "Customer")  # rule 1
    records[1500] = (_contact(1500), "")  # rule 2
    records[2600] = (_contact(2600), "customer")  # rule 3
    records[2500] = records[10]  # rule 4: the same Contact as a row two chunks (and invocations) earlier
    records[4000] = (_contact(4000), "Legacy Partner")  # rule 3, so that a later row with this Contact
    records[4500] = (_contact(4000), "Customer")  # is no duplicate: rule 4 looks at rows that passed 1-3
    records.insert(3100, BLANK)  # skipped, but keeps its row number
    return records


def _csv_bytes(records: list[tuple[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(["ContactId", "Role"])
    writer.writerows(records)
    return text.getvalue().encode()


def _report_export_bytes(records: list[tuple[str, str]]) -> bytes:
    """The records as a Salesforce report exports them: headers of its own, an extra column, semicolons."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Account Name", "Contact: Contact ID", "Portal Role"])
    writer.writerows((f"Account {n}" if record != BLANK else "", *record) for n, record in enumerate(records))
    return text.getvalue().encode()


def _csv(raw: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))


def _row_of(index: int) -> int:
    return index + 2  # the header is row 1


def _continue_by_hand(cloud: Any, load_event: Any) -> int:
    """Delivers each continuation the splitter queued, as the SQS event source would, until none is left."""
    delivered = 0
    while bodies := cloud.drain(cloud.queue_of("SplitContinuationFunction")):
        for body in bodies:
            assert _continue(cloud, load_event, body) == {"batchItemFailures": []}
            delivered += 1
    return delivered


def _continue(cloud: Any, load_event: Any, body: str) -> Any:
    return cloud.hosts["SplitContinuationFunction"].invoke(with_bodies(load_event("sqs_split"), body))


def test_a_file_split_over_several_invocations_queues_every_row_once(
    cloud: Any, load_event: Any, short_invocations: None
) -> None:
    # Given a file of several thousand rows, with rules 1-4 failures, dropped where the splitter is short of time
    cloud.seed_directory()
    records = _records()
    event = cloud.upload("imports/long.csv", _csv_bytes(records), {})

    # When S3 notifies the splitter and each continuation it queues is delivered
    (job_id,) = cloud.splitter(event)["jobIds"]
    continuations = _continue_by_hand(cloud, load_event)

    # Then it took several invocations, and the chunks cover every data record exactly once, in order
    chunks = sorted(cloud.rows_messages(), key=lambda chunk: chunk["seq"])
    assert continuations == len(chunks) - 1 > 1
    assert [chunk["seq"] for chunk in chunks] == list(range(len(chunks)))
    rows = {row["row"]: row for chunk in chunks for row in chunk["rows"]}
    data_rows = [_row_of(index) for index, record in enumerate(records) if record != BLANK]
    assert [row["row"] for chunk in chunks for row in chunk["rows"]] == data_rows

    # and rules 1-4 are decided as if the file had been read in one go
    errors = {number: row["error"] for number, row in rows.items() if "error" in row}
    assert errors == {
        _row_of(5): "Missing Contact ID",
        _row_of(1500): "Role is required",
        _row_of(2600): "Invalid Role: 'customer' (did you mean 'Customer'?)",
        _row_of(2500): f"Duplicate Contact ID in file: same Contact as row {_row_of(10)}",
        _row_of(4001): "Invalid Role: 'Legacy Partner' is not active",  # after the blank record
    }

    # and the job knows its size, so that it completes once the workers have counted every chunk
    job = cloud.job(job_id)
    assert job.status is JobStatus.PROCESSING
    assert (job.total_rows, job.chunk_count) == (DATA_ROWS, len(chunks))
    assert job.chunk_starts == [chunk["rows"][0]["row"] for chunk in chunks]


def test_a_mapped_file_split_over_several_invocations_is_read_by_its_named_columns_in_each(
    cloud: Any, load_event: Any, short_invocations: None
) -> None:
    # Given a report export whose headers do not auto-map, dropped with its columns named, where the splitter is
    # short of time
    cloud.seed_directory()
    records = _records()
    metadata = {"contactid-column": "Contact: Contact ID", "role-column": "Portal Role"}
    event = cloud.upload("imports/report.csv", _report_export_bytes(records), metadata)

    # When S3 notifies the splitter and each continuation it queues is delivered
    (job_id,) = cloud.splitter(event)["jobIds"]
    continuations = _continue_by_hand(cloud, load_event)

    # Then every invocation read the named columns: each data record once, with its ContactId and Role as written
    chunks = sorted(cloud.rows_messages(), key=lambda chunk: chunk["seq"])
    assert continuations == len(chunks) - 1 > 1
    read = [(row["row"], row["contactId"], row["role"]) for chunk in chunks for row in chunk["rows"]]
    assert read == [(_row_of(index), *record) for index, record in enumerate(records) if record != BLANK]
    # and the job knows its size and the columns it was read from
    job = cloud.job(job_id)
    assert (job.status, job.total_rows) == (JobStatus.PROCESSING, DATA_ROWS)
    assert job.columns == {"ContactId": "Contact: Contact ID", "Role": "Portal Role"}


def test_a_continuation_delivered_twice_queues_no_chunk_twice(
    cloud: Any, load_event: Any, short_invocations: None
) -> None:
    # Given a split that has handed the rest of its file on once
    cloud.seed_directory()
    event = cloud.upload("imports/long.csv", _csv_bytes(_records()), {})
    (job_id,) = cloud.splitter(event)["jobIds"]
    (first,) = cloud.drain(cloud.queue_of("SplitContinuationFunction"))
    first_chunks = cloud.rows_messages()

    # When SQS delivers that continuation, and later delivers it again
    _continue(cloud, load_event, first)
    after_first = cloud.rows_messages()
    (second,) = cloud.drain(cloud.queue_of("SplitContinuationFunction"))
    _continue(cloud, load_event, first)

    # Then the second delivery queues neither chunks nor another continuation
    assert [chunk["seq"] for chunk in after_first] == [1]
    assert cloud.rows_messages() == []
    assert cloud.drain(cloud.queue_of("SplitContinuationFunction")) == []

    # and neither does the S3 event, delivered again mid-split
    assert cloud.splitter(event)["jobIds"] == []
    assert cloud.rows_messages() == []
    assert cloud.drain(cloud.queue_of("SplitContinuationFunction")) == []

    # and the split goes on from where the first delivery left it, to the end, each chunk queued once
    _continue(cloud, load_event, second)
    _continue_by_hand(cloud, load_event)
    later_chunks = cloud.rows_messages()
    seqs = sorted(chunk["seq"] for chunk in first_chunks + after_first + later_chunks)
    job = cloud.job(job_id)
    assert seqs == list(range(job.chunk_count or 0))
    assert job.total_rows == DATA_ROWS

    # and a continuation delivered once more after the split finished changes nothing
    _continue(cloud, load_event, second)
    assert cloud.rows_messages() == []
    assert cloud.drain(cloud.queue_of("SplitContinuationFunction")) == []


def test_a_split_whose_continuation_was_never_queued_goes_on_when_lambda_retries_the_event(
    cloud: Any, load_event: Any, short_invocations: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a splitter that crashes once right after recording its checkpoint, before queuing the continuation
    cloud.seed_directory()
    event = cloud.upload("imports/long.csv", _csv_bytes(_records()), {})
    real_send = Queue.send
    crashed: list[str] = []

    def crash_once_on_continuation(self: Queue, body: str, **kwargs: Any) -> None:
        if '"nextSeq"' in body and not crashed:
            crashed.append(body)
            raise RuntimeError("splitter crashed")
        real_send(self, body, **kwargs)

    monkeypatch.setattr(Queue, "send", crash_once_on_continuation)
    with pytest.raises(RuntimeError):
        cloud.splitter(event)

    # When Lambda retries the S3 event, and the continuations it leads to are delivered
    (job_id,) = cloud.splitter(event)["jobIds"]
    _continue_by_hand(cloud, load_event)

    # Then the retry went on from the checkpoint: every chunk was queued exactly once, and the job knows its size
    assert crashed
    job = cloud.job(job_id)
    assert sorted(chunk["seq"] for chunk in cloud.rows_messages()) == list(range(job.chunk_count or 0))
    assert (job.status, job.total_rows) == (JobStatus.PROCESSING, DATA_ROWS)


def test_rows_after_the_checkpoint_are_judged_by_the_roles_of_the_jobs_start(
    cloud: Any, load_event: Any, short_invocations: None
) -> None:
    # Given a split that handed the rest of its file on, and then the 'Customer' Role is deactivated
    cloud.seed_directory()
    records = _records()
    (job_id,) = cloud.splitter(cloud.upload("imports/long.csv", _csv_bytes(records), {}))["jobIds"]
    cloud.directory().put_roles({"Customer": False})

    # When the continuations run
    _continue_by_hand(cloud, load_event)

    # Then no row fails for naming 'Customer': the job's Roles are those it started with
    rows = [row for chunk in cloud.rows_messages() for row in chunk["rows"]]
    assert not [row for row in rows if row.get("error", "").startswith("Invalid Role: 'Customer'")]
    assert sum(1 for row in rows if row["role"] == "Customer" and "error" not in row) > 1000
    assert cloud.job(job_id).total_rows == DATA_ROWS


def test_a_split_that_crashed_before_its_checkpoint_still_imports_every_row_once(
    runtime: LocalRuntime, tmp_path: Path, short_invocations: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file that takes several invocations, and a splitter that crashes once after queuing chunks but
    # before recording its checkpoint
    contacts, roles, import_csv = write_case(tmp_path / "case", ROWS_THROUGH_THE_STACK)
    load_directory(
        Directory(runtime.stack.directory_table), read_directory(contacts, roles), UserPool(runtime.stack.user_pool_id)
    )
    real_checkpoint = Jobs.checkpoint_split
    crashed: list[int] = []

    def crash_once(self: Jobs, job_id: str, *, next_seq: int, rows: int) -> bool:
        if not crashed:
            crashed.append(next_seq)
            raise RuntimeError("splitter crashed")
        return real_checkpoint(self, job_id, next_seq=next_seq, rows=rows)

    monkeypatch.setattr(Jobs, "checkpoint_split", crash_once)

    # When the file is imported through the whole local stack (Lambda retries the S3 event)
    (job_id,) = runtime.deliver_s3_event(runtime.upload(import_csv, "imports/crash.csv", {}))
    notice = runtime.run_until_done(job_id, timeout=300)

    # Then every row is in the results once, none of them lost, and the counts agree
    assert crashed == [1]
    success = _csv(runtime.download(f"results/{job_id}/success.csv"))
    failure = _csv(runtime.download(f"results/{job_id}/failure.csv"))
    numbers = [int(row["RowNumber"]) for row in success + failure]
    assert sorted(numbers) == list(range(2, ROWS_THROUGH_THE_STACK + 2))
    assert not any(row["Error"].startswith("Processing error") for row in failure)
    summary = json.loads(runtime.download(f"results/{job_id}/summary.json"))
    assert (summary["totalRows"], summary["succeeded"], summary["failed"]) == (
        ROWS_THROUGH_THE_STACK,
        len(success),
        len(failure),
    )
    assert notice.attributes["status"] == "COMPLETED"
