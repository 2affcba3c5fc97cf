"""The import options that travel as S3 object metadata (send-activation-email, mode)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from portal_import.messages import Mode
from portal_import.reader import FileRejected
from portal_import.shown import visible

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class ImportOptions:
    send_activation_email: bool
    mode: Mode


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
    return ImportOptions(send_activation_email=send, mode=mode)
