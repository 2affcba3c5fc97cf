"""Sending one composed MIME email through SES."""

from __future__ import annotations

from portal_import.aws.clients import client


class Mailer:
    def __init__(self) -> None:
        self._ses = client("sesv2")
        self._ses_v1 = client("ses")

    def daily_quota(self) -> int:
        """The account's SES sending quota for 24 hours."""
        return int(self._ses_v1.get_send_quota()["Max24HourSend"])

    def send_raw(self, *, sender: str, recipient: str, mime: bytes) -> str:
        response = self._ses.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [recipient]},
            Content={"Raw": {"Data": mime}},
        )
        return str(response.get("MessageId", ""))
