"""The one Logger, Tracer and Metrics every function uses (configured by the POWERTOOLS_* variables).

Log lines carry no personal data: messages never log a recipient, validation errors never echo their input
(hide_input_in_errors on every message model), and as a last guard every line is scrubbed of email addresses
and activation tokens on its way out, whatever an exception from a library says.
"""

from __future__ import annotations

import re

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# An activation link's token (activation.activation_link), as a query parameter or as a template value.
_TOKEN = re.compile(r"(token(?:=|%3D|\\?[\"']?\s*:\s*\\?[\"']))[A-Za-z0-9_\-]{16,}", re.IGNORECASE)


def redact(text: str) -> str:
    """The text with every email address and activation token replaced by a placeholder."""
    return _TOKEN.sub(r"\1<token>", _EMAIL.sub("<email>", text))


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log lines, scrubbed of email addresses and activation tokens."""

    def serialize(self, log: LogRecord) -> str:
        return redact(super().serialize(log))


logger = Logger(logger_formatter=RedactingFormatter())
tracer = Tracer()
metrics = Metrics()
