"""`--aws-quotas` wired into the local Lambda: function code that calls Cognito or SES faster than AWS allows gets
AWS's throttling errors and the call is not carried out, while without the quotas (or outside function code)
nothing is refused; and the stack's own Cognito pacing is the template's when the quotas are on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from portal_import_local import runtime as runtime_module
from portal_import_local.host import CallLog, FunctionHost, install_call_counting
from portal_import_local.outbox import sent_message_count
from portal_import_local.quotas import AwsQuotas
from portal_import_local.runtime import LocalRuntime, declared_parameters, local_parameters
from portal_import_local.stack import ACCOUNT, REGION, FunctionSpec
from portal_import_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# A function that makes the calls its event lists, one client method each, and says how each was answered.
CALLER = """
import boto3
from botocore.exceptions import ClientError


def handler(event, context):
    client = boto3.client(event["service"])
    answers = []
    for params in event["calls"]:
        try:
            getattr(client, event["method"])(**params)
            answers.append("done")
        except ClientError as error:
            answers.append(f"{error.response['Error']['Code']} {error.response['ResponseMetadata']['HTTPStatusCode']}")
    return answers
"""
COGNITO = "Cognito Identity Provider"


def _host(tmp_path: Path, calls: CallLog) -> FunctionHost:
    (tmp_path / "app.py").write_text(CALLER, encoding="utf-8")
    spec = FunctionSpec("Caller", "caller", tmp_path, "app.handler", 30, 128, {})
    install_call_counting()
    return FunctionHost(spec, calls)


def _still() -> float:
    """A clock at a standstill: the buckets never refill, whatever the speed of the machine."""
    return 0.0


def _create_users(host: FunctionHost, pool: str, count: int) -> Any:
    calls = [{"UserPoolId": pool, "Username": f"user-{i}", "MessageAction": "SUPPRESS"} for i in range(count)]
    return host.invoke({"service": "cognito-idp", "method": "admin_create_user", "calls": calls})


def test_function_code_creating_users_faster_than_cognito_allows_is_throttled(
    aws: boto3.Session, tmp_path: Path
) -> None:
    # Given a function whose calls are held to AWS's quotas, and a user pool
    cognito = aws.client("cognito-idp")
    pool = cognito.create_user_pool(PoolName="quotas")["UserPool"]["Id"]
    calls = CallLog(quotas=AwsQuotas(10.0, clock=_still))
    host = _host(tmp_path, calls)
    # When it creates eight users at once
    answers = _create_users(host, pool, 8)
    # Then a tenth of a second of UserCreation (5 of 50 a second) is created, and the rest are refused as Cognito
    # refuses them, without being carried out
    assert answers == ["done"] * 5 + ["TooManyRequestsException 400"] * 3
    assert len(cognito.list_users(UserPoolId=pool)["Users"]) == 5
    assert calls.counts[f"{COGNITO}.AdminCreateUser"] == 8  # every call was a request
    assert len(calls.user_creation_times) == 5  # only the users created
    assert calls.quotas is not None and calls.quotas.refused() == {"Cognito.UserCreation": 3}
    # And the runtime's own calls (outside function code) are not held to the quotas
    for i in range(8):
        cognito.admin_create_user(UserPoolId=pool, Username=f"runtime-{i}", MessageAction="SUPPRESS")


def test_without_the_quotas_nothing_is_refused(aws: boto3.Session, tmp_path: Path) -> None:
    cognito = aws.client("cognito-idp")
    pool = cognito.create_user_pool(PoolName="no-quotas")["UserPool"]["Id"]
    calls = CallLog()
    answers = _create_users(_host(tmp_path, calls), pool, 8)
    assert answers == ["done"] * 8
    assert len(calls.user_creation_times) == 8


def test_a_bulk_send_over_the_email_rate_is_refused_whole(aws: boto3.Session, tmp_path: Path) -> None:
    # Given SES at 2 emails a second, a verified sender and a template
    ses = aws.client("ses")
    ses.verify_email_identity(EmailAddress="noreply@example.com")
    ses.create_template(Template={"TemplateName": "hello", "SubjectPart": "Hi", "TextPart": "Hi {{name}}"})
    calls = CallLog(quotas=AwsQuotas(2.0, clock=_still))
    host = _host(tmp_path, calls)

    def bulk(recipients: int) -> dict[str, Any]:
        return {
            "Source": "noreply@example.com",
            "Template": "hello",
            "DefaultTemplateData": '{"name": "you"}',
            "Destinations": [{"Destination": {"ToAddresses": [f"u{i}@example.com"]}} for i in range(recipients)],
        }

    # When the function sends to three recipients in one call, then to two
    answers = host.invoke({"service": "ses", "method": "send_bulk_templated_email", "calls": [bulk(3), bulk(2)]})
    # Then the first is refused whole, as SES refuses it, and only the second's two emails go out
    assert answers == ["Throttling 400", "done"]
    assert sent_message_count(ACCOUNT, REGION) == 1
    assert len(calls.email_send_times) == 2
    assert calls.quotas is not None and calls.quotas.refused() == {"SES.Sending": 1}


def test_the_stack_paces_cognito_at_the_templates_rates_when_the_quotas_are_on() -> None:
    # Given the template's parameters (one rate per Cognito category)
    declared = load_template(TEMPLATE)["Parameters"]
    assert declared_parameters(TEMPLATE) == set(declared)
    pacing = {name for name in declared if name.startswith("Cognito") and ("Rate" in name or "PerSecond" in name)}
    assert pacing
    # Then without the quotas the local stack paces Cognito at 1,000 a second (moto refuses nothing), and with them
    # at the template's defaults; a parameter the template does not declare is never given
    fast = local_parameters(declared, aws_quotas=False)
    assert {name: fast[name] for name in pacing} == dict.fromkeys(pacing, "1000")
    assert set(fast) <= set(declared)
    held = local_parameters(declared, aws_quotas=True)
    assert not pacing & set(held)
    assert held["DailyEmailQuota"] == fast["DailyEmailQuota"]
    assert local_parameters({"DailyEmailQuota": {}}, aws_quotas=False) == {"DailyEmailQuota": fast["DailyEmailQuota"]}


class _Provisioning(Exception):
    """Stops a runtime at its provisioning: what it would provision is all these tests need to see."""


def test_the_runtime_provisions_with_the_templates_pacing_under_the_quotas_and_a_given_parameter_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the Cognito pacing parameters of the template, one of them given on the command line
    declared = declared_parameters(TEMPLATE)
    pacing = sorted(name for name in declared if name.startswith("Cognito") and ("Rate" in name or "PerSecond" in name))
    given = {pacing[0]: "7"}
    provisioned: list[dict[str, str]] = []

    def provision(template_path: Path, parameters: dict[str, str], session: Any, **_: Any) -> Any:
        provisioned.append(parameters)
        raise _Provisioning

    monkeypatch.setattr(runtime_module, "provision", provision)
    # When a runtime is started without the quotas, then with them
    for aws_quotas in (False, True):
        with pytest.raises(_Provisioning):
            LocalRuntime(TEMPLATE, given, aws_quotas=aws_quotas)
    # Then without them every other pacing parameter is 1,000 a second; with them the template's; the given one wins
    fast, held = provisioned
    assert {name: fast[name] for name in pacing} == {**dict.fromkeys(pacing, "1000"), **given}
    assert {name: held[name] for name in pacing if name in held} == given
