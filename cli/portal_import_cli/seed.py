"""Loading a directory (Contacts, existing portal users, Roles) from the CSV files of `--contacts`/`--roles`."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from portal_import.aws.directory import Contact, Directory, PortalUser
from portal_import.aws.userpool import CONTACT_ID_ATTRIBUTE, UserPool, check_group_name
from portal_import.domain.ids import canonical_salesforce_id

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class DirectoryFileError(ValueError):
    """A --contacts or --roles file that cannot be loaded; the message says where and why."""


@dataclass(frozen=True)
class DirectoryData:
    contacts: list[Contact]
    users: list[PortalUser]
    roles: dict[str, bool]


def _rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [name for name in required if name not in (reader.fieldnames or [])]
            if missing:
                raise DirectoryFileError(
                    f"{path} has no {', '.join(missing)} column; its header must be {','.join(required)}."
                )
            return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    except OSError as error:
        raise DirectoryFileError(f"cannot read {path}: {error.strerror}.") from error
    except UnicodeDecodeError as error:
        raise DirectoryFileError(f"{path} is not UTF-8 text; save it as CSV UTF-8.") from error


def read_directory(contacts_path: Path, roles_path: Path) -> DirectoryData:
    contacts: list[Contact] = []
    users: list[PortalUser] = []
    for line, row in enumerate(_rows(contacts_path, ("ContactId", "SalesforceId", "Email")), start=2):
        contact_id = row["ContactId"]
        if len(contact_id) != 19:
            raise DirectoryFileError(f"{contacts_path} row {line}: ContactId '{contact_id}' is not 19 characters.")
        salesforce_id = ""
        if row["SalesforceId"]:
            salesforce_id = canonical_salesforce_id(row["SalesforceId"]) or ""
            if not salesforce_id:
                raise DirectoryFileError(
                    f"{contacts_path} row {line}: SalesforceId '{row['SalesforceId']}' is not a valid "
                    "15- or 18-character Salesforce ID."
                )
        contacts.append(
            Contact(
                contact_id=contact_id,
                salesforce_id=salesforce_id,
                email=row["Email"],
                first_name=row.get("FirstName", ""),
                last_name=row.get("LastName", ""),
            )
        )
        if row.get("PortalUserId"):
            users.append(PortalUser(contact_id=contact_id, user_id=row["PortalUserId"], role="", created_at=""))
    roles: dict[str, bool] = {}
    for line, row in enumerate(_rows(roles_path, ("Name", "Active")), start=2):
        active = row["Active"].lower()
        if active not in _TRUE | _FALSE:
            raise DirectoryFileError(f"{roles_path} row {line}: Active must be true or false, not '{row['Active']}'.")
        try:
            check_group_name(row["Name"])
        except ValueError as error:
            raise DirectoryFileError(
                f"{roles_path} row {line}: Role '{row['Name']}' cannot be a group: {error}."
            ) from None
        roles[row["Name"]] = active in _TRUE
    return DirectoryData(contacts=contacts, users=users, roles=roles)


def load_directory(
    directory: Directory, data: DirectoryData, pool: UserPool, *, users_from_pool: bool = False
) -> DirectoryData:
    """Writes the Roles (each a group of the pool), the Contacts and their portal users.

    The portal users of the file are made pool users (without a group: their Role is not known), unless
    `users_from_pool`: then the pool's users are recorded instead, by their `custom:contact_id`, so that rule 6
    holds for the users an adopted pool already has. Returns what was loaded.
    """
    for role in data.roles:
        pool.ensure_group(role)
    users = list(data.users)
    if users_from_pool:
        known = {contact.contact_id for contact in data.contacts}
        users = [
            PortalUser(contact_id=contact_id, user_id=username, role="")
            for username, attributes in pool.users()
            if (contact_id := attributes.get(CONTACT_ID_ATTRIBUTE, "")) in known
        ]
    else:
        contacts = {contact.contact_id: contact for contact in data.contacts}
        for user in users:
            pool.ensure_unassigned(contacts[user.contact_id].pool_user(user.user_id))
    directory.put_roles(data.roles)
    directory.put_contacts(data.contacts)
    directory.put_users(users)
    return DirectoryData(contacts=data.contacts, users=users, roles=data.roles)
