"""What recipients received: every email moto's SES accepted, rendered from its template as the recipient sees it."""

from __future__ import annotations

import json
from typing import Any

from moto.ses.models import ses_backends


def sent_emails(account: str, region: str) -> list[bytes]:
    """The MIME of each accepted email, one per recipient, in the order they were sent.

    moto keeps a bulk templated send as the template's name and the values of each destination; the message a
    recipient got is the template rendered with the defaults overlaid by that recipient's values.
    """
    backend = ses_backends[account][region]
    emails: list[bytes] = []
    for message in backend.sent_messages:
        if hasattr(message, "raw_data"):
            emails.append(message.raw_data.encode())
        elif hasattr(message, "template"):
            defaults = json.loads(message.template_data or "{}")
            for destination in _destinations(message.destinations):
                values = {**defaults, **json.loads(destination.get("ReplacementTemplateData") or "{}")}
                rendered = backend.render_template({"name": message.template, "data": json.dumps(values)})
                for address in destination["Destination"].get("ToAddresses", []):
                    emails.append(f"From: {message.source}\r\nTo: {address}\r\n{rendered}".encode())
    return emails


def _destinations(destinations: Any) -> list[dict[str, Any]]:
    # A single templated send keeps {"ToAddresses": [...]}; a bulk send keeps a list of destinations.
    if isinstance(destinations, dict):
        return [{"Destination": destinations}]
    return list(destinations)
