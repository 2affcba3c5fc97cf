"""Contact ID normalization: 19-character Contact IDs and 15/18-character Salesforce IDs.

Implements the Salesforce checksum so that every form of a Salesforce ID maps to one canonical 18-character key.
"""

from __future__ import annotations

import string
from typing import Literal, NamedTuple

from portal_import.domain.shown import quoted

SALESFORCE_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

CONTACT_ID_LENGTH = 19

_ALPHANUMERIC = frozenset(string.ascii_letters + string.digits)
_UPPERCASE = frozenset(string.ascii_uppercase)
# Long values are shown shortened in error texts so a failure file stays readable.
_SHOWN_CHARS = 40


class ContactRef(NamedTuple):
    """What a ContactId cell refers to, and the key it is matched on."""

    kind: Literal["contact", "salesforce", "invalid"]
    key: str
    reason: str


def salesforce_checksum(id15: str) -> str:
    """The 3-character suffix that turns a 15-character Salesforce ID into its 18-character form."""
    if len(id15) != 15:
        raise ValueError(f"a Salesforce checksum needs 15 characters, got {len(id15)}")
    suffix = []
    for start in (0, 5, 10):
        chunk = id15[start : start + 5]
        bits = sum(1 << j for j, char in enumerate(chunk) if char in _UPPERCASE)
        suffix.append(SALESFORCE_CHECKSUM_ALPHABET[bits])
    return "".join(suffix)


def to_salesforce_18(id15: str) -> str:
    """The 18-character form of a 15-character Salesforce ID."""
    return id15 + salesforce_checksum(id15)


def _restore_case(id18: str) -> str | None:
    """The canonical form of an 18-character ID whatever its letter case, or None when its checksum does not match."""
    suffix = id18[15:].upper()
    if any(char not in SALESFORCE_CHECKSUM_ALPHABET for char in suffix):
        return None
    restored = []
    for chunk_index, suffix_char in enumerate(suffix):
        bits = SALESFORCE_CHECKSUM_ALPHABET.index(suffix_char)
        for j in range(5):
            char = id18[chunk_index * 5 + j]
            restored.append(char.upper() if bits & (1 << j) else char.lower())
    id15 = "".join(restored)
    # A set bit on a digit cannot be restored; recomputing the checksum catches that and any other mismatch.
    if salesforce_checksum(id15) != suffix:
        return None
    return id15 + suffix


def _is_alphanumeric(value: str) -> bool:
    return all(char in _ALPHANUMERIC for char in value)


def _shown(value: str) -> str:
    return quoted(value, _SHOWN_CHARS)


def normalize_contact_id(value: str) -> ContactRef:
    """Classify a trimmed ContactId cell and compute the key it is matched on (docs/contracts.md §2)."""
    length = len(value)
    if length == CONTACT_ID_LENGTH:
        return ContactRef("contact", value, "")
    if length in (15, 18) and not _is_alphanumeric(value):
        return ContactRef(
            "invalid",
            value,
            f"{_shown(value)} is not a valid Salesforce ID (it may contain only letters and digits)",
        )
    if length == 15:
        return ContactRef("salesforce", to_salesforce_18(value), "")
    if length == 18:
        canonical = _restore_case(value)
        if canonical is None:
            return ContactRef(
                "invalid",
                value,
                f"{_shown(value)} is not a valid 18-character Salesforce ID (its checksum does not match)",
            )
        return ContactRef("salesforce", canonical, "")
    return ContactRef(
        "invalid",
        value,
        f"{_shown(value)} is {length} character{'' if length == 1 else 's'}; "
        "use the 19-character Contact ID or a 15- or 18-character Salesforce ID",
    )


def looks_like_contact_id(value: str) -> bool:
    """Whether the value has the shape of a Contact ID or a Salesforce ID: 15, 18 or 19 letters and digits, some of
    them digits (which a word of that length is not)."""
    return (
        len(value) in (15, 18, CONTACT_ID_LENGTH) and _is_alphanumeric(value) and any(char.isdigit() for char in value)
    )


def canonical_salesforce_id(value: str) -> str | None:
    """The canonical 18-character form of a 15- or 18-character Salesforce ID, or None if it is not one."""
    ref = normalize_contact_id(value.strip())
    return ref.key if ref.kind == "salesforce" else None
