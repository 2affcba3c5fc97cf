"""Running function code in-process as Lambda would: its own environment, a context, and a count of its AWS calls."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import botocore.client

from portal_import_local.faults import FaultPlan
from portal_import_local.moto_patches import Patch, install_patches
from portal_import_local.quotas import AwsQuotas
from portal_import_local.stack import ACCOUNT, REGION, FunctionSpec

# Set while function code runs, so that only its AWS calls are counted (not the runtime's own polling).
_current: ContextVar[CallLog | None] = ContextVar("portal_import_current_calls", default=None)


@dataclass
class CallLog:
    """AWS requests made by function code: counts per 'Service.Operation' (those AWS's quotas refused too: they were
    requests), when each email went out and when each pool user was created; with `quotas` (`--aws-quotas`), the
    calls over their quota's rate are refused as AWS refuses them."""

    counts: Counter[str] = field(default_factory=Counter)
    email_send_times: list[float] = field(default_factory=list)
    user_creation_times: list[float] = field(default_factory=list)  # each pool user created (AdminCreateUser)
    faults: FaultPlan = field(default_factory=FaultPlan)
    quotas: AwsQuotas | None = None


_original_make_api_call = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009 - private to botocore


def _counting_make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
    log = _current.get()
    if log is None:
        return _original_make_api_call(self, operation_name, api_params)
    service = self.meta.service_model.service_id
    log.counts[f"{service}.{operation_name}"] += 1
    fault = log.faults.before_call(service, operation_name, api_params)
    if fault is not None:
        raise fault
    refusal = log.quotas.before_call(service, operation_name, api_params) if log.quotas is not None else None
    if refusal is not None:
        raise refusal
    called_at = time.time()  # when the emails were handed to SES, not when the call came back
    result = _original_make_api_call(self, operation_name, api_params)
    if operation_name == "AdminCreateUser":
        log.user_creation_times.append(called_at)
    if service == "SES" and operation_name == "SendBulkTemplatedEmail":
        accepted = sum(1 for entry in result.get("Status", []) if entry.get("Status", "Success") == "Success")
        log.email_send_times.extend([called_at] * accepted)
    return result


# botocore's, not moto's; checked at install as moto's patches are.
CALL_COUNTING = Patch(
    "function code's AWS calls counted, faults injected into them, and AWS's rate quotas enforced on them",
    botocore.client.BaseClient,
    "_make_api_call",
    _counting_make_api_call,
    ("self", "operation_name", "api_params"),
    "when the runtime stops counting the functions' AWS calls, injecting faults (FaultPlan) into them and "
    "refusing those over AWS's quotas (--aws-quotas)",
    written_for="1.44.18",
    package="botocore",
)


def install_call_counting() -> None:
    install_patches([CALL_COUNTING])


@contextlib.contextmanager
def as_function_code(log: CallLog) -> Iterator[None]:
    """Within the block, this thread's AWS calls are function code's: counted in `log`, faulted and held to its
    quotas (a test that runs a flow on threads of its own, as Lambda runs instances side by side)."""
    token = _current.set(log)
    try:
        yield
    finally:
        _current.reset(token)


class LambdaContext:
    """The parts of Lambda's context object that Powertools and handlers read."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = spec.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# What Lambda itself sets, plus what Powertools needs to run without X-Ray or CloudWatch here.
_RUNTIME_ENVIRONMENT = {
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class FunctionHost:
    """One function of the stack, loaded from its CodeUri the first time it is invoked."""

    def __init__(self, spec: FunctionSpec, calls: CallLog) -> None:
        self.spec = spec
        self._calls = calls
        self._handler: Callable[[dict[str, Any], Any], Any] | None = None
        self._environment = {**spec.environment, **_RUNTIME_ENVIRONMENT, "AWS_LAMBDA_FUNCTION_NAME": spec.name}

    def _load(self) -> Callable[[dict[str, Any], Any], Any]:
        module_name, _, attribute = self.spec.handler.rpartition(".")
        path = self.spec.code_dir / f"{module_name.replace('.', '/')}.py"
        unique = f"portal_import_function_{self.spec.logical_id}"
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"no handler module at {path}")
        module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
        handler: Callable[[dict[str, Any], Any], Any] = getattr(module, attribute)
        return handler

    def invoke(self, event: dict[str, Any]) -> Any:
        with _environment(self._environment):
            token = _current.set(self._calls)
            try:
                if self._handler is None:
                    self._handler = self._load()
                return self._handler(event, LambdaContext(self.spec))
            finally:
                _current.reset(token)
