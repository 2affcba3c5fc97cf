"""The one convention for time left: an invocation's remaining time is passed on as its deadline, in epoch seconds
(time.time()'s clock), never as a duration or a callable; None where nothing bounds it (scripts, tests)."""

from __future__ import annotations

import time
from typing import Protocol


class _Context(Protocol):
    """What a Lambda context tells of the time left (Powertools' LambdaContext, the local runtime's)."""

    def get_remaining_time_in_millis(self) -> int: ...


def deadline_of(context: _Context) -> float:
    """The moment the invocation of `context` ends, in epoch seconds."""
    return time.time() + context.get_remaining_time_in_millis() / 1000
