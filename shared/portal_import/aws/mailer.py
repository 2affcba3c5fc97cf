"""Sending activation emails through SES: the stack's email template, up to 50 recipients a call."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.clients import client
from portal_import.errors import SendRefused
from portal_import.ports import MAX_DESTINATIONS, Destination


class Mailer:
    def __init__(self) -> None:
        self._ses = client("ses")

    def daily_quota(self) -> int:
        """The account's SES sending quota for 24 hours."""
        return int(self._ses.get_send_quota()["Max24HourSend"])

    def send_bulk(
        self,
        *,
        sender: str,
        template: str,
        defaults: Mapping[str, str],
        destinations: Sequence[Destination],
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Sends the template to each destination; returns SES's status for each, in order ('Success' or why not).
        With a configuration set, its events carry `tags` and each destination's own tags.

        Raises Transient when the call failed for a passing reason (throttled, SES unavailable), SendRefused when
        SES refused it as a whole for a reason sending again would not change."""
        if len(destinations) > MAX_DESTINATIONS:
            raise ValueError(f"SES takes at most {MAX_DESTINATIONS} destinations a call, not {len(destinations)}")
        # Not retried here: the sender retries a throttled send on its own schedule (it holds rate-limited slots).
        tagged = (
            {"ConfigurationSetName": configuration_set, "DefaultTags": _tags(tags or {})} if configuration_set else {}
        )
        try:
            response = self._ses.once.send_bulk_templated_email(
                Source=sender,
                Template=template,
                DefaultTemplateData=json.dumps(defaults),
                Destinations=[_destination(d) for d in destinations],
                **tagged,
            )
        except ClientError as error:
            raise SendRefused(str(error)) from error
        return [_status(entry) for entry in response.get("Status", [])]


def _destination(destination: Destination) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Destination": {"ToAddresses": [destination.address]},
        "ReplacementTemplateData": json.dumps(destination.data),
    }
    if destination.tags:
        entry["ReplacementTags"] = _tags(destination.tags)
    return entry


def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in tags.items()]


def _status(entry: Mapping[str, str]) -> str:
    # SES names every destination's status; an emulator may only give accepted ones their message id.
    return entry.get("Status") or ("Success" if entry.get("MessageId") else "Failed")
