"""`portal-import doctor` judges what the account and the stack answered: on a healthy account every check holds
(exit 0); each way a real account goes wrong fails exactly the check about it (exit 1), saying what to do; a read
the caller is not allowed fails its check with what to attach, not a traceback. `submit --send-activation-email`
warns of the sandbox, and of nothing it cannot read."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from portal_import_cli import commands, inspection
from portal_import_cli.deployment import Deployment
from portal_import_cli.doctor import Answers, Unreadable
from portal_import_cli.main import main

TOPIC = "arn:aws:sns:eu-west-1:123456789012:portal-DeliveryEventsTopic"
ALARMS = "arn:aws:sns:eu-west-1:123456789012:portal-AlarmTopic"
EVENTS = ["SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "DELIVERY_DELAY"]
NAMES = [
    "sender-identity",
    "production-access",
    "sending-enabled",
    "daily-quota",
    "send-rate",
    "configuration-set",
    "event-destination",
    "alarm-subscription",
    "user-pool",
    "role-groups",
]


def _account(**changes: Any) -> dict[str, Any]:
    quota = {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 1200.0, **changes.pop("quota", {})}
    return {
        "ProductionAccessEnabled": True,
        "SendingEnabled": True,
        "EnforcementStatus": "HEALTHY",
        "SendQuota": quota,
        **changes,
    }


def _destination(**changes: Any) -> dict[str, Any]:
    destination = {
        "Name": "delivery",
        "Enabled": True,
        "MatchingEventTypes": EVENTS,
        "SnsDestination": {"TopicArn": TOPIC},
    }
    return {**destination, **changes}


DOMAIN = {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": True, "DkimAttributes": {"Status": "SUCCESS"}}
CONFIGURATION_SET = {"DeliveryOptions": {"TlsPolicy": "REQUIRE"}, "SendingOptions": {"SendingEnabled": True}}


HEALTHY = Answers(
    sender="no-reply@portal.example.com",
    address_identity=None,  # the stack's identity is the domain's
    domain_identity=DOMAIN,
    account=_account(),
    reputation={"bounce": 0.012, "complaint": 0.0002},
    email_rate=10.0,
    configuration_set_name="portal-activation",
    configuration_set=CONFIGURATION_SET,
    event_destinations=[_destination()],
    delivery_topic=TOPIC,
    alarm_topic=ALARMS,
    subscriptions=[{"SubscriptionArn": ALARMS + ":1f2e", "Protocol": "email"}],
    user_pool_id="eu-west-1_Portal01",
    user_pool={"Id": "eu-west-1_Portal01", "Name": "portal-portal-users"},
    roles={"Partner User": True, "Partner Admin": True, "Retired": False},
    groups={"Partner User", "Partner Admin"},
)


def _doctor(answers: Answers, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """`portal-import doctor --json` on a stack that answers `answers`: (exit status, the JSON document)."""
    monkeypatch.setattr(inspection, "answers", lambda deployment: answers)
    status = main(["doctor", "--stack", "portal", "--region", "eu-west-1", "--json"])
    return status, json.loads(capsys.readouterr().out)


def _failing(document: dict[str, Any]) -> list[str]:
    return [check["name"] for check in document["checks"] if not check["ok"]]


def _detail(document: dict[str, Any], name: str) -> str:
    (detail,) = [check["detail"] for check in document["checks"] if check["name"] == name]
    return str(detail)


def test_a_healthy_account_and_stack_pass_every_check_in_order(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, document = _doctor(HEALTHY, monkeypatch, capsys)
    assert status == 0
    # The JSON is exactly {"checks": [{"name", "ok", "detail"}...], "ok"}
    assert set(document) == {"checks", "ok"} and document["ok"] is True
    assert [check["name"] for check in document["checks"]] == NAMES
    assert all(set(check) == {"name", "ok", "detail"} and check["ok"] is True for check in document["checks"])
    assert _detail(document, "sending-enabled") == (
        "sending is enabled (HEALTHY; bounce rate 1.2 % (SES reviews at 5 %), complaint rate 0.02 % (SES reviews "
        "at 0.1 %))"
    )
    assert _detail(document, "daily-quota") == "48,800 of 50,000 emails left in the last 24 hours"


_SCENARIOS: dict[str, tuple[dict[str, Any], str, str]] = {
    # scenario: (what differs from HEALTHY, the one check that fails, what its detail says)
    "sandbox": (
        {"account": _account(ProductionAccessEnabled=False)},
        "production-access",
        "in the sandbox: at most 200 emails in 24 hours, 1 a second, and only to verified addresses",
    ),
    "unverified address": (
        {
            "address_identity": {"IdentityType": "EMAIL_ADDRESS", "VerifiedForSendingStatus": False},
            "domain_identity": None,
        },
        "sender-identity",
        "no-reply@portal.example.com is not verified for sending: open the verification email",
    ),
    "DKIM pending domain": (
        {"domain_identity": {**DOMAIN, "DkimAttributes": {"Status": "PENDING"}}},
        "sender-identity",
        "DKIM of portal.example.com is PENDING: publish its three DKIM CNAME records",
    ),
    "no identity": ({"domain_identity": None}, "sender-identity", "neither no-reply@portal.example.com nor"),
    "PROBATION": (
        {"account": _account(EnforcementStatus="PROBATION")},
        "sending-enabled",
        "under review (PROBATION; bounce rate 1.2 %",
    ),
    "SHUTDOWN": (
        {"account": _account(EnforcementStatus="SHUTDOWN", SendingEnabled=False), "reputation": {}},
        "sending-enabled",
        "SES paused the account's sending (SHUTDOWN; no reputation data yet)",
    ),
    "sending disabled": (
        {"account": _account(SendingEnabled=False)},
        "sending-enabled",
        "sending is disabled for the account",
    ),
    "quota spent": (
        {"account": _account(quota={"SentLast24Hours": 50000.0})},
        "daily-quota",
        "the 24-hour quota of 50,000 emails is spent",
    ),
    "rate above max": (
        {"email_rate": 20.0},
        "send-rate",
        "EmailRatePerSecond is 20, above SES's maximum send rate of 14 a second: lower EmailRatePerSecond or "
        "request a higher sending rate",
    ),
    "TLS OPTIONAL": (
        {"configuration_set": {"DeliveryOptions": {"TlsPolicy": "OPTIONAL"}}},
        "configuration-set",
        "without requiring TLS (TlsPolicy OPTIONAL)",
    ),
    "set sending off": (
        {"configuration_set": {**CONFIGURATION_SET, "SendingOptions": {"SendingEnabled": False}}},
        "configuration-set",
        "sending through configuration set portal-activation is disabled",
    ),
    "destination missing a type": (
        {"event_destinations": [_destination(MatchingEventTypes=EVENTS[:-1])]},
        "event-destination",
        "event destination delivery misses DELIVERY_DELAY",
    ),
    "destination to another topic": (
        {"event_destinations": [_destination(SnsDestination={"TopicArn": ALARMS})]},
        "event-destination",
        f"no event destination publishes to the stack's DeliveryEventsTopic ({TOPIC})",
    ),
    "destination disabled": (
        {"event_destinations": [_destination(Enabled=False)]},
        "event-destination",
        "event destination delivery is disabled",
    ),
    "pending subscription": (
        {"subscriptions": [{"SubscriptionArn": "PendingConfirmation", "Protocol": "email"}]},
        "alarm-subscription",
        "1 subscription(s) to the alarm topic await confirmation",
    ),
    "nobody subscribed": ({"subscriptions": []}, "alarm-subscription", f"aws sns subscribe --topic-arn {ALARMS}"),
    "missing group": (
        {"groups": {"Partner User"}},
        "role-groups",
        "no group in the pool for the active Role(s) Partner Admin:",
    ),
    "AccessDenied": (
        {"subscriptions": Unreadable("the alarm topic's subscriptions (sns:ListSubscriptionsByTopic)")},
        "alarm-subscription",
        "not allowed to read the alarm topic's subscriptions (sns:ListSubscriptionsByTopic): attach the stack's "
        "ImportAdministratorsPolicy",
    ),
}


@pytest.mark.parametrize("scenario", list(_SCENARIOS))
def test_each_fault_fails_exactly_its_check_saying_what_to_do(
    scenario: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an account and stack healthy but for one fault
    changes, check, says = _SCENARIOS[scenario]
    # When the doctor looks
    status, document = _doctor(dataclasses.replace(HEALTHY, **changes), monkeypatch, capsys)
    # Then that check alone fails, saying what is wrong and what to do, and the exit status is 1
    assert (status, document["ok"], _failing(document)) == (1, False, [check])
    assert says in _detail(document, check)


def test_a_stack_without_the_configuration_set_outputs_says_to_deploy_the_current_template(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = dataclasses.replace(HEALTHY, configuration_set_name=None, configuration_set=None, event_destinations=None)
    status, document = _doctor(answers, monkeypatch, capsys)
    assert (status, _failing(document)) == (1, ["configuration-set", "event-destination"])
    assert "no output ConfigurationSetName: deploy the current template" in _detail(document, "configuration-set")


def test_the_account_unreadable_fails_every_check_that_needs_it_not_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    denied = Unreadable("the SES account (ses:GetAccount)")
    status, document = _doctor(dataclasses.replace(HEALTHY, account=denied), monkeypatch, capsys)
    assert (status, _failing(document)) == (1, ["production-access", "sending-enabled", "daily-quota", "send-rate"])
    assert _detail(document, "daily-quota").startswith("not allowed to read the SES account (ses:GetAccount)")


def test_the_text_report_is_one_line_a_check_then_the_count(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(inspection, "answers", lambda deployment: dataclasses.replace(HEALTHY, email_rate=20.0))
    status = main(["doctor", "--stack", "portal", "--region", "eu-west-1"])
    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    assert [line.split(":")[0].split() for line in lines[:-1]] == [
        ["FAIL" if name == "send-rate" else "ok", name] for name in NAMES
    ]
    assert lines[-1] == "1 of 10 checks failed"


def test_doctor_needs_a_stack(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTAL_IMPORT_STACK", raising=False)
    assert main(["doctor", "--region", "eu-west-1"]) == 2
    assert "pass --stack NAME" in capsys.readouterr().err


class _Uploaded(Exception):
    """Stops submit where it would upload: what it wrote before is what is tested."""


@pytest.mark.parametrize(
    ("sandbox", "warned"),
    [(True, True), (False, False), (None, False)],
    ids=["in the sandbox", "production access", "cannot tell"],
)
def test_submit_with_emails_warns_of_the_sandbox_only_when_the_account_is_in_it(
    sandbox: bool | None,
    warned: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an account whose sandbox status reads as `sandbox` (None: not allowed to read it, or the call failed)
    monkeypatch.setattr(inspection, "in_sandbox", lambda deployment: sandbox)

    def upload(*args: Any) -> str:
        raise _Uploaded

    monkeypatch.setattr(Deployment, "name", lambda self, which: which)
    monkeypatch.setattr(Deployment, "upload", upload)
    csv = tmp_path / "people.csv"
    csv.write_text("ContactId,Role\n", encoding="utf-8")
    # When a file is submitted with activation emails
    with pytest.raises(_Uploaded):
        commands.submit(_submit_args(csv))
    # Then one line on stderr names the sandbox's limits before anything is uploaded, or nothing is said
    err = capsys.readouterr().err
    assert ("in the sandbox: at most 200 emails in 24 hours, 1 a second" in err) is warned
    assert len(err.splitlines()) == (1 if warned else 0)


def _submit_args(path: Path) -> Any:
    from portal_import_cli.parser import build_parser

    return build_parser().parse_args(
        ["submit", str(path), "--send-activation-email", "--stack", "portal", "--region", "eu-west-1"]
    )
