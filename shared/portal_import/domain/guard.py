"""The reputation guard (docs/contracts.md §7): once enough of a job's emails have an outcome, a share of bounces
or complaints at its limit holds the job's remaining emails until an administrator resumes them.

The counts are of the job's emails (each email once, by its strongest outcome, as portal_import.domain.delivery
ranks them); a resume sets a base, so that the guard judges only outcomes after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal_import.domain.delivery import Recorded

# The job item's counters of its emails' outcomes, moved with each event that changes an email's strongest outcome.
OUTCOMES = "GuardOutcomes"  # emails that were delivered, bounced or complained about
BOUNCED = "GuardBounced"  # of those, bounced for good (SES will not deliver to the address)
COMPLAINED = "GuardComplained"
HEARD = "GuardHeard"  # emails with any outcome, a delay included: what the ramp counts as judged

# How long the ramp waits for the first emails' outcomes before it sends on without them (events slow or missing).
GATE_ESCAPE_SECONDS = 120.0


@dataclass(frozen=True)
class GuardSettings:
    minimum: int = 50  # GuardMinimumEmails
    max_bounce_percent: float = 4.0  # MaxBounceRatePercent
    max_complaint_percent: float = 0.08  # MaxComplaintRatePercent


@dataclass(frozen=True)
class Tally:
    """A job's guard counters since its last resume."""

    outcomes: int = 0
    bounced: int = 0
    complained: int = 0
    heard: int = 0

    def __sub__(self, base: Tally) -> Tally:
        return Tally(
            self.outcomes - base.outcomes,
            self.bounced - base.bounced,
            self.complained - base.complained,
            self.heard - base.heard,
        )


@dataclass(frozen=True)
class Hold:
    """Why a job's emails are held: its shares, in percent, against the limits."""

    tally: Tally
    bounce_percent: float
    complaint_percent: float
    reason: str


def _counts(recorded: Recorded) -> dict[str, int]:
    """What one email adds to the counters, by its strongest outcome so far."""
    return {
        OUTCOMES: int(recorded.rank >= 2),  # a soft bounce or better: SES is done trying, for now
        BOUNCED: int(recorded.state == "bounced" and recorded.permanent),
        COMPLAINED: int(recorded.state == "complained"),
        HEARD: int(recorded.rank >= 1),
    }


def guard_delta(before: Recorded, after: Recorded) -> dict[str, int]:
    """How the job's counters move when an email's record goes from `before` to `after` (another email's record
    before counts for nothing here: it stays counted as that email's)."""
    old = _counts(before) if before.attempt == after.attempt else dict.fromkeys(_counts(after), 0)
    new = _counts(after)
    return {name: new[name] - old[name] for name in new if new[name] != old[name]}


def judge(tally: Tally, settings: GuardSettings, *, left_to_send: bool) -> Hold | None:
    """A hold when at least `minimum` emails have an outcome and a share is at its limit, and something is left
    to send (holding nothing would only alarm)."""
    if not left_to_send or tally.outcomes < max(settings.minimum, 1):
        return None
    bounce = 100.0 * tally.bounced / tally.outcomes
    complaint = 100.0 * tally.complained / tally.outcomes
    reasons = []
    if bounce >= settings.max_bounce_percent:
        reasons.append(f"{bounce:.1f}% bounced (the limit is {settings.max_bounce_percent:g}%)")
    if complaint >= settings.max_complaint_percent:
        reasons.append(f"{complaint:.2f}% complained (the limit is {settings.max_complaint_percent:g}%)")
    if not reasons:
        return None
    return Hold(tally, bounce, complaint, f"of {tally.outcomes} emails with an outcome, " + " and ".join(reasons))


def ramp_allows(*, sent: int, heard: int, minimum: int, quiet_for: float | None) -> int:
    """How many more of a job's emails may go out now, so that the guard always judges a sample at least as large
    as what is still unjudged: at first `minimum`, then as many as have been heard from, less those not heard from
    yet (the emails sent ahead of their outcomes double with each round trip). `quiet_for`: seconds since the job's
    last email went out; once GATE_ESCAPE_SECONDS pass with the gate shut, the outcomes are taken to be slow or
    missing and as many again as were sent may go."""
    allowed = max(minimum, heard) - (sent - heard)
    if allowed <= 0 and quiet_for is not None and quiet_for >= GATE_ESCAPE_SECONDS:
        return max(minimum, sent)
    return max(0, allowed)
