"""AWS's request-rate quotas, enforced on the function code's calls (`--aws-quotas`), so that a local run shows the
pace an import will have on AWS: Amazon Cognito's default rate per quota category (shared by every caller of the
account's pools) and SES's maximum send rate, the stack's EmailRatePerSecond.

Each quota is a token bucket refilled at its rate. AWS does not publish its burst; this one is a tenth of a second's
calls (BURST_SECONDS), so a client that keeps to the rate is never refused and one that bursts is. SES is the
exception: it counts recipients, not calls, and the stack's sender hands it half a second's recipients in one bulk
call, so its bucket holds a second's (SES_BURST_SECONDS; a bulk call over what is left is refused whole, as SES
refuses it). A refused call is not carried out: it raises the error AWS answers with.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.userpool import DEFAULT_RATES

BURST_SECONDS = 0.1
SES_BURST_SECONDS = 1.0
COGNITO_SERVICE = "Cognito Identity Provider"  # botocore's service id of cognito-idp
SES_SERVICES = ("SES", "SESv2")
SES_CATEGORY = "SES.Sending"

# Cognito's default requests per second by quota category, and the operations each counts
# (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html; /work/shared/notes/cognito-quotas.md).
# An operation of no category here is not limited.
COGNITO_RATES: dict[str, float] = {
    **DEFAULT_RATES,  # the four the stack calls and paces, at the defaults its parameters take
    "UserList": 30,
    "UserResourceRead": 50,
    "UserPoolRead": 15,
    "UserPoolResourceUpdate": 15,
    "UserPoolResourceRead": 20,
    "UserAuthentication": 120,
}
COGNITO_CATEGORIES: dict[str, str] = {
    operation: category
    for category, operations in {
        "UserCreation": ("AdminCreateUser", "SignUp", "ConfirmSignUp", "AdminConfirmSignUp"),
        "UserUpdate": (
            "AdminAddUserToGroup",
            "AdminRemoveUserFromGroup",
            "AdminUpdateUserAttributes",
            "AdminDisableUser",
            "AdminEnableUser",
            "AdminDeleteUser",
            "AdminDeleteUserAttributes",
            "AdminUserGlobalSignOut",
            "AdminLinkProviderForUser",
            "AdminDisableProviderForUser",
            "UpdateUserAttributes",
            "DeleteUserAttributes",
            "VerifyUserAttribute",
            "GlobalSignOut",
            "DeleteUser",
        ),
        "UserAccountRecovery": (
            "AdminSetUserPassword",
            "AdminResetUserPassword",
            "ChangePassword",
            "ForgotPassword",
            "ConfirmForgotPassword",
        ),
        "UserRead": ("AdminGetUser", "GetUser", "AdminGetUserAuthFactors"),
        "UserList": ("ListUsers", "ListUsersInGroup"),
        "UserResourceRead": ("AdminListGroupsForUser",),
        "UserPoolRead": ("DescribeUserPool",),
        "UserPoolResourceUpdate": ("CreateGroup", "CreateUserImportJob", "StartUserImportJob", "StopUserImportJob"),
        "UserPoolResourceRead": (
            "GetGroup",
            "ListGroups",
            "GetCSVHeader",
            "DescribeUserImportJob",
            "ListUserImportJobs",
        ),
        "UserAuthentication": (
            "InitiateAuth",
            "AdminInitiateAuth",
            "RespondToAuthChallenge",
            "AdminRespondToAuthChallenge",
        ),
    }.items()
    for operation in operations
}
# The SES calls that send, and how many recipients' worth of the rate each takes.
_SES_SENDS: dict[str, Callable[[Mapping[str, Any]], int]] = {
    "SendBulkTemplatedEmail": lambda params: len(params.get("Destinations", [])),
    "SendEmail": lambda params: 1,
    "SendRawEmail": lambda params: 1,
    "SendTemplatedEmail": lambda params: 1,
}


def burst_of(rate: float, seconds: float = BURST_SECONDS) -> int:
    """How many tokens a bucket at `rate` holds: `seconds`' worth of calls, at least one."""
    return max(1, math.ceil(rate * seconds))


class TokenBucket:
    """`rate` tokens a second up to `burst`, starting full. Not locked: AwsQuotas takes one lock for every bucket."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._refilled_at = clock()

    def take(self, count: int = 1) -> bool:
        """Takes `count` tokens if the bucket has them all; False (and none taken) when it has not."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._refilled_at) * self.rate)
        self._refilled_at = now
        if count > self._tokens:
            return False
        self._tokens -= count
        return True


class AwsQuotas:
    """One bucket per Cognito quota category and one for SES's sends, shared by every function (and every thread
    that runs one: `local serve` answers requests while it delivers queues); counts what it refused."""

    def __init__(
        self,
        email_rate: float,
        *,
        cognito_rates: Mapping[str, float] = COGNITO_RATES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._cognito = {category: TokenBucket(rate, burst_of(rate), clock) for category, rate in cognito_rates.items()}
        self._ses = TokenBucket(email_rate, burst_of(email_rate, SES_BURST_SECONDS), clock)
        self._refused: Counter[str] = Counter()

    @classmethod
    def of_stack(cls, parameters: Mapping[str, str]) -> AwsQuotas:
        """AWS's defaults for Cognito, and SES at the rate the stack was provisioned with."""
        return cls(float(parameters["EmailRatePerSecond"]))

    def refused(self) -> dict[str, int]:
        """How many calls were refused, by 'Cognito.<category>' or 'SES.Sending'."""
        with self._lock:
            return dict(sorted(self._refused.items()))

    def before_call(self, service: str, operation: str, params: Mapping[str, Any]) -> ClientError | None:
        """The error AWS would answer this call with, over its quota's rate; None when it may go (its tokens are
        taken)."""
        category = COGNITO_CATEGORIES.get(operation, "") if service == COGNITO_SERVICE else ""
        if category in self._cognito:
            if self._take(self._cognito[category], 1, f"Cognito.{category}"):
                return None
            return _refusal("TooManyRequestsException", "Rate exceeded", operation)
        if service in SES_SERVICES and operation in _SES_SENDS:
            if self._take(self._ses, _SES_SENDS[operation](params), SES_CATEGORY):
                return None
            return _refusal("Throttling", "Maximum sending rate exceeded.", operation)
        return None

    def _take(self, bucket: TokenBucket, count: int, category: str) -> bool:
        with self._lock:
            if bucket.take(count):
                return True
            self._refused[category] += 1
            return False


def _refusal(code: str, message: str, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}},  # type: ignore[typeddict-item]
        operation,
    )
