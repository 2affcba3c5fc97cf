"""`--aws-quotas`: the local AWS refuses a call over its quota's rate as AWS does (Cognito per category, SES per
recipient), lets a caller that keeps to the rate through, and holds the rate when many threads call at once."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from botocore.exceptions import ClientError

from portal_import_local.quotas import COGNITO_SERVICE, AwsQuotas, burst_of

EMAIL_RATE = 10.0


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def _cognito(quotas: AwsQuotas, operation: str) -> ClientError | None:
    return quotas.before_call(COGNITO_SERVICE, operation, {"UserPoolId": "pool", "Username": "someone"})


def _bulk(quotas: AwsQuotas, recipients: int) -> ClientError | None:
    destinations = [{"Destination": {"ToAddresses": [f"user{i}@example.com"]}} for i in range(recipients)]
    return quotas.before_call("SES", "SendBulkTemplatedEmail", {"Destinations": destinations})


def test_a_caller_that_keeps_to_the_rate_is_never_refused() -> None:
    # Given AdminCreateUser (UserCreation, 50 a second) called every 20 ms for ten seconds
    clock = Clock()
    quotas = AwsQuotas(EMAIL_RATE, clock=clock)
    refusals = []
    for _ in range(500):
        refusals.append(_cognito(quotas, "AdminCreateUser"))
        clock.now += 1 / 50
    # Then every call goes through
    assert refusals == [None] * 500
    assert quotas.refused() == {}


def test_a_burst_beyond_a_tenth_of_a_second_is_refused_as_cognito_refuses_it() -> None:
    # Given a client calling AdminCreateUser ten times at one instant
    clock = Clock()
    quotas = AwsQuotas(EMAIL_RATE, clock=clock)
    answers = [_cognito(quotas, "AdminCreateUser") for _ in range(10)]
    # Then a tenth of a second's calls (5 of 50 a second) go through, and the rest get Cognito's throttling error
    assert burst_of(50) == 5
    assert answers[:5] == [None] * 5
    refused = answers[5:]
    assert all(isinstance(error, ClientError) for error in refused)
    first = refused[0]
    assert first is not None
    assert first.response["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}
    assert first.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert first.operation_name == "AdminCreateUser"
    assert quotas.refused() == {"Cognito.UserCreation": 5}


def test_the_bucket_refills_at_the_rate() -> None:
    # Given UserCreation emptied
    clock = Clock()
    quotas = AwsQuotas(EMAIL_RATE, clock=clock)
    while _cognito(quotas, "SignUp") is None:
        pass
    # When 60 ms pass (three calls' worth at 50 a second)
    clock.now += 0.06
    answers = [_cognito(quotas, "ConfirmSignUp") for _ in range(4)]
    # Then three calls go through and the fourth is refused; a long pause refills no more than the burst
    assert [answer is None for answer in answers] == [True, True, True, False]
    clock.now += 60
    assert [_cognito(quotas, "AdminConfirmSignUp") is None for _ in range(6)] == [True] * 5 + [False]


@pytest.mark.parametrize(
    ("operation", "category", "rate"),
    [
        ("AdminCreateUser", "UserCreation", 50),
        ("AdminAddUserToGroup", "UserUpdate", 25),
        ("AdminDisableUser", "UserUpdate", 25),
        ("AdminSetUserPassword", "UserAccountRecovery", 30),
        ("AdminGetUser", "UserRead", 120),
        ("ListUsers", "UserList", 30),
        ("AdminListGroupsForUser", "UserResourceRead", 50),
        ("DescribeUserPool", "UserPoolRead", 15),
        ("CreateGroup", "UserPoolResourceUpdate", 15),
        ("ListGroups", "UserPoolResourceRead", 20),
        ("InitiateAuth", "UserAuthentication", 120),
    ],
)
def test_each_operation_draws_on_its_categorys_rate(operation: str, category: str, rate: int) -> None:
    # Given a client calling the operation as fast as it can, at one instant
    quotas = AwsQuotas(EMAIL_RATE, clock=Clock())
    accepted = 0
    while _cognito(quotas, operation) is None:
        accepted += 1
    # Then a tenth of a second of its category's rate went through, and the refusal is counted under the category
    assert accepted == burst_of(rate)
    assert quotas.refused() == {f"Cognito.{category}": 1}


def test_categories_are_separate_and_operations_of_one_category_share_it() -> None:
    # Given UserUpdate (25 a second: a burst of 3) spent on group adds
    quotas = AwsQuotas(EMAIL_RATE, clock=Clock())
    assert [_cognito(quotas, "AdminAddUserToGroup") is None for _ in range(3)] == [True] * 3
    # Then another UserUpdate operation is refused, while user creation, another service and an operation of no
    # category go through
    assert _cognito(quotas, "AdminUpdateUserAttributes") is not None
    assert _cognito(quotas, "AdminCreateUser") is None
    assert quotas.before_call("DynamoDB", "PutItem", {}) is None
    assert _cognito(quotas, "AdminListUserAuthEvents") is None
    assert quotas.refused() == {"Cognito.UserUpdate": 1}


def test_ses_counts_every_recipient_of_a_bulk_send_and_refuses_one_over_the_rate_whole() -> None:
    # Given SES at the stack's 10 emails a second
    clock = Clock()
    quotas = AwsQuotas(EMAIL_RATE, clock=clock)
    # When a bulk send names more recipients than a second's worth
    refused = _bulk(quotas, 11)
    # Then it is refused whole, as SES refuses it, and takes nothing: a second's worth then goes
    assert refused is not None
    assert refused.response["Error"] == {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}
    assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _bulk(quotas, 10) is None
    # And a single send finds nothing left until a tenth of a second brings one recipient's worth
    assert quotas.before_call("SESv2", "SendEmail", {}) is not None
    clock.now += 0.1
    assert quotas.before_call("SES", "SendRawEmail", {}) is None
    assert quotas.before_call("SES", "GetSendQuota", {}) is None  # not a send
    assert quotas.refused() == {"SES.Sending": 2}


def test_the_stacks_sender_at_its_pace_is_never_refused() -> None:
    # Given the stack's sender: half a second's recipients a call, every half second, for a minute
    clock = Clock()
    quotas = AwsQuotas(EMAIL_RATE, clock=clock)
    for _ in range(120):
        assert _bulk(quotas, 5) is None
        clock.now += 0.5
    assert quotas.refused() == {}


def test_ses_runs_at_the_rate_the_stack_was_provisioned_with() -> None:
    quotas = AwsQuotas.of_stack({"EmailRatePerSecond": "3", "SenderAddress": "noreply@example.com"})
    assert _bulk(quotas, 3) is None
    assert _bulk(quotas, 1) is not None


def test_many_threads_on_one_category_get_no_more_than_its_rate() -> None:
    # Given eight threads calling UserUpdate operations as fast as they can for 0.6 s, with the scheduler switching
    # threads as often as it can (so that an unlocked bucket would hand one token to two of them)
    rate = 200.0
    seen = threading.local()

    def clock() -> float:
        seen.now = time.monotonic()  # the moment the bucket judged this thread's call
        return float(seen.now)

    quotas = AwsQuotas(EMAIL_RATE, cognito_rates={"UserUpdate": rate}, clock=clock)
    accepted: list[float] = []
    refused = 0
    record = threading.Lock()
    end = time.monotonic() + 0.6

    def hammer() -> None:
        nonlocal refused
        while time.monotonic() < end:
            answer = _cognito(quotas, "AdminAddUserToGroup")
            with record:
                if answer is None:
                    accepted.append(seen.now)
                else:
                    refused += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    # Then no window of W seconds holds more than rate * W + burst accepted calls, and every other call was counted
    burst = burst_of(rate)
    times = sorted(accepted)
    assert refused > len(times)  # they did call faster than the rate
    for window in (0.01, 0.05, 0.2, 0.6):
        most = max(_calls_within(times, start, window) for start in times)
        assert most <= rate * window + burst, (window, most)
    assert quotas.refused() == {"Cognito.UserUpdate": refused}


def _calls_within(times: list[float], start: float, window: float) -> int:
    return sum(1 for moment in times if start <= moment < start + window)
