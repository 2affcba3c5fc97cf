"""The Cognito user pool where portal users live (docs/contracts.md §6): one pool user per portal user, its Role
a group.

The directory table's USER item stays the ledger of "at most one user per Contact, ever" (its conditional write
decides who creates the user); the pool user is made after it, under the username the ledger gave it, so that a
retried or redelivered chunk finishes what an earlier attempt started instead of making a second user.

Cognito's admin calls have account-wide rate quotas by category (docs/operators/pace.md): AdminCreateUser is
UserCreation (50 a second by default, adjustable), AdminAddUserToGroup and AdminUpdateUserAttributes are UserUpdate
(25, fixed), AdminSetUserPassword is UserAccountRecovery (30, fixed), AdminGetUser is UserRead (120, adjustable).
Every call of those categories first takes a slot of its category's limiter (ratelimit.Pace), one limiter per
category shared by every function of the stack, so that the calls of a category never exceed the rate the stack
was given for it; a TooManyRequestsException that still comes (another application of the account calling the
same category, or calls bunched after a pause) is retried with backoff, each retry at a new slot (`_call`). moto
checks none of Cognito's limits on names and attributes, so they are checked here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from portal_import.aws.clients import client, error_code
from portal_import.domain.people import PoolAccount, PoolUser
from portal_import.domain.rules import is_valid_email
from portal_import.errors import OutOfPace, PasswordRefused, Transient, UserPoolConflict
from portal_import.invocation import calls_deadline
from portal_import.observability import logger
from portal_import.ports import Pace
from portal_import.retry import CALL_ATTEMPTS, backoff

CONTACT_ID_ATTRIBUTE = "custom:contact_id"
# Cognito's quota categories of the calls the stack's functions make, and AWS's default rate of each (calls a second,
# per account and Region; UserCreation and UserRead can be raised, UserUpdate and UserAccountRecovery cannot).
USER_CREATION = "UserCreation"
USER_UPDATE = "UserUpdate"
USER_ACCOUNT_RECOVERY = "UserAccountRecovery"
USER_READ = "UserRead"
DEFAULT_RATES = {USER_CREATION: 50.0, USER_UPDATE: 25.0, USER_ACCOUNT_RECOVERY: 30.0, USER_READ: 120.0}
# Cognito's limits (moto checks none of them): usernames, group names and attribute values.
MAX_USERNAME_CHARS = 128
MAX_GROUP_NAME_CHARS = 128
MAX_ATTRIBUTE_CHARS = 2048
_LIST_PAGE = 60  # ListUsers' largest page
_T = TypeVar("_T")


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
    """The portal users' pool. Each call of a paced category waits for a slot of its category's limiter (when the
    pool was given one), and every call is retried while it is throttled."""

    def __init__(
        self,
        user_pool_id: str,
        *,
        pacers: Mapping[str, Pace] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`pacers`: the limiter of each quota category (none: unpaced). A call made without a deadline of its own
        takes the one of the request being answered (invocation.calls_until), and raises OutOfPace rather than wait
        past it."""
        if not user_pool_id:
            raise ValueError("no user pool id: the stack's USER_POOL_ID is empty")
        self.user_pool_id = user_pool_id
        self._pacers = dict(pacers or {})
        self._clock = clock
        self._sleep = sleep
        self._cognito = client("cognito-idp")
        self._once = self._cognito.once  # the paced calls, retried by `_call` at slots of their own
        self._known_groups: set[str] = set()
        self._description: dict[str, Any] | None = None  # DescribeUserPool's, read once

    def create_users(self, users: Sequence[PoolUser], *, deadline: float | None = None) -> None:
        """Makes each user exist in the pool, in no group yet: one AdminCreateUser a user, at UserCreation's pace,
        the slots reserved for many users at once.

        A user an earlier attempt created under this username for this Contact is taken as is (its attributes
        were set then); one of another Contact raises UserPoolConflict. Raises OutOfPace when the limiter has no
        slot left before `deadline`; what was done by then stays done.
        """
        for user in users:
            _check_username(user.user_id)
        for user in self._paced(USER_CREATION, users, deadline):
            self._create(user)

    def add_to_groups(self, memberships: Sequence[tuple[str, str]], *, deadline: float | None = None) -> int:
        """Puts each (username, Role) pair's user in the Role's group, at UserUpdate's pace: adding a member again
        changes nothing, so a pair may come more than once. A missing group is created. A user no longer in the
        pool (deleted since) is passed over. Returns how many users are in their groups; raises OutOfPace when the
        limiter has no slot left before `deadline` (those done by then stay done)."""
        for username, role in memberships:
            _check_username(username)
            check_group_name(role)
        placed = 0
        for username, role in self._paced(USER_UPDATE, memberships, deadline):
            placed += self._add_to_group(username, role)
        return placed

    def join_group(self, username: str, role: str) -> None:
        """Puts one user in their Role's group (the activation, before their password is set)."""
        self.add_to_groups([(username, role)])

    def _paced(self, category: str, items: Sequence[_T], deadline: float | None) -> Iterator[_T]:
        """The items, each at its own slot of the category's limiter (reserved many at once)."""
        done = 0
        while done < len(items):
            for moment in self._slots(category, len(items) - done, deadline):
                self._at(moment)
                yield items[done]
                done += 1

    def _slots(self, category: str, count: int, deadline: float | None) -> list[float | None]:
        """Up to `count` moments for calls of `category` (None: call now, the category is not paced)."""
        pace = self._pacers.get(category)
        if pace is None:
            return [None] * count
        if deadline is None:
            deadline = calls_deadline()
        slots: list[float | None] = list(pace.reserve(count, deadline=deadline).slots)
        if not slots:
            raise OutOfPace(f"no {category} call slot is free before the deadline")
        return slots

    def _take(self, category: str) -> None:
        """Waits for one slot of the category's limiter."""
        self._at(self._slots(category, 1, None)[0])

    def _call(self, category: str, operation: str, *, slot_taken: bool = False, **params: Any) -> Any:
        """One call of a paced category, at a slot of its limiter (`slot_taken`: the caller waited for it). Throttled
        (another application of the account calls the category too, or calls bunched after a pause), or failing
        otherwise for a moment, it is made again after a backoff, at a new slot: its retries keep to the rate too.
        The last Transient is raised."""
        for attempt in range(1, CALL_ATTEMPTS + 1):
            if not slot_taken:
                self._take(category)
            try:
                return getattr(self._once, operation)(**params)
            except Transient as error:
                if attempt == CALL_ATTEMPTS:
                    raise
                logger.warning(
                    "Cognito call failed; retrying at a new slot", extra={"attempt": attempt, "error": error}
                )
                self._sleep(backoff(attempt))
                slot_taken = False
        raise AssertionError("unreachable")

    def _at(self, moment: float | None) -> None:
        if moment is not None and (delay := moment - self._clock()) > 0:
            self._sleep(delay)

    def _create(self, user: PoolUser, *, slot_taken: bool = True) -> None:
        """One user (`slot_taken`: its UserCreation slot was waited for)."""
        try:
            self._create_with(user, attributes_of(user), slot_taken=slot_taken)
        except ClientError as error:
            if error_code(error) != "InvalidParameterException" or "email" not in str(error).lower() or not user.email:
                raise
            # Cognito refuses an address the import's own rule accepts: the user is made without it (the
            # activation email does not depend on it), rather than the row failing with its claim already made.
            self._create_with(user, [item for item in attributes_of(user) if item["Name"] != "email"], slot_taken=False)

    def _create_with(self, user: PoolUser, attributes: list[dict[str, str]], *, slot_taken: bool) -> None:
        try:
            self._call(
                USER_CREATION,
                "admin_create_user",
                slot_taken=slot_taken,
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
        self._create(user, slot_taken=False)

    def _add_to_group(self, username: str, group: str) -> int:
        """1 once the user is in the group (its UserUpdate slot taken), 0 when there is no such user."""
        try:
            membership: dict[str, Any] = {"UserPoolId": self.user_pool_id, "Username": username, "GroupName": group}
            try:
                self._call(USER_UPDATE, "admin_add_user_to_group", slot_taken=True, **membership)
            except ClientError as error:
                if error_code(error) != "ResourceNotFoundException" or group in self._known_groups:
                    raise
                self.ensure_group(group)
                self._call(USER_UPDATE, "admin_add_user_to_group", **membership)
        except ClientError as error:
            if error_code(error) != "UserNotFoundException":
                raise
            return 0
        return 1

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
            found = self._call(USER_READ, "admin_get_user", UserPoolId=self.user_pool_id, Username=username)
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
            self._call(
                USER_ACCOUNT_RECOVERY,
                "admin_set_user_password",
                UserPoolId=self.user_pool_id,
                Username=username,
                Password=password,
                Permanent=True,
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
            self._call(
                USER_UPDATE,
                "admin_update_user_attributes",
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
