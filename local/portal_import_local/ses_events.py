"""SES event publishing, which moto lacks: a bulk templated send through a configuration set schedules the events
SES's mailbox simulator would publish (portal_import_local.mailbox), and the runtime's pump publishes each once it
is due to the SNS topic of the set's event destination, as SES does.

moto's SendBulkTemplatedEmail ignores ConfigurationSetName, DefaultTags and ReplacementTags: it accepts an unknown
set and publishes nothing. Its response handler is wrapped here (a `Patch`, checked at install as moto_patches'
are): an unknown set is answered ConfigurationSetDoesNotExist, as SES answers it; otherwise moto sends, and each
MessageId it returns (one per destination, in the destinations' order, as SES promises) gets its destination's
events. Sends without a configuration set publish nothing, as on AWS.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.ses.exceptions import ConfigurationSetDoesNotExist
from moto.ses.models import SESBackend, ses_backends
from moto.ses.responses import EmailResponse

from portal_import_local.mailbox import SentMail, events_of

# moto_patches' own helpers for a patch's expectations, so that every patch says them alike.
from portal_import_local.moto_patches import Expectation, Patch, _code_has, _source, install_patches

_original_send_bulk_templated_email = EmailResponse.send_bulk_templated_email


@dataclass(frozen=True, order=True)
class ScheduledEvent:
    """One record SES publishes `due` (on the schedule's clock) to the event destination of `configuration_set`."""

    due: float
    sequence: int  # the order scheduled, among events due at the same moment
    account_id: str = field(compare=False)
    region: str = field(compare=False)
    configuration_set: str = field(compare=False)
    record: dict[str, Any] = field(compare=False)


class EventSchedule:
    """The events SES has yet to publish, earliest first; shared by the thread that sends (function code) and the
    one that pumps. `clock` (seconds, monotonic) is the tests' to replace, so that they need not wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.delay: Callable[[float], float] = lambda seconds: seconds  # the fault plan's jitter, once set
        self._lock = threading.Lock()
        self._events: list[ScheduledEvent] = []
        self._sequence = itertools.count()

    def add(self, mail: SentMail) -> None:
        now = self.clock()
        with self._lock:
            for after, record in events_of(mail, self.delay):
                event = ScheduledEvent(
                    now + after, next(self._sequence), mail.account_id, mail.region, mail.configuration_set, record
                )
                heapq.heappush(self._events, event)

    def take_due(self) -> list[ScheduledEvent]:
        """The events due by now, earliest first, taken off the schedule."""
        now = self.clock()
        with self._lock:
            due = []
            while self._events and self._events[0].due <= now:
                due.append(heapq.heappop(self._events))
            return due

    def seconds_to_next(self) -> float | None:
        """How long until the next event is due (0 when one is); None when nothing is scheduled."""
        with self._lock:
            return max(0.0, self._events[0].due - self.clock()) if self._events else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


SCHEDULE = EventSchedule()


def destination_topic(event: ScheduledEvent) -> str | None:
    """The SNS topic the event goes to: its set's event destination's, when that destination is enabled, publishes
    to SNS and matches the event's type (`deliveryDelay` or `DELIVERY_DELAY` alike); None otherwise (a set deleted
    since the send included)."""
    backend: SESBackend = ses_backends[event.account_id][event.region]
    destination = backend.config_set_event_destination.get(event.configuration_set)
    if event.configuration_set not in backend.config_sets or not destination:
        return None
    if str(destination.get("Enabled", False)).lower() != "true":
        return None
    matching = {_type_key(name) for name in destination.get("MatchingEventTypes", [])}
    topic = (destination.get("SNSDestination") or {}).get("TopicARN")
    return str(topic) if topic and _type_key(event.record["eventType"]) in matching else None


def _type_key(event_type: str) -> str:
    """An event type as the destination's MatchingEventTypes and the record's eventType both name it."""
    return event_type.replace("_", "").replace(" ", "").lower()


def _tags(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {tag["Name"]: tag["Value"] for tag in tags or []}


_RECIPIENT_FIELDS = ("ToAddresses", "CcAddresses", "BccAddresses")


def _send_bulk_templated_email(self: EmailResponse) -> ActionResult:
    configuration_set = self._get_param("ConfigurationSetName")
    if configuration_set and configuration_set not in self.backend.config_sets:
        raise ConfigurationSetDoesNotExist(f"Configuration set <{configuration_set}> does not exist.")
    answer = _original_send_bulk_templated_email(self)
    if configuration_set:
        sent_at = datetime.now(UTC)
        default_tags = _tags(self._get_param("DefaultTags"))
        destinations = self._get_param("Destinations", [])
        statuses: list[dict[str, str]] = answer.result["Status"]  # type: ignore[index]  # moto types it object
        for status, destination in zip(statuses, destinations, strict=True):
            recipients = destination.get("Destination", {})
            mail = SentMail(
                message_id=status["MessageId"],
                source=self._get_param("Source"),
                destination=tuple(address for part in _RECIPIENT_FIELDS for address in recipients.get(part, [])),
                sent_at=sent_at,
                account_id=self.current_account,
                region=self.region,
                configuration_set=configuration_set,
                tags=default_tags | _tags(destination.get("ReplacementTags")),  # a destination's own tag wins
            )
            SCHEDULE.add(mail)
    return answer


PATCH = Patch(
    "SendBulkTemplatedEmail publishes the mailbox simulator's events through its configuration set",
    EmailResponse,
    "send_bulk_templated_email",
    _send_bulk_templated_email,
    ("self",),
    "when moto's SES publishes configuration-set events itself (then every event would be published twice)",
    relies_on=(
        Expectation(
            "code that ignores ConfigurationSetName",
            lambda target: "code that reads it" if "ConfigurationSetName" in _source(target) else None,
        ),
        _code_has('"Status": [{"MessageId": msg_id}', "one MessageId per destination, in the destinations' order"),
        _code_has("self.config_sets", "the sets a send may name", lambda _: SESBackend.__init__),
        _code_has("self.config_set_event_destination", "each set's one destination", lambda _: SESBackend.__init__),
    ),
)


def install() -> None:
    install_patches([PATCH])
