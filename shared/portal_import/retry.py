"""Retrying a call in-process, with exponential backoff and jitter, and telling a passing fault from a lasting one.

botocore already retries a request a few times; a call that still fails with a throttling, 5xx or timeout
answer failed after those retries (a bad minute of a service), and is retried here again before a step gives up:
a passing fault must not become a row's `Processing error` or an email that is never delivered.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from portal_import.observability import logger

T = TypeVar("T")

# Error codes AWS services answer when the same request may succeed if sent again a little later.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
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
# Reasons a DynamoDB transaction is cancelled that say nothing about its items: another writer or throttling.
_TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
# In-process attempts of a call that keeps failing with a transient error (on top of botocore's own): at a 10 %
# failure rate, eight in a row happen once in a hundred million calls.
CALL_ATTEMPTS = 8


def is_transient(error: BaseException) -> bool:
    """True for a failure that says nothing about the request itself: sending it again later may succeed."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        if code == "TransactionCanceledException":
            reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])} - {"None"}
            return bool(reasons) and reasons <= _TRANSIENT_CANCELLATIONS
        return code in TRANSIENT_CODES
    # Connection failures and timeouts (botocore's ConnectionError and HTTPClientError cover both)
    return isinstance(error, (ConnectionError, HTTPClientError, TimeoutError))


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = 6,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
    retryable: Callable[[Exception], bool] = lambda error: True,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as error:
            if attempt == attempts or not retryable(error):
                raise
            delay = min(max_delay, base_delay * 2**attempt) * (0.5 + random.random() / 2)  # noqa: S311 - jitter
            logger.warning("Call failed; retrying", extra={"attempt": attempt, "error": error})
            sleep(delay)
    raise AssertionError("unreachable")
