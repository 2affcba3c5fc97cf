"""The one Logger, Tracer and Metrics every function uses (configured by the POWERTOOLS_* variables).

Log lines carry no personal data: messages never log a recipient, validation errors never echo their input
(hide_input_in_errors on every message model), an exception logged as a value says its type, never its message,
and as a last guard every string of every line is scrubbed of email addresses (in any alphabet) and activation
tokens on its way out, whatever an exception from a library says.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

# An address is whatever surrounds an at sign up to the characters that end one in running text, in messages,
# URLs and JSON: spaces, quotes, brackets, separators. Everything else, in any alphabet, may belong to it, so
# `josé.garcía@exemple.fr`, `ops@intranet` and `Ω@例え.テスト` are addresses. The apostrophe is not among them
# (o'brien@example.com): an address quoted with it keeps its quotes.
_AT = "@＠﹫"
_STOP = r"\s\"<>()\[\]{},;:|\\/=&?`" + _AT + "«»“”„‹›「」『』（）【】〈〉《》，、；："
_PART = "[^" + _STOP + "]++"  # possessive, and a local part starts where a run starts: linear on any text
# "a b"@x.com, as such and JSON-escaped; a quote inside the quotes ends them (a scan from each quote stops at
# the next one, so the pattern stays linear).
_QUOTED = r'"[^"\\\r\n]*+"|\\"(?:[^"\\]|\\[^"])*+\\"'
_EMAIL = re.compile(
    "(?P<local>" + _QUOTED + "|(?<![^" + _STOP + "])" + _PART + ")[" + _AT + "](?P<domain>" + _PART + ")"
)
_QUOTES = {"'": "'", "‘": "’", "’": "’"}
# An activation link's token (activation.activation_link), as a query parameter or as a template value.
_TOKEN = re.compile(r"(token(?:=|%3D|&#x3D;|\\?[\"']?\s*:\s*\\?[\"']))[A-Za-z0-9_\-]{16,}", re.IGNORECASE)


def redact(text: str) -> str:
    """The text with every email address and activation token replaced by a placeholder."""
    if any(at in text for at in _AT):
        text = _EMAIL.sub(_placeholder, text)
    return _TOKEN.sub(r"\1<token>", text)


def _placeholder(match: re.Match[str]) -> str:
    """`<email>`, keeping the sentence's punctuation and quotes that surround the address."""
    local, domain = match["local"], match["domain"]
    address = domain.rstrip(".!")
    after = domain[len(address) :] if address else ""
    before, close = "", _QUOTES.get(local[0])
    if close and len(local) > 1 and len(address) > 1 and address.endswith(close):
        before, after = local[0], close + after
    return f"{before}<email>{after}"


def scrub(value: Any, default: Callable[[Any], Any] = str) -> Any:
    """A JSON-ready copy of `value` with every string in it redacted, keys included: exceptions are described
    by `describe`, other objects JSON has no form for are turned into one by `default` first."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {redact(key) if isinstance(key, str) else key: scrub(item, default) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item, default) for item in value]
    if isinstance(value, BaseException):
        return scrub(describe(value), default)
    return scrub(default(value), default)


def describe(error: BaseException) -> dict[str, str]:
    """What a log line says of an exception passed as a value (`extra={"error": error}`): its type, the AWS
    error code and where it was raised. Never its message: a message can quote the request that failed
    (botocore's parameter validation quotes the values, a KeyError is its key), and so a cell of the file."""
    described = {"type": type(error).__name__}
    response = getattr(error, "response", None)  # botocore's ClientError
    details = response.get("Error") if isinstance(response, dict) else None
    if isinstance(details, dict) and details.get("Code"):
        described["code"] = str(details["Code"])
    frames = list(traceback.walk_tb(error.__traceback__))
    if frames:
        frame, line = frames[-1]
        described["raised_at"] = f"{frame.f_code.co_filename}:{line} in {frame.f_code.co_name}"
    return described


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log lines, scrubbed of email addresses and activation tokens.

    Every string of the record is scrubbed before it is serialized (message, extra keys, nested values, the
    `exception` text and `stack_trace`), so that no JSON escape can split an address from the pattern; the
    serialized line is scrubbed once more, for a token whose key and value are two strings of the record.
    """

    def serialize(self, log: LogRecord) -> str:
        return redact(super().serialize(scrub(log, self.json_default)))

    def format(self, record: logging.LogRecord) -> str:
        try:
            return super().format(record)
        except Exception as error:  # noqa: BLE001 - logging's fallback prints the raw message and arguments
            line = {"level": record.levelname, "location": f"{record.funcName}:{record.lineno}"}
            return json.dumps({**line, "message": "A log line could not be formatted", "error": describe(error)})


logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()
