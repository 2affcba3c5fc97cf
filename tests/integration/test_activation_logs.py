"""Logs never hold a secret: the activation function logs neither a link's token nor a password, even when an operator
sets POWERTOOLS_LOGGER_LOG_EVENT=true (Powertools would log every event) and POWERTOOLS_DEV=true (the resolver's debug
mode would print every event to stdout)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import boto3
import pytest

from portal_import_local.host import FunctionHost
from portal_import_local.http_api import HttpRequest
from portal_import_local.runtime import LocalRuntime

from .test_activation import emails, link_of
from .test_resend import import_with_emails

PASSWORD = "Sh0uld-Never-Be-Logged!"
VERBOSE = {"POWERTOOLS_LOGGER_LOG_EVENT": "true", "POWERTOOLS_DEV": "true"}


@pytest.fixture(autouse=True)
def _own_default_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # Deployment sets boto3's default session: undone after


def _forms(secret: str) -> set[str]:
    """The secret as a log line could carry it: as such, URL-encoded, JSON-escaped."""
    return {secret, urlencode({"x": secret})[2:], json.dumps(secret)[1:-1]}


def test_neither_token_nor_password_is_logged_even_with_event_logging_and_dev_mode_switched_on(
    runtime: LocalRuntime, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given a link from an import, and the activation function started afresh (a cold start) with both variables set
    import_with_emails(runtime, "logs.csv")
    link = urlsplit(link_of(emails(runtime)[0]))
    token = link.query.removeprefix("token=")
    spec = runtime.stack.functions["ActivationFunction"]
    runtime.hosts[spec.logical_id] = FunctionHost(
        replace(spec, environment={**spec.environment, **VERBOSE}), runtime.calls
    )
    capfd.readouterr()  # what the import printed is not the function's

    # When the person opens the link, posts a password that differs from its confirmation (the page comes back),
    # then the JSON form with the password
    get = HttpRequest("GET", link.path, link.query, {"Host": link.netloc}, b"")
    assert runtime.answer_http(get)[0] == 200
    form = urlencode({"token": token, "password": PASSWORD, "confirm": PASSWORD + "x"}).encode()
    posted = {"Host": link.netloc, "Content-Type": "application/x-www-form-urlencoded"}
    assert runtime.answer_http(HttpRequest("POST", link.path, "", posted, form))[0] == 400
    document = json.dumps({"token": token, "password": PASSWORD}).encode()
    as_json = {"Host": link.netloc, "Content-Type": "application/json", "Accept": "application/json"}
    assert runtime.answer_http(HttpRequest("POST", link.path, "", as_json, document))[0] == 200

    # Then the function did log (its log lines are there), but nothing it wrote holds the token or the password:
    # not its log lines (the formatter's output), not stdout, not stderr
    logs = (tmp_path / "logs.jsonl").read_text(encoding="utf-8")
    assert "Portal user activated" in logs
    printed = capfd.readouterr()
    for secret in (token, PASSWORD):
        for form in _forms(secret):
            assert form not in logs and form not in printed.out and form not in printed.err, secret
