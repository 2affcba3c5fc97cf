"""The portal users' pool as template.yaml states it (docs/contracts.md §6): a pool that outlives the stack, where
only the import creates users, each bound for good to its Contact; the portal's app client; and an existing pool
adopted instead through the UserPoolId parameter, with everything that uses the pool pointed at that one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_string
from email.policy import default as email_policy
from typing import Any

import pytest

from portal_import.aws.userpool import DEFAULT_RATES
from portal_import_local.template import TemplateValues

from .conftest import decide_conditions

OWN_POOL = {"Ref": "UserPool"}
OWN_POOL_ARN = {"Fn::GetAtt": ["UserPool", "Arn"]}
ADOPTED_POOL = {"Ref": "UserPoolId"}
ADOPTED_POOL_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/${UserPoolId}"
}
# The functions that put users in the pool: the worker, and its dead-letter function finishing what attempts started.
POOL_USERS = ("WorkerFunction", "DeadLetterFunction")
SENDER = "no-reply@portal.example.com"
REGION, ACCOUNT = "us-east-1", "123456789012"
PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}


def _pools(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The portal users' pools (the console's administrators have a pool of their own: AdminUserPool)."""
    return {
        name: r
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Cognito::UserPool" and name != "AdminUserPool"
    }


def _references(node: Any) -> Iterator[str]:
    """The names a template fragment refers to: by Ref, GetAtt or a ${...} of Fn::Sub (its own variables aside)."""
    if isinstance(node, list):
        for item in node:
            yield from _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                yield value
            elif key == "Fn::GetAtt":
                yield value[0]
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                for name in re.findall(r"\$\{([^!][^}]*)\}", text):
                    if name not in variables:
                        yield name.split(".")[0]
                yield from _references(variables)
            else:
                yield from _references(value)


def test_the_pool_outlives_the_stack(sam_template: dict[str, Any]) -> None:
    # Given the pool the stack creates, which holds the portal's accounts and their passwords
    pool = sam_template["Resources"]["UserPool"]
    assert pool["Type"] == "AWS::Cognito::UserPool"
    # Then neither deleting the stack nor replacing the pool deletes it, nor can anyone delete it by mistake
    assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"
    assert pool["Properties"]["UserPoolName"] == {"Fn::Sub": "${AWS::StackName}-portal-users"}


def test_only_the_import_creates_users_each_bound_to_its_contact_for_good(sam_template: dict[str, Any]) -> None:
    properties = sam_template["Resources"]["UserPool"]["Properties"]
    # Then nobody signs themselves up
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    # and a user's Contact is a 19-character attribute set at creation and never changed
    (contact_id,) = [a for a in properties["Schema"] if a["Name"] == "contact_id"]
    assert contact_id["AttributeDataType"] == "String"
    assert contact_id["Mutable"] is False
    assert contact_id["StringAttributeConstraints"] == {"MinLength": "19", "MaxLength": "19"}
    # and no attribute is required: a Contact may have no email, or no name
    assert not [a["Name"] for a in properties["Schema"] if a.get("Required")]
    # and usernames (UserIds) are one user whatever their case; a lost password is recovered by verified email
    assert properties["UsernameConfiguration"]["CaseSensitive"] is False
    assert properties["AccountRecoverySetting"]["RecoveryMechanisms"] == [{"Name": "verified_email", "Priority": 1}]


def test_the_password_policy_is_the_stacks_parameters(sam_template: dict[str, Any]) -> None:
    policy = sam_template["Resources"]["UserPool"]["Properties"]["Policies"]["PasswordPolicy"]
    parameters = sam_template["Parameters"]
    # Given the parameters an operator sets the password rules with
    rules = {
        "MinimumLength": "PasswordMinimumLength",
        "RequireSymbols": "PasswordRequireSymbols",
        "RequireNumbers": "PasswordRequireNumbers",
        "RequireUppercase": "PasswordRequireUppercase",
        "RequireLowercase": "PasswordRequireLowercase",
    }
    # Then the pool's policy is theirs
    assert {rule: policy[rule] for rule in rules} == {rule: {"Ref": name} for rule, name in rules.items()}
    assert policy["TemporaryPasswordValidityDays"] == 7
    # and by default a password is long and mixes every kind of character; Cognito's bounds hold for any setting
    length = parameters["PasswordMinimumLength"]
    assert (length["Type"], length["Default"], length["MinValue"], length["MaxValue"]) == ("Number", 12, 8, 99)
    for name in list(rules.values())[1:]:
        assert (parameters[name]["Default"], parameters[name]["AllowedValues"]) == ("true", ["true", "false"]), name


def test_the_portal_client_signs_in_with_the_password_and_tells_nothing_of_who_exists(
    sam_template: dict[str, Any],
) -> None:
    client = sam_template["Resources"]["UserPoolClient"]
    assert client["Type"] == "AWS::Cognito::UserPoolClient"
    assert "Condition" not in client  # an adopted pool gets the portal's client too
    properties = client["Properties"]
    # Then the portal, a public client, signs users in by password (the username UserId) or SRP, and refreshes
    assert properties["GenerateSecret"] is False
    assert sorted(properties["ExplicitAuthFlows"]) == [
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
    ]
    # and a wrong username answers as a wrong password does; a signed-out user's refresh token stops working
    assert properties["PreventUserExistenceErrors"] == "ENABLED"
    assert properties["EnableTokenRevocation"] is True
    # and the portal reads which Contact a user is for, but cannot change it
    assert "custom:contact_id" in properties["ReadAttributes"]
    assert "custom:contact_id" not in properties["WriteAttributes"]


def test_the_stack_creates_its_own_pool_by_default(deployed: dict[str, Any]) -> None:
    resources, outputs = deployed["Resources"], deployed["Outputs"]
    # Given the stack deployed with its default parameters / Then it creates one pool
    assert list(_pools(deployed)) == ["UserPool"]
    # and the portal's client, the functions that put users in it and the outputs all name that pool
    assert resources["UserPoolClient"]["Properties"]["UserPoolId"] == OWN_POOL
    for function in POOL_USERS:
        assert resources[function]["Properties"]["Environment"]["Variables"]["USER_POOL_ID"] == OWN_POOL, function
    assert outputs["UserPoolId"]["Value"] == OWN_POOL
    assert outputs["UserPoolArn"]["Value"] == OWN_POOL_ARN
    assert outputs["UserPoolClientId"]["Value"] == {"Ref": "UserPoolClient"}


def test_a_stack_given_an_existing_pool_adopts_it_and_creates_none(adopting: dict[str, Any]) -> None:
    resources, outputs = adopting["Resources"], adopting["Outputs"]
    # Given the stack deployed with UserPoolId naming an existing pool / Then it creates no pool
    assert _pools(adopting) == {}
    # but the portal's client in the existing pool, and the functions that put users in it and the outputs name it
    assert resources["UserPoolClient"]["Properties"]["UserPoolId"] == ADOPTED_POOL
    for function in POOL_USERS:
        assert resources[function]["Properties"]["Environment"]["Variables"]["USER_POOL_ID"] == ADOPTED_POOL, function
    assert outputs["UserPoolId"]["Value"] == ADOPTED_POOL
    assert outputs["UserPoolArn"]["Value"] == ADOPTED_POOL_ARN
    assert outputs["UserPoolClientId"]["Value"] == {"Ref": "UserPoolClient"}


def test_the_pool_is_adopted_by_its_id_or_created_when_none_is_given(sam_template: dict[str, Any]) -> None:
    parameter = sam_template["Parameters"]["UserPoolId"]
    assert (parameter["Type"], parameter["Default"]) == ("String", "")
    assert sam_template["Conditions"]["CreateUserPool"] == {"Fn::Equals": [{"Ref": "UserPoolId"}, ""]}
    assert sam_template["Resources"]["UserPool"]["Condition"] == "CreateUserPool"
    # an id as Cognito writes them (Region, underscore, letters and digits), or empty
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("eu-west-1_AbCdEf123")
    assert not pattern.fullmatch("arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123")


def test_neither_stack_refers_to_a_resource_it_does_not_create(
    deployed: dict[str, Any], adopting: dict[str, Any]
) -> None:
    for stack, template in {"its own pool": deployed, "an adopted pool": adopting}.items():
        known = set(template["Resources"]) | set(template["Parameters"]) | PSEUDO_PARAMETERS
        # Given the stack as deployed / Then every reference in its resources and outputs resolves
        referenced = set(_references(template["Resources"])) | set(_references(template["Outputs"]))
        assert referenced - known == set(), stack


def test_every_function_calling_cognito_paces_each_quota_category_at_the_rate_the_operator_sets(
    sam_template: dict[str, Any],
) -> None:
    # Given one parameter per quota category the stack calls, defaulting to AWS's own rate
    parameters = sam_template["Parameters"]
    for category, default in DEFAULT_RATES.items():
        rate = parameters[f"Cognito{category}Rate"]
        assert (rate["Type"], rate["Default"], rate["MinValue"]) == ("Number", default, 1), category
        assert category in rate["Description"]
    # Then every function that calls Cognito's paced categories is given every one of them, as COGNITO_RATES
    for function in (*POOL_USERS, "GroupFunction", "ActivationFunction"):
        variables = sam_template["Resources"][function]["Properties"]["Environment"]["Variables"]
        rates = variables["COGNITO_RATES"]["Fn::Sub"]
        assert rates == ",".join(f"{category}=${{Cognito{category}Rate}}" for category in DEFAULT_RATES), function


def _own_pool(transformed: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The stack's own pool's properties as deployed with `parameters`, every intrinsic function evaluated as
    CloudFormation would (in us-east-1, account 123456789012)."""
    template = decide_conditions(transformed, {"SenderAddress": SENDER, **parameters})
    values = TemplateValues(
        template, {"SenderAddress": SENDER, **parameters}, stack_name="portal", region=REGION, account=ACCOUNT
    )
    properties: dict[str, Any] = values.resolve(template["Resources"]["UserPool"]["Properties"])
    return properties


def _read_from(value: str) -> tuple[str, str]:
    """A From line as a mail reader shows it: (the sender's name, the sender's address), exactly one sender."""
    (sender,) = message_from_string(f"From: {value}\n\n", policy=email_policy)["From"].addresses
    return sender.display_name, sender.addr_spec


def test_a_user_may_add_an_authenticator_app_and_nobody_is_made_to(deployed: dict[str, Any]) -> None:
    properties = deployed["Resources"]["UserPool"]["Properties"]
    # Given the stack's own pool / Then MFA is optional, by a time-based code from an app (TOTP), and by no SMS
    assert properties["MfaConfiguration"] == "OPTIONAL"
    assert properties["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert "SmsConfiguration" not in properties


def test_threat_protection_is_off_unless_the_operator_pays_for_it(
    sam_template: dict[str, Any], transformed: dict[str, Any]
) -> None:
    parameter = sam_template["Parameters"]["ThreatProtection"]
    # Given the parameter: off by default (its plan costs more per user), audit or enforced when asked
    assert (parameter["Default"], parameter["AllowedValues"]) == ("OFF", ["OFF", "AUDIT", "ENFORCED"])
    for mode, plan in {"OFF": "ESSENTIALS", "AUDIT": "PLUS", "ENFORCED": "PLUS"}.items():
        pool = _own_pool(transformed, {"ThreatProtection": mode})
        # Then the pool gets that mode, on the feature plan that has it: Plus, and Essentials when it is off
        assert pool["UserPoolAddOns"] == {"AdvancedSecurityMode": mode}, mode
        assert pool["UserPoolTier"] == plan, mode


def test_a_new_password_may_not_repeat_the_last_ones(sam_template: dict[str, Any], transformed: dict[str, Any]) -> None:
    history = sam_template["Parameters"]["PasswordHistorySize"]
    assert (history["Type"], history["Default"], history["MinValue"], history["MaxValue"]) == ("Number", 5, 0, 24)
    for mode in ("OFF", "ENFORCED"):
        pool = _own_pool(transformed, {"ThreatProtection": mode})
        # Given the pool, threat protection on or off / Then it keeps the history the operator asked for, on a plan
        # that enforces it (Essentials or higher: Lite ignores PasswordHistorySize)
        assert pool["Policies"]["PasswordPolicy"]["PasswordHistorySize"] == "5", mode
        assert pool["UserPoolTier"] in {"ESSENTIALS", "PLUS"}, mode


@pytest.mark.parametrize(
    ("sender_identity", "pool_email", "identity"),
    [
        ("address", "address", SENDER),
        ("domain", "domain", "portal.example.com"),
        ("existing", "address", SENDER),  # an existing identity of the address itself
        ("existing", "domain", "portal.example.com"),  # or of its domain: Cognito wants that identity's ARN
    ],
)
def test_the_pools_own_emails_go_through_ses_from_the_stacks_sender(
    transformed: dict[str, Any], sender_identity: str, pool_email: str, identity: str
) -> None:
    # Given the pool once SES has verified the sender's identity (PoolEmailIdentity names it)
    parameters = {"SenderIdentity": sender_identity, "PoolEmailIdentity": pool_email, "PortalName": "Portail Société"}
    email = _own_pool(transformed, parameters)["EmailConfiguration"]
    # Then reset codes and verification emails leave through the account's SES (not Cognito's 50 a day), as that
    # identity, from the stack's sender under the portal's name, accents and all
    assert email["EmailSendingAccount"] == "DEVELOPER"
    assert email["SourceArn"] == f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{identity}"
    assert _read_from(email["From"]) == ("Portail Société", SENDER)


def test_before_ses_has_verified_the_sender_cognito_sends_the_pools_emails(
    sam_template: dict[str, Any], deployed: dict[str, Any]
) -> None:
    parameter = sam_template["Parameters"]["PoolEmailIdentity"]
    # Given a first deploy, which creates the SES identity that SES has yet to verify (Cognito refuses to name an
    # unverified one, and the deploy would fail) / Then the pool's emails go through Cognito until it is redeployed
    assert (parameter["Default"], parameter["AllowedValues"]) == ("cognito", ["cognito", "address", "domain"])
    assert deployed["Resources"]["UserPool"]["Properties"]["EmailConfiguration"] == {
        "EmailSendingAccount": "COGNITO_DEFAULT"
    }


def test_the_senders_name_cannot_break_out_of_the_from_line(transformed: dict[str, Any]) -> None:
    # Given portal names with what would end or fold a quoted name (no control character gets past PortalName's
    # pattern) / Then the From line still holds exactly that name and the stack's sender, nobody else
    for name in ('Acme "Partners", Inc.', "O'Brien <admin@evil.example>", "Ünïcödé ポータル"):
        email = _own_pool(transformed, {"PoolEmailIdentity": "address", "PortalName": name})["EmailConfiguration"]
        assert "\n" not in email["From"] and "\r" not in email["From"]
        assert _read_from(email["From"]) == (name, SENDER), name
