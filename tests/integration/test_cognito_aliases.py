"""A user pool with `AliasAttributes: [email]` and `CaseSensitive: false` on the local moto acts as on Cognito: a
verified address signs its one owner in, in any letter case, and every operation taking a Username takes it; an
unverified address is nobody's alias; no second user gets an address verified while another holds it as alias,
unless AdminCreateUser forces it over; setting a new address alone unverifies it. A pool without aliases is as
moto had it. The patches fit the installed moto, refuse one of another shape, and the stack installs them."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.cognitoidp.models import CognitoIdpUserPool

from portal_import_local import cognito_aliases
from portal_import_local.moto_patches import Patch, PatchNoLongerFits
from portal_import_local.stack import provision

from .conftest import TEMPLATE

PASSWORD = "Correct-Horse-9"
ANA = "005ABCdef1234560001"
BEA = "005ABCdef1234560002"
ADDRESS = "Ana.Smith@Example.com"


@dataclass
class Pool:
    cognito: Any
    pool_id: str
    client_id: str

    def user(self, username: str, *attributes: tuple[str, str], group: str | None = None, **create: Any) -> None:
        """A confirmed user with a password, its attributes and, when given, in `group`."""
        self.cognito.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            UserAttributes=[{"Name": name, "Value": value} for name, value in attributes],
            MessageAction="SUPPRESS",
            **create,
        )
        self.cognito.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=PASSWORD, Permanent=True
        )
        if group is not None:
            self.cognito.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username, GroupName=group)

    def attributes(self, username: str) -> dict[str, str]:
        found = self.cognito.admin_get_user(UserPoolId=self.pool_id, Username=username)
        return {item["Name"]: item["Value"] for item in found["UserAttributes"] if item["Name"] != "sub"}

    def update(self, username: str, *attributes: tuple[str, str]) -> None:
        self.cognito.admin_update_user_attributes(
            UserPoolId=self.pool_id,
            Username=username,
            UserAttributes=[{"Name": name, "Value": value} for name, value in attributes],
        )

    def sign_in(self, name: str, password: str = PASSWORD) -> dict[str, Any]:
        """The ID token's claims of a USER_PASSWORD_AUTH sign-in as `name`, and the tokens."""
        tokens = self.cognito.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": password},
        )["AuthenticationResult"]
        return {**claims_of(tokens["IdToken"]), "tokens": tokens}


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def _pool(session: boto3.Session, *, install: bool = True, **settings: Any) -> Pool:
    if install:
        cognito_aliases.install()
    cognito = session.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="portal-users", **settings)["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="portal",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.create_group(UserPoolId=pool_id, GroupName="Partner")
    return Pool(cognito, pool_id, client_id)


@pytest.fixture
def pool(aws: boto3.Session) -> Pool:
    """A pool as the stack's is to be: email a sign-in alias, usernames and aliases in any letter case."""
    return _pool(
        aws,
        AliasAttributes=["email"],
        UsernameConfiguration={"CaseSensitive": False},
        AccountRecoverySetting={"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
    )


def error_of(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


@pytest.mark.parametrize("typed", [ADDRESS, ADDRESS.lower(), ADDRESS.upper()])
def test_a_verified_address_in_any_case_signs_its_owner_in_by_username(pool: Pool, typed: str) -> None:
    # Given a user whose address is verified, in a group, and another user
    pool.user(ANA, ("email", ADDRESS), ("email_verified", "true"), group="Partner")
    pool.user(BEA, ("email", "bea@example.com"), ("email_verified", "true"))

    # When it signs in with its address, as typed
    claims = pool.sign_in(typed)

    # Then its tokens are its own: its username (not the address), its group
    assert claims["cognito:username"] == ANA
    assert claims["cognito:groups"] == ["Partner"]
    assert claims_of(claims["tokens"]["AccessToken"])["username"] == ANA
    # And so does an administrator's sign-in for it
    admin = pool.cognito.admin_initiate_auth(
        UserPoolId=pool.pool_id,
        ClientId=pool.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": typed, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    assert claims_of(admin["IdToken"])["cognito:username"] == ANA
    # And the wrong password is refused as for the username
    assert error_of(lambda: pool.sign_in(typed, "Wrong-Horse-9")) == "NotAuthorizedException"


def test_the_username_is_matched_in_any_letter_case_and_taken_in_any(pool: Pool) -> None:
    pool.user(ANA, ("email", ADDRESS), group="Partner")

    assert pool.sign_in(ANA.lower())["cognito:username"] == ANA
    assert pool.cognito.admin_get_user(UserPoolId=pool.pool_id, Username=ANA.upper())["Username"] == ANA
    assert error_of(lambda: pool.user(ANA.lower())) == "UsernameExistsException"
    # And once the user is gone, so is its name in every case: another may take it
    pool.cognito.admin_delete_user(UserPoolId=pool.pool_id, Username=ANA.lower())
    assert error_of(lambda: pool.attributes(ANA)) == "UserNotFoundException"
    pool.user(ANA.lower())
    assert pool.cognito.admin_get_user(UserPoolId=pool.pool_id, Username=ANA)["Username"] == ANA.lower()


def test_a_pool_made_before_the_patches_matches_usernames_in_any_case_too(
    aws: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a case-insensitive pool moto made before its users were indexed by lower case
    cognito_aliases.install()
    monkeypatch.setattr(CognitoIdpUserPool, "__init__", cognito_aliases._original_pool_init)
    pool = _pool(aws, install=False, UsernameConfiguration={"CaseSensitive": False})
    assert not cognito_aliases.PATCHES[0].applied()
    pool.user(ANA, group="Partner")

    # When the user signs in, and is looked up, in another case / Then it is found
    assert pool.sign_in(ANA.swapcase())["cognito:username"] == ANA
    assert error_of(lambda: pool.user(ANA.upper())) == "UsernameExistsException"


def test_an_unverified_address_is_nobodys_alias(pool: Pool) -> None:
    # Given a user whose address is not verified
    pool.user(ANA, ("email", ADDRESS), ("email_verified", "false"))

    # When anyone signs in, or looks the user up, by that address / Then it is as for an unknown user
    assert error_of(lambda: pool.sign_in(ADDRESS)) in ("UserNotFoundException", "NotAuthorizedException")
    assert error_of(lambda: pool.attributes(ADDRESS)) == "UserNotFoundException"
    # And its username still signs it in
    assert pool.sign_in(ANA)["cognito:username"] == ANA


@pytest.mark.parametrize(
    "given",
    [
        (("email_verified", "true"),),
        (("email", ADDRESS.swapcase()), ("email_verified", "true")),
    ],
    ids=["verifying the same address", "the address in another case, verified in the same call"],
)
def test_a_second_user_cannot_verify_an_address_another_holds_as_alias(
    pool: Pool, given: tuple[tuple[str, str], ...]
) -> None:
    # Given one user holding the address as alias, and another with the same address, not verified
    pool.user(ANA, ("email", ADDRESS), ("email_verified", "true"))
    pool.user(BEA, ("email", ADDRESS.lower()), ("email_verified", "false"), ("given_name", "Bea"))
    before = {ANA: pool.attributes(ANA), BEA: pool.attributes(BEA)}

    # When the second user's address is set verified / Then Cognito refuses it
    assert error_of(lambda: pool.update(BEA, *given, ("given_name", "Beatrix"))) == "AliasExistsException"

    # And neither user changed, and the address still signs in its holder only
    assert {ANA: pool.attributes(ANA), BEA: pool.attributes(BEA)} == before
    assert pool.sign_in(ADDRESS.lower())["cognito:username"] == ANA


def test_a_user_verifies_an_address_nobody_holds_and_again_its_own(pool: Pool) -> None:
    pool.user(ANA, ("email", ADDRESS), ("email_verified", "true"))
    pool.user(BEA, ("email", "bea@example.com"))

    pool.update(BEA, ("email", "Bea@Example.com"), ("email_verified", "true"))
    pool.update(ANA, ("email", ADDRESS), ("email_verified", "true"))  # its own alias again: nobody else's

    assert pool.sign_in("bea@example.com")["cognito:username"] == BEA
    assert pool.sign_in(ADDRESS)["cognito:username"] == ANA


def test_setting_only_a_new_address_unverifies_it(pool: Pool) -> None:
    # Given a user holding its address as alias
    pool.user(ANA, ("email", ADDRESS), ("email_verified", "true"))

    # When only its email is set to a new address
    pool.update(ANA, ("email", "ana@elsewhere.example"))

    # Then it holds the new address, not verified: neither address signs it in
    assert pool.attributes(ANA) == {"email": "ana@elsewhere.example", "email_verified": "false"}
    assert error_of(lambda: pool.sign_in("ana@elsewhere.example")) == "UserNotFoundException"
    assert error_of(lambda: pool.sign_in(ADDRESS)) == "UserNotFoundException"
    # And another user may now verify the old address
    pool.user(BEA, ("email", ADDRESS), ("email_verified", "true"))
    assert pool.sign_in(ADDRESS)["cognito:username"] == BEA


def test_a_pool_verifying_email_before_update_keeps_the_old_address_until_the_new_one_is_verified(
    aws: boto3.Session,
) -> None:
    # Given a pool that updates an email only once verified (as the stack's), and a user holding its address
    pool = _pool(
        aws,
        AliasAttributes=["email"],
        UsernameConfiguration={"CaseSensitive": False},
        AutoVerifiedAttributes=["email"],
        UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
    )
    pool.user(ANA, ("email", ADDRESS), ("email_verified", "true"))

    # When only its email is set to a new address / Then the old one stays, verified, its alias
    pool.update(ANA, ("email", "ana@elsewhere.example"), ("given_name", "Ana"))
    assert pool.attributes(ANA) == {"email": ADDRESS, "email_verified": "true", "given_name": "Ana"}
    assert pool.sign_in(ADDRESS)["cognito:username"] == ANA

    # When the new address is given verified in the same call / Then it is the user's, and its alias
    pool.update(ANA, ("email", "ana@elsewhere.example"), ("email_verified", "true"))
    assert pool.sign_in("ANA@elsewhere.example")["cognito:username"] == ANA


def test_creating_a_user_verified_at_an_address_held_fails_unless_forced_then_the_alias_moves(pool: Pool) -> None:
    # Given a user holding the address as alias
    pool.user(ANA, ("email", ADDRESS), ("email_verified", "true"))

    # When another user is created with it verified / Then Cognito refuses, and makes no user
    refused = error_of(lambda: pool.user(BEA, ("email", ADDRESS.upper()), ("email_verified", "true")))
    assert refused == "AliasExistsException"
    assert error_of(lambda: pool.attributes(BEA)) == "UserNotFoundException"
    # And with the address unverified it is made: an address is only an alias while verified
    pool.user("005ABCdef1234560003", ("email", ADDRESS), ("email_verified", "false"))

    # When it is created with ForceAliasCreation
    pool.user(BEA, ("email", ADDRESS.upper()), ("email_verified", "true"), ForceAliasCreation=True)

    # Then the alias is the new user's, and the previous holder's address is no longer verified
    assert pool.sign_in(ADDRESS)["cognito:username"] == BEA
    assert pool.attributes(ANA) == {"email": ADDRESS, "email_verified": "false"}
    assert pool.sign_in(ANA)["cognito:username"] == ANA


def test_admin_operations_and_a_forgotten_password_take_the_alias(pool: Pool) -> None:
    # Given a user holding its address as alias, in a group
    pool.user(ANA, ("email", ADDRESS), ("email_verified", "true"), group="Partner")
    cognito = pool.cognito

    # When an administrator reads it, or its groups, by the address / Then the answer is the user's
    assert cognito.admin_get_user(UserPoolId=pool.pool_id, Username=ADDRESS.lower())["Username"] == ANA
    groups = cognito.admin_list_groups_for_user(UserPoolId=pool.pool_id, Username=ADDRESS)["Groups"]
    assert [group["GroupName"] for group in groups] == ["Partner"]

    # When it forgets its password, giving its address in another case, and confirms a new one the same way
    sent = cognito.forgot_password(ClientId=pool.client_id, Username=ADDRESS.upper())
    assert sent["CodeDeliveryDetails"] == {
        "Destination": "A***@E***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    code = sent["ResponseMetadata"]["HTTPHeaders"]["x-moto-forgot-password-confirmation-code"]
    cognito.confirm_forgot_password(
        ClientId=pool.client_id, Username=ADDRESS.lower(), ConfirmationCode=code, Password="New-Horse-10"
    )

    # Then the new password is the user's
    assert pool.sign_in(ANA, "New-Horse-10")["cognito:username"] == ANA

    # When an administrator signs it out everywhere by its address / Then its refresh token no longer works
    refresh = pool.sign_in(ADDRESS, "New-Horse-10")["tokens"]["RefreshToken"]
    cognito.admin_user_global_sign_out(UserPoolId=pool.pool_id, Username=ADDRESS)
    refreshing = lambda: cognito.initiate_auth(  # noqa: E731
        ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh}
    )
    assert error_of(refreshing) == "NotAuthorizedException"


def test_a_pool_without_aliases_is_as_moto_had_it(aws: boto3.Session) -> None:
    # Given a pool without aliases, case sensitive (Cognito's default), and a user with a verified address
    pool = _pool(aws)
    pool.user(ANA, ("email", ADDRESS), ("email_verified", "true"), group="Partner")

    # When anyone names the user by its address, or its username in another case / Then there is no such user
    assert error_of(lambda: pool.attributes(ADDRESS)) == "UserNotFoundException"
    assert error_of(lambda: pool.sign_in(ADDRESS)) == "UserNotFoundException"
    assert error_of(lambda: pool.attributes(ANA.lower())) == "UserNotFoundException"
    # And another user may hold the same address verified, and a username differing in case only is another user
    pool.user(BEA, ("email", ADDRESS), ("email_verified", "true"))
    pool.update(BEA, ("email", "bea@example.com"))
    assert pool.attributes(BEA) == {"email": "bea@example.com", "email_verified": "true"}
    pool.user(ANA.lower())
    assert pool.sign_in(ANA)["cognito:username"] == ANA


def test_the_stack_installs_the_patches(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a moto without them (this process's moto was patched by the tests above)
    for patch in cognito_aliases.PATCHES:
        monkeypatch.setattr(patch.owner, patch.attribute, ORIGINALS[patch.name])
    assert not any(patch.applied() for patch in cognito_aliases.PATCHES)

    # When the local stack is provisioned / Then every one is in place
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        provision(TEMPLATE, {}, aws)
    assert all(patch.applied() for patch in cognito_aliases.PATCHES)


ORIGINALS: dict[str, Any] = {
    patch.name: original
    for patch, original in zip(
        cognito_aliases.PATCHES,
        (
            cognito_aliases._original_pool_init,
            cognito_aliases._original_get_user,
            cognito_aliases._original_create_refresh_token,
            cognito_aliases._original_create_access_token,
            cognito_aliases._original_create_id_token,
            cognito_aliases._original_sign_out,
            cognito_aliases._original_admin_update_user_attributes,
            cognito_aliases._original_admin_create_user,
        ),
        strict=True,
    )
}


def _of_another_shape(self: Any, something_else: Any) -> None:
    """A target whose parameters are not those any patch expects."""


@pytest.mark.parametrize("patch", cognito_aliases.PATCHES, ids=[patch.name for patch in cognito_aliases.PATCHES])
def test_a_target_of_another_shape_stops_the_install_naming_the_patch(
    patch: Patch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a moto whose target takes other parameters
    monkeypatch.setattr(patch.owner, patch.attribute, _of_another_shape)

    # When the patches are installed / Then they refuse, saying which patch and what to do, and leave it as found
    with pytest.raises(PatchNoLongerFits) as refused:
        cognito_aliases.install()
    assert patch.name in str(refused.value)
    assert f"It can go {patch.can_go_when}" in str(refused.value)
    assert getattr(patch.owner, patch.attribute) is _of_another_shape


def admin_create_user(self: Any) -> Any:
    """An AdminCreateUser that reads ForceAliasCreation itself: moto would keep aliases to one user already."""
    return self._get_param("ForceAliasCreation")


def test_a_moto_that_forces_aliases_itself_stops_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    (patch,) = (patch for patch in cognito_aliases.PATCHES if patch.attribute == "admin_create_user")
    monkeypatch.setattr(patch.owner, patch.attribute, admin_create_user)

    with pytest.raises(PatchNoLongerFits, match="code that reads it") as refused:
        cognito_aliases.install()
    assert patch.name in str(refused.value)


def test_a_pool_whose_users_sign_in_by_email_matches_it_in_any_case_and_takes_it_once(aws: boto3.Session) -> None:
    # Given a pool whose usernames are email addresses (the console's administrators'), case-insensitive
    admins = _pool(aws, UsernameAttributes=["email"], UsernameConfiguration={"CaseSensitive": False})
    admins.user("Ops@Example.com")
    # Then the address signs in and is found in any case, and is taken in every case
    assert admins.sign_in("ops@EXAMPLE.com")["email"] == "Ops@Example.com"
    found = admins.cognito.admin_get_user(UserPoolId=admins.pool_id, Username="OPS@example.com")
    assert {"Name": "email", "Value": "Ops@Example.com"} in found["UserAttributes"]
    assert error_of(lambda: admins.user("ops@example.com")) == "UsernameExistsException"
