"""Lambda's Invoke, answered by the stack's own functions run in-process (moto cannot run their code): what
`portal-import resend` calls, in-process in tests and behind `local serve`.

moto's Lambda backend is patched to ask the registered invoker first; a function the invoker does not know (not
the stack's) goes moto's own way. `local serve`'s invoker hands each invocation to the thread that runs every
function (portal_import_local.handoff) and waits for the answer, as Lambda's synchronous Invoke does. Installing
checks that moto's invoke still takes what the patch passes on (portal_import_local.moto_patches.Patch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaBackend

from portal_import_local.moto_patches import Patch, install_patches

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


PATCH = Patch(
    "Invoke runs the stack's functions in-process",
    LambdaBackend,
    "invoke",
    _invoke,
    ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
    "when moto's Lambda can run a function's code in-process (it runs it in Docker, or answers a canned result)",
)


def install() -> None:
    install_patches([PATCH])
