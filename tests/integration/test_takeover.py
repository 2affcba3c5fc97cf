"""The takeover an attacker holding only ImportAdministrators tried, replayed on the whole local stack (issue 22;
docs/contracts.md §6, who may do what): crafted messages on the email queue, in the shape email batches had before
and in today's, naming an activated user, a pending user of another Contact, another job's user or any user of the
pool, with an outside address. On AWS the queue policy refuses the attacker's SendMessage; here the messages are put
on the queue anyway, to prove the stack behind it holds on its own: nothing is sent outside, no password changes,
and the owner still signs in. Links that should not exist (a used user's, another Contact's) set no password.
"""

from __future__ import annotations

import json
from collections import Counter
from email import message_from_bytes
from typing import Any

import pytest

from portal_import.domain.activation import hash_token
from portal_import_local.runtime import LocalRuntime

from .test_activation import GOOD, emails, link_of, post, sign_in
from .test_resend import deployment_of, import_with_emails

OUTSIDE = "attacker@evil.example"


def _queue_url(runtime: LocalRuntime) -> str:
    return runtime.stack.functions["EmailSenderFunction"].environment["EMAIL_QUEUE_URL"]


def _put(runtime: LocalRuntime, body: dict[str, Any]) -> None:
    runtime.session.client("sqs").send_message(QueueUrl=_queue_url(runtime), MessageBody=json.dumps(body))


def _recipients(runtime: LocalRuntime) -> Counter[str]:
    return Counter(str(message_from_bytes(raw)["To"]) for raw in runtime.sent_emails())


def _activated_owner(runtime: LocalRuntime, job_id: str) -> tuple[Any, Any]:
    """The job's first user, activated through their own link; and another user of the job, still pending."""
    deployment = deployment_of(runtime)
    users = deployment.users(deployment.job(job_id))
    link = link_of(emails(runtime)[0])
    assert post(runtime, link, GOOD)[0] == 200
    (owner,) = [u for u in deployment_of(runtime).users(deployment.job(job_id)) if u.activation == "activated"]
    other = next(u for u in users if u.user_id != owner.user_id and u.email == "sent")
    return owner, other


@pytest.mark.parametrize("shape", ["before", "today"])
def test_crafted_email_batches_send_nothing_outside_and_take_no_account(runtime: LocalRuntime, shape: str) -> None:
    # Given an import whose emails went out, one user activated with their own password, another still pending
    job_id = import_with_emails(runtime, "takeover.csv")
    owner, other = _activated_owner(runtime, job_id)
    before = _recipients(runtime)

    # When an attacker puts batches on the email queue naming, with an outside address and name: the activated user;
    # the activated user's user under the pending user's Contact; the pending user (for a request of their own);
    # the activated user under another job; a user of the pool the import never made
    def recipient(user: str, contact: str) -> dict[str, Any]:
        named = {"row": 2, "userId": user, "contactId": contact}
        return {**named, "email": OUTSIDE, "firstName": "Mallory"} if shape == "before" else named

    forged = [
        (job_id, None, recipient(owner.user_id, owner.contact_id)),
        (job_id, f"{job_id}/resend/forged000001", recipient(owner.user_id, owner.contact_id)),
        (job_id, f"{job_id}/resend/forged000002", recipient(owner.user_id, other.contact_id)),
        (job_id, f"{job_id}/resend/forged000003", recipient("admin", other.contact_id)),
        ("20991231T000000Z-000000000000", None, recipient(owner.user_id, owner.contact_id)),
    ]
    for number, (job, request, who) in enumerate(forged):
        body = {"key": f"forged#{shape}#{number}", "jobId": job, "recipients": [who]}
        _put(runtime, body | ({"request": request} if request else {}))
    while runtime.pump():
        pass

    # Then nothing went to the outside address, and the activated user was sent nothing
    sent = _recipients(runtime) - before
    assert OUTSIDE not in _recipients(runtime)
    assert owner.contact_id not in str(sent) and sum(sent.values()) == 0, sent
    # and the owner still signs in with their own password; the pending user's link was not replaced
    assert sign_in(runtime, owner.user_id, GOOD)["cognito:username"] == owner.user_id
    deployment = deployment_of(runtime)
    assert {u.user_id: u.activation for u in deployment.users(deployment.job(job_id))}[other.user_id] == "pending"


def test_a_link_that_names_a_user_it_may_not_activate_sets_no_password(runtime: LocalRuntime) -> None:
    # Given an activated owner, and a pending user of another Contact with a valid link of their own
    job_id = import_with_emails(runtime, "links.csv")
    owner, other = _activated_owner(runtime, job_id)
    ddb = runtime.session.client("dynamodb")
    table = runtime.stack.directory_table

    def plant(contact_id: str, user_id: str, token: str) -> str:
        """An activation item as an older version, or a forged write, could have left it: a live link."""
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": f"CONTACT#{contact_id}"}, "sk": {"S": "ACTIVATION"}},
            UpdateExpression="SET TokenHash = :h, ExpiresAtEpoch = :e, UserId = :u, SentTo = :to REMOVE ActivatedAt",
            ExpressionAttributeValues={
                ":h": {"S": hash_token(token)},
                ":e": {"N": "4102444800"},
                ":u": {"S": user_id},
                ":to": {"S": OUTSIDE},
            },
        )
        return f"{runtime.stack.portal_url}/activate?token={token}"

    # When a password is posted through a live link on the owner's own item (they have activated), and through a
    # link on the other Contact's item that names the owner's user
    own_item = plant(owner.contact_id, owner.user_id, "T" * 43)
    other_item = plant(other.contact_id, owner.user_id, "U" * 43)

    # Then both answer 410, and the owner's password and address are as they were
    assert post(runtime, own_item, GOOD + "-stolen")[0] == 410
    assert post(runtime, other_item, GOOD + "-stolen")[0] == 410
    assert sign_in(runtime, owner.user_id, GOOD)["cognito:username"] == owner.user_id
    attributes = {
        a["Name"]: a["Value"]
        for a in runtime.session.client("cognito-idp").admin_get_user(
            UserPoolId=runtime.stack.user_pool_id, Username=owner.user_id
        )["UserAttributes"]
    }
    assert attributes.get("email") != OUTSIDE


def test_activation_verifies_the_address_the_link_was_sent_to(runtime: LocalRuntime) -> None:
    # Given a user whose pool email is not the address their link went to (the Contact's address changed)
    import_with_emails(runtime, "verified.csv")
    message = emails(runtime)[0]
    link = link_of(message)
    deployment = deployment_of(runtime)
    cognito = runtime.session.client("cognito-idp")
    username = next(
        u["Username"]
        for u in cognito.list_users(UserPoolId=runtime.stack.user_pool_id)["Users"]
        if {"Name": "email", "Value": str(message["To"])} in u["Attributes"]
    )
    cognito.admin_update_user_attributes(
        UserPoolId=runtime.stack.user_pool_id,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": "someone.else@example.com"}],
    )
    assert deployment is not None

    # When they activate
    assert post(runtime, link, GOOD)[0] == 200

    # Then the verified email is the address the link reached, not the one the pool held
    attributes = {
        a["Name"]: a["Value"]
        for a in cognito.admin_get_user(UserPoolId=runtime.stack.user_pool_id, Username=username)["UserAttributes"]
    }
    assert attributes["email"] == str(message["To"]) and attributes["email_verified"] == "true"
