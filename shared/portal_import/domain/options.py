"""The import options that travel as S3 object metadata (send-activation-email, mode, and the Map Fields columns
contactid-column and role-column)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from portal_import.domain.messages import Mode
from portal_import.domain.reader import (
    CONTACT_ID,
    MAPPING_METADATA,
    NO_MAPPING,
    ROLE,
    ColumnMapping,
    FileRejected,
    normalize_name,
)
from portal_import.domain.shown import visible

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class ImportOptions:
    send_activation_email: bool
    mode: Mode
    columns: ColumnMapping = NO_MAPPING


def parse_options(metadata: Mapping[str, str], *, send_default: bool) -> ImportOptions:
    """Reads the options from user metadata (keys without the x-amz-meta- prefix, any case)."""
    meta = {key.lower(): value.strip() for key, value in metadata.items()}
    send = send_default
    raw_send = meta.get("send-activation-email")
    if raw_send:
        if raw_send.lower() in _TRUE:
            send = True
        elif raw_send.lower() in _FALSE:
            send = False
        else:
            raise FileRejected.quoting(
                "The send-activation-email metadata is '{value}'; "
                "upload the file again with send-activation-email=true or false.",
                value=visible(raw_send),
            )
    raw_mode = (meta.get("mode") or "import").lower()
    if raw_mode not in ("import", "validate"):
        raise FileRejected.quoting(
            "The mode metadata is '{value}'; upload the file again with mode=import or mode=validate.",
            value=visible(meta.get("mode") or ""),
        )
    mode: Mode = "validate" if raw_mode == "validate" else "import"
    columns = ColumnMapping(contact_id=_column_name(meta, CONTACT_ID), role=_column_name(meta, ROLE))
    return ImportOptions(send_activation_email=send, mode=mode, columns=columns)


def _column_name(meta: Mapping[str, str], field: str) -> str | None:
    """The header the metadata names for a field's column; None when it names none (the field is auto-mapped)."""
    key = MAPPING_METADATA[field]
    raw = meta.get(key)
    if not raw:
        return None
    name = _decoded(raw)
    if not normalize_name(name):
        raise FileRejected.quoting(
            f"The {key} metadata is '{{value}}', which names no column (case, spaces, '_' and '-' are ignored in "
            f"column names); upload the file again with {key} set to the header of the file's {field} column.",
            value=visible(name),
        )
    return name


def _decoded(value: str) -> str:
    """A metadata value, its RFC 2047 encoded words decoded: S3 metadata is ASCII, and a value beyond ASCII comes
    back from S3 in that form (and submit and local run send a column name that way)."""
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, ValueError):
        return value  # not an encoded word after all: the name as it was given


def column_metadata(contact_id_column: str | None, role_column: str | None) -> dict[str, str]:
    """The metadata that names the file's columns (Map Fields), as `portal-import submit` and `local run` set it:
    a name beyond ASCII as one RFC 2047 encoded word, which S3 accepts and parse_options decodes."""
    named = {CONTACT_ID: contact_id_column, ROLE: role_column}
    return {MAPPING_METADATA[field]: _encoded(name) for field, name in named.items() if name is not None}


def _encoded(value: str) -> str:
    if value.isascii():
        return value
    return f"=?utf-8?b?{base64.b64encode(value.encode()).decode('ascii')}?="
