"""Sending one composed MIME email through SES."""

from __future__ import annotations

from portal_import.aws.clients import client


class Mailer:
    def __init__(self) -> None:
        self._ses = client("sesv2")

    def send_raw(self, *, sender: str, recipient: str, mime: bytes) -> str:
        response = self._ses.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [recipient]},
            Content={"Raw": {"Data": mime}},
        )
        return str(response.get("MessageId", ""))
