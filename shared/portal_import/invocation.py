"""The one convention for time left: an invocation's remaining time is passed on as its deadline, in epoch seconds
(time.time()'s clock), never as a duration or a callable; None where nothing bounds it (scripts, tests).

One exception: a page's request (the activation page) holds its deadline for the block that answers it
(`calls_until`), where the Cognito adapter reads it (`calls_deadline`), rather than every flow and port passing it
down to each call. It is a context variable, so that requests served at once on threads (local serve) each keep
their own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol

_CALLS_DEADLINE: ContextVar[float | None] = ContextVar("portal_import_calls_deadline", default=None)


class _Context(Protocol):
    """What a Lambda context tells of the time left (Powertools' LambdaContext, the local runtime's)."""

    def get_remaining_time_in_millis(self) -> int: ...


def deadline_of(context: _Context) -> float:
    """The moment the invocation of `context` ends, in epoch seconds."""
    return time.time() + context.get_remaining_time_in_millis() / 1000


@contextlib.contextmanager
def calls_until(deadline: float) -> Iterator[None]:
    """Within the block, a paced call whose slot would come after `deadline` is not made (aws.userpool: OutOfPace)."""
    token = _CALLS_DEADLINE.set(deadline)
    try:
        yield
    finally:
        _CALLS_DEADLINE.reset(token)


def calls_deadline() -> float | None:
    """The deadline of the request being answered (`calls_until`), None outside one."""
    return _CALLS_DEADLINE.get()
