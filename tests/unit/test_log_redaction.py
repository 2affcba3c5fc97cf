"""No email address reaches a log line, whatever its alphabet and wherever it sits in the line; an exception
logged as a value says what it is and where it was raised, never its message; ordinary log text is untouched."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portal_import.errors import Transient
from portal_import.observability import logger, redact
from portal_import.retry import with_retries
from portal_import_local.faults import FaultPlan
from portal_import_local.runtime import LocalRuntime

# The unit suite stays a matter of seconds; a larger `max_examples` explores further when the scrubber changes.
LINES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What an address is made of in the issue's sense: letters and digits of any alphabet and `._%+-'`.
ADDRESS_CHARACTERS = st.characters(categories=("L", "N"), include_characters="._%+-'")
addresses = st.builds(
    "{}@{}".format,
    st.text(ADDRESS_CHARACTERS, min_size=1, max_size=24),
    st.one_of(
        st.text(ADDRESS_CHARACTERS, min_size=1, max_size=24),  # with or without a dot
        st.lists(st.text(ADDRESS_CHARACTERS, min_size=1, max_size=12), min_size=2, max_size=4).map(".".join),
    ),
)


@contextmanager
def function_log() -> Iterator[io.StringIO]:
    """What the functions' own logger writes, while the block runs."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    previous = handler.setStream(out)
    try:
        yield out
    finally:
        handler.setStream(previous)


def escaped_forms(text: str) -> set[str]:
    return {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("josé.garcía@exemple.fr", "<email>"),
        ("not verified: renée@bücher.de", "not verified: <email>"),
        ("page ops@intranet now", "page <email> now"),
        ("Ω@例え.テスト", "<email>"),
        ("o'brien@example.com and alice.o'neil+x@mail.example.co.uk", "<email> and <email>"),
        ('"a b"@example.com is quoted', "<email> is quoted"),
        ("to 'renée@bücher.de', \"josé@exemple.fr\" and ‘ops@intranet’", "to '<email>', \"<email>\" and ‘<email>’"),
        ("(renée@bücher.de) <josé@exemple.fr> [ops@intranet]", "(<email>) <<email>> [<email>]"),
        ('{"to": ["josé@exemple.fr"], "cc": "Ω@例え.テスト"}', '{"to": ["<email>"], "cc": "<email>"}'),
        ('{"message": "rejected \\"a b\\"@x.example"}', '{"message": "rejected <email>"}'),
        ("Contact renée@bücher.de.", "Contact <email>."),
        ("mailto:ops@intranet, josé＠exemple.fr", "mailto:<email>, <email>"),
    ],
)
def test_addresses_of_any_alphabet_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "job 20250301T093012Z-5f2c1e9a7b3d, chunk 3, row 5",
        "arn:aws:sqs:eu-west-1:123456789012:portal-import-rows",
        "imports/x.csv",
        "s3://portal-import-bucket/results/20250301T093012Z-5f2c1e9a7b3d/failure.csv",
        "https://portal.example.com/activate?next=%2Fhome&lang=fr",
        "bob@ is not an address, @lru_cache is a decorator, HEAD@{1} a reflog entry",
        "Invalid Role: 'Partenaire Privilégié' (row 7)",
    ],
)
def test_ordinary_log_text_is_left_as_it_is(text: str) -> None:
    assert redact(text) == text


@LINES
@given(text=st.text().filter(lambda t: not any(at in t for at in "@＠﹫") and "token" not in t.lower()))
def test_text_without_an_at_sign_or_a_token_is_left_as_it_is(text: str) -> None:
    assert redact(text) == text


@LINES
@given(address=addresses)
@example(address="josé.garcía@exemple.fr")
@example(address="ops@intranet")
@example(address="'o'brien@x'")
@example(address="a@.")
def test_no_address_reaches_a_log_line_wherever_it_is(address: str) -> None:
    # Given an address in the message, an extra value, a nested dict and an exception's message
    with function_log() as out:
        try:
            raise RuntimeError(f"Email address is not verified: {address}")
        except RuntimeError:
            # When the functions' logger writes the line
            logger.exception(
                f"Rejected {address}.",
                extra={"to": address, "batch": {"recipients": [{"email": address}], address: 1}},
            )
    # Then the line is one JSON object in which neither the address nor its JSON-escaped form appears
    line = out.getvalue()
    assert json.loads(line)["exception_name"] == "RuntimeError"
    for form in escaped_forms(address):
        assert form not in line


def test_the_exception_text_of_a_logged_exception_is_scrubbed() -> None:
    # Given SES's refusal, which names the addresses it did not accept
    with function_log() as out:
        try:
            raise RuntimeError("Email address is not verified: josé.garcía@exemple.fr, renée@bücher.de")
        except RuntimeError:
            logger.exception("Send failed")
    # Then the `exception` field keeps the traceback and the sentence, without the addresses
    logged = json.loads(out.getvalue())
    assert "Traceback (most recent call last)" in logged["exception"]
    assert logged["exception"].endswith("RuntimeError: Email address is not verified: <email>, <email>")
    assert "exemple.fr" not in out.getvalue()
    assert "bücher" not in out.getvalue()


def test_an_exception_logged_as_a_value_is_described_without_its_message() -> None:
    # Given a call that keeps failing with errors whose messages quote a cell of the file
    failures = iter(
        [
            Transient("value 003XYZ-Partenaire: the service is unavailable"),
            Transient("ValidationException: value 003XYZ-Partenaire is throttled"),
        ]
    )

    def call() -> None:
        raise next(failures)

    # When it is retried, and gives up
    with function_log() as out, pytest.raises(Transient):
        with_retries(call, attempts=2, sleep=lambda _: None)
    # Then the retry is logged with the error's type, where it was raised and no value from the file
    (line,) = out.getvalue().splitlines()
    logged = json.loads(line)
    assert logged["message"] == "Call failed; retrying"
    assert logged["error"]["type"] == "Transient"
    assert logged["error"]["raised_at"].endswith(" in call")
    assert "003XYZ" not in line
    assert "Partenaire" not in line


def test_an_aws_error_logged_as_a_value_keeps_its_code() -> None:
    error = ClientError({"Error": {"Code": "MessageRejected", "Message": "not verified: josé@exemple.fr"}}, "Send")
    with function_log() as out:
        logger.error("Activation emails refused", extra={"emails": 3, "error": error})
    logged = json.loads(out.getvalue())
    assert logged["error"] == {"type": "ClientError", "code": "MessageRejected"}
    assert "not verified" not in out.getvalue()


def test_a_token_that_is_a_value_of_its_own_is_redacted_too() -> None:
    token = "q3Vb_8rT-x0aLmN5pQ2sUv7wYz1cDe4fGh6jKo9iR0E"
    with function_log() as out:
        logger.warning("Template values", extra={"values": {"token": token, "portalName": "Portail"}})
    assert json.loads(out.getvalue())["values"] == {"token": "<token>", "portalName": "Portail"}


def test_ordinary_values_of_a_log_line_are_logged_as_they_are() -> None:
    values: dict[str, Any] = {
        "job_id": "20250301T093012Z-5f2c1e9a7b3d",
        "queue": "arn:aws:sqs:eu-west-1:123456789012:portal-import-rows",
        "key": "imports/x.csv",
        "rows": [5, 6],
        "link": "https://portal.example.com/activate?lang=fr",
        "known_job": True,
    }
    with function_log() as out:
        logger.warning("Chunk failed before: processing its rows one by one", extra=values)
    logged = json.loads(out.getvalue())
    assert logged["message"] == "Chunk failed before: processing its rows one by one"
    assert {key: logged[key] for key in values} == values


def test_a_line_that_cannot_be_formatted_says_so_without_its_arguments() -> None:
    # Given a message whose arguments do not fit it (logging's fallback would print both to stderr)
    record = logging.LogRecord("portal", logging.WARNING, __file__, 1, "Row %s of %s", ("003XYZ",), None)
    # When the functions' formatter writes it
    line = logger.registered_formatter.format(record)
    # Then the log says a line was lost, and where, without the value
    logged = json.loads(line)
    assert logged["message"] == "A log line could not be formatted"
    assert logged["error"]["type"] == "TypeError"
    assert "003XYZ" not in line


def test_the_poison_fault_names_no_contact() -> None:
    plan = FaultPlan(poison_contact="003XYZ")
    fault = plan.before_call("DynamoDB", "GetItem", {"Key": {"ContactId": {"S": "003XYZ"}}})
    assert fault is not None
    assert "003XYZ" not in str(fault)


def test_a_crash_written_to_the_local_function_log_is_scrubbed() -> None:
    # Given an invocation that raised with an address in its message
    try:
        raise RuntimeError("Email address is not verified: renée@bücher.de")
    except RuntimeError as error:
        crash = error
    out = io.StringIO()
    # When the local runtime writes it as Lambda would
    LocalRuntime._log_crash(SimpleNamespace(_log_stream=out), "Worker", crash)  # type: ignore[arg-type]
    # Then the stack trace is still there, without the address in any form
    logged = json.loads(out.getvalue())
    assert logged["stackTrace"][-1] == "RuntimeError: Email address is not verified: <email>\n"
    for form in escaped_forms("renée@bücher.de"):
        assert form not in out.getvalue()


def test_a_token_in_an_html_escaped_link_is_redacted() -> None:
    # Given the link as the HTML part's value carries it ('=' written as '&#x3D;', activation.html_escape)
    link = "https://portal.example.com/activate?token&#x3D;q3Vb_8rT-x0aLmN5pQ2sUv7wYz1cDe4fGh6jKo9iR0E"

    # When / Then
    assert redact(link) == "https://portal.example.com/activate?token&#x3D;<token>"
