"""What the activation link does (docs/contracts.md §6): GET shows the set-password form while the link is valid, POST
sets the password once.

A link is valid while it is the User's current one (a newer link replaces it), has not expired nor been used, and
its pool user exists, is enabled, has never set a password and is the link's Contact's; an unknown, used, expired or
replaced link, a disabled user's, and one whose user may not be activated by it (logged as a warning and counted:
such a link should not exist) all get the same 410 answer, so the answer tells nothing about a token. A weak
password is refused before the link is touched (400, the link stays valid). Setting the password takes the link's
hold first, so that of two requests with one token at most one succeeds; once the password is set the address the
link was sent to becomes the user's verified email, and the link is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portal_import.domain.activation import hash_token
from portal_import.domain.activation_page import GONE_SENTENCE, bad_request_page, done_page, form_page, gone_page
from portal_import.domain.passwords import PasswordRules
from portal_import.domain.people import Link, PoolAccount
from portal_import.errors import PasswordRefused
from portal_import.observability import logger, metrics
from portal_import.ports import Accounts, Links

NOT_PENDING = "the pool user is not waiting to activate"
OTHER_CONTACT = "the pool user is another Contact's"
_MISUSE = (NOT_PENDING, OTHER_CONTACT)


@dataclass(frozen=True)
class ActivationDeps:
    links: Links
    accounts: Accounts
    rules: PasswordRules
    portal_name: str
    clock: Callable[[], float] = field(default=time.time)


@dataclass(frozen=True)
class Answer:
    """One answer, as a page (for a browser) and as a JSON document (for a portal with its own page)."""

    status: int
    page: str
    document: dict[str, Any]


def gone(deps: ActivationDeps, why: str) -> Answer:
    if why in _MISUSE:
        # Not a person's stale link: a link naming a user it may not activate. Changes nothing; someone should look.
        logger.warning("Activation link refused for its pool user", extra={"reason": why})
        metrics.add_metric(name="ActivationLinksMisused", unit="Count", value=1)
    else:
        logger.info("Activation link not valid", extra={"reason": why})
    return Answer(410, gone_page(portal_name=deps.portal_name), {"error": "link-not-valid", "message": GONE_SENTENCE})


def bad_request(deps: ActivationDeps, sentence: str) -> Answer:
    return Answer(
        400,
        bad_request_page(portal_name=deps.portal_name, sentence=sentence),
        {"error": "bad-request", "message": sentence},
    )


def why_not_valid(link: Link | None, account: PoolAccount | None, now: float) -> str:
    """Why a link cannot be used now ("" when it can): for the log, never for the answer."""
    if link is None:
        return "unknown, replaced by a newer link, or used"
    if link.activated:
        return "used"
    if link.expires <= now:
        return "expired"
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


def _lookup(token: str, deps: ActivationDeps) -> tuple[Link | None, PoolAccount | None]:
    link = deps.links.find(hash_token(token)) if token else None
    account = deps.accounts.account(link.user_id) if link and link.user_id else None
    return link, account


def open_link(token: str, deps: ActivationDeps) -> Answer:
    """GET: the form while the link is valid. Opening it changes nothing (mail scanners open links too)."""
    link, account = _lookup(token, deps)
    why = why_not_valid(link, account, deps.clock())
    if why or link is None or account is None:
        return gone(deps, why)
    return _form(deps, account, token, status=200)


def _form(deps: ActivationDeps, account: PoolAccount, token: str, *, status: int, error: str = "") -> Answer:
    page = form_page(
        portal_name=deps.portal_name,
        first_name=account.first_name,
        username=account.username,
        token=token,
        rules=deps.rules.sentence(),
        min_length=deps.rules.min_length,
        error=error,
    )
    document = {"error": "password-refused", "message": error} if error else {"username": account.username}
    return Answer(status, page, document)


def refusal(password: str, confirm: str | None, rules: PasswordRules) -> str:
    """Why a new password is refused before the pool is asked ("" when it is not)."""
    if confirm is not None and confirm != password:
        return "The two passwords are not the same: type the same new password in both fields."
    if not rules.allows(password):
        return rules.refusal()
    return ""


def activate(token: str, password: str, confirm: str | None, deps: ActivationDeps) -> Answer:
    """POST: sets the password once, if the link is valid and the password follows the pool's rules."""
    if not token or not password:
        return bad_request(deps, "The request needs the link's token and a new password.")
    link, account = _lookup(token, deps)
    now = deps.clock()
    why = why_not_valid(link, account, now)
    if why or link is None or account is None:
        return gone(deps, why)
    refused = refusal(password, confirm, deps.rules)
    if refused:
        return _form(deps, account, token, status=400, error=refused)
    hold = deps.links.hold(link, hash_token(token), now)
    if hold is None:
        return gone(deps, "used, expired or held by another request meanwhile")
    try:
        deps.accounts.set_password(account.username, password)
    except PasswordRefused:
        deps.links.release(link, hold)
        return _form(deps, account, token, status=400, error=deps.rules.refusal())
    except Exception:
        deps.links.release(link, hold)  # the password was not set: the link stays valid for another try
        raise
    return _activated(link, account, hold, deps)


def _activated(link: Link, account: PoolAccount, hold: str, deps: ActivationDeps) -> Answer:
    if link.sent_to:
        deps.accounts.verify_email(account.username, link.sent_to)  # the link reached this address, and only it
    if not deps.links.mark_activated(link, hold, deps.clock()):
        # The hold ran out while the password was being set and another request took it: the password is set
        # all the same, and whichever request marks the link used counts the activation.
        logger.warning("Activation hold lost while the password was set")
    logger.info("Portal user activated", extra={"user_id": account.username})
    page = done_page(portal_name=deps.portal_name, username=account.username)
    return Answer(200, page, {"status": "activated", "username": account.username})
