"""Activation links: a one-time random token (only its hash is stored) and the values the email template shows."""

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
    """One recipient's values for the stack's activation email template (ActivationEmailTemplate in template.yaml)."""
    return {
        "greeting": f"Hello {first_name}," if first_name else "Hello,",
        "link": activation_link(portal_url, token),
        "expires": _readable_expiry(expires_at),
    }


def _readable_expiry(expires_at: str) -> str:
    moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    return moment.strftime("%d %B %Y at %H:%M UTC")
