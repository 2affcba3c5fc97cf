"""boto3 clients, built once per process and shared by the adapters.

Every call through them is retried in-process while it fails with a transient error (throttling, 5xx, a
timeout), on top of botocore's own retries: see portal_import.retry. Callers that must decide themselves what a
failed call means (an SES send: the rate limiter owns its timing) call through `.raw`, without those retries.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from portal_import.retry import CALL_ATTEMPTS, is_transient, with_retries

# Standard retry mode backs off on throttling; adaptive would also rate-limit the client locally.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
# Pre-signed result links are signed with Signature Version 4 (S3 refuses version 2 for newer buckets), on the
# bucket's own host name.
_SERVICE_CONFIG = {"s3": _CONFIG.merge(Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))}
# Client methods that make no request of their own.
_LOCAL_METHODS = frozenset({"generate_presigned_url", "generate_presigned_post", "can_paginate", "close"})


class RetryingClient:
    """A boto3 client whose API calls are retried while they fail with a transient error."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @property
    def raw(self) -> Any:
        """The plain boto3 client: its calls fail as soon as botocore's own retries are spent."""
        return self._inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name.startswith("_") or name in _LOCAL_METHODS or not callable(attribute):
            return attribute
        if name == "get_paginator":
            raise AttributeError("page through results with explicit calls: a paginator's requests are not retried")
        return partial(_retried, attribute)


def _retried(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return with_retries(partial(method, *args, **kwargs), attempts=CALL_ATTEMPTS, retryable=is_transient)


def error_code(error: ClientError) -> str:
    """The AWS error code of a failed call ("" when it has none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def condition_failed(error: ClientError) -> bool:
    """Whether a single-item write was refused by its condition expression."""
    return error_code(error) == "ConditionalCheckFailedException"


@cache
def client(service: str) -> Any:
    return RetryingClient(boto3.client(service, config=_SERVICE_CONFIG.get(service, _CONFIG)))  # type: ignore[call-overload]
