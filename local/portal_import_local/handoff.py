"""Work that arrives on `local serve`'s server threads (a page request, a function's Invoke), carried out on the one
thread that runs every function: a function swaps the process's environment while it runs, so the functions run one
at a time there, as the caller waits for the answer (as API Gateway and Lambda's synchronous Invoke do)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Call:
    work: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None


class Handoff:
    """Work asked for on any thread (call), carried out on the one thread that calls run_pending."""

    def __init__(self) -> None:
        self._pending: queue.Queue[_Call] = queue.Queue()
        self.wake = threading.Event()  # set when work waits, so that the running thread looks at once

    def call(self, work: Callable[[], Any], *, timeout: float) -> Any:
        """The work's result, once the running thread carried it out; None when it did not within `timeout`."""
        waiting = _Call(work)
        self._pending.put(waiting)
        self.wake.set()
        waiting.done.wait(timeout)
        return waiting.result

    def run_pending(self) -> bool:
        """Carries out every call waiting; True when there was one."""
        self.wake.clear()
        ran = False
        while True:
            try:
                waiting = self._pending.get_nowait()
            except queue.Empty:
                return ran
            try:
                waiting.result = waiting.work()
            finally:
                waiting.done.set()
            ran = True
