"""boto3 clients, built once per process and shared by the adapters."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling; adaptive would also rate-limit the client locally.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
# Pre-signed result links are signed with Signature Version 4 (S3 refuses version 2 for newer buckets), on the
# bucket's own host name.
_SERVICE_CONFIG = {"s3": _CONFIG.merge(Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))}


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_SERVICE_CONFIG.get(service, _CONFIG))  # type: ignore[call-overload]
