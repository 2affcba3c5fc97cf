"""Moments as the pipeline records them: ISO 8601 in UTC, to the millisecond, with a Z."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def epoch_of(moment: str) -> float:
    """The epoch seconds of a moment written as ISO 8601 (a Z for UTC allowed)."""
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
