"""boto3 clients, built once per process and shared by the adapters."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling; adaptive would also rate-limit the client locally.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]
