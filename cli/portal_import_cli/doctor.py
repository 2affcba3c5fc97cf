"""`portal-import doctor`'s judgement: given what the account and the stack answered (Answers, read by
portal_import_cli.inspection), each check holds or says what is wrong and what to do. Plain values in, plain values
out: no AWS call here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

SANDBOX = (
    "the account's SES is in the sandbox: at most 200 emails in 24 hours, 1 a second, and only to verified "
    "addresses (activation emails to anyone else are refused)"
)
_PRODUCTION = "request production access (SES console, Account dashboard, or `aws sesv2 put-account-details`)"
# What a configuration set's event destination must publish for the stack to know each email's outcome.
EVENT_TYPES = ("SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "DELIVERY_DELAY")
# Where SES reviews an account (its reputation metrics are ratios).
_BOUNCE_REVIEW, _COMPLAINT_REVIEW = 0.05, 0.001
_DEPLOY = "deploy the current template"
_UNCONFIRMED = ("PendingConfirmation", "Deleted")

T = TypeVar("T")


@dataclass(frozen=True)
class Unreadable:
    """An answer that could not be read: the caller was not allowed to (`denied`), or the call failed (`reason`)."""

    what: str  # what it would have said, and the permission it takes: "the SES account (ses:GetAccount)"
    denied: bool = True
    reason: str = ""


@dataclass(frozen=True)
class Answers:
    """What doctor read. None: the thing does not exist (or, for an output or a parameter, the stack has none)."""

    sender: str  # the stack's SenderAddress
    address_identity: Mapping[str, Any] | Unreadable | None  # SESv2 GetEmailIdentity of the address
    domain_identity: Mapping[str, Any] | Unreadable | None  # ... of its domain, read when the address is none
    account: Mapping[str, Any] | Unreadable  # SESv2 GetAccount
    reputation: Mapping[str, float] | Unreadable  # the latest "bounce" and "complaint" rates there are (ratios)
    email_rate: float | None  # the stack's EmailRatePerSecond
    configuration_set_name: str | None  # output ConfigurationSetName
    configuration_set: Mapping[str, Any] | Unreadable | None  # SESv2 GetConfigurationSet
    event_destinations: list[Mapping[str, Any]] | Unreadable | None  # SESv2 GetConfigurationSetEventDestinations
    delivery_topic: str | None  # output DeliveryEventsTopicArn
    alarm_topic: str | None  # output AlarmTopicArn
    subscriptions: list[Mapping[str, Any]] | Unreadable | None  # SNS ListSubscriptionsByTopic of the alarm topic
    user_pool_id: str
    user_pool: Mapping[str, Any] | Unreadable | None  # Cognito DescribeUserPool's UserPool
    roles: Mapping[str, bool] | Unreadable  # the directory's Roles, by name, with their active flag
    groups: set[str] | Unreadable | None  # the pool's groups (None: no pool to read them from)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what holds, or what is wrong and what to do


def _failed(name: str, detail: str) -> Check:
    return Check(name, False, detail)


def _unreadable(name: str, answer: Unreadable) -> Check:
    if answer.denied:
        return _failed(
            name,
            f"not allowed to read {answer.what}: attach the stack's ImportAdministratorsPolicy (output "
            "ImportAdministratorsPolicyArn) to your identity, or use --profile with one that has it",
        )
    return _failed(name, f"could not read {answer.what}: {answer.reason}")


class _Stop(Exception):
    """A check that cannot go on: its result is the one carried."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.detail)
        self.check = check


def _read(name: str, answer: T | Unreadable) -> T:
    """The answer, or the check failed because it could not be read."""
    if isinstance(answer, Unreadable):
        raise _Stop(_unreadable(name, answer))
    return answer


def _given(name: str, value: T | None, detail: str) -> T:
    """The value, or the check failed with `detail` when there is none."""
    if value is None:
        raise _Stop(_failed(name, detail))
    return value


def _output(name: str, value: str | None, output: str) -> str:
    """The stack output's value, or the check failed: a stack deployed from an older template has none."""
    return _given(name, value, f"the stack has no output {output}: {_DEPLOY}")


def _number(value: float) -> str:
    """1,000,000 and 14 for whole numbers, 0.5 for others."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,g}"


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


def sender_identity(answers: Answers) -> Check:
    name = "sender-identity"
    sender, domain = answers.sender, _domain(answers.sender)
    address = _read(name, answers.address_identity)
    found, identity = (sender, address) if address is not None else (domain, _read(name, answers.domain_identity))
    identity = _given(
        name,
        identity,
        f"neither {sender} nor {domain} is an SES identity in this region: deploy the stack with SenderIdentity "
        "address or domain, or verify one in the SES console",
    )
    is_domain = identity.get("IdentityType") == "DOMAIN"
    if not identity.get("VerifiedForSendingStatus"):
        how = (
            "publish its three DKIM CNAME records (the stack's outputs SenderDkimRecord1-3)"
            if is_domain
            else "open the verification email SES sent to it and follow its link"
        )
        return _failed(name, f"{found} is not verified for sending: {how}")
    dkim = str(identity.get("DkimAttributes", {}).get("Status", "NOT_STARTED"))
    if is_domain and dkim != "SUCCESS":
        return _failed(
            name,
            f"DKIM of {found} is {dkim}: publish its three DKIM CNAME records (the stack's outputs "
            "SenderDkimRecord1-3); SES checks them for up to 72 hours",
        )
    return Check(name, True, f"{found} is verified for sending" + (" (DKIM SUCCESS)" if is_domain else ""))


def production_access(answers: Answers) -> Check:
    name = "production-access"
    account = _read(name, answers.account)
    if not account.get("ProductionAccessEnabled"):
        return _failed(name, f"{SANDBOX}: {_PRODUCTION}")
    return Check(name, True, "the account has production access: emails go to any address")


def _reputation(reputation: Mapping[str, float] | Unreadable) -> str:
    if isinstance(reputation, Unreadable):
        return f"reputation not read ({'not allowed' if reputation.denied else reputation.reason})"
    if not reputation:
        return "no reputation data yet"
    rates = []
    for key, label, review in (("bounce", "bounce", _BOUNCE_REVIEW), ("complaint", "complaint", _COMPLAINT_REVIEW)):
        if key in reputation:
            rates.append(f"{label} rate {reputation[key] * 100:.2g} % (SES reviews at {review * 100:g} %)")
    return ", ".join(rates)


def sending_enabled(answers: Answers) -> Check:
    name = "sending-enabled"
    account = _read(name, answers.account)
    status = str(account.get("EnforcementStatus", "HEALTHY"))
    rates = _reputation(answers.reputation)
    if status == "SHUTDOWN":
        return _failed(
            name,
            f"SES paused the account's sending (SHUTDOWN; {rates}): see the SES console's reputation page and "
            "appeal there, and send nothing until it is lifted",
        )
    if account.get("SendingEnabled") is False:
        return _failed(
            name,
            f"sending is disabled for the account ({status}; {rates}): re-enable it (`aws sesv2 "
            "put-account-sending-attributes --sending-enabled`) once the SES console's reputation page says why",
        )
    if status == "PROBATION":
        return _failed(
            name,
            f"SES put the account under review (PROBATION; {rates}): send no activation emails to stale lists until "
            "the bounce and complaint rates fall, or SES may pause sending (the SES console's reputation page)",
        )
    return Check(name, True, f"sending is enabled ({status}; {rates})")


def _quota(account: Mapping[str, Any]) -> tuple[float, float, float]:
    """Max24HourSend, MaxSendRate, SentLast24Hours."""
    quota = account.get("SendQuota", {})
    return (
        float(quota.get("Max24HourSend", 0)),
        float(quota.get("MaxSendRate", 0)),
        float(quota.get("SentLast24Hours", 0)),
    )


def daily_quota(answers: Answers) -> Check:
    name = "daily-quota"
    most, _, sent = _quota(_read(name, answers.account))
    if most == -1:
        return Check(name, True, "the 24-hour quota is unlimited")
    left = most - sent
    if left <= 0:
        return _failed(
            name,
            f"the 24-hour quota of {_number(most)} emails is spent ({_number(sent)} sent): emails wait until SES's "
            "rolling 24 hours free some; request a higher sending quota (Service Quotas, Amazon SES)",
        )
    return Check(name, True, f"{_number(left)} of {_number(most)} emails left in the last 24 hours")


def send_rate(answers: Answers) -> Check:
    name = "send-rate"
    _, most, _ = _quota(_read(name, answers.account))
    rate = _given(name, answers.email_rate, f"the stack has no EmailRatePerSecond parameter: {_DEPLOY}")
    if rate > most:
        return _failed(
            name,
            f"EmailRatePerSecond is {_number(rate)}, above SES's maximum send rate of {_number(most)} a second: lower "
            "EmailRatePerSecond or request a higher sending rate",
        )
    return Check(
        name, True, f"EmailRatePerSecond {_number(rate)} is within SES's maximum send rate of {_number(most)} a second"
    )


def configuration_set(answers: Answers) -> Check:
    name = "configuration-set"
    set_name = _output(name, answers.configuration_set_name, "ConfigurationSetName")
    found = _given(
        name,
        _read(name, answers.configuration_set),
        f"configuration set {set_name} does not exist: deploy the stack again",
    )
    tls = str(found.get("DeliveryOptions", {}).get("TlsPolicy", "OPTIONAL"))
    if tls != "REQUIRE":
        return _failed(
            name,
            f"configuration set {set_name} delivers without requiring TLS (TlsPolicy {tls}): deploy the stack again, "
            "which sets it to REQUIRE",
        )
    if found.get("SendingOptions", {}).get("SendingEnabled", True) is False:
        return _failed(
            name,
            f"sending through configuration set {set_name} is disabled: re-enable it (`aws sesv2 "
            f"put-configuration-set-sending-options --configuration-set-name {set_name} --sending-enabled`)",
        )
    return Check(name, True, f"configuration set {set_name} requires TLS and sends")


def _destination_fault(destinations: list[Mapping[str, Any]], topic: str) -> str | None:
    """What is wrong with the set's destinations to the topic; None when one enabled destination publishes every
    event type there."""
    to_topic = [d for d in destinations if d.get("SnsDestination", {}).get("TopicArn") == topic]
    if not to_topic:
        return f"no event destination publishes to the stack's DeliveryEventsTopic ({topic})"
    faults = []
    for destination in to_topic:
        missing = [kind for kind in EVENT_TYPES if kind not in destination.get("MatchingEventTypes", [])]
        if destination.get("Enabled") and not missing:
            return None
        label = f"event destination {destination.get('Name', '')}"
        faults.append(f"{label} misses {', '.join(missing)}" if missing else f"{label} is disabled")
    return "; ".join(faults)


def event_destination(answers: Answers) -> Check:
    name = "event-destination"
    set_name = _output(name, answers.configuration_set_name, "ConfigurationSetName")
    topic = _output(name, answers.delivery_topic, "DeliveryEventsTopicArn")
    destinations = _given(
        name,
        _read(name, answers.event_destinations),
        f"configuration set {set_name} does not exist, nor its event destination: deploy the stack again",
    )
    fault = _destination_fault(destinations, topic)
    if fault is not None:
        return _failed(
            name,
            f"{fault} (configuration set {set_name}): deploy the stack again; until then no delivery, bounce or "
            "complaint of an activation email is recorded",
        )
    return Check(name, True, f"configuration set {set_name} publishes {', '.join(EVENT_TYPES)} to {topic}")


def alarm_subscription(answers: Answers) -> Check:
    name = "alarm-subscription"
    topic = _output(name, answers.alarm_topic, "AlarmTopicArn")
    subscriptions = _given(
        name, _read(name, answers.subscriptions), f"the alarm topic {topic} does not exist: deploy the stack again"
    )
    confirmed = [s for s in subscriptions if s.get("SubscriptionArn") not in _UNCONFIRMED]
    if confirmed:
        return Check(name, True, f"{len(confirmed)} confirmed subscription(s) to the alarm topic")
    pending = sum(1 for s in subscriptions if s.get("SubscriptionArn") == "PendingConfirmation")
    if pending:
        return _failed(
            name,
            f"{pending} subscription(s) to the alarm topic await confirmation: follow the link of the confirmation "
            "email SNS sent",
        )
    return _failed(
        name,
        f"nobody is subscribed to the alarm topic, so nobody hears of an alarm: `aws sns subscribe --topic-arn {topic} "
        "--protocol email --notification-endpoint YOU@EXAMPLE.COM`, then confirm",
    )


def user_pool(answers: Answers) -> Check:
    name = "user-pool"
    pool = _given(
        name,
        _read(name, answers.user_pool),
        f"user pool {answers.user_pool_id} does not exist: check the stack's UserPoolId parameter and its region",
    )
    return Check(name, True, f"user pool {answers.user_pool_id} ({pool.get('Name', '')}) exists")


def role_groups(answers: Answers) -> Check:
    name = "role-groups"
    roles = _read(name, answers.roles)
    groups = _given(name, _read(name, answers.groups), f"no user pool {answers.user_pool_id} to hold the groups")
    active = sorted(role for role, is_active in roles.items() if is_active)
    missing = [role for role in active if role not in groups]
    if missing:
        return _failed(
            name,
            f"no group in the pool for the active Role(s) {', '.join(missing)}: load the Roles again (`portal-import "
            "directory load`), or create each group (`aws cognito-idp create-group`)",
        )
    if not active:
        return Check(name, True, "the directory has no active Role yet (`portal-import directory load` adds them)")
    return Check(name, True, f"each of the {len(active)} active Role(s) has its group")


CHECKS: tuple[Callable[[Answers], Check], ...] = (
    sender_identity,
    production_access,
    sending_enabled,
    daily_quota,
    send_rate,
    configuration_set,
    event_destination,
    alarm_subscription,
    user_pool,
    role_groups,
)


def checks(answers: Answers) -> list[Check]:
    """Every check, in order."""
    results = []
    for check in CHECKS:
        try:
            results.append(check(answers))
        except _Stop as stop:
            results.append(stop.check)
    return results


def report_json(results: list[Check]) -> dict[str, Any]:
    return {
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in results],
        "ok": all(c.ok for c in results),
    }


def report_lines(results: list[Check]) -> list[str]:
    lines = [f"{'ok' if c.ok else 'FAIL':<4}  {c.name}: {c.detail}" for c in results]
    failed = sum(1 for c in results if not c.ok)
    lines.append(f"{failed} of {len(results)} checks failed" if failed else f"all {len(results)} checks pass")
    return lines
