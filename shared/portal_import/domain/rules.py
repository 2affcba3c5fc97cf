"""The row rules of an import (docs/contracts.md §2) and the exact error texts a failure file carries.

FileChecks applies rules 1-4, which need only the file and the job's Role snapshot; 5-7 are decided by the worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from portal_import.domain.first_rows import FirstRows
from portal_import.domain.ids import ContactRef, normalize_contact_id
from portal_import.domain.reader import CONTACT_ID, ROLE, Record
from portal_import.domain.shown import line_breaks, quoted

MISSING_CONTACT_ID = "Missing Contact ID"
ROLE_REQUIRED = "Role is required"
INVALID_ROLE = "Invalid Role"
DUPLICATE_CONTACT_ID = "Duplicate Contact ID in file"
CONTACT_NOT_FOUND = "Contact not found"
USER_ALREADY_EXISTS = "User already exists"
PROCESSING_ERROR = "Processing error"

_LISTED_ROLES = 10
# Cells can be up to the field limit long; an error text quotes only the beginning of one.
_SHOWN_CHARS = 60


def with_detail(error: str, detail: str) -> str:
    """The full error text: the rule's error, then the detail after ': ' when there is one."""
    return f"{error}: {detail}" if detail else error


def _shown(value: str) -> str:
    return quoted(value, _SHOWN_CHARS)


def with_line_break_hint(error: str, contact_cell: str, role_cell: str) -> str:
    """The error of a failed row, saying which of its cells hold line breaks: a quote opened in one cell and closed
    lines later makes those lines part of it, which is why rows seem to be missing from the file."""
    hints = []
    for name, cell in ((CONTACT_ID, contact_cell), (ROLE, role_cell)):
        count = line_breaks(cell.strip())
        if count:
            hints.append(f"the {name} holds {count} line break{'' if count == 1 else 's'}: a quote may be missing")
    return "; ".join([error, *hints])


@dataclass(frozen=True)
class CheckedRow:
    row_number: int
    input_contact_id: str
    input_role: str
    contact_id: str
    role: str
    ref: ContactRef | None
    error: str | None


class FileChecks:
    """Rules 1-4: everything decidable from the file and the job's Role snapshot, in file order."""

    def __init__(self, roles: Mapping[str, bool]) -> None:
        self._active = frozenset(name for name, active in roles.items() if active)
        self._inactive = frozenset(name for name, active in roles.items() if not active)
        self._active_by_folded: dict[str, str] = {}
        for name in sorted(self._active):
            self._active_by_folded.setdefault(name.casefold(), name)
        # Normalized Contact ID -> the row that first passed rules 1-3 with it.
        self._first_rows = FirstRows()

    def check(self, record: Record) -> CheckedRow:
        """Apply rules 1-4 to the next record; records must come in file order."""
        contact_id = record.contact_id.strip()
        role = record.role.strip()

        def checked(ref: ContactRef | None, error: str | None) -> CheckedRow:
            if error is not None:
                error = with_line_break_hint(error, record.contact_id, record.role)
            return CheckedRow(
                row_number=record.row_number,
                input_contact_id=record.contact_id,
                input_role=record.role,
                contact_id=contact_id,
                role=role,
                ref=ref,
                error=error,
            )

        if not contact_id:
            return checked(None, MISSING_CONTACT_ID)
        if not role:
            return checked(None, ROLE_REQUIRED)
        ref = normalize_contact_id(contact_id)
        if role not in self._active:
            return checked(ref, with_detail(INVALID_ROLE, self._invalid_role_detail(role)))
        first_row = self._first_rows.first_row_or_add(ref.key, record.row_number)
        if first_row is not None:
            return checked(
                ref,
                with_detail(DUPLICATE_CONTACT_ID, f"same Contact as row {first_row}"),
            )
        return checked(ref, None)

    def _invalid_role_detail(self, role: str) -> str:
        suggestion = self._active_by_folded.get(role.casefold())
        if suggestion is not None:
            return f"{_shown(role)} (did you mean '{suggestion}'?)"
        if role in self._inactive:
            return f"{_shown(role)} is not active"
        if not self._active:
            return f"{_shown(role)} is not an active portal Role (there are no active Roles)"
        names = sorted(self._active, key=str.casefold)
        listed = ", ".join(names[:_LISTED_ROLES])
        if len(names) > _LISTED_ROLES:
            listed += f" and {len(names) - _LISTED_ROLES} more"
        return f"{_shown(role)} is not an active portal Role (active Roles: {listed})"


def contact_not_found(ref: ContactRef, contact_cell: str, role_cell: str) -> str:
    """The full rule-5 error text for a ContactId that resolves to no Contact (the row's cells as in the file)."""
    if ref.kind == "invalid":
        error = with_detail(CONTACT_NOT_FOUND, ref.reason)
    elif ref.kind == "salesforce":
        error = with_detail(CONTACT_NOT_FOUND, f"no Contact has Salesforce ID {_shown(ref.key)}")
    else:
        error = with_detail(CONTACT_NOT_FOUND, f"no Contact has ID {_shown(ref.key)}")
    return with_line_break_hint(error, contact_cell, role_cell)


def user_already_exists(contact_id: str, user_id: str, *, from_row: int | None = None) -> str:
    """The full rule-6 error text: the Contact already has a portal user, which is left unchanged.

    `from_row` names the earlier row of the same file that gives the Contact its user (through another ID
    form); in validate mode that user has no ID yet.
    """
    if from_row is None:
        detail = f"Contact {contact_id} already has portal user {user_id}; no action is needed"
    elif user_id:
        detail = f"Contact {contact_id} already has portal user {user_id}, created from row {from_row} of this file"
    else:
        detail = f"Contact {contact_id} gets its portal user from row {from_row} of this file"
    return with_detail(USER_ALREADY_EXISTS, detail)


def is_valid_email(address: str) -> bool:
    """Whether an activation email can be addressed to this: one '@', a local part, a dotted domain, no spaces."""
    if not address or address.count("@") != 1 or any(char.isspace() for char in address):
        return False
    local, domain = address.split("@")
    if not local or "." not in domain:
        return False
    return all(domain.split("."))
