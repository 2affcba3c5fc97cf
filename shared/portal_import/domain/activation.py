"""Activation links: a one-time random token (only its hash is stored) and the values the email template shows,
plain and escaped for its HTML part.

A token is `<ContactId>.<secret>`: the secret is 32 random bytes, and the Contact names the activation item that
keeps the hash of every link the Contact's user was sent, so that a link replaced by a newer one is still known as
that user's (it may ask for a new link, docs/contracts.md §6) while only the newest sets a password. The Contact ID
is the person's own and proves nothing: only the whole token's hash, stored, does (the secret makes the token
unguessable). Links sent before the Contact was part of the token are plain secrets, found by their hash alone.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from portal_import.domain.ids import CONTACT_ID_LENGTH

# A user may ask for a new link themselves at most once in this long (docs/contracts.md §6).
RENEWAL_SECONDS = 15 * 60


@dataclass(frozen=True)
class ActivationToken:
    token: str  # goes only into the email
    token_hash: str  # goes onto the user
    expires_at: str


def new_token(ttl_hours: float, contact_id: str, now: datetime | None = None) -> ActivationToken:
    token = f"{contact_id}.{secrets.token_urlsafe(32)}"
    expires = (now or datetime.now(UTC)) + timedelta(hours=ttl_hours)
    return ActivationToken(
        token=token,
        token_hash=hash_token(token),
        expires_at=expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def contact_of_token(token: str) -> str:
    """The Contact a token names ("" for a link sent before tokens named it, or for anything else)."""
    contact_id, dot, secret = token.partition(".")
    ours = len(contact_id) == CONTACT_ID_LENGTH and contact_id.isascii() and contact_id.isalnum()
    return contact_id if dot and secret and ours else ""


def new_user_id() -> str:
    """A 19-character portal user ID in the directory's style (005 prefix)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "005" + "".join(secrets.choice(alphabet) for _ in range(12)) + "0001"


def activation_link(portal_url: str, token: str) -> str:
    return f"{portal_url.rstrip('/')}/activate?{urlencode({'token': token})}"


def activation_values(*, portal_url: str, first_name: str, token: str, expires_at: str) -> dict[str, str]:
    """One recipient's values for the stack's activation email template (ActivationEmailTemplate in template.yaml):
    each as the subject and text part show it, and escaped for the HTML part under the same name + "Html"."""
    return _with_html(
        {
            "greeting": f"Hello {first_name}," if first_name else "Hello,",
            "link": activation_link(portal_url, token),
            "expires": _readable_expiry(expires_at),
        }
    )


def activation_defaults(*, portal_name: str) -> dict[str, str]:
    """The activation email template's values that are the same for every recipient, plain and escaped."""
    return _with_html({"portalName": portal_name})


# Handlebars' escape for {{value}}, the engine SES's templates are written in. The template inserts every value
# raw ({{{value}}}) whether or not SES escapes (its guide says it does not), so the HTML part gets these instead.
_HTML_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "`": "&#x60;", "=": "&#x3D;"}
)


def html_escape(text: str) -> str:
    """The text as Handlebars escapes a {{value}}: safe in an HTML element or a quoted attribute, shown as written."""
    return text.translate(_HTML_ESCAPES)


def _with_html(values: dict[str, str]) -> dict[str, str]:
    return {**values, **{f"{name}Html": html_escape(value) for name, value in values.items()}}


def _readable_expiry(expires_at: str) -> str:
    moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    return moment.strftime("%d %B %Y at %H:%M UTC")
