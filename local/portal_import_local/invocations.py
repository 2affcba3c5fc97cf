"""Lambda's Invoke, answered by the stack's own functions run in-process (moto cannot run their code): what
`portal-import resend` calls, in-process in tests and behind `local serve`.

moto's Lambda backend is patched to ask the registered invoker first; a function the invoker does not know (not
the stack's) goes moto's own way. `local serve` answers on server threads while one thread runs every function (a
function swaps the process's environment while it runs): its invoker hands each invocation to that thread
(Handoff) and waits for the answer, as Lambda's synchronous Invoke does.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.models import LambdaBackend

# (function name, request payload) -> (answer payload, whether the function failed); None: not a stack function
Invoker = Callable[[str, bytes], "tuple[bytes, bool] | None"]

_original_invoke = LambdaBackend.invoke
_invoker: Invoker | None = None


def set_invoker(invoker: Invoker | None) -> None:
    global _invoker
    _invoker = invoker


def name_of(name_or_arn: str) -> str:
    """The function's name in an Invoke's FunctionName: a name, a (partial) ARN, either with a qualifier."""
    name = name_or_arn.rsplit("function:", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
    return name.split(":", 1)[0]


def _invoke(
    self: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> str | bytes | None:
    payload = body.encode() if isinstance(body, str) else bytes(body or b"")
    answered = _invoker(name_of(function_name), payload) if _invoker is not None else None
    if answered is None:
        return _original_invoke(self, function_name, qualifier, body, headers, response_headers)
    answer, failed = answered
    if failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    return answer


def install() -> None:
    LambdaBackend.invoke = _invoke  # type: ignore[method-assign]


@dataclass
class _Call:
    work: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None


class Handoff:
    """Work asked for on any thread, carried out on the one thread that calls run_pending."""

    def __init__(self, wake: threading.Event) -> None:
        self._pending: queue.Queue[_Call] = queue.Queue()
        self._wake = wake  # set when work waits, so that the running thread looks at once

    def call(self, work: Callable[[], Any], *, timeout: float) -> Any:
        """The work's result, once the running thread carried it out; None when it did not within `timeout`."""
        waiting = _Call(work)
        self._pending.put(waiting)
        self._wake.set()
        waiting.done.wait(timeout)
        return waiting.result

    def run_pending(self) -> bool:
        """Carries out every call waiting; True when there was one."""
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
