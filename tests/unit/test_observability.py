"""Logs carry no email address, name or activation token: not in our messages, not in a library's exception."""

from __future__ import annotations

import io
import json
import logging

import pytest
from aws_lambda_powertools import Logger
from pydantic import ValidationError

from portal_import.domain.activation import activation_link
from portal_import.observability import RedactingFormatter, logger, redact
from portal_import.records import EmailBatchRecord

TOKEN = "q3Vb_8rT-x0aLmN5pQ2sUv7wYz1cDe4fGh6jKo9iR0E"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not verified: alice.o'neil+x@mail.example.co.uk", "not verified: <email>"),
        ("to bob@example.com and carol@example.org", "to <email> and <email>"),
        (activation_link("https://portal.example.com", TOKEN), "https://portal.example.com/activate?token=<token>"),
        ('{"link": "https://x/activate?token%3D' + TOKEN + '"}', '{"link": "https://x/activate?token%3D<token>"}'),
        ("{'token': '" + TOKEN + "'}", "{'token': '<token>'}"),
        ("bob@ is not an address; neither is not-an-email", "bob@ is not an address; neither is not-an-email"),
        ("job 7f3c, row 12, chunk 3", "job 7f3c, row 12, chunk 3"),
    ],
)
def test_redact_replaces_addresses_and_tokens_only(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_functions_logger_scrubs_every_line() -> None:
    assert isinstance(logger.registered_formatter, RedactingFormatter)


def test_an_exception_naming_an_address_and_a_link_is_logged_without_them() -> None:
    # Given a logger formatted like the functions' one, writing to a buffer
    out = io.StringIO()
    probe = Logger(service="probe", logger_formatter=RedactingFormatter(), logger_handler=logging.StreamHandler(out))
    # When a library's exception says an address and a link, in the message, the extra keys and the stack trace
    try:
        raise RuntimeError(f"rejected bob@example.com: {activation_link('https://p.example.com', TOKEN)}")
    except RuntimeError:
        probe.exception("Send failed", extra={"to": "bob@example.com"})
    # Then the line is still one JSON object, and neither appears in it
    line = out.getvalue()
    assert json.loads(line)["to"] == "<email>"
    assert "bob@example.com" not in line
    assert TOKEN not in line


def test_a_malformed_email_batch_is_reported_without_its_recipients() -> None:
    # Given an email batch record whose body does not validate (a row number that is not a number)
    body = {
        "jobId": "job-1",
        "key": "job-1/c1",
        "recipients": [
            {"row": "two", "userId": "0050000", "contactId": "003", "email": "alice@example.com", "firstName": "Alice"}
        ],
    }
    record = {
        "messageId": "m1",
        "receiptHandle": "r1",
        "body": json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1",
            "SenderId": "s",
            "ApproximateFirstReceiveTimestamp": "1",
        },
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:emails",
        "awsRegion": "us-east-1",
    }
    # When it is parsed, as the email sender's batch processor does
    with pytest.raises(ValidationError) as error:
        EmailBatchRecord.model_validate(record)
    # Then the error (which the processor logs with its stack trace) says where, not what
    text = str(error.value)
    assert "recipients.0.row" in text
    assert "alice@example.com" not in text
    assert "Alice" not in text
