"""The set-password page an activation link opens (docs/contracts.md §6), and the headers every answer carries.

The pages: the form (new password, twice, with the pool's rules shown before they are broken, and what the person
will sign in with), the page of a link that is no longer valid (offering a new link when the link expired or was
replaced), the page that says the password is set and what to sign in with, and the answers to a request for a new
link. Every value is HTML-escaped; the page loads nothing (its one style block is allowed by its hash) and posts
only to the page's own address.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from portal_import.domain.names import clean_name

_STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f5f7;color:#1d2329}"
    "main{max-width:26rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.15)}"
    "h1{font-size:1.4rem;margin-top:0}label{display:block;margin-top:1rem;font-weight:600}"
    "input[type=password]{box-sizing:border-box;width:100%;padding:.6rem;margin-top:.3rem;font-size:1rem;"
    "border:1px solid #767f88;border-radius:4px}"
    "button{margin-top:1.5rem;width:100%;padding:.7rem;font-size:1rem;font-weight:600;color:#fff;"
    "background:#0b5cad;border:0;border-radius:4px;cursor:pointer}"
    "button:focus,input:focus{outline:3px solid #f2a900;outline-offset:1px}"
    ".rules{color:#4a545e;font-size:.95rem}.error{color:#a4161a;font-weight:600}"
    ".username{font-family:ui-monospace,monospace;font-size:1.05rem;overflow-wrap:anywhere}"
    "a.action{display:block;margin-top:1.5rem;text-align:center;font-weight:600;color:#0b5cad}"
    "a:focus{outline:3px solid #f2a900;outline-offset:1px}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

# No script, no image, no font, no frame: the page's own style, and a form that posts back to the page only.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",  # the page holds the token; no cache keeps it
    "Pragma": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",  # the token is in the page's URL: no link sends it on
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}

HTML = "text/html; charset=utf-8"

GONE_SENTENCE = (
    "This link is no longer valid: it was used already, it expired, or a newer one was sent. "
    "Ask your administrator for a new one."
)
RENEWABLE_SENTENCE = "It expired, or a newer one was sent. We can email you a new link, to the address we have for you."
RENEW_QUEUED_SENTENCE = (
    "A new link is on its way to the email address we have for you. It usually arrives within a few minutes; "
    "check your spam folder too. Use the newest link: older ones no longer work."
)
STILL_VALID_SENTENCE = "This link still works: set your password with it. No new link was sent."
# Seconds a person is asked to wait when the pool is too busy to answer now (Retry-After).
BUSY_RETRY_SECONDS = 5
BUSY_SENTENCE = (
    "Many people are setting their password right now. Nothing was changed and your link still works: "
    f"try again in {BUSY_RETRY_SECONDS} seconds."
)


def too_soon_sentence(minutes: int) -> str:
    return (
        "A new link was sent to you less than 15 minutes ago: check your email, including its spam folder. "
        f"If it has not arrived, you can ask again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


@dataclass(frozen=True)
class SignIn:
    """What the person signs in with: their email address (the pool's sign-in alias), or their username, with the
    address when it is another account's sign-in already."""

    name: str
    by_address: bool = False
    taken_address: str = ""

    def sentence(self, portal_name: str, *, future: bool) -> str:
        """The sentence that says it, as HTML."""
        name = f'<span class="username">{escape(self.name)}</span>'
        what = f"your email address {name}" if self.by_address else f"the username {name}"
        if future:  # on the form, which names the portal already
            said = f"You will sign in with {what} and this password."
        else:
            said = f"Sign in to {escape(portal_name)} with {what} and your new password."
        if self.taken_address:
            said += (
                f" Your email address {escape(self.taken_address)} is already how another account signs in, "
                "so this one uses its username."
            )
        return said


def _page(portal_name: str, title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)} · {escape(portal_name)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def form_page(
    *,
    portal_name: str,
    first_name: str,
    sign_in: SignIn,
    token: str,
    rules: str,
    min_length: int,
    error: str = "",
) -> str:
    """The form: the user's name, what they will sign in with, the rules and two password fields. `error` (a
    refusal of the last try) is announced to screen readers and tied to the first field."""
    # Names are cleaned when a Contact is read, but a pool user written by an earlier version may hold anything.
    first_name = clean_name(first_name)
    greeting = f"Welcome, {escape(first_name)}" if first_name else "Welcome"
    described = "rules error" if error else "rules"
    alert = f'<p id="error" class="error" role="alert">{escape(error)}</p>\n' if error else ""
    field = (
        'type="password" autocomplete="new-password" required '
        f'minlength="{min_length}" maxlength="256" aria-describedby="{described}"'
    )
    body = (
        f"<h1>{greeting}</h1>\n"
        f"<p>Set a password for {escape(portal_name)}. {sign_in.sentence(portal_name, future=True)}</p>\n"
        f"{alert}"
        '<form method="post" action="activate">\n'
        f'<input type="hidden" name="token" value="{escape(token)}">\n'
        # For password managers: the account the new password belongs to, as it is signed in to.
        f'<input type="text" name="username" value="{escape(sign_in.name)}" autocomplete="username" hidden readonly>\n'
        f'<p id="rules" class="rules">{escape(rules)}</p>\n'
        f'<label for="password">New password</label>\n<input id="password" name="password" {field} autofocus>\n'
        f'<label for="confirm">New password again</label>\n<input id="confirm" name="confirm" {field}>\n'
        '<button type="submit">Set password</button>\n</form>\n'
    )
    return _page(portal_name, "Set your password", body)


def gone_page(*, portal_name: str, renew_token: str = "") -> str:
    """The page of a link that is no longer valid. With `renew_token` (a link that expired or was replaced, whose
    user may still activate), it offers a new link; otherwise (unknown, used, a user who activated or is disabled)
    it is the same page for each, so it tells nothing about the token."""
    if not renew_token:
        body = f"<h1>This link is no longer valid</h1>\n<p>{escape(GONE_SENTENCE)}</p>\n"
        return _page(portal_name, "Link no longer valid", body)
    body = (
        f"<h1>This link is no longer valid</h1>\n<p>{escape(RENEWABLE_SENTENCE)}</p>\n"
        '<form method="post" action="activate/renew">\n'
        f'<input type="hidden" name="token" value="{escape(renew_token)}">\n'
        '<button type="submit">Email me a new link</button>\n</form>\n'
    )
    return _page(portal_name, "Link no longer valid", body)


def done_page(*, portal_name: str, sign_in: SignIn, sign_in_url: str = "") -> str:
    """The password is set: what to sign in with, and where (the portal's sign-in page, when the stack knows it)."""
    go = f'<a class="action" href="{escape(sign_in_url)}">Go to sign in</a>\n' if sign_in_url else ""
    body = f'<h1 role="status">Your password is set</h1>\n<p>{sign_in.sentence(portal_name, future=False)}</p>\n{go}'
    return _page(portal_name, "Password set", body)


def renew_queued_page(*, portal_name: str) -> str:
    body = f'<h1 role="status">A new link is on its way</h1>\n<p>{escape(RENEW_QUEUED_SENTENCE)}</p>\n'
    return _page(portal_name, "New link on its way", body)


def too_soon_page(*, portal_name: str, minutes: int) -> str:
    body = f'<h1>A new link was sent already</h1>\n<p role="alert">{escape(too_soon_sentence(minutes))}</p>\n'
    return _page(portal_name, "New link sent already", body)


def still_valid_page(*, portal_name: str, token: str) -> str:
    """A request for a new link with a link that still works: back to the form. The link's own address, relative
    to this page's (…/activate/renew), is …/activate?token=…; the page holds the token already."""
    body = (
        f"<h1>This link still works</h1>\n<p>{escape(STILL_VALID_SENTENCE)}</p>\n"
        f'<a class="action" href="../activate?{escape(urlencode({"token": token}))}">Set your password</a>\n'
    )
    return _page(portal_name, "Link still works", body)


def busy_page(*, portal_name: str) -> str:
    """Cognito's quota for the page's calls is used up for the moment: try again shortly, nothing was changed."""
    body = f'<h1>Please try again in a moment</h1>\n<p role="alert">{escape(BUSY_SENTENCE)}</p>\n'
    return _page(portal_name, "Try again in a moment", body)


def bad_request_page(*, portal_name: str, sentence: str) -> str:
    """A request the page never sends (no token, no password): what is missing."""
    body = f'<h1>Something is missing</h1>\n<p class="error" role="alert">{escape(sentence)}</p>\n'
    return _page(portal_name, "Something is missing", body)
