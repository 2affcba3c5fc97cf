"""What recipients received: every email moto's SES accepted, rendered from its template as the recipient sees it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from moto.ses.models import ses_backends

# The stack's template uses plain {{name}} values (no blocks), which is all this renders.
_VALUE = re.compile(r"{{\s*([A-Za-z0-9_]+)\s*}}")


def sent_emails(account: str, region: str) -> list[bytes]:
    """The MIME of each accepted email, one per recipient, in the order they were sent."""
    return list(iter_sent_emails(account, region))


def iter_sent_emails(account: str, region: str) -> Iterator[bytes]:
    """Each accepted email as `sent_emails` gives it, one at a time (a large import sends a million).

    moto keeps a bulk templated send as the template's name and the values of each destination; the message a
    recipient got is the template rendered with the defaults overlaid by that recipient's values.
    """
    backend = ses_backends[account][region]
    for message in backend.sent_messages:
        if hasattr(message, "raw_data"):
            yield message.raw_data.encode()
        elif hasattr(message, "template"):
            template = backend.templates[message.template]
            defaults = json.loads(message.template_data or "{}")
            for destination in _destinations(message.destinations):
                values = {**defaults, **json.loads(destination.get("ReplacementTemplateData") or "{}")}
                for address in destination["Destination"].get("ToAddresses", []):
                    yield _render(template, values, sender=message.source, recipient=address)


def _render(template: Mapping[str, Any], values: Mapping[str, Any], *, sender: str, recipient: str) -> bytes:
    def fill(part: str) -> str:
        return _VALUE.sub(lambda match: str(values.get(match.group(1), "")), part or "")

    email = EmailMessage()
    email["From"] = sender
    email["To"] = recipient
    email["Date"] = formatdate(usegmt=True)
    email["Subject"] = fill(template["subject_part"])
    email.set_content(fill(template["text_part"]))
    email.add_alternative(fill(template["html_part"]), subtype="html")
    return email.as_bytes()


def _destinations(destinations: Any) -> list[dict[str, Any]]:
    # A single templated send keeps {"ToAddresses": [...]}; a bulk send keeps a list of destinations.
    if isinstance(destinations, dict):
        return [{"Destination": destinations}]
    return list(destinations)
