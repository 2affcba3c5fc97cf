"""The one retry layer: a call that fails with portal_import.errors.Transient is made again, with exponential
backoff and jitter; anything else is raised at once.

The adapters make every AWS call through it (portal_import.aws.clients, with botocore's own retries turned off,
so that attempts do not multiply), except an SES send, which the email sender retries itself on its own schedule
because it holds rate-limited slots. A flow never wraps an adapter call in retries of its own: what is still
Transient after these attempts fails the step, and the queue delivers it again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from portal_import.errors import Transient
from portal_import.observability import logger

T = TypeVar("T")

# Attempts of a call that keeps failing with a transient error: at a 10 % failure rate, eight in a row happen once
# in a hundred million calls.
CALL_ATTEMPTS = 8


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int = CALL_ATTEMPTS,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """The call's result, after up to `attempts` tries while it raises Transient; the last Transient is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Transient as error:
            if attempt == attempts:
                raise
            logger.warning("Call failed; retrying", extra={"attempt": attempt, "error": error})
            sleep(backoff(attempt, base_delay=base_delay, max_delay=max_delay))
    raise AssertionError("unreachable")


def backoff(attempt: int, *, base_delay: float = 0.05, max_delay: float = 2.0) -> float:
    """How long to wait after the `attempt`-th failed try: exponential, capped, with jitter."""
    return min(max_delay, base_delay * 2**attempt) * (0.5 + random.random() / 2)  # noqa: S311 - jitter
