"""The Cognito adapter and the worker's pool users on moto: each created row is one pool user with the Contact's
attributes, in exactly its Role's group once the group pass is through (at once when it has no valid email); a retry
or redelivery finishes what an earlier attempt started and never makes a second user; a missing group is created;
throttling is retried, never a row's error."""

from __future__ import annotations

import base64
import json
import warnings
from email.header import decode_header, make_header
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID

from portal_import.aws.ratelimit import Pace, cognito_limiter
from portal_import.aws.userpool import USER_CREATION, USER_UPDATE, UserPool, attributes_of
from portal_import.domain.people import PoolUser
from portal_import.errors import OutOfPace, UserPoolConflict
from portal_import.ports import Reservation
from portal_import_local.stack import REGION, provision

from .conftest import SAMPLE_JOB_ID, TEMPLATE
from .test_worker import outcomes_by_row

CONTACT = "0037KWyWfty6uEv0001"
USER = PoolUser(user_id="005gekvcFPDjfhs0001", contact_id=CONTACT, email="ana@example.com", first_name="Ana")


def pool_user(cloud: Any, username: str) -> dict[str, Any]:
    cognito = cloud.session.client("cognito-idp")
    found = cognito.admin_get_user(UserPoolId=cloud.stack.user_pool_id, Username=username)
    groups = cognito.admin_list_groups_for_user(UserPoolId=cloud.stack.user_pool_id, Username=username)["Groups"]
    attributes = {item["Name"]: item["Value"] for item in found["UserAttributes"] if item["Name"] != "sub"}
    return {"attributes": attributes, "groups": [group["GroupName"] for group in groups], "status": found["UserStatus"]}


def usernames(cloud: Any) -> list[str]:
    cognito = cloud.session.client("cognito-idp")
    return sorted(user["Username"] for user in cognito.list_users(UserPoolId=cloud.stack.user_pool_id)["Users"])


def test_a_user_is_created_with_its_attributes_in_its_roles_group(cloud: Any) -> None:
    # Given the stack's pool, and a Role whose group does not exist yet
    pool = cloud.pool()

    # When the user is created, then put in its Role's group
    pool.create_users([USER])
    assert pool_user(cloud, USER.user_id)["groups"] == []
    assert pool.add_to_groups([(USER.user_id, "Partner User")]) == 1

    # Then it is in the pool without a password, with the Contact's attributes, in exactly that group
    assert pool_user(cloud, USER.user_id) == {
        "attributes": {"email": "ana@example.com", "given_name": "Ana", "custom:contact_id": CONTACT},
        "groups": ["Partner User"],
        "status": "FORCE_CHANGE_PASSWORD",
    }


def test_ensuring_a_user_again_changes_nothing_and_makes_no_second_user(cloud: Any) -> None:
    # Given a user an earlier attempt created (it may not have reached its group)
    pool = cloud.pool()
    cloud.session.client("cognito-idp").admin_create_user(
        UserPoolId=cloud.stack.user_pool_id,
        Username=USER.user_id,
        UserAttributes=attributes_of(USER),
        MessageAction="SUPPRESS",
    )

    # When a retry makes it and puts it in its group twice
    for _ in range(2):
        pool.create_users([USER])
        pool.add_to_groups([(USER.user_id, "Customer")])

    # Then there is still one user, now in its group
    assert usernames(cloud) == [USER.user_id]
    assert pool_user(cloud, USER.user_id)["groups"] == ["Customer"]


def test_a_username_held_for_another_contact_is_a_conflict_and_is_left_alone(cloud: Any) -> None:
    # Given a pool user under the same username, for another Contact
    pool = cloud.pool()
    other = PoolUser(user_id=USER.user_id, contact_id="003t7RWpmtcuVPw0001")
    pool.create_users([other])
    pool.add_to_groups([(other.user_id, "Customer")])

    # When / Then
    with pytest.raises(UserPoolConflict):
        pool.create_users([USER])
    assert pool_user(cloud, USER.user_id)["attributes"]["custom:contact_id"] == "003t7RWpmtcuVPw0001"
    assert pool_user(cloud, USER.user_id)["groups"] == ["Customer"]


def test_an_email_that_is_not_valid_is_left_out_and_names_of_any_alphabet_kept(cloud: Any) -> None:
    # Given / When
    user = PoolUser(user_id="005a", contact_id=CONTACT, email="bob@", first_name="Zoë", last_name="Ōta")
    cloud.pool().create_users([user])

    # Then
    assert pool_user(cloud, "005a")["attributes"] == {
        "given_name": "Zoë",
        "family_name": "Ōta",
        "custom:contact_id": CONTACT,
    }


@pytest.mark.parametrize(
    ("username", "role"), [("", "Customer"), ("x" * 129, "Customer"), ("005a", ""), ("005a", "a\nb")]
)
def test_what_cognito_refuses_is_refused_before_any_call(cloud: Any, username: str, role: str) -> None:
    # Given / When / Then (moto checks none of it)
    with pytest.raises(ValueError):
        cloud.pool().add_to_groups([(username, role)])
    if role == "Customer":  # the username is the one at fault
        with pytest.raises(ValueError):
            cloud.pool().create_users([PoolUser(user_id=username, contact_id=CONTACT)])
    assert usernames(cloud) == []
    assert cloud.session.client("cognito-idp").list_groups(UserPoolId=cloud.stack.user_pool_id)["Groups"] == []


def test_throttling_is_retried_until_it_passes(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a pool whose user creation is throttled twice, then answers
    pool = cloud.pool()
    inner = pool._cognito.raw
    real = inner.admin_create_user
    throttled = []

    def flaky(**kwargs: Any) -> Any:
        if len(throttled) < 2:
            throttled.append(kwargs["Username"])
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "X")
        return real(**kwargs)

    monkeypatch.setattr(inner, "admin_create_user", flaky)
    monkeypatch.setattr("portal_import.retry.time.sleep", lambda seconds: None)

    # When
    pool.create_users([USER])

    # Then
    assert throttled == [USER.user_id] * 2
    assert usernames(cloud) == [USER.user_id]


def test_a_throttled_call_is_made_again_at_a_new_slot_of_its_category(
    cloud: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pool paced by a limiter that counts its slots, whose group adds are throttled twice, then answer
    reserved: list[int] = []

    class Counting:
        def reserve(self, count: int, *, deadline: float | None = None) -> Reservation:
            reserved.append(count)
            return Reservation([0.0] * count)

    pool = UserPool(cloud.stack.user_pool_id, pacers={USER_UPDATE: Counting()}, sleep=lambda seconds: None)
    pool.create_users([USER])
    pool.ensure_group("Customer")
    inner = pool._cognito.raw
    real = inner.admin_add_user_to_group
    throttled: list[str] = []

    def flaky(**kwargs: Any) -> Any:
        if len(throttled) < 2:
            throttled.append(kwargs["Username"])
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "X")
        return real(**kwargs)

    monkeypatch.setattr(inner, "admin_add_user_to_group", flaky)

    # When it is put in its group
    assert pool.add_to_groups([(USER.user_id, "Customer")]) == 1

    # Then each retry waited for a slot of its own (the first came with the user's), and the third try went through
    assert reserved == [1, 1, 1]
    assert pool_user(cloud, USER.user_id)["groups"] == ["Customer"]


def test_calls_go_at_the_slots_of_the_shared_limiter_and_stop_at_the_deadline(cloud: Any) -> None:
    # Given a limiter at 10 users a second on a frozen clock, and a deadline 0.25 s away
    now = [1_000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    limiter = Pace(cloud.stack.jobs_table, 10, key=cognito_limiter(USER_CREATION), clock=lambda: now[0])
    pool = UserPool(cloud.stack.user_pool_id, pacers={USER_CREATION: limiter}, clock=lambda: now[0], sleep=sleep)
    users = [PoolUser(user_id=f"005{n}", contact_id=CONTACT) for n in range(5)]

    # When five users are created: two slots fit before the deadline (at 0 s and 0.1 s)
    with pytest.raises(OutOfPace):
        pool.create_users(users, deadline=1_000.25)

    # Then the calls waited for their slots, and the users the slots allowed are done
    assert usernames(cloud) == ["0050", "0051"]
    assert slept == [0.1]


def test_the_limiter_hands_out_consecutive_slots_to_concurrent_workers(cloud: Any) -> None:
    # Given two workers' limiters on one item, the clock frozen
    first = Pace(cloud.stack.jobs_table, 20, key=cognito_limiter(USER_CREATION), clock=lambda: 500.0)
    second = Pace(cloud.stack.jobs_table, 20, key=cognito_limiter(USER_CREATION), clock=lambda: 500.0)

    # When each reserves, the second while the first's slots are still ahead
    a = first.reserve(4).slots
    b = second.reserve(2).slots
    c = second.reserve(100, deadline=501.0).slots

    # Then no slot is handed out twice, they follow at the rate, and none starts after the deadline
    assert a == [500.0, 500.05, 500.1, 500.15]
    assert b == pytest.approx([500.2, 500.25])
    while more := first.reserve(1, deadline=501.0).slots:  # what float rounding left before the deadline
        c += more
    assert c == pytest.approx([500.3 + 0.05 * n for n in range(14)])
    assert c[-1] < 501.0


def test_validate_mode_and_failed_rows_make_no_pool_user(sample_job_validate: Any, load_event: Any) -> None:
    # Given the sample chunks in validate mode
    event = load_event("sqs_rows")
    for record in event["Records"]:
        body = json.loads(record["body"])
        body["mode"] = "validate"
        record["body"] = json.dumps(body)

    # When
    sample_job_validate.worker(event)

    # Then only the users the directory already had are in the pool
    assert usernames(sample_job_validate) == sorted(user for user in _seeded_users(sample_job_validate))


def _seeded_users(cloud: Any) -> list[str]:
    from tests.integration.conftest import MIXED

    rows = (MIXED / "contacts.csv").read_text(encoding="utf-8").splitlines()[1:]
    return [row.split(",")[5] for row in rows if len(row.split(",")) > 5 and row.split(",")[5]]


@pytest.fixture
def sample_job_validate(cloud: Any) -> Any:
    cloud.seed_directory()
    cloud.start_job(SAMPLE_JOB_ID, chunks=2, rows=9)
    return cloud


def test_every_created_row_is_one_pool_user_in_its_roles_group(cloud: Any, load_event: Any) -> None:
    # Given the sample job
    cloud.seed_directory()
    cloud.start_job(SAMPLE_JOB_ID, chunks=2, rows=9)
    before = set(usernames(cloud))

    # When SQS delivers its chunks twice (a redelivery)
    cloud.worker(load_event("sqs_rows"))
    cloud.worker(load_event("sqs_rows"))

    # Then each created row's UserId is a new pool user for its Contact, and no other appeared; one with no valid
    # email (whom no link will ever activate) is in its Role's group already, the others are not yet
    created = {o.user_id: o for o in outcomes_by_row(cloud).values() if o.error is None}
    assert set(usernames(cloud)) - before == set(created)
    without_email = {user_id for user_id, o in created.items() if o.activation_email == "No valid email"}
    assert without_email != set(created)
    for user_id, outcome in created.items():
        user = pool_user(cloud, user_id)
        assert user["attributes"]["custom:contact_id"] == outcome.contact_id
        assert user["groups"] == ([outcome.role] if user_id in without_email else [])

    # And once the group pass has taken its requests (two deliveries' worth: adding a member again changes nothing),
    # each is in exactly its Role's group
    assert cloud.group_pass() == 2
    for user_id, outcome in created.items():
        assert pool_user(cloud, user_id)["groups"] == [outcome.role]


def test_a_crash_between_the_claim_and_the_pool_user_is_finished_by_the_redelivery(
    cloud: Any, load_event: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the sample job, and a first delivery that dies once the directory's claims are written
    cloud.seed_directory()
    cloud.start_job(SAMPLE_JOB_ID, chunks=2, rows=9)
    before = set(usernames(cloud))

    def crash(self: Any, users: Any, deadline: Any = None) -> None:
        raise RuntimeError("the invocation died")

    with monkeypatch.context() as patch:
        patch.setattr(UserPool, "create_users", crash)
        response = cloud.worker(load_event("sqs_rows"))
    assert len(response["batchItemFailures"]) == 2
    assert set(usernames(cloud)) == before

    # When SQS delivers the chunks again
    cloud.worker(load_event("sqs_rows"))

    # Then the users the claims named are made, once, and the rows are created under those names
    created = {o.user_id: o for o in outcomes_by_row(cloud).values() if o.error is None}
    assert len(created) == 4
    assert set(usernames(cloud)) - before == set(created)
    claims = cloud.directory().existing_users(o.contact_id for o in created.values())
    assert {claims[o.contact_id].user_id for o in created.values()} == set(created)


def test_a_user_created_by_an_import_signs_in_with_its_role_in_the_id_token(cloud: Any, load_event: Any) -> None:
    # Given a row created by the worker, whose user was given a password
    cloud.seed_directory()
    cloud.start_job(SAMPLE_JOB_ID, chunks=2, rows=9)
    cloud.worker(load_event("sqs_rows"))
    cloud.group_pass()
    outcome = next(o for o in outcomes_by_row(cloud).values() if o.error is None)
    cognito = cloud.session.client("cognito-idp")
    cognito.admin_set_user_password(
        UserPoolId=cloud.stack.user_pool_id, Username=outcome.user_id, Password="Correct-Horse-9", Permanent=True
    )

    # When it signs in to the portal's app client with its UserId
    tokens = cognito.initiate_auth(
        ClientId=cloud.stack.user_pool_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": outcome.user_id, "PASSWORD": "Correct-Horse-9"},
    )["AuthenticationResult"]

    # Then its ID token names the Role the file gave it
    payload = tokens["IdToken"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["cognito:groups"] == [outcome.role]
    assert claims["cognito:username"] == outcome.user_id


def test_an_email_cognito_refuses_makes_the_user_without_it(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a pool that refuses the address the import's own rule accepts (moto checks no address)
    pool = cloud.pool()
    inner = pool._cognito.raw
    real = inner.admin_create_user

    def strict(**kwargs: Any) -> Any:
        if any(item["Name"] == "email" for item in kwargs["UserAttributes"]):
            error = {"Error": {"Code": "InvalidParameterException", "Message": "Invalid email address format."}}
            raise ClientError(error, "AdminCreateUser")  # type: ignore[arg-type]
        return real(**kwargs)

    monkeypatch.setattr(inner, "admin_create_user", strict)

    # When / Then the user is made without the address
    pool.create_users([USER])
    assert pool_user(cloud, USER.user_id)["attributes"] == {"given_name": "Ana", "custom:contact_id": CONTACT}


@pytest.mark.filterwarnings("ignore:No application metrics")  # an invocation whose every chunk went back
def test_a_chunk_short_of_cognito_slots_goes_back_to_the_queue_and_no_row_fails(
    cloud: Any, load_event: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the sample job, and a worker whose invocation (300 s) ends before the limiter (2 users a second, its
    # slots taken by others for the next 350 s) has one for it
    cloud.seed_directory()
    cloud.start_job(SAMPLE_JOB_ID, chunks=2, rows=9)
    Pace(cloud.stack.jobs_table, 2, key=cognito_limiter(USER_CREATION)).reserve(700)
    host = cloud.hosts["WorkerFunction"]
    rates = host._environment["COGNITO_RATES"]
    monkeypatch.setitem(host._environment, "COGNITO_RATES", rates.replace("UserCreation=1000", "UserCreation=2"))
    before = set(usernames(cloud))

    # When SQS delivers the chunks
    response = cloud.worker(load_event("sqs_rows"))

    # Then both go back to the queue as failures of the delivery, not of a row: nothing is recorded yet
    assert len(response["batchItemFailures"]) == 2
    assert outcomes_by_row(cloud) == {}
    assert set(usernames(cloud)) == before

    # And once the limiter has slots again (here: reset), the redelivery creates them all
    limiter = {"pk": {"S": cognito_limiter(USER_CREATION)}}
    cloud.session.client("dynamodb").delete_item(TableName=cloud.stack.jobs_table, Key=limiter)
    monkeypatch.setitem(host._environment, "COGNITO_RATES", rates)
    host._handler = None  # its cached deps hold the old pace
    assert cloud.worker(load_event("sqs_rows")) == {"batchItemFailures": []}
    outcomes = outcomes_by_row(cloud)
    assert sorted(row for row, o in outcomes.items() if o.error is None) == [2, 3, 4, 7]
    assert not any(o.error and o.error.startswith("Processing error") for o in outcomes.values())


def test_the_local_pool_is_set_up_as_the_template_sets_up_a_deployed_one(aws: boto3.Session) -> None:
    # Given the local stack provisioned with a domain sender, threat protection asked for, and a portal name with
    # accents (SES verifies the local identity at once, so the pool's emails go through it)
    parameters = {
        "SenderAddress": "no-reply@portal.example.com",
        "SenderIdentity": "domain",
        "ThreatProtection": "AUDIT",
        "PortalName": "Portail Société",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        stack = provision(TEMPLATE, parameters, aws)
    cognito = aws.client("cognito-idp")
    # When anything asks Cognito how the pool is set up
    pool = cognito.describe_user_pool(UserPoolId=stack.user_pool_id)["UserPool"]
    mfa = cognito.get_user_pool_mfa_config(UserPoolId=stack.user_pool_id)
    # Then it answers as for the deployed pool: optional TOTP, threat protection on its plan, password history, and
    # the pool's own emails through SES from the stack's sender, as the domain identity, under the portal's name
    assert (mfa["MfaConfiguration"], mfa["SoftwareTokenMfaConfiguration"]) == ("OPTIONAL", {"Enabled": True})
    assert (pool["UserPoolTier"], pool["UserPoolAddOns"]) == ("PLUS", {"AdvancedSecurityMode": "AUDIT"})
    assert pool["Policies"]["PasswordPolicy"]["PasswordHistorySize"] == 5
    email = pool["EmailConfiguration"]
    assert email["EmailSendingAccount"] == "DEVELOPER"
    assert email["SourceArn"] == f"arn:aws:ses:{REGION}:{DEFAULT_ACCOUNT_ID}:identity/portal.example.com"
    assert str(make_header(decode_header(email["From"]))) == "Portail Société <no-reply@portal.example.com>"
