"""What recipients received: every email moto's SES accepted, rendered from its template as the recipient sees it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from email.header import Header
from email.utils import formatdate
from pathlib import Path
from typing import Any

from moto.ses.models import ses_backends

from portal_import.domain.activation import html_escape

# Plain values as Handlebars renders them, the engine SES names: {{{name}}} (or {{&name}}) raw, {{name}} escaped
# with Handlebars' table, a missing value empty. The stack's template uses no blocks, so neither does this.
_VALUE = re.compile(r"{{{\s*(?P<raw>[A-Za-z0-9_]+)\s*}}}|{{\s*(?P<amp>&)?\s*(?P<name>[A-Za-z0-9_]+)\s*}}")


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._@-]+")


def write_outbox(directory: Path, emails: Iterable[bytes], *, first: int = 1) -> int:
    """Writes each email as directory/NNNNN-<recipient>.eml, numbered from `first`; returns how many."""
    written = 0
    for number, raw in enumerate(emails, start=first):
        (directory / f"{number:05d}-{_SAFE_NAME.sub('_', _recipient(raw))}.eml").write_bytes(raw)
        written += 1
    return written


def _recipient(raw: bytes) -> str:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"to:"):
            return line[3:].strip().decode("utf-8", "replace")
    return "unknown"


def sent_emails(account: str, region: str) -> list[bytes]:
    """The MIME of each accepted email, one per recipient, in the order they were sent."""
    return list(iter_sent_emails(account, region))


def sent_message_count(account: str, region: str) -> int:
    """How many sends SES accepted so far (a bulk send is one, whatever its recipients)."""
    return len(ses_backends[account][region].sent_messages)


def iter_sent_emails(account: str, region: str, *, first_message: int = 0) -> Iterator[bytes]:
    """Each accepted email as `sent_emails` gives it, one at a time (a large import sends a million).

    moto keeps a bulk templated send as the template's name and the values of each destination; the message a
    recipient got is the template rendered with the defaults overlaid by that recipient's values. The sends
    before `first_message` are left out, unrendered.
    """
    backend = ses_backends[account][region]
    for message in backend.sent_messages[first_message:]:
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
    """The MIME of one email, written out directly: a million-row import renders a million of them."""

    def fill(part: str) -> str:
        return _VALUE.sub(lambda match: _value(match, values), part or "")

    boundary = f"=_portal_import_{abs(hash((recipient, values.get('link')))):x}"
    subject = fill(template["subject_part"])
    if not subject.isascii():
        subject = Header(subject, "utf-8").encode()
    text, html = fill(template["text_part"]), fill(template["html_part"])
    return (
        f"From: {sender}\r\nTo: {recipient}\r\nDate: {formatdate(usegmt=True)}\r\nSubject: {subject}\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{text}\r\n"
        f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{html}\r\n--{boundary}--\r\n"
    ).encode()


def _value(match: re.Match[str], values: Mapping[str, Any]) -> str:
    if match["raw"]:
        return _text(values.get(match["raw"]))
    text = _text(values.get(match["name"]))
    return text if match["amp"] else html_escape(text)


def _text(value: Any) -> str:
    """A template value as JavaScript writes it out: nothing for a missing or null one, true/false for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _destinations(destinations: Any) -> list[dict[str, Any]]:
    # A single templated send keeps {"ToAddresses": [...]}; a bulk send keeps a list of destinations.
    if isinstance(destinations, dict):
        return [{"Destination": destinations}]
    return list(destinations)
