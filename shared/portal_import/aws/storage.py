"""The import bucket: reading dropped files, the per-chunk outcome files, and the result files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from portal_import.aws.clients import client
from portal_import.messages import ChunkOutcomes

_READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class ImportObject:
    metadata: dict[str, str]
    content_length: int
    chunks: Iterator[bytes]


def _object(bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
    """The parameters naming one object version (the current one when the bucket keeps no versions)."""
    return {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}


def outcomes_prefix(job_id: str) -> str:
    return f"work/{job_id}/outcomes/"


def results_prefix(job_id: str) -> str:
    return f"results/{job_id}/"


class Storage:
    def __init__(self, bucket: str | None = None) -> None:
        self._bucket = bucket
        self._s3 = client("s3")

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
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._require_bucket(), Prefix=outcomes_prefix(job_id)):
            for entry in page.get("Contents", []):
                body = self._s3.get_object(Bucket=self._require_bucket(), Key=entry["Key"])["Body"].read()
                yield ChunkOutcomes.model_validate_json(body)

    def put_result(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        """Uploads from a file object; large files go up in parts (multipart) without being held in memory."""
        fileobj.seek(0)
        self._s3.upload_fileobj(fileobj, self._require_bucket(), key, ExtraArgs={"ContentType": content_type})

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        self._s3.put_object(
            Bucket=self._require_bucket(),
            Key=key,
            Body=json.dumps(document, indent=2, ensure_ascii=False).encode(),
            ContentType="application/json",
        )

    def presigned_url(self, key: str, expires_in: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self._require_bucket(), "Key": key}, ExpiresIn=expires_in
            )
        )

    def uri(self, key: str) -> str:
        return f"s3://{self._require_bucket()}/{key}"

    def _require_bucket(self) -> str:
        if not self._bucket:
            raise ValueError("this Storage was built without a results bucket")
        return self._bucket
