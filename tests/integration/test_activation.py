"""The activation link on the whole local stack (docs/contracts.md §6): the page and the API answered by the activation
function through the REST API's routes, the password set in the pool, and what the link may do only once."""

from __future__ import annotations

import base64
import json
import re
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import boto3
import pytest

from portal_import.aws.activations import Links
from portal_import.aws.ledger import Ledger
from portal_import.aws.tables import activation_key, contact_key
from portal_import.aws.userpool import UserPool
from portal_import.domain.activation import hash_token
from portal_import.domain.passwords import PasswordRules
from portal_import.flows.activate import ActivationDeps, Answer, activate
from portal_import_local.http_api import HttpRequest
from portal_import_local.runtime import LocalRuntime

from .test_resend import addresses, deployment_of, import_with_emails, resend

GOOD = "Corr3ct-Horse-Battery!"
_LINK = re.compile(r"(https?://[^\s<>\"]+/activate\?token=[A-Za-z0-9_.\-]+)")


@pytest.fixture(autouse=True)
def _own_default_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # Deployment sets boto3's default session: undone after


def emails(runtime: LocalRuntime) -> list[EmailMessage]:
    return [message_from_bytes(raw, policy=policy.default) for raw in runtime.sent_emails()]  # type: ignore[misc]


def link_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    (link,) = set(_LINK.findall(body.get_content()))
    return link


def get(runtime: LocalRuntime, link: str) -> tuple[int, dict[str, str], str]:
    url = urlsplit(link)
    status, headers, body = runtime.answer_http(HttpRequest("GET", url.path, url.query, {"host": url.netloc}, b""))
    return status, headers, body.decode()


def username_of(runtime: LocalRuntime, link: str) -> str:
    """The pool user a valid link is for, as the API tells a portal with its own page."""
    url = urlsplit(link)
    headers = {"host": url.netloc, "accept": "application/json"}
    status, _, body = runtime.answer_http(HttpRequest("GET", url.path, url.query, headers, b""))
    assert status == 200, body
    username: str = json.loads(body)["username"]
    return username


def post(runtime: LocalRuntime, link: str, password: str, *, as_json: bool = False) -> tuple[int, Any]:
    url = urlsplit(link)
    token = url.query.removeprefix("token=")
    if as_json:
        headers = {"content-type": "application/json", "accept": "application/json", "host": url.netloc}
        body = json.dumps({"token": token, "password": password}).encode()
    else:
        headers = {"content-type": "application/x-www-form-urlencoded", "host": url.netloc}
        body = urlencode({"token": token, "password": password, "confirm": password}).encode()
    status, _, answer = runtime.answer_http(HttpRequest("POST", url.path, "", headers, body))
    return status, json.loads(answer) if as_json else answer.decode()


def sign_in(runtime: LocalRuntime, username: str, password: str) -> dict[str, Any]:
    cognito = runtime.session.client("cognito-idp")
    tokens = cognito.initiate_auth(
        ClientId=runtime.stack.user_pool_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    payload = tokens["IdToken"].split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def pool_user(runtime: LocalRuntime, username: str) -> dict[str, Any]:
    found: dict[str, Any] = runtime.session.client("cognito-idp").admin_get_user(
        UserPoolId=runtime.stack.user_pool_id, Username=username
    )
    return found


def test_the_link_sets_the_password_once_and_the_user_signs_in_with_the_role(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    # Given an import whose activation emails went out
    job_id = import_with_emails(runtime, "activate.csv")
    message = emails(runtime)[0]
    link = link_of(message)
    assert link.startswith(runtime.stack.portal_url + "/activate?token=")
    rows = {row.user_id: row for row in deployment_of(runtime).users(deployment_of(runtime).job(job_id))}

    # When the person opens the link
    status, headers, page = get(runtime, link)
    # Then the page is the form, answered with headers that keep the token to this page
    assert status == 200
    assert '<form method="post" action="activate">' in page
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    username = username_of(runtime, link)
    assert username in rows
    # and it says what they will sign in with: the address the email went to
    (address,) = re.findall(r'<span class="username">([^<]+)</span>', page)
    assert "You will sign in with your email address" in page
    assert address == message["To"]

    # When they send a weak password: 400, the rules, and the link still valid
    status, answer = post(runtime, link, "weak", as_json=True)
    assert status == 400
    assert answer["message"].startswith("This password is not accepted: a password has at least 12 characters")
    assert get(runtime, link)[0] == 200
    # When they send a good one: 200, and they sign in with the Role the file gave them
    status, page = post(runtime, link, GOOD)
    assert status == 200
    assert "Your password is set" in page
    claims = sign_in(runtime, username, GOOD)
    assert claims["cognito:groups"] == [rows[username].role]
    # by the address the link reached too, in any letter case (the pool's email alias)
    by_address = sign_in(runtime, address.upper(), GOOD)
    assert (by_address["cognito:username"], by_address["cognito:groups"]) == (username, [rows[username].role])
    assert "Sign in to" in page and f'with your email address <span class="username">{address}</span>' in page
    user = pool_user(runtime, username)
    assert user["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in user["UserAttributes"]
    # Then the link is used: 410 for GET and POST, the job counts the user activated, `users` says so
    assert get(runtime, link)[0] == 410
    assert post(runtime, link, GOOD + "2")[0] == 410
    deployment = deployment_of(runtime)
    job = deployment.job(job_id)
    assert job.users_activated == 1
    (listed,) = [u for u in deployment.users(job) if u.user_id == username]
    assert listed.activation == "activated"
    # and a resend never reaches them again
    done = resend(runtime, job_id, listed.contact_id)
    assert done.queued == []
    assert [left.reason for left in done.left_out] == ["has already activated their account"]
    # and the token, the passwords and the address appear in no function's log line
    logs = (tmp_path / "logs.jsonl").read_text(encoding="utf-8")
    assert "Portal user activated" in logs
    for secret in (link.rsplit("=", 1)[1], GOOD, "weak", str(message["To"])):
        assert secret not in logs


def test_a_newer_link_makes_the_older_one_invalid(runtime: LocalRuntime) -> None:
    # Given a user's first link, and a resend that sent them a second one
    job_id = import_with_emails(runtime, "newer.csv")
    old = link_of(emails(runtime)[0])
    username = username_of(runtime, old)
    deployment = deployment_of(runtime)
    (contact,) = [u.contact_id for u in deployment.users(deployment.job(job_id)) if u.user_id == username]
    assert len(resend(runtime, job_id, contact).queued) == 1
    new = link_of(emails(runtime)[-1])
    assert new != old
    # When the older one is opened or posted / Then it is no longer valid, and the newer one works
    assert get(runtime, old)[0] == 410
    assert post(runtime, old, GOOD)[0] == 410
    assert get(runtime, new)[0] == 200
    assert post(runtime, new, GOOD)[0] == 200
    ledger = Ledger(runtime.stack.directory_table, runtime.stack.jobs_table)
    assert ledger.records([contact])[contact].activated


def test_of_two_requests_racing_with_one_token_at_most_one_sets_the_password(runtime: LocalRuntime) -> None:
    # Given a link, and two requests that both found it valid before either took it
    import_with_emails(runtime, "race.csv")
    token = link_of(emails(runtime)[0]).rsplit("=", 1)[1]
    both_read = threading.Barrier(2, timeout=10)

    class Racing(Links):
        def hold(self, link: Any, token_hash: str, now: float) -> str | None:
            both_read.wait()  # each request has read the link as valid
            return super().hold(link, token_hash, now)

    pool = UserPool(runtime.stack.user_pool_id)
    deps = ActivationDeps(
        links=Racing(runtime.stack.directory_table, runtime.stack.jobs_table),
        accounts=pool,
        rules=PasswordRules.from_policy(pool.password_policy()),
        portal_name="Portal",
    )
    answers: list[Answer] = []

    def request(password: str) -> None:
        answers.append(activate(token, password, password, deps))

    # When both go on at once, each with its own password
    threads = [threading.Thread(target=request, args=(GOOD + suffix,)) for suffix in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one succeeded, and its password is the one that signs in
    assert sorted(answer.status for answer in answers) == [200, 410]
    (won,) = [answer for answer in answers if answer.status == 200]
    username = won.document["username"]
    signed = [p for p in (GOOD + "A", GOOD + "B") if _signs_in(runtime, username, p)]
    assert len(signed) == 1
    assert Links(runtime.stack.directory_table, runtime.stack.jobs_table).find(hash_token(token)) is None


def _signs_in(runtime: LocalRuntime, username: str, password: str) -> bool:
    try:
        sign_in(runtime, username, password)
    except runtime.session.client("cognito-idp").exceptions.NotAuthorizedException:
        return False
    return True


def test_a_disabled_user_cannot_be_activated(runtime: LocalRuntime) -> None:
    # Given a user whose pool account an administrator disabled after the email went out
    import_with_emails(runtime, "disabled.csv")
    link = link_of(emails(runtime)[0])
    username = username_of(runtime, link)
    runtime.session.client("cognito-idp").admin_disable_user(UserPoolId=runtime.stack.user_pool_id, Username=username)
    # When the link is opened or posted / Then it is not valid, and no password was set
    assert get(runtime, link)[0] == 410
    assert post(runtime, link, GOOD)[0] == 410
    assert pool_user(runtime, username)["UserStatus"] != "CONFIRMED"


def test_a_route_the_api_does_not_have_is_refused_as_a_rest_api_does_and_a_body_that_is_no_form_is_400(
    runtime: LocalRuntime,
) -> None:
    base = urlsplit(runtime.stack.portal_url)  # the API's stage: http://127.0.0.1:4566/v1
    for method, path in (("PUT", "/activate"), ("GET", "/elsewhere")):
        status, _, body = runtime.answer_http(HttpRequest(method, base.path + path, "", {}, b""))
        assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})
    status, _, body = runtime.answer_http(
        HttpRequest("POST", base.path + "/activate", "", {"content-type": "application/json"}, b"[1, 2]")
    )
    assert status == 400
    assert "neither a form nor a JSON object" in body.decode()


# Two Contacts sharing one address, and new links people ask for (docs/contracts.md §6)


def link_to(runtime: LocalRuntime, address: str) -> str:
    """The latest link sent to `address`."""
    return link_of([m for m in emails(runtime) if str(m["To"]) == address][-1])


def renew(runtime: LocalRuntime, link: str, *, as_json: bool = False) -> tuple[int, dict[str, str], Any]:
    url = urlsplit(link)
    token = url.query.removeprefix("token=")
    path = url.path + "/renew"
    if as_json:
        headers = {"content-type": "application/json", "accept": "application/json", "host": url.netloc}
        body = json.dumps({"token": token}).encode()
    else:
        headers = {"content-type": "application/x-www-form-urlencoded", "host": url.netloc}
        body = urlencode({"token": token}).encode()
    status, answer_headers, answer = runtime.answer_http(HttpRequest("POST", path, "", headers, body))
    return status, answer_headers, json.loads(answer) if as_json else answer.decode()


def _contacts_emailed(runtime: LocalRuntime, job_id: str) -> list[tuple[str, str, str]]:
    """(contact id, user id, address) of each user the job sent an email, by row."""
    deployment = deployment_of(runtime)
    users = [u for u in deployment.users(deployment.job(job_id)) if u.email == "sent"]
    people = addresses(runtime, [u.contact_id for u in users])
    return [(u.contact_id, u.user_id, address) for u, address in zip(users, people, strict=True)]


def test_two_contacts_sharing_an_address_both_activate_and_the_first_signs_in_with_it(runtime: LocalRuntime) -> None:
    # Given two users of an import, the second's Contact given the first's address (a shared inbox, other case)
    job_id = import_with_emails(runtime, "shared.csv")
    (_, first_user, shared), (second, second_user, _) = _contacts_emailed(runtime, job_id)[:2]
    runtime.session.client("dynamodb").update_item(
        TableName=runtime.stack.directory_table,
        Key=contact_key(second),
        UpdateExpression="SET Email = :shared",
        ExpressionAttributeValues={":shared": {"S": shared.upper()}},
    )
    assert resend(runtime, job_id, second).queued == [second]
    first_link, second_link = link_to(runtime, shared), link_to(runtime, shared.upper())
    # When the first activates: they sign in with the address
    status, page = post(runtime, first_link, GOOD)
    assert status == 200 and f'your email address <span class="username">{shared}</span>' in page
    # and the second's form, then success page, name their username, saying why
    form = get(runtime, second_link)[2]
    assert f'the username <span class="username">{second_user}</span>' in form
    assert "already how another account signs in" in form
    status, page = post(runtime, second_link, GOOD + "2")
    assert (
        status == 200 and f'Sign in to Customer Portal with the username <span class="username">{second_user}' in page
    )
    # Then the address signs the first in, the second signs in by username, its email left unverified
    assert sign_in(runtime, shared.upper(), GOOD)["cognito:username"] == first_user
    assert sign_in(runtime, second_user, GOOD + "2")["cognito:username"] == second_user
    attributes = {a["Name"]: a["Value"] for a in pool_user(runtime, second_user)["UserAttributes"]}
    assert attributes.get("email_verified") != "true"


def _expire(runtime: LocalRuntime, contact_id: str) -> None:
    """The user's current link expires now (as a link does ActivationLinkTtlHours after it was sent)."""
    runtime.session.client("dynamodb").update_item(
        TableName=runtime.stack.directory_table,
        Key=activation_key(contact_id),
        UpdateExpression="SET ExpiresAtEpoch = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )


def test_an_expired_link_asks_for_a_new_one_which_works_once_and_a_second_ask_is_429(runtime: LocalRuntime) -> None:
    # Given a user whose link expired
    job_id = import_with_emails(runtime, "expired.csv")
    contact, username, address = _contacts_emailed(runtime, job_id)[0]
    old = link_to(runtime, address)
    _expire(runtime, contact)
    # When it is opened: 410, and the page offers a new link
    status, _, page = get(runtime, old)
    assert status == 410 and "Email me a new link" in page and 'action="activate/renew"' in page
    # and asked for: 202, and a new email reaches the user's address through the email sender
    sent_before = len(emails(runtime))
    status, _, page = renew(runtime, old)
    assert status == 202 and "A new link is on its way" in page and address not in page
    while runtime.pump():
        pass
    assert len(emails(runtime)) == sent_before + 1
    new = link_to(runtime, address)
    assert new != old
    # Then asking again within 15 minutes is 429, with when to ask again, and sends nothing
    status, headers, answer = renew(runtime, old, as_json=True)
    assert status == 429 and headers["retry-after"] == "900" and answer["error"] == "renewal-too-soon"
    while runtime.pump():
        pass
    assert len(emails(runtime)) == sent_before + 1
    # and the new link still works is 409 to a renewal, works once, after which both are plain 410s
    assert renew(runtime, new)[0] == 409
    assert post(runtime, new, GOOD)[0] == 200
    assert post(runtime, new, GOOD)[0] == 410
    status, _, page = get(runtime, old)
    assert status == 410 and "Email me a new link" not in page and "Ask your administrator" in page
    assert renew(runtime, old)[0] == 410 and renew(runtime, new)[0] == 410
    # and `users` and `status` count the renewal
    deployment = deployment_of(runtime)
    job = deployment.job(job_id)
    assert job.links_renewed == 1 and job.users_activated == 1
    (listed,) = [u for u in deployment.users(job) if u.user_id == username]
    assert (listed.renewals, listed.activation, listed.email) == (1, "activated", "sent")


def test_a_replaced_link_asks_for_a_new_one_and_unknown_tokens_get_nothing(runtime: LocalRuntime) -> None:
    # Given a user whose first link a resend replaced
    job_id = import_with_emails(runtime, "replaced.csv")
    contact, _, address = _contacts_emailed(runtime, job_id)[0]
    old = link_to(runtime, address)
    resend(runtime, job_id, contact)
    newer = link_to(runtime, address)
    # When the replaced one asks (as a portal's own page would, in JSON): 202; the newer one still works: 409
    status, _, answer = renew(runtime, old, as_json=True)
    assert status == 202 and answer["status"] == "renewal-queued"
    status, _, answer = renew(runtime, newer, as_json=True)
    assert status == 409 and answer["error"] == "link-still-valid"
    while runtime.pump():
        pass
    newest = link_to(runtime, address)
    # Then the newest works and the two before it offer a new link again, which is 429 now
    assert get(runtime, newest)[0] == 200
    for earlier in (old, newer):
        status, _, page = get(runtime, earlier)
        assert status == 410 and "Email me a new link" in page
        assert renew(runtime, earlier)[0] == 429
    # and a token the stack never sent (its Contact named or not) gets the plain 410, and nothing is queued
    forged = old.rsplit(".", 1)[0] + ".forged-secret-forged-secret-forged-secret-xx"
    for unknown in (forged, old.split("token=")[0] + "token=forged-secret-forged-secret-forged-secret-xx"):
        status, _, page = get(runtime, unknown)
        assert status == 410 and "Email me a new link" not in page
        assert renew(runtime, unknown)[0] == 410
