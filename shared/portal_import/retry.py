"""Retrying a call in-process, with exponential backoff and jitter.

For the steps that must not be left half-done once the outside world has been told something (an email
went out, a notification was published): redelivering the whole message would repeat what was told.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from portal_import.observability import logger

T = TypeVar("T")


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
            logger.warning("Call failed; retrying", extra={"attempt": attempt, "error": str(error)[:200]})
            sleep(delay)
    raise AssertionError("unreachable")
