"""boto3 clients, built once per process and shared by the adapters, and where botocore's errors are sorted.

A call that fails with a transient error (throttling, 5xx, a timeout, a lost connection) raises
portal_import.errors.Transient, and is retried by portal_import.retry, the one retry layer: botocore's own retries
are off. Any other error stays botocore's ClientError, for the adapter to turn into what it means. Callers that
must decide themselves when to try again (an SES send: the rate limiter owns its timing) call through `.once`: the
same sorting, no retries.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from portal_import.errors import Transient
from portal_import.retry import with_retries

# One attempt a request in botocore: portal_import.retry makes the others.
_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1})
# Pre-signed result links are signed with Signature Version 4 (S3 refuses version 2 for newer buckets), on the
# bucket's own host name.
_SERVICE_CONFIG = {"s3": _CONFIG.merge(Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))}
# Client methods that make no request of their own.
_LOCAL_METHODS = frozenset({"generate_presigned_url", "generate_presigned_post", "can_paginate", "close"})

# Error codes AWS services answer when the same request may succeed if sent again a little later.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "PriorRequestNotComplete",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# HTTP statuses of a server's passing trouble, whatever code the service gives them.
_TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
# Reasons a DynamoDB transaction is cancelled that say nothing about its items: another writer or throttling.
_TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def is_transient(error: BaseException) -> bool:
    """True for a failure that says nothing about the request itself: sending it again later may succeed."""
    if isinstance(error, ClientError):
        code = error_code(error)
        if code == "TransactionCanceledException":
            reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])} - {"None"}
            return bool(reasons) and reasons <= _TRANSIENT_CANCELLATIONS
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in TRANSIENT_CODES or status in _TRANSIENT_STATUSES
    # Connection failures and timeouts (botocore's ConnectionError and HTTPClientError cover both)
    return isinstance(error, ConnectionError | HTTPClientError | TimeoutError)


class _Client:
    """A boto3 client whose calls raise Transient for a passing fault, retried (`client()`) or not (`.once`)."""

    def __init__(self, inner: Any, *, retried: bool) -> None:
        self._inner = inner
        self._retried = retried

    @property
    def once(self) -> _Client:
        """The same client without retries: a call fails as soon as its one attempt does."""
        return _Client(self._inner, retried=False)

    @property
    def raw(self) -> Any:
        """The plain boto3 client underneath (tests replace its methods)."""
        return self._inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name.startswith("_") or name in _LOCAL_METHODS or not callable(attribute):
            return attribute
        if name == "get_paginator":
            raise AttributeError("page through results with explicit calls: a paginator's requests are not retried")
        call = partial(_sorted, attribute)
        return partial(_retried, call) if self._retried else call


def _sorted(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return method(*args, **kwargs)
    except (ClientError, BotoCoreError, TimeoutError) as error:
        if is_transient(error):
            raise Transient(f"{type(error).__name__}: {error}") from error
        raise


def _retried(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return with_retries(partial(call, *args, **kwargs))


def error_code(error: ClientError) -> str:
    """The AWS error code of a failed call ("" when it has none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def condition_failed(error: ClientError) -> bool:
    """Whether a single-item write was refused by its condition expression."""
    return error_code(error) == "ConditionalCheckFailedException"


def transaction_condition_failed(error: ClientError) -> bool:
    """Whether a transaction was cancelled because one of its conditions did not hold (not for a conflict with
    another write, which is worth trying again)."""
    reasons = (
        error.response.get("CancellationReasons", []) if error_code(error) == "TransactionCanceledException" else []
    )
    return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)


def transact_if(ddb: Any, **transaction: Any) -> bool:
    """transact_write_items under its items' conditions: True when written, False when a condition did not hold
    (nothing written); any other cancellation is raised."""
    try:
        ddb.transact_write_items(**transaction)
    except ClientError as error:
        if transaction_condition_failed(error):
            return False
        raise
    return True


def update_if(ddb: Any, **update: Any) -> dict[str, Any] | None:
    """update_item under its ConditionExpression: the response, or None when the condition did not hold."""
    try:
        response: dict[str, Any] = ddb.update_item(**update)
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return response


@cache
def client(service: str) -> Any:
    return _Client(boto3.client(service, config=_SERVICE_CONFIG.get(service, _CONFIG)), retried=True)  # type: ignore[call-overload]
