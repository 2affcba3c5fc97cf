"""Activation links and emails: a one-time random token (only its hash is stored) and the message itself."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from html import escape
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


@dataclass(frozen=True)
class ActivationEmail:
    portal_name: str
    portal_url: str
    sender: str
    recipient: str
    first_name: str
    token: str
    expires_at: str

    def to_mime(self) -> bytes:
        link = activation_link(self.portal_url, self.token)
        expires = _readable_expiry(self.expires_at)
        greeting = f"Hello {self.first_name}," if self.first_name else "Hello,"
        message = EmailMessage()
        message["Subject"] = f"Activate your {self.portal_name} account"
        message["From"] = formataddr((self.portal_name, self.sender))
        message["To"] = self.recipient
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(
            f"{greeting}\n\n"
            f"An account has been created for you on {self.portal_name}.\n"
            f"Set your password to sign in:\n\n{link}\n\n"
            f"This link can be used once and expires on {expires}.\n"
            "If you did not expect this email, you can ignore it.\n"
        )
        message.add_alternative(
            "<html><body>"
            f"<p>{escape(greeting)}</p>"
            f"<p>An account has been created for you on <strong>{escape(self.portal_name)}</strong>.</p>"
            f'<p><a href="{escape(link)}">Set your password</a></p>'
            f"<p>This link can be used once and expires on {escape(expires)}.</p>"
            "<p>If you did not expect this email, you can ignore it.</p>"
            "</body></html>",
            subtype="html",
        )
        return message.as_bytes()


def _readable_expiry(expires_at: str) -> str:
    moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    return moment.strftime("%d %B %Y at %H:%M UTC")
