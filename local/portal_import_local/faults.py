"""Fault injection for the local runtime (`--seed`, `--fault-*`): what AWS does to a pipeline on a bad day.

Every decision comes from one seeded random generator, and the runtime is single-threaded, so a seed
replays the same faults. SES's event delays jitter on a generator of their own (same seed), so that the order
events arrive in does not shift the other faults.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError


class PoisonedContact(RuntimeError):
    """Raised by any directory call that touches the poison contact: processing it always fails."""


@dataclass
class FaultPlan:
    seed: int | None = None
    api_error: float = 0.0  # any AWS call made by function code fails (it is not carried out)
    redeliver: float = 0.0  # a processed SQS message or S3 event is delivered once more
    ses_throttle: float = 0.0  # an SES send is refused as over the sending rate
    poison_contact: str | None = None
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - reproducible faults, not secrets
        self._event_random = random.Random(f"ses-events-{self.seed}")  # noqa: S311 - likewise

    @property
    def active(self) -> bool:
        return bool(self.api_error or self.redeliver or self.ses_throttle or self.poison_contact)

    def _count(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1

    def before_call(self, service: str, operation: str, params: Any) -> Exception | None:
        """The fault to raise instead of making this call, if any."""
        if self.poison_contact and service == "DynamoDB" and self.poison_contact in json.dumps(params, default=str):
            self._count("poison")
            return PoisonedContact("injected fault: the call touches the poison contact")
        is_send = service in ("SESv2", "SES") and operation.startswith("Send")
        if is_send and self.ses_throttle and self._random.random() < self.ses_throttle:
            self._count("ses-throttle")
            return ClientError(
                {"Error": {"Code": "TooManyRequestsException", "Message": "Maximum sending rate exceeded."}},
                operation,
            )
        if self.api_error and self._random.random() < self.api_error:
            self._count("api-error")
            return ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "injected fault: the service is unavailable"}},
                operation,
            )
        return None

    def redeliver_now(self) -> bool:
        if self.redeliver and self._random.random() < self.redeliver:
            self._count("redelivery")
            return True
        return False

    def event_delay(self, delay: float) -> float:
        """How long after a send one of its SES events comes: `delay` as it is; with a seed, anywhere within half of
        it either way, so that events of one message may arrive out of order (as AWS does not promise an order)."""
        if self.seed is None:
            return delay
        return delay * self._event_random.uniform(0.5, 1.5)
