"""The activation link's decisions with plain values: the pool's password rules, the pages, and GET/POST on fakes
of the link store and the pool."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace

import pytest

from portal_import.domain.activation import RENEWAL_SECONDS, hash_token
from portal_import.domain.activation_page import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, SignIn, form_page
from portal_import.domain.messages import EmailBatch, is_renewal
from portal_import.domain.passwords import PasswordRules
from portal_import.domain.people import Link, PoolAccount
from portal_import.errors import PasswordRefused
from portal_import.flows.activate import ActivationDeps, activate, open_link, renew
from portal_import.observability import metrics

from .fakes import Accounts, Links, Queue

TOKEN = "q3Vb_8rT-x0aLmN5pQ2sUv7wYz1cDe4fGh6jKo9iR0E"
NOW = 1_900_000_000.0
GOOD = "Corr3ct-Horse!"


class RefusingAccounts(Accounts):
    """A pool that refuses every password (its policy is stricter than the page's rules)."""

    def set_password(self, username: str, password: str) -> None:
        raise PasswordRefused("InvalidPasswordException")


def pending(username: str, *, enabled: bool = True, first_name: str = "Zoë", contact_id: str = "C1") -> PoolAccount:
    """A pool user the import created, who has never set a password."""
    return PoolAccount(username, enabled, first_name, status="FORCE_CHANGE_PASSWORD", contact_id=contact_id)


def _deps(
    *,
    link: Link | None = None,
    user: PoolAccount | None = None,
    refuse: bool = False,
    email_sign_in: bool = False,
    sign_in_url: str = "",
    queue: Queue | None = None,
    clock: list[float] | None = None,
) -> tuple[ActivationDeps, Links, Accounts]:
    link = link or Link("C1", "U1", "J1", expires=NOW + 3600, activated=False, sent_to="zoe@example.com")
    links = Links(links={hash_token(TOKEN): link})
    user = user or pending("U1", first_name="Zoë <b>")
    pool = (RefusingAccounts if refuse else Accounts)(accounts={user.username: user})
    now = clock or [NOW]
    deps = ActivationDeps(
        links,
        pool,
        PasswordRules(min_length=12),
        "Acme & Co",
        email_queue=queue,
        email_sign_in=email_sign_in,
        sign_in_url=sign_in_url,
        clock=lambda: now[0],
    )
    return deps, links, pool


def test_the_rules_sentence_names_each_rule_the_policy_sets() -> None:
    rules = PasswordRules.from_policy({"MinimumLength": 10, "RequireSymbols": False, "RequireUppercase": False})
    assert rules.sentence() == (
        "A password has at least 10 characters, with a lowercase letter and a number, and no space at its start or end."
    )
    assert PasswordRules.from_policy({}).sentence().startswith("A password has at least 8 characters, with an upper")


@pytest.mark.parametrize(
    ("password", "allowed"),
    [
        (GOOD, True),
        ("corr3ct-horse!", False),  # no uppercase
        ("CORR3CT-HORSE!", False),  # no lowercase
        ("Correct-Horse!", False),  # no number
        ("Corr3ctHorse12", False),  # no symbol
        ("C0rr3ct horse", True),  # a space is a symbol
        (" Corr3ct-Horse!", False),  # but not at the start
        ("Sh0rt-Pass!", False),  # 11 characters
        ("ÉCOLE-çàé-ñ3!", False),  # Cognito counts basic Latin letters only: çàéñ are no lowercase letter
        ("A1-" + "a" * 253, True),
        ("A1-" + "a" * 254, False),  # over 256 characters
        ("\tCorr3ct-Horse!", False),  # no white space of any kind at either end: Cognito's pattern refuses it
        ("Corr3ct-Horse!\n", False),
        ("Corr3ct-Horse!\u00a0", False),  # a no-break space
        ("Corr3ct\nHorse-1!", False),  # nor a line break inside, which its pattern does not match either
        ("Corr3ct\u2028Horse-1!", False),
    ],
)
def test_a_password_is_allowed_as_cognito_counts_it(password: str, allowed: bool) -> None:
    assert PasswordRules(min_length=12).allows(password) is allowed


def test_opening_a_valid_link_shows_the_form_with_the_name_the_username_and_the_rules_escaped() -> None:
    deps, links, pool = _deps()
    answer = open_link(TOKEN, deps)
    assert answer.status == 200
    assert "Welcome, Zoë &lt;b&gt;" in answer.page
    assert "Acme &amp; Co" in answer.page and "Acme & Co" not in answer.page
    assert '<span class="username">U1</span>' in answer.page
    assert PasswordRules(min_length=12).sentence() in answer.page
    assert f'name="token" value="{TOKEN}"' in answer.page
    assert 'minlength="12"' in answer.page
    assert not links.taken and not pool.passwords  # opening changes nothing


@pytest.mark.parametrize(
    "case",
    [
        "unknown token",
        "used",
        "expired",
        "disabled user",
        "no pool user",
        "empty token",
        "user who set a password",
        "another Contact's user",
    ],
)
def test_every_link_that_cannot_be_used_gets_the_same_410_page(case: str) -> None:
    link = Link("C1", "U1", "J1", expires=NOW + 3600, activated=case == "used", sent_to="zoe@example.com")
    if case == "expired":
        link = replace(link, expires=NOW - 1)
    user = pending("U1" if case != "no pool user" else "U2", enabled=case != "disabled user")
    if case == "user who set a password":
        user = replace(user, status="CONFIRMED")
    if case == "another Contact's user":
        user = replace(user, contact_id="C2")
    deps, _, pool = _deps(link=link, user=user)
    token = {"unknown token": TOKEN[::-1], "empty token": ""}.get(case, TOKEN)
    shown, posted = open_link(token, deps), activate(token, GOOD, GOOD, deps)
    reference = open_link(TOKEN[::-1], _deps()[0])
    assert (shown.status, posted.status) == (410, 410 if token else 400)
    assert shown.page == reference.page  # nothing tells one case from another
    assert not pool.passwords and not pool.verified


def test_a_weak_password_is_refused_with_the_rules_and_the_link_stays_valid() -> None:
    deps, links, pool = _deps()
    answer = activate(TOKEN, "weak", "weak", deps)
    assert answer.status == 400
    assert answer.document == {
        "error": "password-refused",
        "message": "This password is not accepted: a password has at least 12 characters, with an uppercase letter, "
        "a lowercase letter, a number and a symbol such as ! or %, and no space at its start or end.",
    }
    assert 'role="alert"' in answer.page and 'aria-describedby="rules error"' in answer.page
    assert not links.taken and not pool.passwords
    assert activate(TOKEN, GOOD, GOOD, deps).status == 200


def test_two_different_passwords_are_refused_before_the_pool_is_asked() -> None:
    deps, links, pool = _deps()
    answer = activate(TOKEN, GOOD, GOOD + "x", deps)
    assert answer.status == 400
    assert "not the same" in answer.document["message"]
    assert not links.taken and not pool.passwords


def test_a_password_the_pool_refuses_gives_the_hold_back() -> None:
    deps, links, _ = _deps(refuse=True)
    answer = activate(TOKEN, GOOD, None, deps)
    assert answer.status == 400
    assert links.released == links.taken == ["hold-0"]
    assert not links.activated


def test_a_good_password_is_set_once_the_email_verified_and_the_link_used() -> None:
    deps, links, pool = _deps()
    first = activate(TOKEN, GOOD, None, deps)
    assert first.status == 200
    assert first.document == {"status": "activated", "username": "U1", "signInWith": "U1"}
    assert "Your password is set" in first.page
    assert pool.passwords == {"U1": GOOD} and pool.verified == [("U1", "zoe@example.com")]
    assert links.activated == ["hold-0"]
    assert activate(TOKEN, GOOD, None, deps).status == 410
    assert open_link(TOKEN, deps).status == 410


class RecordingAccounts(Accounts):
    """A pool that notes the order of the calls that change a user."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.calls: list[str] = []

    def join_group(self, username: str, role: str) -> None:
        self.calls.append(f"join {role}")
        super().join_group(username, role)

    def verify_email(self, username: str, address: str) -> bool:
        self.calls.append("verify")
        return super().verify_email(username, address)

    def set_password(self, username: str, password: str) -> None:
        self.calls.append("password")
        super().set_password(username, password)


def test_the_user_joins_their_roles_group_and_is_verified_before_the_password_is_set() -> None:
    # Given a link whose user the file gave the Role "Partner User" (the Contact's USER item)
    deps, links, _ = _deps()
    pool = RecordingAccounts(accounts={"U1": pending("U1")})
    deps = replace(deps, accounts=pool)
    links.roles["C1"] = "Partner User"

    # When the person sets their password
    assert activate(TOKEN, GOOD, GOOD, deps).status == 200

    # Then they are in the group before the password lets them sign in: their first token holds the Role
    assert pool.calls == ["join Partner User", "verify", "password"]
    assert pool.groups == {"U1": "Partner User"}


def test_a_user_with_no_known_role_joins_no_group() -> None:
    deps, _, pool = _deps()  # no Role on the USER item (a portal user that existed before the stack)
    assert activate(TOKEN, GOOD, GOOD, deps).status == 200
    assert pool.groups == {}


def test_a_pool_too_busy_to_answer_in_time_gets_503_and_the_link_stays_valid() -> None:
    # Given a pool whose quota's slots are all taken for longer than the page may wait
    deps, links, pool = _deps()
    links.roles["C1"] = "Customer"
    pool.busy = True

    # When the person opens the link, sets their password, or asks for a new link
    answers = [open_link(TOKEN, deps), activate(TOKEN, GOOD, GOOD, deps), renew(TOKEN, deps)]

    # Then each is asked to try again in a few seconds, and nothing changed
    assert [answer.status for answer in answers] == [503, 503, 503]
    assert all(answer.headers == {"Retry-After": "5"} for answer in answers)
    assert answers[1].document["error"] == "busy" and "your link still works" in answers[1].document["message"]
    assert "try again in 5 seconds" in answers[1].page
    assert pool.passwords == {} and links.activated == [] and not links.holds

    # And once the pool answers again, the same link works
    pool.busy = False
    assert activate(TOKEN, GOOD, GOOD, deps).status == 200
    assert pool.groups == {"U1": "Customer"}


def test_a_link_without_the_address_it_was_sent_to_verifies_none() -> None:
    # Given a link written before links kept their address: the pool's email is not known to have been reached
    deps, _, pool = _deps(link=Link("C1", "U1", "J1", expires=NOW + 3600, activated=False))
    assert activate(TOKEN, GOOD, GOOD, deps).status == 200
    assert pool.verified == []


def test_a_link_for_a_user_it_may_not_activate_is_logged_as_a_warning_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a link whose pool user has set a password already (someone else's account, as far as the link goes)
    deps, links, pool = _deps(user=replace(pending("U1"), status="CONFIRMED"))
    metrics.clear_metrics()

    # When a password is posted through it
    answer = activate(TOKEN, GOOD, GOOD, deps)

    # Then it is refused as any invalid link is, nothing changes, and the log says so as a warning
    assert answer.status == 410 and not pool.passwords and not links.taken
    (warning,) = [record for record in caplog.records if record.levelname == "WARNING"]
    assert getattr(warning, "reason", "") == "the pool user is not waiting to activate"
    assert metrics.metric_set["ActivationLinksMisused"]["Value"] == [1.0]


def test_a_link_held_by_another_request_is_not_valid_for_this_one() -> None:
    deps, links, pool = _deps()
    links.holds["C1"] = "someone else"
    assert activate(TOKEN, GOOD, GOOD, deps).status == 410
    assert not pool.passwords


def test_a_request_without_token_or_password_says_what_is_missing() -> None:
    deps, _, _ = _deps()
    for token, password in (("", GOOD), (TOKEN, "")):
        answer = activate(token, password, None, deps)
        assert answer.status == 400
        assert answer.document["error"] == "bad-request"


def test_the_page_loads_nothing_and_its_style_is_the_one_the_policy_allows() -> None:
    page = form_page(portal_name="P", first_name="", sign_in=SignIn("U1"), token=TOKEN, rules="r", min_length=8)
    assert "<script" not in page and "src=" not in page and "href=" not in page
    (style,) = re.findall(r"<style>(.*?)</style>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert SECURITY_HEADERS["Cache-Control"] == "no-store"
    assert SECURITY_HEADERS["Referrer-Policy"] == "no-referrer"
    assert SECURITY_HEADERS["X-Frame-Options"] == "DENY"


# Signing in by email address (docs/contracts.md §6)


def test_with_email_sign_in_the_form_and_the_success_page_name_the_address_and_link_to_the_portal() -> None:
    deps, _, pool = _deps(email_sign_in=True, sign_in_url="https://portal.example.com/login?a=1&b=2")
    form = open_link(TOKEN, deps)
    assert "You will sign in with your email address" in form.page
    assert '<span class="username">zoe@example.com</span>' in form.page
    assert 'value="zoe@example.com" autocomplete="username"' in form.page  # what a password manager keeps
    assert form.document == {"username": "U1", "signInWith": "zoe@example.com"}
    done = activate(TOKEN, GOOD, GOOD, deps)
    assert done.status == 200 and pool.alias_owner("ZOE@example.com") == "U1"
    assert "Sign in to Acme &amp; Co with your email address" in done.page and "zoe@example.com" in done.page
    assert '<a class="action" href="https://portal.example.com/login?a=1&amp;b=2">Go to sign in</a>' in done.page
    assert done.document == {
        "status": "activated",
        "username": "U1",
        "signInWith": "zoe@example.com",
        "signInUrl": "https://portal.example.com/login?a=1&b=2",
    }


def test_without_email_sign_in_the_pages_name_the_username_and_link_nowhere() -> None:
    deps, _, pool = _deps()
    assert "You will sign in with the username" in open_link(TOKEN, deps).page
    done = activate(TOKEN, GOOD, GOOD, deps)
    assert "with the username <span" in done.page and "href=" not in done.page
    assert pool.verified == [("U1", "zoe@example.com")]  # verified all the same: the pool's forgot-password


def test_an_address_another_user_signs_in_with_still_activates_and_the_pages_say_the_username() -> None:
    # Given another Contact's user who activated with the same (shared) address, in other letter case
    deps, links, pool = _deps(email_sign_in=True)
    pool.verified.append(("U0", "Zoe@Example.com"))
    metrics.clear_metrics()
    form = open_link(TOKEN, deps)
    assert form.document["signInWith"] == "U1"
    assert "with the username <span" in form.page and "already how another account signs in" in form.page
    # When this one activates: the password is set, the address stays the other's sign-in
    done = activate(TOKEN, GOOD, GOOD, deps)
    assert done.status == 200 and pool.passwords == {"U1": GOOD} and links.activated == ["hold-0"]
    assert pool.alias_owner("zoe@example.com") == "U0"
    assert done.document["signInWith"] == "U1"
    assert "Sign in to Acme &amp; Co with the username <span" in done.page and "zoe@example.com" in done.page
    assert metrics.metric_set["ActivationAddressesShared"]["Value"] == [1.0]


# A new link, asked for by its holder (POST …/activate/renew)


def _renewal_deps(link: Link, **given: object) -> tuple[ActivationDeps, Links, Queue, list[float]]:
    queue, clock = Queue(), [NOW]
    deps, links, _ = _deps(link=link, queue=queue, clock=clock, **given)  # type: ignore[arg-type]
    return deps, links, queue, clock


EXPIRED = Link("C1", "U1", "J1", expires=NOW - 1, activated=False, sent_to="zoe@example.com")
REPLACED = replace(EXPIRED, expires=NOW + 3600, current=False)


@pytest.mark.parametrize("link", [EXPIRED, REPLACED], ids=["expired", "replaced"])
def test_an_expired_or_replaced_link_offers_a_new_one_which_is_queued_once_per_15_minutes(link: Link) -> None:
    deps, links, queue, clock = _renewal_deps(link)
    # When the link is opened: 410, and a page that offers a new link
    shown = open_link(TOKEN, deps)
    assert shown.status == 410 and shown.document["renewable"] is True
    assert '<form method="post" action="activate/renew">' in shown.page
    assert f'name="token" value="{TOKEN}"' in shown.page and "Email me a new link" in shown.page
    assert "Ask your administrator" not in shown.page
    # and asked for: 202, one email for the link's user on the email queue, a request of its own
    first = renew(TOKEN, deps)
    assert first.status == 202 and "on its way" in first.page and "zoe@example.com" not in first.page
    (body,) = queue.bodies
    batch = EmailBatch.model_validate_json(body)
    assert (batch.job_id, [(r.user_id, r.contact_id) for r in batch.recipients]) == ("J1", [("U1", "C1")])
    assert batch.request_id.startswith("J1/renew/") and is_renewal(batch.request_id)
    assert links.renewals == ["C1"]
    # Then a second request within 15 minutes is 429, says when to ask again, and queues nothing
    clock[0] = NOW + RENEWAL_SECONDS - 61
    second = renew(TOKEN, deps)
    assert second.status == 429 and second.headers == {"Retry-After": "120"}
    assert "ask again in 2 minutes" in second.page and second.document["retryAfter"] == 120
    assert len(queue.bodies) == 1 and links.renewals == ["C1"]
    # and one 15 minutes after the first is queued
    clock[0] = NOW + RENEWAL_SECONDS
    assert renew(TOKEN, deps).status == 202 and len(queue.bodies) == 2


def test_a_link_that_still_works_is_not_renewed() -> None:
    deps, links, queue, _ = _renewal_deps(replace(EXPIRED, expires=NOW + 60))
    answer = renew(TOKEN, deps)
    assert answer.status == 409 and answer.document["error"] == "link-still-valid"
    assert f'href="../activate?token={TOKEN}"' in answer.page
    assert not queue.bodies and not links.renewals


@pytest.mark.parametrize(
    ("case", "link", "user"),
    [
        ("used", replace(EXPIRED, activated=True, current=False), None),
        ("its user activated", replace(EXPIRED, activated=True), None),
        ("its user is disabled", EXPIRED, pending("U1", enabled=False)),
        ("its user set a password", EXPIRED, replace(pending("U1"), status="CONFIRMED")),
        ("its user is another Contact's", EXPIRED, pending("U1", contact_id="C2")),
        ("the user's job is not known", replace(EXPIRED, job_id=""), None),
    ],
)
def test_a_link_whose_user_may_not_activate_is_410_without_the_offer_and_sends_nothing(
    case: str, link: Link, user: PoolAccount | None
) -> None:
    deps, links, queue, _ = _renewal_deps(link, user=user)
    shown = open_link(TOKEN, deps)
    assert shown.status == 410 and shown.document["renewable"] is False
    assert "renew" not in shown.page and "Ask your administrator" in shown.page
    asked = renew(TOKEN, deps)
    assert asked.status == 410 and asked.document["error"] == "link-not-valid"
    assert not queue.bodies and not links.renewals


def test_an_unknown_token_is_410_without_the_offer_and_a_request_without_one_is_400() -> None:
    deps, links, queue, _ = _renewal_deps(EXPIRED)
    assert "renew" not in open_link(TOKEN[::-1], deps).page
    assert renew(TOKEN[::-1], deps).status == 410
    assert renew("", deps).status == 400
    assert not queue.bodies and not links.renewals


def test_a_stack_that_cannot_queue_a_new_link_does_not_offer_one() -> None:
    deps, _, _ = _deps(link=EXPIRED)
    assert "renew" not in open_link(TOKEN, deps).page
    assert renew(TOKEN, deps).status == 410


class FailingQueue(Queue):
    def send(self, body: str, *, delay_seconds: int = 0) -> None:
        raise RuntimeError("SQS is down")


def test_a_new_link_that_could_not_be_queued_gives_the_window_back() -> None:
    queue = FailingQueue()
    deps, links, _ = _deps(link=EXPIRED, queue=queue)
    with pytest.raises(RuntimeError):
        renew(TOKEN, deps)
    assert not links.renewals and not links.renewed  # the person may ask again at once
