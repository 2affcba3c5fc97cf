"""The import bucket: reading dropped files, the per-chunk outcome files, and the result files."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from portal_import.aws.clients import client
from portal_import.domain.messages import ChunkOutcomes
from portal_import.errors import Transient
from portal_import.observability import logger
from portal_import.ports import ImportObject

_READ_CHUNK = 256 * 1024
# A result file goes up in parts of this size, so only one part is ever held in memory.
RESULT_PART_SIZE = 8 * 1024 * 1024
# S3 rejects a multipart upload whose parts, all but the last, are smaller than this.
MIN_PART_SIZE = 5 * 1024 * 1024
# What upload_fileobj asks for by default: each part carries a CRC32, and so does the completed object.
_CHECKSUM = "CRC32"


def _object(bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
    """The parameters naming one object version (the current one when the bucket keeps no versions)."""
    return {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}


def outcomes_prefix(job_id: str) -> str:
    return f"work/{job_id}/outcomes/"


class Storage:
    def __init__(self, bucket: str | None = None, *, presign_endpoint: str = "") -> None:
        """`presign_endpoint`: where the people given a link or an upload form reach the bucket, when not at S3's
        own address (the local runtime's endpoint)."""
        self._bucket = bucket
        self._s3 = client("s3")
        self._presigner = boto3.client("s3", endpoint_url=presign_endpoint) if presign_endpoint else self._s3

    def open_import(self, bucket: str, key: str, version_id: str | None) -> ImportObject:
        """Streams the object: only one read buffer is held at a time."""
        response = self._s3.get_object(**_object(bucket, key, version_id))
        return ImportObject(
            metadata=dict(response.get("Metadata", {})),
            content_length=int(response.get("ContentLength", 0)),
            chunks=response["Body"].iter_chunks(_READ_CHUNK),
        )

    def head_import(self, bucket: str, key: str, version_id: str | None) -> tuple[dict[str, str], int]:
        response = self._s3.head_object(**_object(bucket, key, version_id))
        return dict(response.get("Metadata", {})), int(response.get("ContentLength", 0))

    def put_outcomes(self, chunk: ChunkOutcomes) -> None:
        self._s3.put_object(
            Bucket=self._require_bucket(),
            Key=f"{outcomes_prefix(chunk.job_id)}{chunk.seq:08d}.json",
            Body=chunk.to_json().encode(),
            ContentType="application/json",
        )

    def iter_outcomes(self, job_id: str) -> Iterator[ChunkOutcomes]:
        """Every chunk's outcomes in chunk order (zero-padded keys list in that order)."""
        listing: dict[str, Any] = {"Bucket": self._require_bucket(), "Prefix": outcomes_prefix(job_id)}
        while True:
            page = self._s3.list_objects_v2(**listing)
            for entry in page.get("Contents", []):
                body = self._s3.get_object(Bucket=self._require_bucket(), Key=entry["Key"])["Body"].read()
                yield ChunkOutcomes.model_validate_json(body)
            if not page.get("IsTruncated"):
                return
            listing["ContinuationToken"] = page["NextContinuationToken"]

    def open_result(self, key: str, content_type: str, *, part_size: int = RESULT_PART_SIZE) -> ResultUpload:
        """A file to write a result into as it is produced; it is in S3 once the `with` block exits cleanly."""
        return ResultUpload(self._s3, self._require_bucket(), key, content_type, part_size=part_size)

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        self._s3.put_object(
            Bucket=self._require_bucket(),
            Key=key,
            Body=json.dumps(document, indent=2, ensure_ascii=False).encode(),
            ContentType="application/json",
        )

    def read(self, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=self._require_bucket(), Key=key)["Body"].read())

    def presigned_url(self, key: str, expires_in: int) -> str:
        return str(
            self._presigner.generate_presigned_url(
                "get_object", Params={"Bucket": self._require_bucket(), "Key": key}, ExpiresIn=expires_in
            )
        )

    def presigned_post(
        self, key: str, *, fields: Mapping[str, str], most_bytes: int, expires_in: int
    ) -> dict[str, Any]:
        """A form a browser uploads one object with: exactly `key`, exactly `fields` (its metadata), between one
        byte and `most_bytes`, for `expires_in` seconds. S3 refuses anything else the form is sent with."""
        conditions: list[Any] = [{name: value} for name, value in fields.items()]
        conditions.append(["content-length-range", 1, most_bytes])
        form: dict[str, Any] = self._presigner.generate_presigned_post(
            Bucket=self._require_bucket(), Key=key, Fields=dict(fields), Conditions=conditions, ExpiresIn=expires_in
        )
        return form

    def uri(self, key: str) -> str:
        return f"s3://{self._require_bucket()}/{key}"

    def _require_bucket(self) -> str:
        if not self._bucket:
            raise ValueError("this Storage was built without a results bucket")
        return self._bucket


class ResultUpload:
    """One object written as a stream of bytes: held until a part is full, then sent as a part of a multipart
    upload. A file smaller than one part is sent with a single PUT. Leaving the `with` block by an exception
    aborts the upload, so neither an object nor orphaned parts are left behind."""

    def __init__(self, s3: Any, bucket: str, key: str, content_type: str, *, part_size: int = RESULT_PART_SIZE) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's smallest part), not {part_size}")
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._part_size = part_size
        self._pending = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def __enter__(self) -> ResultUpload:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            self._finish()
        except BaseException:
            self._abort()
            raise

    def write(self, data: bytes, /) -> int:
        self._pending += data
        while len(self._pending) >= self._part_size:
            part = self._pending[: self._part_size]
            del self._pending[: self._part_size]
            self._upload_part(part)
        return len(data)

    def _upload_part(self, body: bytearray) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._content_type, ChecksumAlgorithm=_CHECKSUM
            )
            self._upload_id = str(created["UploadId"])
        number = len(self._parts) + 1
        response = self._s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm=_CHECKSUM,
        )
        part = {"PartNumber": number, "ETag": response["ETag"]}
        if f"Checksum{_CHECKSUM}" in response:
            part[f"Checksum{_CHECKSUM}"] = response[f"Checksum{_CHECKSUM}"]
        self._parts.append(part)

    def _finish(self) -> None:
        if self._upload_id is None:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=self._pending, ContentType=self._content_type)
        else:
            if self._pending:
                self._upload_part(self._pending)
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
        self._pending = bytearray()

    def _abort(self) -> None:
        self._pending = bytearray()
        if self._upload_id is None:
            return
        try:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
        except (ClientError, BotoCoreError, Transient):
            # The error that brought us here is the one worth raising; this one only leaves parts behind.
            logger.warning(
                "Could not abort the multipart upload of a result file; its parts stay until aborted",
                extra={"key": self._key, "upload_id": self._upload_id},
                exc_info=True,
            )
        self._upload_id = None
