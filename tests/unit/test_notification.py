"""The results-ready message is written for a person: counts, failures by reason with what to do, the links and
until when they work, and what to do about users without an email address."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from portal_import.domain.notification import compose

SUMMARY: dict[str, Any] = {
    "jobId": "20261125T101500Z-abc",
    "sourceKey": "imports/partners.csv",
    "status": "COMPLETED",
    "error": None,
    "mode": "import",
    "totalRows": 40,
    "succeeded": 28,
    "failed": 12,
    "sendActivationEmail": True,
    "emailsQueued": 21,
}
LINKS = {f"{n}{k}": f"{k.lower()}-{n}" for n in ("successKey", "failureKey", "summaryKey") for k in ("Uri", "Url")}


def test_the_message_gives_counts_reasons_next_steps_and_links_with_their_expiry() -> None:
    errors = Counter({"Contact not found": 3, "Missing Contact ID": 4, "User already exists": 2})
    subject, message = compose(
        SUMMARY,
        errors,
        LINKS,
        604800,
        no_valid_email=7,
        links_expire_at=datetime(2026, 12, 2, 10, 16, tzinfo=UTC),
    )
    assert subject == "Portal user import completed: partners.csv - 28 created, 12 failed"
    assert "Rows: 40\nUsers created: 28\nFailed rows: 12\nActivation emails queued: 21" in message
    # failures by reason, most frequent first, each with what to do
    reasons = [line.strip() for line in message.splitlines() if line.startswith("  ") and " - " in line]
    assert [r.split(":")[0] for r in reasons[:3]] == ["Missing Contact ID", "Contact not found", "User already exists"]
    assert "19-character Contact ID" in message and "no action is needed" in message
    assert "upload it to imports/ as it is" in message
    # users created without a usable address: no email, and what to do
    assert "Users without a valid email address: 7" in message
    # both files (and the summary) as URIs and links, with the moment the links stop working
    for key in ("successKey", "failureKey", "summaryKey"):
        assert LINKS[key + "Uri"] in message and LINKS[key + "Url"] in message
    assert "the links work until 02 December 2026 at 10:16 UTC at the latest" in message
    assert "portal-import results 20261125T101500Z-abc" in message


def test_a_validation_says_would_be_created_and_no_email() -> None:
    subject, message = compose({**SUMMARY, "mode": "validate"}, Counter(), LINKS, 3600, no_valid_email=7)
    assert subject == "Portal user import validated: partners.csv - 28 would be created, 12 failed"
    assert "Activation emails" not in message and "valid email" not in message
