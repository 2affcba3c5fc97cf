"""Result files stream into the import bucket on moto: large ones in parts, small ones in one request, and a write
that fails part-way leaves nothing behind (no object, no parts still billed)."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from typing import Any

import pytest

from portal_import.aws import clients
from portal_import.aws.storage import MIN_PART_SIZE, Storage
from portal_import.domain.results import FAILURE_HEADER, CsvResultWriter

CSV = "text/csv; charset=utf-8"
KEY = "results/20250301T093012Z-5f2c1e9a7b3d/success.csv"
# Not a divisor of the part size, so writes straddle part boundaries as CSV rows do.
WRITE_SIZE = 7919


def pieces(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), WRITE_SIZE):
        yield data[start : start + WRITE_SIZE]


@pytest.fixture
def s3_calls(cloud: Any) -> list[str]:
    """The S3 operations the functions' client sends from here on, by name."""
    calls: list[str] = []
    clients.client("s3").meta.events.register(
        "before-call.s3", lambda model, **_: calls.append(model.name), unique_id="test-result-upload"
    )
    return calls


def pending_uploads(cloud: Any) -> list[dict[str, Any]]:
    listed = cloud.session.client("s3").list_multipart_uploads(Bucket=cloud.stack.bucket)
    return list(listed.get("Uploads", []))


def test_a_file_larger_than_a_part_arrives_whole_in_several_parts(cloud: Any, s3_calls: list[str]) -> None:
    # Given a result file of a little over two parts
    data = random.Random(7).randbytes(2 * MIN_PART_SIZE + 123_457)
    storage = Storage(cloud.stack.bucket)

    # When it is written through the result writer, a few kilobytes at a time
    with storage.open_result(KEY, CSV, part_size=MIN_PART_SIZE) as upload:
        for piece in pieces(data):
            upload.write(piece)

    # Then the object holds exactly those bytes, went up as three parts, and opens as a CSV
    assert cloud.read(KEY) == data
    head = cloud.session.client("s3").head_object(Bucket=cloud.stack.bucket, Key=KEY)
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentType"] == CSV
    assert s3_calls.count("UploadPart") == 3
    assert pending_uploads(cloud) == []


def test_a_small_result_file_is_one_object_sent_in_one_request(cloud: Any, s3_calls: list[str]) -> None:
    # Given a failure file with one row
    expected = io.BytesIO()
    CsvResultWriter(expected, FAILURE_HEADER).write((5, "", "Partner User", "Missing Contact ID: add it"))

    # When it is written through the result writer
    with Storage(cloud.stack.bucket).open_result(KEY, CSV) as upload:
        CsvResultWriter(upload, FAILURE_HEADER).write((5, "", "Partner User", "Missing Contact ID: add it"))

    # Then it is a plain object with the CSV content type, written by a single PUT
    assert cloud.read(KEY) == expected.getvalue()
    head = cloud.session.client("s3").head_object(Bucket=cloud.stack.bucket, Key=KEY)
    assert head["ContentType"] == CSV
    assert "-" not in head["ETag"]
    assert s3_calls == ["PutObject"]


@pytest.mark.parametrize("written", [1000, 2 * MIN_PART_SIZE + 10], ids=["before-a-part", "after-two-parts"])
def test_a_write_that_fails_part_way_leaves_no_file_and_no_parts(cloud: Any, written: int) -> None:
    # Given a result file part-written when something goes wrong
    storage = Storage(cloud.stack.bucket)
    data = bytes(written)

    # When the failure leaves the writer's block
    with (
        pytest.raises(RuntimeError, match="outcomes unreadable"),
        storage.open_result(KEY, CSV, part_size=MIN_PART_SIZE) as upload,
    ):
        for piece in pieces(data):
            upload.write(piece)
        raise RuntimeError("outcomes unreadable")

    # Then no half-written result is there to download, and no uploaded parts are left (and billed)
    assert cloud.keys("results/") == []
    assert pending_uploads(cloud) == []
