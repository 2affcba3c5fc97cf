"""SES's mailbox simulator, as the local runtime plays it: which events SES publishes for a message, when, and in the
shape it publishes them to SNS through a configuration set's event destination.

Only addresses at simulator.amazonses.com are special (the local part before any `+label`, in any letter case):
success@ and ooto@ are delivered (ooto's automatic reply goes to the sender, which publishes nothing more),
complaint@ is delivered then complained about, bounce@ bounces permanently (550 5.1.1 user unknown), and
suppressionlist@ bounces as an address on the global suppression list (Permanent/Suppressed). Every other address,
at any domain, is delivered: nothing is actually sent anywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

SIMULATOR_DOMAIN = "simulator.amazonses.com"

# How long after the send each event comes, in seconds ("a few seconds", as on AWS). A complaint's delay overlaps a
# delivery's once jittered by half either way (faults.FaultPlan.event_delay), so it may come first, as AWS allows.
SEND_DELAY = 0.1
DELIVERY_DELAY = 1.0
BOUNCE_DELAY = 1.5
COMPLAINT_DELAY = 2.0

SUCCESS = "success"
BOUNCE = "bounce"
OOTO = "ooto"
COMPLAINT = "complaint"
SUPPRESSION_LIST = "suppressionlist"

_REPORTING_MTA = "a8-70.smtp-out.amazonses.com"
_SMTP_OK = "250 2.6.0 Message received"
_USER_UNKNOWN = "smtp; 550 5.1.1 user unknown"
# What SES says of an address on its global suppression list.
_SUPPRESSED = (
    "Amazon SES has suppressed sending to this address because it has a recent history of bouncing as an invalid "
    "address. For more information about how to remove an address from the suppression list, see the Amazon SES "
    "Developer Guide: http://docs.aws.amazon.com/ses/latest/DeveloperGuide/remove-from-suppressionlist.html "
)

Event = tuple[float, dict[str, Any]]  # (seconds after the send, the record SES publishes)


def _unchanged(delay: float) -> float:
    return delay


@dataclass(frozen=True)
class SentMail:
    """One message SES accepted through a configuration set: what its events' `mail` object says."""

    message_id: str
    source: str
    destination: tuple[str, ...]  # every recipient of the message (To, Cc, Bcc)
    sent_at: datetime  # aware, UTC
    account_id: str
    region: str
    configuration_set: str
    tags: Mapping[str, str] = field(default_factory=dict)  # the call's DefaultTags, then the destination's own
    caller_identity: str = "root"
    source_ip: str = "127.0.0.1"


def simulated(address: str) -> str:
    """What the simulator does with mail to `address`: SUCCESS, BOUNCE, OOTO, COMPLAINT or SUPPRESSION_LIST (any
    address outside the simulator is SUCCESS)."""
    _, bare = parseaddr(address)
    local, _, domain = (bare or address).rpartition("@")
    if domain.lower() != SIMULATOR_DOMAIN:
        return SUCCESS
    mailbox = local.split("+", 1)[0].lower()
    return mailbox if mailbox in (BOUNCE, OOTO, COMPLAINT, SUPPRESSION_LIST) else SUCCESS


def events_of(mail: SentMail, delay: Callable[[float], float] = _unchanged) -> list[Event]:
    """Every event SES publishes for `mail`: one Send, then each recipient's outcome. `delay` may stretch each
    event's delay (the fault plan's jitter); the records' timestamps follow it."""
    events = [_event(mail, "Send", delay(SEND_DELAY), lambda _: {})]
    for recipient in mail.destination:
        events += _outcome(mail, recipient, delay)
    return events


def _outcome(mail: SentMail, recipient: str, delay: Callable[[float], float]) -> list[Event]:
    kind = simulated(recipient)
    if kind == BOUNCE:
        return [_event(mail, "Bounce", delay(BOUNCE_DELAY), lambda at: _bounce(mail, recipient, at, "General"))]
    if kind == SUPPRESSION_LIST:
        return [_event(mail, "Bounce", delay(BOUNCE_DELAY), lambda at: _bounce(mail, recipient, at, "Suppressed"))]
    delivered = delay(DELIVERY_DELAY)
    events = [_event(mail, "Delivery", delivered, lambda at: _delivery(recipient, at, delivered))]
    if kind == COMPLAINT:
        events.append(_event(mail, "Complaint", delay(COMPLAINT_DELAY), lambda at: _complaint(mail, recipient, at)))
    return events


def _event(mail: SentMail, event_type: str, after: float, detail: Callable[[datetime], dict[str, Any]]) -> Event:
    at = mail.sent_at + timedelta(seconds=after)
    key = "send" if event_type == "Send" else event_type[0].lower() + event_type[1:]
    return after, {"eventType": event_type, "mail": mail_object(mail, sent=event_type != "Send"), key: detail(at)}


def mail_object(mail: SentMail, *, sent: bool = True) -> dict[str, Any]:
    """The `mail` object of every event of `mail` (`sent`: left SES, so it has the outgoing IP's tag)."""
    _, address = parseaddr(mail.source)
    tags: dict[str, list[str]] = {
        "ses:configuration-set": [mail.configuration_set],
        "ses:source-ip": [mail.source_ip],
        "ses:from-domain": [address.rpartition("@")[2]],
        "ses:caller-identity": [mail.caller_identity],
    }
    if sent:
        tags["ses:outgoing-ip"] = ["127.0.0.1"]
    tags |= {name: [value] for name, value in mail.tags.items()}
    return {
        "timestamp": _iso(mail.sent_at),
        "source": mail.source,
        "sourceArn": f"arn:aws:ses:{mail.region}:{mail.account_id}:identity/{address}",
        "sendingAccountId": mail.account_id,
        "messageId": mail.message_id,
        "destination": list(mail.destination),
        "headersTruncated": False,
        "headers": [{"name": "From", "value": mail.source}, {"name": "To", "value": ", ".join(mail.destination)}],
        "commonHeaders": {"from": [mail.source], "to": list(mail.destination), "messageId": mail.message_id},
        "tags": tags,
    }


def _delivery(recipient: str, at: datetime, after: float) -> dict[str, Any]:
    return {
        "timestamp": _iso(at),
        "processingTimeMillis": round(after * 1000),
        "recipients": [recipient],
        "smtpResponse": _SMTP_OK,
        "reportingMTA": _REPORTING_MTA,
        "remoteMtaIp": "127.0.0.1",
    }


def _bounce(mail: SentMail, recipient: str, at: datetime, subtype: str) -> dict[str, Any]:
    suppressed = subtype == "Suppressed"
    return {
        "bounceType": "Permanent",
        "bounceSubType": subtype,
        "bouncedRecipients": [
            {
                "emailAddress": recipient,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": _SUPPRESSED if suppressed else _USER_UNKNOWN,
            }
        ],
        "timestamp": _iso(at),
        "feedbackId": _feedback_id(mail, recipient, "bounce"),
        "reportingMTA": "dns; amazonses.com" if suppressed else f"dsn; {_REPORTING_MTA}",
    }


def _complaint(mail: SentMail, recipient: str, at: datetime) -> dict[str, Any]:
    return {
        "complainedRecipients": [{"emailAddress": recipient}],
        "timestamp": _iso(at),
        "feedbackId": _feedback_id(mail, recipient, "complaint"),
        "complaintSubType": None,
        "userAgent": "Amazon SES Mailbox Simulator",
        "complaintFeedbackType": "abuse",
        "arrivalDate": _iso(at),
    }


def _feedback_id(mail: SentMail, recipient: str, kind: str) -> str:
    digest = hashlib.sha256(f"{mail.message_id}/{recipient}/{kind}".encode()).hexdigest()
    return f"{digest[:16]}-{digest[16:24]}-{digest[24:28]}-{digest[28:32]}-{digest[32:36]}-{digest[36:48]}-000000"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
