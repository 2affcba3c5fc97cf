"""The Cognito user pool where portal users live (docs/contracts.md §6): one pool user per portal user, its Role
a group.

The directory table's USER item stays the ledger of "at most one user per Contact, ever" (its conditional write
decides who creates the user); the pool user is made after it, under the username the ledger gave it, so that a
retried or redelivered chunk finishes what an earlier attempt started instead of making a second user.

Cognito's admin calls have account-wide rate quotas by category: AdminCreateUser is UserCreation (50 per second by
default, adjustable), AdminAddUserToGroup is UserUpdate (25, not adjustable). A user takes one slot of a limiter
shared by every worker (ratelimit.Pace) at the stack's CognitoRequestsPerSecond, one call of each category, so
that rate holds in both; a TooManyRequestsException is retried (portal_import.retry, through aws.clients).
moto checks none of Cognito's limits on names and attributes, so they are checked here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from portal_import.aws.clients import client, error_code
from portal_import.domain.people import PoolAccount, PoolUser
from portal_import.domain.rules import is_valid_email
from portal_import.errors import OutOfPace, PasswordRefused, UserPoolConflict
from portal_import.ports import Pace

CONTACT_ID_ATTRIBUTE = "custom:contact_id"
# Cognito's limits (moto checks none of them): usernames, group names and attribute values.
MAX_USERNAME_CHARS = 128
MAX_GROUP_NAME_CHARS = 128
MAX_ATTRIBUTE_CHARS = 2048
_LIST_PAGE = 60  # ListUsers' largest page


def attributes_of(user: PoolUser) -> list[dict[str, str]]:
    """The attributes the import gives a pool user, as Cognito takes them: the email only when it is valid."""
    values = {
        "email": user.email if is_valid_email(user.email) else "",
        "given_name": user.first_name,
        "family_name": user.last_name,
        CONTACT_ID_ATTRIBUTE: user.contact_id,
    }
    return [{"Name": name, "Value": value[:MAX_ATTRIBUTE_CHARS]} for name, value in values.items() if value]


def check_group_name(name: str) -> str:
    """The Role as a group name, or ValueError saying which of Cognito's rules it breaks."""
    if not 1 <= len(name) <= MAX_GROUP_NAME_CHARS:
        raise ValueError(f"a group name has 1 to {MAX_GROUP_NAME_CHARS} characters, not {len(name)}")
    if not name.isprintable():
        raise ValueError("a group name holds no control or invisible characters")
    return name


def _check_username(username: str) -> None:
    if not 1 <= len(username) <= MAX_USERNAME_CHARS:
        raise ValueError(f"a username has 1 to {MAX_USERNAME_CHARS} characters, not {len(username)}")


class UserPool:
    """The portal users' pool. Each call that creates a user or changes one is paced by the limiter of its quota
    category (when given), and every call is retried while it is throttled."""

    def __init__(
        self,
        user_pool_id: str,
        *,
        pace: Pace | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not user_pool_id:
            raise ValueError("no user pool id: the stack's USER_POOL_ID is empty")
        self.user_pool_id = user_pool_id
        self._pace = pace
        self._clock = clock
        self._sleep = sleep
        self._cognito = client("cognito-idp")
        self._known_groups: set[str] = set()
        self._description: dict[str, Any] | None = None  # DescribeUserPool's, read once

    def ensure_users(self, users: Sequence[tuple[PoolUser, str]], *, deadline: float | None = None) -> None:
        """Makes each user exist in the pool, in the group of its Role: two calls a user when nothing was done
        before (UserCreation, then UserUpdate) at one slot of the limiter, the slots reserved for many users at once.

        A user an earlier attempt created under this username for this Contact is taken as is (its attributes
        were set then); one of another Contact raises UserPoolConflict. A missing group is created. Raises
        OutOfPace when the limiters have no slots left before `deadline`; what was done by then stays done.
        """
        for user, role in users:
            _check_username(user.user_id)
            check_group_name(role)
        done = 0
        while done < len(users):
            slots = self._slots(len(users) - done, deadline)
            for offset, moment in enumerate(slots):
                user, role = users[done + offset]
                self._at(moment)
                self._create(user)
                self._add_to_group(user.user_id, role)
            done += len(slots)

    def _slots(self, count: int, deadline: float | None) -> list[float | None]:
        """A slot a user: one call of each of the two quota categories, at the limiter's rate."""
        if self._pace is None:
            return [None] * count
        slots: list[float | None] = list(self._pace.reserve(count, deadline=deadline).slots)
        if not slots:
            raise OutOfPace("no Cognito call slot is free before the deadline")
        return slots

    def _at(self, moment: float | None) -> None:
        if moment is not None and (delay := moment - self._clock()) > 0:
            self._sleep(delay)

    def _create(self, user: PoolUser) -> None:
        try:
            self._create_with(user, attributes_of(user))
        except ClientError as error:
            if error_code(error) != "InvalidParameterException" or "email" not in str(error).lower() or not user.email:
                raise
            # Cognito refuses an address the import's own rule accepts: the user is made without it (the
            # activation email does not depend on it), rather than the row failing with its claim already made.
            self._create_with(user, [item for item in attributes_of(user) if item["Name"] != "email"])

    def _create_with(self, user: PoolUser, attributes: list[dict[str, str]]) -> None:
        try:
            self._cognito.admin_create_user(
                UserPoolId=self.user_pool_id,
                Username=user.user_id,
                UserAttributes=attributes,
                MessageAction="SUPPRESS",
            )
        except ClientError as error:
            if error_code(error) != "UsernameExistsException":
                raise
            if self.contact_of(user.user_id) != user.contact_id:
                raise UserPoolConflict(f"pool user {user.user_id} belongs to another Contact") from error

    def ensure_unassigned(self, user: PoolUser) -> None:
        """Makes `user` exist in the pool, in no group: a portal user that existed before the stack, whose Role
        is not known."""
        _check_username(user.user_id)
        self._create(user)

    def _add_to_group(self, username: str, group: str) -> None:
        try:
            self._cognito.admin_add_user_to_group(UserPoolId=self.user_pool_id, Username=username, GroupName=group)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException" or group in self._known_groups:
                raise
            self.ensure_group(group)
            self._cognito.admin_add_user_to_group(UserPoolId=self.user_pool_id, Username=username, GroupName=group)

    def ensure_group(self, role: str) -> None:
        """Creates the Role's group unless it exists."""
        group = check_group_name(role)
        try:
            self._cognito.create_group(
                UserPoolId=self.user_pool_id, GroupName=group, Description="Portal Role (portal-user-import)"
            )
        except ClientError as error:
            if error_code(error) != "GroupExistsException":
                raise
        self._known_groups.add(group)

    def _get_user(self, username: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        """AdminGetUser's answer and the user's attributes by name, or None when there is no such user."""
        try:
            found = self._cognito.admin_get_user(UserPoolId=self.user_pool_id, Username=username)
        except ClientError as error:
            if error_code(error) == "UserNotFoundException":
                return None
            raise
        return found, {item["Name"]: item["Value"] for item in found.get("UserAttributes", [])}

    def contact_of(self, username: str) -> str | None:
        """The Contact a pool user was created for, or None when there is no such user."""
        got = self._get_user(username)
        return None if got is None else got[1].get(CONTACT_ID_ATTRIBUTE, "")

    def account(self, username: str) -> PoolAccount | None:
        """The pool user `username`, or None when there is none."""
        got = self._get_user(username)
        if got is None:
            return None
        found, attributes = got
        return PoolAccount(
            username=found.get("Username", username),
            enabled=bool(found.get("Enabled", True)),
            first_name=attributes.get("given_name", ""),
            status=str(found.get("UserStatus", "")),
            contact_id=attributes.get("custom:contact_id", ""),
        )

    def password_policy(self) -> dict[str, Any]:
        """The pool's PasswordPolicy, as DescribeUserPool states it."""
        return dict(self._described().get("Policies", {}).get("PasswordPolicy", {}))

    def signs_in_by_email(self) -> bool:
        """Whether the pool's users sign in with their verified email address: an alias (the stack's own pool), or
        their username being it (an adopted pool may be either, or neither)."""
        pool = self._described()
        return "email" in pool.get("AliasAttributes", []) or "email" in pool.get("UsernameAttributes", [])

    def _described(self) -> dict[str, Any]:
        if self._description is None:
            self._description = self._cognito.describe_user_pool(UserPoolId=self.user_pool_id)["UserPool"]
        return self._description

    def set_password(self, username: str, password: str) -> None:
        """Sets the user's password for good (the user is CONFIRMED and can sign in); PasswordRefused when the
        pool's policy refuses it."""
        try:
            self._cognito.admin_set_user_password(
                UserPoolId=self.user_pool_id, Username=username, Password=password, Permanent=True
            )
        except ClientError as error:
            if error_code(error) in ("InvalidPasswordException", "PasswordHistoryPolicyViolationException"):
                raise PasswordRefused(error_code(error)) from None  # never the message: it may quote the request
            raise

    def alias_owner(self, address: str) -> str | None:
        """The username of the user who signs in with `address` (their verified email, where the pool has email as
        a sign-in alias), or None when nobody does. Cognito's Admin APIs take an alias for the username, ignoring
        letter case in a pool whose usernames do (docs/contracts.md §6)."""
        if not address:
            return None
        got = self._get_user(address)
        if got is None:
            return None
        found, attributes = got
        owner = str(found.get("Username", ""))
        # A pool without the alias finds no such username; one whose username is this address is no alias either.
        verified = (
            attributes.get("email_verified") == "true" and attributes.get("email", "").casefold() == address.casefold()
        )
        return owner if owner and verified else None

    def verify_email(self, username: str, address: str) -> bool:
        """Gives the user `address`, verified: the activation link reached it (whatever the pool held before). It
        becomes the recovery channel and, where the pool has email as a sign-in alias, what they sign in with; in
        the same call, so the pool's verify-before-update setting lets it through. False, and nothing changed, when
        another user already signs in with the address (AliasExistsException): this one signs in by username."""
        try:
            self._cognito.admin_update_user_attributes(
                UserPoolId=self.user_pool_id,
                Username=username,
                UserAttributes=[{"Name": "email", "Value": address}, {"Name": "email_verified", "Value": "true"}],
            )
        except ClientError as error:
            if error_code(error) == "AliasExistsException":
                return False
            raise
        return True

    def groups_of(self, username: str) -> list[str]:
        """The groups a pool user is in."""
        found = self._cognito.admin_list_groups_for_user(UserPoolId=self.user_pool_id, Username=username)
        return [group["GroupName"] for group in found.get("Groups", [])]

    def users(self) -> Iterator[tuple[str, dict[str, str]]]:
        """Every pool user as (username, attributes), page by page."""
        token: str | None = None
        while True:
            page = self._cognito.list_users(
                UserPoolId=self.user_pool_id, Limit=_LIST_PAGE, **({"PaginationToken": token} if token else {})
            )
            for user in page.get("Users", []):
                yield user["Username"], {item["Name"]: item["Value"] for item in user.get("Attributes", [])}
            token = page.get("PaginationToken")
            if not token:
                return
