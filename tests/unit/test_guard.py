"""The reputation guard's judgement and its ramp, as numbers (docs/contracts.md §7)."""

from __future__ import annotations

import pytest

from portal_import.domain.guard import GATE_ESCAPE_SECONDS, GuardSettings, Tally, judge, ramp_allows
from portal_import.domain.notification import compose_emails_held

DEFAULTS = GuardSettings()  # 50 emails, 4 % bounced, 0.08 % complained


def test_nothing_is_judged_before_the_minimum_of_outcomes() -> None:
    assert judge(Tally(outcomes=49, bounced=49), DEFAULTS, left_to_send=True) is None


@pytest.mark.parametrize(
    ("tally", "held"),
    [
        (Tally(outcomes=50, bounced=1), False),  # 2 %
        (Tally(outcomes=50, bounced=2), True),  # 4 %: at the limit holds
        (Tally(outcomes=1250, complained=1), True),  # 0.08 %
        (Tally(outcomes=1251, complained=1), False),
    ],
)
def test_a_share_at_its_limit_holds(tally: Tally, held: bool) -> None:
    assert (judge(tally, DEFAULTS, left_to_send=True) is not None) is held


def test_nothing_is_held_when_nothing_is_left_to_send() -> None:
    assert judge(Tally(outcomes=50, bounced=50), DEFAULTS, left_to_send=False) is None


def test_after_a_resume_only_the_outcomes_since_count() -> None:
    at_resume = Tally(outcomes=50, bounced=10, heard=50)
    since = Tally(outcomes=99, bounced=11, heard=99) - at_resume
    assert judge(since, DEFAULTS, left_to_send=True) is None  # 49 since: not yet judged
    hold = judge(Tally(outcomes=100, bounced=12, heard=100) - at_resume, DEFAULTS, left_to_send=True)
    assert hold is not None and hold.reason == "of 50 emails with an outcome, 4.0% bounced (the limit is 4%)"


def test_the_ramp_never_lets_more_emails_out_than_have_been_judged() -> None:
    # at first: the minimum
    assert ramp_allows(sent=0, heard=0, minimum=50, quiet_for=None) == 50
    # the minimum out, none heard: wait
    assert ramp_allows(sent=50, heard=0, minimum=50, quiet_for=5.0) == 0
    # all heard: as many again; then the allowance doubles with each round trip
    assert ramp_allows(sent=50, heard=50, minimum=50, quiet_for=5.0) == 50
    assert ramp_allows(sent=100, heard=100, minimum=50, quiet_for=5.0) == 100
    assert ramp_allows(sent=200, heard=150, minimum=50, quiet_for=5.0) == 100
    # and when nothing is heard for GATE_ESCAPE_SECONDS, as many again as were sent go anyway
    assert ramp_allows(sent=200, heard=0, minimum=50, quiet_for=GATE_ESCAPE_SECONDS) == 200


def test_the_emails_held_notice_says_why_and_what_to_do() -> None:
    subject, message = compose_emails_held(
        job_id="J", source_key="imports/old-crm.csv", reason="of 50 emails with an outcome, 8.0% bounced"
    )
    assert subject == "Activation emails held: old-crm.csv - too many bounces or complaints"
    assert "nothing is lost" in message and "of 50 emails with an outcome, 8.0% bounced" in message
    assert "`portal-import users J`" in message and "`portal-import resume-emails J`" in message
