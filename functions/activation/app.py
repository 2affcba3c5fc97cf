"""Activation: the set-password page and API behind the activation link (docs/contracts.md §6), on the REST API.

GET /activate?token=T answers the page; POST /activate takes `token` and `password` (and `confirm`, the second
field of the page), and POST /activate/renew takes `token` (a new link for a link that expired or was replaced),
form-encoded, or as JSON with `Accept: application/json` for a portal with its own page, whose origin
(PORTAL_ORIGIN) alone gets CORS headers. Nothing of the request is logged: no event, no query string, no
body, whatever POWERTOOLS_LOGGER_LOG_EVENT or POWERTOOLS_DEV say.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import ActivationSettings
from portal_import.domain.activation_page import HTML, SECURITY_HEADERS
from portal_import.flows.activate import ActivationDeps, Answer, activate, bad_request, open_link, renew
from portal_import.invocation import calls_until, deadline_of
from portal_import.observability import logger, metrics, tracer

_JSON = "application/json"
# Time kept at the end of a request after its last Cognito call's slot: the link marked used, the page answered. Until
# then a call waits for its quota's slot (many people activating at once); past it the page answers 503, busy.
ANSWER_MARGIN_SECONDS = 5


@lru_cache(maxsize=1)
def _settings() -> ActivationSettings:
    return ActivationSettings.from_env()


@lru_cache(maxsize=1)
def _deps() -> ActivationDeps:
    return wiring.activation_deps(_settings())


def _cors(origin: str) -> CORSConfig | None:
    """CORS for a portal's own page at `origin` only (its preflight, and the headers on the POST's answer)."""
    return CORSConfig(allow_origin=origin, allow_headers=["Accept"], max_age=600) if origin else None


# debug=False whatever POWERTOOLS_DEV says: the resolver's debug mode prints every event (token, password) to stdout.
app = APIGatewayRestResolver(cors=_cors(_settings().portal_origin), debug=False)


def _wants_json() -> bool:
    headers = app.current_event.headers
    return _JSON in headers.get("accept", "") or headers.get("content-type", "").startswith(_JSON)


def _respond(answer: Answer) -> Response[str]:
    if _wants_json():
        body, content_type = json.dumps(answer.document), _JSON
    else:
        body, content_type = answer.page, HTML
    headers = dict(SECURITY_HEADERS) | answer.headers
    return Response(status_code=answer.status, content_type=content_type, body=body, headers=headers)


def _form() -> dict[str, Any] | None:
    """The POST's fields, form-encoded or JSON; None when the body is neither."""
    body = app.current_event.decoded_body or ""
    if app.current_event.headers.get("content-type", "").startswith(_JSON):
        try:
            document = json.loads(body)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None
    return {name: values[0] for name, values in parse_qs(body, keep_blank_values=True).items()}


@app.get("/activate", cors=False)  # only the POST is for another origin
def show() -> Response[str]:
    return _respond(open_link(app.current_event.get_query_string_value("token") or "", _deps()))


@app.post("/activate")
def submit() -> Response[str]:
    fields = _form()
    if fields is None:
        return _respond(bad_request(_deps(), "The request body is neither a form nor a JSON object."))
    token, password, confirm = (fields.get(name) for name in ("token", "password", "confirm"))
    if not all(isinstance(value, str | None) for value in (token, password, confirm)):
        return _respond(bad_request(_deps(), "token, password and confirm are strings."))
    answer = activate(token or "", password or "", confirm, _deps())
    metrics.add_metric(name="UsersActivated" if answer.status == 200 else "ActivationsRefused", unit="Count", value=1)
    return _respond(answer)


@app.post("/activate/renew")
def ask_for_a_new_link() -> Response[str]:
    fields = _form()
    if fields is None:
        return _respond(bad_request(_deps(), "The request body is neither a form nor a JSON object."))
    token = fields.get("token")
    if not isinstance(token, str | None):
        return _respond(bad_request(_deps(), "token is a string."))
    return _respond(renew(token or "", _deps()))


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event holds the token, a POST's the password too.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # the page holds the token: never in a trace
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with calls_until(deadline_of(context) - ANSWER_MARGIN_SECONDS):
        return app.resolve(event, context)
