"""The time an invocation has left, as the flows take it: a deadline in epoch seconds (time.time()'s clock)."""

from __future__ import annotations

import time
from typing import Any


def deadline_of(context: Any) -> float:
    return time.time() + context.get_remaining_time_in_millis() / 1000
