"""The activation page's REST API on the whole local stack, as a person or a portal meets it: the web ACL's limit per
client address (read from the template's parameter), and CORS for the portal's own origin only."""

from __future__ import annotations

import json
from urllib.parse import urlencode, urlsplit

import boto3
import pytest

from portal_import_local.http_api import HttpRequest
from portal_import_local.runtime import LocalRuntime

from .test_activation import GOOD, emails, link_of
from .test_resend import import_with_emails

FLOODER = "203.0.113.7"
NEIGHBOUR = "198.51.100.4"
PORTAL = "https://portal.example.com"


@pytest.fixture(autouse=True)
def _own_default_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # Deployment sets boto3's default session: undone after


def _api_path(runtime: LocalRuntime) -> str:
    """Where the stack's own API answers: its stage (/v1)."""
    (api,) = runtime.stack.apis
    return f"/{api.stage}/activate"


def _get(runtime: LocalRuntime, query: str, client: str) -> tuple[int, dict[str, str], str]:
    status, headers, body = runtime.answer_http(HttpRequest("GET", _api_path(runtime), query, {}, b"", client))
    return status, headers, body.decode()


def _post(runtime: LocalRuntime, token: str, client: str) -> int:
    """The page's form posted, as a browser sends it."""
    form = urlencode({"token": token, "password": GOOD, "confirm": GOOD}).encode()
    sent = {"Content-Type": "application/x-www-form-urlencoded"}
    return runtime.answer_http(HttpRequest("POST", _api_path(runtime), "", sent, form, client))[0]


@pytest.mark.parametrize("stack_parameters", [{"ActivationRequestsPerClient": "12"}])
def test_a_client_over_its_limit_gets_429_while_another_client_is_still_served(runtime: LocalRuntime) -> None:
    # Given an import whose activation emails went out, and a stack whose web ACL lets each client 12 requests
    import_with_emails(runtime, "flood.csv")
    link = link_of(emails(runtime)[0])
    token = urlsplit(link).query.removeprefix("token=")

    # When one client sends its 12 requests (guessing tokens): each reaches the page, which refuses the token
    for guess in range(12):
        assert _get(runtime, f"token=guess{guess:040d}", FLOODER)[0] == 410
    # Then its next request is answered 429 by the web ACL, with a page saying what to do, never cached
    status, headers, page = _get(runtime, f"token={token}", FLOODER)
    assert status == 429
    assert "Too many requests" in page and "Wait five minutes" in page
    assert headers["cache-control"] == "no-store" and headers["content-type"] == "text/html"
    # and its POST with the real link is blocked before the page: the link stays valid
    assert _post(runtime, token, FLOODER) == 429

    # When another client, the link's owner, opens the link and sets the password
    status, _, page = _get(runtime, f"token={token}", NEIGHBOUR)
    # Then they are served as if nobody had flooded the page
    assert status == 200 and 'name="password"' in page
    assert _post(runtime, token, NEIGHBOUR) == 200
    # and the flooding client is still refused
    assert _get(runtime, "token=x", FLOODER)[0] == 429


@pytest.mark.parametrize("stack_parameters", [{"PortalUrl": PORTAL}])
def test_only_the_portals_own_origin_may_post_the_json_form_from_a_browser(runtime: LocalRuntime) -> None:
    # Given a stack whose links point at the portal's own page, which posts the JSON form to the stack's API
    import_with_emails(runtime, "cors.csv")
    link = link_of(emails(runtime)[0])
    assert link.startswith(PORTAL + "/activate?token=")
    token = urlsplit(link).query.removeprefix("token=")

    def preflight(origin: str) -> tuple[int, dict[str, str]]:
        asked = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        status, headers, _ = runtime.answer_http(HttpRequest("OPTIONS", _api_path(runtime), "", asked, b"", NEIGHBOUR))
        return status, headers

    # When the browser asks before posting from the portal's page: the portal's origin, POST allowed
    status, headers = preflight(PORTAL)
    assert status == 204
    assert headers["access-control-allow-origin"] == PORTAL
    assert "POST" in headers["access-control-allow-methods"] and "GET" not in headers["access-control-allow-methods"]
    # and from any other origin: no origin allowed, so the browser does not send the POST
    status, headers = preflight("https://elsewhere.example")
    assert "access-control-allow-origin" not in headers

    # When the portal's page posts the JSON form
    body = json.dumps({"token": token, "password": GOOD}).encode()
    sent = {"Origin": PORTAL, "Content-Type": "application/json", "Accept": "application/json"}
    status, headers, answer = runtime.answer_http(HttpRequest("POST", _api_path(runtime), "", sent, body, NEIGHBOUR))
    # Then the password is set, and the answer may be read by that origin's page
    assert status == 200 and json.loads(answer)["status"] == "activated"
    assert headers["access-control-allow-origin"] == PORTAL
    # and a GET of the page carries no CORS header: only the POST is for another origin
    status, headers, _ = runtime.answer_http(
        HttpRequest("GET", _api_path(runtime), f"token={token}", {"Origin": PORTAL}, b"", NEIGHBOUR)
    )
    assert status == 410 and "access-control-allow-origin" not in headers


def test_without_a_portal_page_of_its_own_no_origin_may_post_from_a_browser(runtime: LocalRuntime) -> None:
    # Given the stack's own page (PortalUrl empty) / When a browser on another origin asks to post
    asked = {"Origin": "https://portal.example.com", "Access-Control-Request-Method": "POST"}
    status, headers, _ = runtime.answer_http(HttpRequest("OPTIONS", _api_path(runtime), "", asked, b"", NEIGHBOUR))
    # Then no CORS header answers it
    assert status == 404
    assert not [name for name in headers if name.startswith("access-control-")]
