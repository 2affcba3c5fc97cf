"""Activation links: a one-time random token (only its hash is stored) and the values the email template shows,
plain and escaped for its HTML part."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode


@dataclass(frozen=True)
class ActivationToken:
    token: str  # goes only into the email
    token_hash: str  # goes onto the user
    expires_at: str


def new_token(ttl_hours: int, now: datetime | None = None) -> ActivationToken:
    token = secrets.token_urlsafe(32)
    expires = (now or datetime.now(UTC)) + timedelta(hours=ttl_hours)
    return ActivationToken(
        token=token,
        token_hash=hash_token(token),
        expires_at=expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
