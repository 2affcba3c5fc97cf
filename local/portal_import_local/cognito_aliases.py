"""Sign-in aliases and case-insensitive usernames in moto's Cognito, as a user pool with `AliasAttributes: [email]`
and `UsernameConfiguration: {CaseSensitive: false}` has them on AWS.

moto keeps both settings (a pool's extended_config holds CreateUserPool's parameters as given) but acts on neither:
it finds a user by the exact username only (or by an email or phone number when they are UsernameAttributes), so
an email alias signs nobody in, and two users may hold the same verified address. On Cognito:

- a user's email is a sign-in alias only while email_verified is true, and at most one user of a pool holds an
  address as verified alias; an address that is only an unverified email of some user is no alias at all (the
  answer is the one for an unknown user);
- every operation that takes a Username (AdminGetUser, the Admin* user operations, InitiateAuth and
  AdminInitiateAuth, ForgotPassword, ConfirmForgotPassword) takes the alias too and acts on its owner; the tokens
  still name the user by username (the ID token's cognito:username);
- AdminUpdateUserAttributes setting email_verified true (with or without email in the same call) for an address
  another user holds as verified alias fails with AliasExistsException and changes nothing;
- AdminCreateUser with email_verified true for such an address fails alike, unless ForceAliasCreation is true: then
  the alias moves to the new user, and the previous holder's email_verified becomes false;
- AdminUpdateUserAttributes setting email to a new value without email_verified true in the same call: in a pool
  whose UserAttributeUpdateSettings require verification of email before update, the address waits for a
  verification moto cannot deliver, and the user keeps the old one (still verified, still the alias); in any
  other pool the new address is the user's at once, not verified;
- with CaseSensitive false, usernames and email aliases match whatever their letter case.

The one place moto resolves a Username, CognitoIdpUserPool._get_user, resolves it here as Cognito does, so every
operation gets the alias and the case rules (a new pool's users are indexed by lower-case username too, so that a
lookup does not read every username); the tokens are made for the user's own username whatever name it signed in
with, and a global sign-out by alias finds them; AdminUpdateUserAttributes and AdminCreateUser keep an address with
one verified holder. Pools with neither setting go moto's own way, unchanged; a pool with CaseSensitive false and no
alias (the stack's pool before AliasAttributes) gets the case rule only.

Not emulated: ConfirmSignUp's and SignUp's ForceAliasCreation and alias checks (the stack's pool has no self
sign-up), UpdateUserAttributes and VerifyUserAttribute by the user's own access token, phone_number and
preferred_username aliases, and any check Cognito makes of an email-shaped Username at creation in such a pool.

Each of these rewrites a moto internal: each is a `Patch` (PATCHES), checked at install as moto_patches' are.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import moto.cognitoidp.models as cognitoidp_models
from moto.cognitoidp.exceptions import AliasExistsException
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUser, CognitoIdpUserPool
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.cognitoidp.utils import flatten_attrs
from moto.core.responses import ActionResult

# moto_patches' own helpers for a patch's expectations, so that every patch says them alike.
from portal_import_local.moto_patches import Expectation, Patch, _code_has, _source, install_patches

_original_pool_init = CognitoIdpUserPool.__init__
_original_get_user = CognitoIdpUserPool._get_user
_original_create_refresh_token = CognitoIdpUserPool.create_refresh_token
_original_create_access_token = CognitoIdpUserPool.create_access_token
_original_create_id_token = CognitoIdpUserPool.create_id_token
_original_sign_out = CognitoIdpUserPool.sign_out
_original_admin_update_user_attributes = CognitoIdpBackend.admin_update_user_attributes
_original_admin_create_user = CognitoIdpResponse.admin_create_user
# Checking an address's holder and giving it to a user is one step among threads (`local serve`, concurrent workers).
_lock = threading.RLock()


def has_email_alias(pool: CognitoIdpUserPool) -> bool:
    """Whether the pool signs users in by their verified email (AliasAttributes holds email)."""
    return "email" in (pool.extended_config.get("AliasAttributes") or [])


def ignores_case(pool: CognitoIdpUserPool) -> bool:
    """Whether the pool's usernames and aliases match whatever their letter case (CaseSensitive false; Cognito's
    default, when UsernameConfiguration is not given, is case sensitive)."""
    configuration = pool.extended_config.get("UsernameConfiguration") or {}
    return str(configuration.get("CaseSensitive", True)).lower() == "false"


def _acts(pool: CognitoIdpUserPool) -> bool:
    return has_email_alias(pool) or ignores_case(pool)


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _key(pool: CognitoIdpUserPool, name: str) -> str:
    return name.lower() if ignores_case(pool) else name


class _UsersByName(OrderedDict[str, CognitoIdpUser]):
    """A pool's users by username (moto's own mapping, which it stands in for), with the usernames in lower case
    alongside: a case-insensitive pool finds a user without reading every username."""

    def __init__(self, users: Mapping[str, CognitoIdpUser]) -> None:
        self.lowered: dict[str, str] = {}
        super().__init__(users)  # each through __setitem__, which fills `lowered`

    def __setitem__(self, name: str, user: CognitoIdpUser) -> None:
        super().__setitem__(name, user)
        self.lowered[name.lower()] = name

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        if self.lowered.get(name.lower()) == name:
            del self.lowered[name.lower()]

    def named(self, name: str) -> CognitoIdpUser | None:
        """The user whose username is `name` in any letter case."""
        username = self.lowered.get(name.lower())
        return None if username is None else self.get(username)


def _named(users: Mapping[str, CognitoIdpUser], name: str) -> CognitoIdpUser | None:
    if isinstance(users, _UsersByName):
        return users.named(name)
    # A pool made before the patches were installed: its usernames read one by one.
    lowered = name.lower()
    return next((user for username, user in users.items() if username.lower() == lowered), None)


def _pool_init(
    self: CognitoIdpUserPool, account_id: str, region: str, name: str, extended_config: dict[str, Any]
) -> None:
    """moto's new pool, its users by username indexed by lower case too (before anyone can add one: replacing the
    mapping later could lose a user another thread adds meanwhile)."""
    _original_pool_init(self, account_id, region, name, extended_config)
    self.users = _UsersByName(self.users)


def alias_holder(pool: CognitoIdpUserPool, address: str) -> CognitoIdpUser | None:
    """The user of the pool whose verified email is `address` (its sign-in alias), if any. Cognito takes only
    valid addresses for email: a name without an @ is nobody's alias."""
    if "@" not in address:
        return None
    wanted = _key(pool, address)
    for user in pool.users.values():
        lookup = user.attribute_lookup
        if _true(lookup.get("email_verified")) and _key(pool, str(lookup.get("email", ""))) == wanted:
            return user
    return None


def _get_user(self: CognitoIdpUserPool, username: str) -> CognitoIdpUser | None:
    """moto's lookup (the exact username, or a UsernameAttributes value), then, as Cognito resolves a Username: the
    username in any letter case (CaseSensitive false), then the owner of the verified email alias."""
    user: CognitoIdpUser | None = _original_get_user(self, username)
    if user is not None or not _acts(self) or not isinstance(username, str):
        return user
    if ignores_case(self):
        user = _named(self.users, username) or _by_username_attribute(self, username)
        if user is not None:
            return user
    return alias_holder(self, username) if has_email_alias(self) else None


def _by_username_attribute(pool: CognitoIdpUserPool, name: str) -> CognitoIdpUser | None:
    """The user whose UsernameAttributes value (a pool whose users sign in by email) is `name` in any letter case."""
    kinds = pool.extended_config.get("UsernameAttributes") or []
    lowered = name.lower()
    for user in pool.users.values():
        attributes = flatten_attrs(user.attributes)
        if any(str(attributes.get(kind, "")).lower() == lowered for kind in kinds):
            return user
    return None


def username_of(pool: CognitoIdpUserPool, name: str) -> str:
    """The username of the user `name` resolves to (an alias, another letter case), or `name` when it resolves to
    nobody; in a pool whose users sign in by email, the user's address as stored (moto's name for them)."""
    if not _acts(pool):
        return name
    user = pool._get_user(name)
    if user is None:
        return name
    # A pool whose users sign in by email: moto names such a user by that address, as it was stored.
    attributes = flatten_attrs(user.attributes)
    named = [attributes[kind] for kind in pool.extended_config.get("UsernameAttributes") or [] if attributes.get(kind)]
    return str(named[0]) if named else user.username


def _create_refresh_token(self: CognitoIdpUserPool, client_id: str, username: str) -> tuple[str, str]:
    return _original_create_refresh_token(self, client_id, username_of(self, username))


def _create_access_token(self: CognitoIdpUserPool, client_id: str, username: str, origin_jti: str) -> tuple[str, int]:
    return _original_create_access_token(self, client_id, username_of(self, username), origin_jti)


def _create_id_token(self: CognitoIdpUserPool, client_id: str, username: str, origin_jti: str) -> tuple[str, int]:
    return _original_create_id_token(self, client_id, username_of(self, username), origin_jti)


def _sign_out(self: CognitoIdpUserPool, username: str) -> None:
    """Signs out the user however it was named (AdminUserGlobalSignOut by alias): its tokens hold its username."""
    _original_sign_out(self, username_of(self, username))


def _without(attributes: Iterable[dict[str, str]], *names: str) -> list[dict[str, str]]:
    return [attribute for attribute in attributes if attribute["Name"] not in names]


def _requires_verification_of_email(pool: CognitoIdpUserPool) -> bool:
    settings = pool.extended_config.get("UserAttributeUpdateSettings") or {}
    return "email" in (settings.get("AttributesRequireVerificationBeforeUpdate") or [])


def _admin_update_user_attributes(
    self: CognitoIdpBackend, user_pool_id: str, username: str, attributes: list[dict[str, str]]
) -> None:
    pool = self.describe_user_pool(user_pool_id)
    if not has_email_alias(pool):
        _original_admin_update_user_attributes(self, user_pool_id, username, attributes)
        return
    with _lock:
        user = self.admin_get_user(user_pool_id, username)
        given = flatten_attrs(attributes)
        verifies = _true(given.get("email_verified"))
        current = user.attribute_lookup.get("email")
        if "email" in given and given["email"] != current and not verifies:
            if _requires_verification_of_email(pool):
                # The new address waits for its verification (a message moto does not send): the old one stays.
                attributes = _without(attributes, "email")
            else:
                attributes = [*_without(attributes, "email_verified"), {"Name": "email_verified", "Value": "false"}]
        address = given.get("email", current)
        if verifies and address:
            holder = alias_holder(pool, str(address))
            if holder is not None and holder is not user:
                raise AliasExistsException()
        _original_admin_update_user_attributes(self, user_pool_id, username, attributes)


def _admin_create_user(self: CognitoIdpResponse) -> ActionResult:
    pool = self.backend.describe_user_pool(self._get_param("UserPoolId"))
    if not has_email_alias(pool) or self._get_param("MessageAction") == "RESEND":
        return _original_admin_create_user(self)
    given = flatten_attrs(self._get_param("UserAttributes", []) or [])
    with _lock:
        holder = None
        if _true(given.get("email_verified")) and given.get("email"):
            holder = alias_holder(pool, str(given["email"]))
            if holder is not None and not _true(self._get_param("ForceAliasCreation", False)):
                raise AliasExistsException()
        answer = _original_admin_create_user(self)
        if holder is not None:  # ForceAliasCreation: the alias moves to the new user
            holder.update_attributes([{"Name": "email_verified", "Value": "false"}])
        return answer


def _other_changes_of_users(_: Any) -> str | None:
    code = _source(cognitoidp_models)
    found = [
        change for change in ("users.pop(", "users.update(", "users.clear(", "users.setdefault(") if change in code
    ]
    return f"{', '.join(found)} in {cognitoidp_models.__file__}" if found else None


def _ignores(parameter: str) -> Expectation:
    return Expectation(
        f"code that ignores {parameter}",
        lambda target: f"code that reads it ({parameter})" if parameter in _source(target) else None,
    )


_LOOKUP_GOES = (
    "when moto's cognito-idp resolves a Username given as a verified email alias (AliasAttributes) and ignores "
    "letter case in pools with CaseSensitive false"
)
_TOKENS_GO = "when moto's tokens name the user by username, whatever name (alias, letter case) it signed in with"
_ALIASES_GO = "when moto's cognito-idp keeps each verified email alias to one user (AliasExistsException)"
_TOKEN_PARAMETERS = ("self", "client_id", "username", "origin_jti")

PATCHES = (
    Patch(
        "Cognito pools index their users by username in lower case too",
        CognitoIdpUserPool,
        "__init__",
        _pool_init,
        ("self", "account_id", "region", "name", "extended_config"),
        _LOOKUP_GOES,
        relies_on=(
            _code_has(
                "self.users: dict[str, CognitoIdpUser] = OrderedDict()",
                "the users by username, which the patch indexes by lower case too",
            ),
            Expectation(
                "moto's cognito-idp to change a pool's users only by setting and deleting one (what the index follows)",
                _other_changes_of_users,
            ),
        ),
    ),
    Patch(
        "Cognito finds a user by its verified email alias and, in case-insensitive pools, in any letter case",
        CognitoIdpUserPool,
        "_get_user",
        _get_user,
        ("self", "username"),
        _LOOKUP_GOES,
        relies_on=(
            _code_has("self.users.get(username)", "the exact username, which moto's lookup tries"),
            _code_has(
                "self.extended_config.update(extended_config",
                "AliasAttributes and UsernameConfiguration kept as CreateUserPool gave them",
                lambda _: CognitoIdpUserPool.update_extended_config,
            ),
            _code_has(
                "self.attribute_lookup = flat_attributes",
                "each user's attributes by name, where the alias is read",
                lambda _: CognitoIdpUser.update_attributes,
            ),
        ),
    ),
    Patch(
        "Cognito refresh tokens hold the username, whatever name signed in",
        CognitoIdpUserPool,
        "create_refresh_token",
        _create_refresh_token,
        ("self", "client_id", "username"),
        _TOKENS_GO,
        relies_on=(_code_has("self.refresh_tokens[refresh_token] = (client_id, username", "the name the token holds"),),
    ),
    Patch(
        "Cognito access tokens name the username, whatever name signed in",
        CognitoIdpUserPool,
        "create_access_token",
        _create_access_token,
        _TOKEN_PARAMETERS,
        _TOKENS_GO,
        relies_on=(
            _code_has("self.access_tokens[access_token] = (client_id, username)", "the name the token holds"),
            _code_has('payload["username"] = username', "the claim", lambda _: CognitoIdpUserPool.create_jwt),
        ),
    ),
    Patch(
        "Cognito ID tokens give the username as cognito:username, whatever name signed in",
        CognitoIdpUserPool,
        "create_id_token",
        _create_id_token,
        _TOKEN_PARAMETERS,
        _TOKENS_GO,
        relies_on=(
            _code_has('payload["cognito:username"] = username', "the claim", lambda _: CognitoIdpUserPool.create_jwt),
        ),
    ),
    Patch(
        "Cognito signs a user out by alias or in any letter case",
        CognitoIdpUserPool,
        "sign_out",
        _sign_out,
        ("self", "username"),
        _TOKENS_GO,
        relies_on=(_code_has("if username == logged_in_user", "the tokens' names, compared with the one given"),),
    ),
    Patch(
        "Cognito AdminUpdateUserAttributes keeps a verified email alias to one user",
        CognitoIdpBackend,
        "admin_update_user_attributes",
        _admin_update_user_attributes,
        ("self", "user_pool_id", "username", "attributes"),
        _ALIASES_GO,
        relies_on=(
            _code_has("user.update_attributes(attributes)", "the attributes applied as given, after the checks here"),
            _ignores("AliasAttributes"),
        ),
    ),
    Patch(
        "Cognito AdminCreateUser keeps a verified email alias to one user, or moves it (ForceAliasCreation)",
        CognitoIdpResponse,
        "admin_create_user",
        _admin_create_user,
        ("self",),
        _ALIASES_GO,
        relies_on=(
            _ignores("ForceAliasCreation"),
            _code_has('self._get_param("UserAttributes", [])', "the new user's attributes, as read here"),
        ),
    ),
)


def install() -> None:
    """Installs every patch above not yet in place (the stack calls it once per stack, after moto_patches'); installs
    none, raising PatchNoLongerFits, if the installed moto no longer has what one of them expects."""
    install_patches(PATCHES)
