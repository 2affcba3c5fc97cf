"""What the activation link does (docs/contracts.md §6): GET shows the set-password form while the link is valid, POST
sets the password once, and a link that expired or was replaced may ask for a new one (POST …/activate/renew).

A link is valid while it is the User's current one (a newer link replaces it), has not expired nor been used, and
its pool user exists, is enabled, has never set a password and is the link's Contact's; an unknown or used link, a
disabled user's, one whose user activated, and one whose user may not be activated by it (logged as a warning and
counted: such a link should not exist) all get the same 410 answer, so the answer tells nothing about a token. A
link that expired or was replaced, of a user who may still activate, gets a 410 that offers a new link: the token
proves its holder got the user's email, so nothing is asked and nothing disclosed; the new link goes to the user's
current address through the email queue (the same rate limit, ledger and reputation guard as the import's), at
most once per user per RENEWAL_SECONDS. A weak password is refused before the link is touched (400, the link stays
valid). Setting the password takes the link's hold first, so that of two requests with one token at most one
succeeds; once the password is set the address the link was sent to becomes the user's verified email (and their
sign-in, unless another user signs in with it already), and the link is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portal_import.domain.activation import RENEWAL_SECONDS, contact_of_token, hash_token
from portal_import.domain.activation_page import (
    BUSY_RETRY_SECONDS,
    BUSY_SENTENCE,
    GONE_SENTENCE,
    RENEW_QUEUED_SENTENCE,
    RENEWABLE_SENTENCE,
    STILL_VALID_SENTENCE,
    SignIn,
    bad_request_page,
    busy_page,
    done_page,
    form_page,
    gone_page,
    renew_queued_page,
    still_valid_page,
    too_soon_page,
    too_soon_sentence,
)
from portal_import.domain.messages import EmailRecipient, email_batches, renewal_request_of
from portal_import.domain.passwords import PasswordRules
from portal_import.domain.people import Link, PoolAccount
from portal_import.errors import PasswordRefused, Transient
from portal_import.observability import logger, metrics
from portal_import.ports import Accounts, Links, Queue

NOT_PENDING = "the pool user is not waiting to activate"
OTHER_CONTACT = "the pool user is another Contact's"
_MISUSE = (NOT_PENDING, OTHER_CONTACT)
EXPIRED = "expired"
REPLACED = "replaced by a newer link"
_RENEWABLE = (EXPIRED, REPLACED)


@dataclass(frozen=True)
class ActivationDeps:
    links: Links
    accounts: Accounts
    rules: PasswordRules
    portal_name: str
    email_queue: Queue | None = None  # new links a person asks for; None: nobody may ask (410 without the offer)
    email_sign_in: bool = False  # whether the pool signs users in by their verified email address
    sign_in_url: str = ""  # the portal's sign-in page (PortalSignInUrl), linked from the success page
    clock: Callable[[], float] = field(default=time.time)


@dataclass(frozen=True)
class Answer:
    """One answer, as a page (for a browser) and as a JSON document (for a portal with its own page)."""

    status: int
    page: str
    document: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def gone(deps: ActivationDeps, why: str, *, renew_token: str = "") -> Answer:
    """410: the link is not valid; with `renew_token`, the page offers a new link (the link expired or was replaced,
    and its user may still activate)."""
    if why in _MISUSE:
        # Not a person's stale link: a link naming a user it may not activate. Changes nothing; someone should look.
        logger.warning("Activation link refused for its pool user", extra={"reason": why})
        metrics.add_metric(name="ActivationLinksMisused", unit="Count", value=1)
    else:
        logger.info("Activation link not valid", extra={"reason": why, "renewable": bool(renew_token)})
    page = gone_page(portal_name=deps.portal_name, renew_token=renew_token)
    sentence = RENEWABLE_SENTENCE if renew_token else GONE_SENTENCE
    return Answer(410, page, {"error": "link-not-valid", "message": sentence, "renewable": bool(renew_token)})


def bad_request(deps: ActivationDeps, sentence: str) -> Answer:
    return Answer(
        400,
        bad_request_page(portal_name=deps.portal_name, sentence=sentence),
        {"error": "bad-request", "message": sentence},
    )


def busy(deps: ActivationDeps, error: Transient) -> Answer:
    """503: a Cognito (or DynamoDB) call could not be made in time (its quota's slots are taken for longer than a
    page may wait, or it was throttled through every retry). Nothing was changed: the link stays as it was."""
    logger.warning("Activation answered busy", extra={"error": str(error)})
    metrics.add_metric(name="ActivationsBusy", unit="Count", value=1)
    document = {"error": "busy", "message": BUSY_SENTENCE, "retryAfter": BUSY_RETRY_SECONDS}
    return Answer(503, busy_page(portal_name=deps.portal_name), document, {"Retry-After": str(BUSY_RETRY_SECONDS)})


def why_not_valid(link: Link | None, account: PoolAccount | None, now: float) -> str:
    """Why a link cannot be used now ("" when it can): for the log, never for the answer."""
    if link is None:
        return "unknown, or replaced or used (a link that does not name its Contact)"
    if link.activated:
        return "used, or its user activated"
    if not link.current:
        return REPLACED
    if link.expired(now):
        return EXPIRED
    if account is None:
        return "no such pool user"
    if not account.enabled:
        return "the pool user is disabled"
    return why_not_theirs(link, account)


def why_not_theirs(link: Link, account: PoolAccount) -> str:
    """Why the link's pool user is not one it may activate ("" when it is): only a user who never set a password
    and who is the link's Contact's (docs/contracts.md §6). Anything else is a link that should not exist."""
    if not account.pending:
        return NOT_PENDING
    if account.contact_id != link.contact_id:
        return OTHER_CONTACT
    return ""


def renewable(why: str, link: Link | None, account: PoolAccount | None, deps: ActivationDeps) -> bool:
    """Whether a link that is not valid for `why` may ask for a new one: it expired or was replaced, its user may
    still activate (enabled, never set a password, the link's Contact's), and the stack can queue the email."""
    if why not in _RENEWABLE or link is None or account is None or not link.job_id or deps.email_queue is None:
        return False
    return account.enabled and not why_not_theirs(link, account)


def _lookup(token: str, deps: ActivationDeps) -> tuple[Link | None, PoolAccount | None]:
    link = deps.links.find(hash_token(token), contact_of_token(token)) if token else None
    account = deps.accounts.account(link.user_id) if link and link.user_id else None
    return link, account


def open_link(token: str, deps: ActivationDeps) -> Answer:
    """GET: the form while the link is valid. Opening it changes nothing (mail scanners open links too)."""
    try:
        return _open_link(token, deps)
    except Transient as error:
        return busy(deps, error)


def _open_link(token: str, deps: ActivationDeps) -> Answer:
    link, account = _lookup(token, deps)
    why = why_not_valid(link, account, deps.clock())
    if why or link is None or account is None:
        return gone(deps, why, renew_token=token if renewable(why, link, account, deps) else "")
    return _form(deps, account, link, token, status=200)


def signs_in_with(account: PoolAccount, link: Link, deps: ActivationDeps) -> SignIn:
    """What the person will sign in with once activated: the address the link was sent to, unless the pool does
    not sign in by address or another user already does with it (then their username)."""
    address = link.sent_to
    if not deps.email_sign_in or not address:
        return SignIn(account.username)
    owner = deps.accounts.alias_owner(address)
    if owner is None or owner == account.username:
        return SignIn(address, by_address=True)
    return SignIn(account.username, taken_address=address)


def _form(
    deps: ActivationDeps, account: PoolAccount, link: Link, token: str, *, status: int, error: str = ""
) -> Answer:
    sign_in = signs_in_with(account, link, deps)
    page = form_page(
        portal_name=deps.portal_name,
        first_name=account.first_name,
        sign_in=sign_in,
        token=token,
        rules=deps.rules.sentence(),
        min_length=deps.rules.min_length,
        error=error,
    )
    document = (
        {"error": "password-refused", "message": error}
        if error
        else {"username": account.username, "signInWith": sign_in.name}
    )
    return Answer(status, page, document)


def refusal(password: str, confirm: str | None, rules: PasswordRules) -> str:
    """Why a new password is refused before the pool is asked ("" when it is not)."""
    if confirm is not None and confirm != password:
        return "The two passwords are not the same: type the same new password in both fields."
    if not rules.allows(password):
        return rules.refusal()
    return ""


def activate(token: str, password: str, confirm: str | None, deps: ActivationDeps) -> Answer:
    """POST: sets the password once, if the link is valid and the password follows the pool's rules.

    Under the link's hold, the user first joins their Role's group (so that their first token holds it) and gets
    the address the link reached as their verified email, and only then is the password set: once it is, nothing
    is left that could fail for want of Cognito's quota. Until then a call that cannot be made in time answers
    503 (busy) with the link as it was.
    """
    if not token or not password:
        return bad_request(deps, "The request needs the link's token and a new password.")
    try:
        checked = _checked(token, password, confirm, deps)
        if isinstance(checked, Answer):
            return checked
        link, account, hold = checked
        try:
            sign_in = _set_up(link, account, password, deps)
        except PasswordRefused:
            deps.links.release(link, hold)
            return _form(deps, account, link, token, status=400, error=deps.rules.refusal())
        except Exception:
            deps.links.release(link, hold)  # the password was not set: the link stays valid for another try
            raise
    except Transient as error:
        return busy(deps, error)
    return _activated(link, account, hold, sign_in, deps)


def _checked(
    token: str, password: str, confirm: str | None, deps: ActivationDeps
) -> Answer | tuple[Link, PoolAccount, str]:
    """The link, its user and the link's hold, or the answer when the link or the password will not do."""
    link, account = _lookup(token, deps)
    now = deps.clock()
    why = why_not_valid(link, account, now)
    if why or link is None or account is None:
        return gone(deps, why)
    refused = refusal(password, confirm, deps.rules)
    if refused:
        return _form(deps, account, link, token, status=400, error=refused)
    hold = deps.links.hold(link, hash_token(token), now)
    if hold is None:
        return gone(deps, "used, expired or held by another request meanwhile")
    return link, account, hold


def _set_up(link: Link, account: PoolAccount, password: str, deps: ActivationDeps) -> SignIn:
    """The user in their Role's group, their address verified, then their password set; what they sign in with."""
    role = deps.links.role_of(link)
    if role:
        deps.accounts.join_group(account.username, role)
    sign_in = SignIn(account.username)
    if link.sent_to:
        # The link reached this address, and only it: verified, and their sign-in unless it is someone else's.
        if deps.accounts.verify_email(account.username, link.sent_to):
            sign_in = SignIn(link.sent_to, by_address=True) if deps.email_sign_in else sign_in
        else:
            logger.info("Activated user signs in by username: another user signs in with the address")
            metrics.add_metric(name="ActivationAddressesShared", unit="Count", value=1)
            sign_in = SignIn(account.username, taken_address=link.sent_to)
    deps.accounts.set_password(account.username, password)
    return sign_in


def _activated(link: Link, account: PoolAccount, hold: str, sign_in: SignIn, deps: ActivationDeps) -> Answer:
    if not deps.links.mark_activated(link, hold, deps.clock()):
        # The hold ran out while the password was being set and another request took it: the password is set
        # all the same, and whichever request marks the link used counts the activation.
        logger.warning("Activation hold lost while the password was set")
    logger.info("Portal user activated", extra={"user_id": account.username, "by_address": sign_in.by_address})
    page = done_page(portal_name=deps.portal_name, sign_in=sign_in, sign_in_url=deps.sign_in_url)
    document = {"status": "activated", "username": account.username, "signInWith": sign_in.name}
    if deps.sign_in_url:
        document["signInUrl"] = deps.sign_in_url
    return Answer(200, page, document)


def renew(token: str, deps: ActivationDeps) -> Answer:
    """POST …/activate/renew: a new link for the user of a link that expired or was replaced (202), once per user
    per RENEWAL_SECONDS (429 otherwise); a link that still works gets 409, any other 410. Nothing is disclosed:
    the new link goes to the address the directory has for the user, which the answer does not name."""
    if not token:
        return bad_request(deps, "The request needs the link's token.")
    try:
        return _renew(token, deps)
    except Transient as error:
        return busy(deps, error)


def _renew(token: str, deps: ActivationDeps) -> Answer:
    link, account = _lookup(token, deps)
    now = deps.clock()
    why = why_not_valid(link, account, now)
    if not why:
        page = still_valid_page(portal_name=deps.portal_name, token=token)
        return Answer(409, page, {"error": "link-still-valid", "message": STILL_VALID_SENTENCE})
    if link is None or deps.email_queue is None or not renewable(why, link, account, deps):
        return gone(deps, why)
    if not deps.links.renew(link, hash_token(token), now):
        wait = RENEWAL_SECONDS - (now - link.renewed_at) if link.renewed_at is not None else RENEWAL_SECONDS
        minutes = max(1, -(-int(wait) // 60))
        logger.info("New link refused: the user asked for one less than 15 minutes ago")
        metrics.add_metric(name="ActivationRenewalsTooSoon", unit="Count", value=1)
        page = too_soon_page(portal_name=deps.portal_name, minutes=minutes)
        document = {"error": "renewal-too-soon", "message": too_soon_sentence(minutes), "retryAfter": minutes * 60}
        return Answer(429, page, document, headers={"Retry-After": str(minutes * 60)})
    try:
        _queue_new_link(link, deps.email_queue)
    except Exception:
        deps.links.unrenew(link, now)  # nothing was queued: the window is the user's again
        raise
    logger.info("New link queued at its user's request", extra={"user_id": link.user_id, "why": why})
    metrics.add_metric(name="ActivationLinksRenewed", unit="Count", value=1)
    page = renew_queued_page(portal_name=deps.portal_name)
    return Answer(202, page, {"status": "renewal-queued", "message": RENEW_QUEUED_SENTENCE})


def _queue_new_link(link: Link, queue: Queue) -> None:
    """The user's new activation email, on the email queue as a request of its own of the job that created the
    user: the sender reads the address and name from the directory, claims the new link in the ledger, sends at
    the shared rate, and keeps it while the reputation guard holds the job's emails."""
    request = renewal_request_of(link.job_id)
    recipient = EmailRecipient(row=0, user_id=link.user_id, contact_id=link.contact_id)
    queue.send_all(batch.to_json() for batch in email_batches(request, link.job_id, [recipient], request))
