"""The one convention for time left: an invocation's deadline, in epoch seconds."""

from __future__ import annotations

import time

from portal_import.invocation import deadline_of


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 42_500


def test_the_deadline_is_now_plus_the_time_the_context_says_is_left() -> None:
    before = time.time()
    deadline = deadline_of(Context())
    after = time.time()
    assert before + 42.5 <= deadline <= after + 42.5
