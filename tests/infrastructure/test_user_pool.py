"""The portal users' pool as template.yaml states it (docs/contracts.md §6): a pool that outlives the stack, where
only the import creates users, each bound for good to its Contact; the portal's app client; and an existing pool
adopted instead through the UserPoolId parameter, with everything that uses the pool pointed at that one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

OWN_POOL = {"Ref": "UserPool"}
OWN_POOL_ARN = {"Fn::GetAtt": ["UserPool", "Arn"]}
ADOPTED_POOL = {"Ref": "UserPoolId"}
ADOPTED_POOL_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/${UserPoolId}"
}
# The functions that put users in the pool: the worker, and its dead-letter function finishing what attempts started.
POOL_USERS = ("WorkerFunction", "DeadLetterFunction")
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
    return {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::Cognito::UserPool"}


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


def test_the_workers_pace_their_cognito_calls_together_at_a_rate_the_operator_sets(
    sam_template: dict[str, Any],
) -> None:
    rate = sam_template["Parameters"]["CognitoRequestsPerSecond"]
    assert (rate["Type"], rate["Default"], rate["MinValue"]) == ("Number", 20, 1)  # under UserUpdate's 25/s
    for function in POOL_USERS:
        variables = sam_template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["COGNITO_REQUESTS_PER_SECOND"] == {"Ref": "CognitoRequestsPerSecond"}, function
