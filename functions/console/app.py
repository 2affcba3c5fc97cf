"""Console: the import console's API (docs/contracts.md §8), on the HTTP API whose JWT authorizer lets through only
tokens of the administrators' pool. What each route reads and does is portal_import.flows.console's; here each is
answered as JSON. Nothing of a request is logged (it may name Contacts), only its route and answer."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import ConsoleSettings
from portal_import.domain.activation_page import HTML, SECURITY_HEADERS
from portal_import.domain.sample import SAMPLE_CSV
from portal_import.flows import console
from portal_import.flows.console import ConsoleDeps, Refused
from portal_import.observability import logger, metrics, tracer

_JSON = "application/json"
_STATIC = Path(__file__).resolve().parent / "static"
# The only files the pages load: the console's script, the stack's reader rules and the style sheet.
_STATIC_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "reader.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


@lru_cache(maxsize=1)
def _deps() -> ConsoleDeps:
    return wiring.console_deps(ConsoleSettings.from_env())


app = APIGatewayHttpResolver(debug=False)


def _json(status: int, document: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=_JSON, body=json.dumps(document), headers=dict(SECURITY_HEADERS))


def _body() -> Any:
    try:
        return json.loads(app.current_event.decoded_body or "null")
    except ValueError:
        raise Refused(400, "The request body is not JSON: reload the page and try again.") from None


@app.exception_handler(Refused)
def _refused(refused: Refused) -> Response[str]:
    logger.info("Console request refused", extra={"status": refused.status})
    return _json(refused.status, {"error": str(refused)})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _cognito_endpoint(region: str) -> str:
    """Where the browser signs in: Cognito's own address on AWS; locally (the runtime sets PRESIGN_ENDPOINT_URL)
    the page's own origin, where moto answers Cognito beside the API."""
    if os.environ.get("PRESIGN_ENDPOINT_URL"):
        headers = app.current_event.headers
        scheme = headers.get("x-forwarded-proto") or "http"
        host = headers.get("host") or urlsplit(os.environ["PRESIGN_ENDPOINT_URL"]).netloc
        return f"{scheme}://{host}/"
    return f"https://cognito-idp.{region}.amazonaws.com/"


@lru_cache(maxsize=1)
def _bucket_origins() -> tuple[str, ...]:
    """The origins a browser reaches the bucket at (upload forms, download links), as the presigner writes them:
    the same for every page this container answers, so signed once."""
    deps = _deps()
    form = deps.uploads.presigned_post("imports/origin.csv", fields={}, most_bytes=1, expires_in=60)
    link = deps.storage.presigned_url("results/origin", 60)
    return tuple(sorted({_origin(form["url"]), _origin(link)}))


def page_policy(connect: list[str]) -> str:
    """The pages' CSP: the stack's own script and style only (no inline script), requests to the stack, Cognito and
    the bucket only, no form posts, no framing."""
    sources = " ".join(["'self'", *connect])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {sources}; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )


def _shell() -> Response[str]:
    """The console's one page, for / and /jobs/{jobId}: no data, only the config its script needs (not executed)."""
    deps = _deps()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    cognito = _cognito_endpoint(region)
    # the stage's root: the pages link each other, the API and their files under it, whatever the address's depth
    stage = app.current_event.request_context.stage
    base = "/" if stage in ("", "$default") else f"/{stage}/"
    config = {
        "region": region,
        "cognitoEndpoint": cognito,
        "clientId": os.environ.get("ADMIN_USER_POOL_CLIENT_ID", ""),
        "maxFileBytes": deps.max_file_bytes,
        "sendActivationEmailDefault": deps.send_activation_email_default,
        "base": base,
    }
    # "<" never appears raw inside the JSON, so no "</script>" can end its element early
    embedded = json.dumps(config).replace("<", "\\u003c")
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portal user import</title>
<link rel="stylesheet" href="{escape(base)}static/console.css">
<script type="application/json" id="config">{embedded}</script>
<script src="{escape(base)}static/reader.js" defer></script>
<script src="{escape(base)}static/app.js" defer></script>
</head>
<body>
<header><h1>Portal user import</h1><div id="who"></div></header>
<main id="main"><p>Loading the console…</p></main>
</body>
</html>
"""
    headers = dict(SECURITY_HEADERS) | {"Content-Security-Policy": page_policy([_origin(cognito), *_bucket_origins()])}
    return Response(status_code=200, content_type=HTML, body=html, headers=headers)


@app.get("/")
def console_page() -> Response[str]:
    return _shell()


@app.get("/jobs/<job_id>")
def job_shell(job_id: str) -> Response[str]:
    return _shell()


@app.get("/static/<name>")
def static(name: str) -> Response[str]:
    content_type = _STATIC_TYPES.get(name)
    if content_type is None:
        return Response(status_code=404, content_type="text/plain", body="Not found", headers=dict(SECURITY_HEADERS))
    headers = dict(SECURITY_HEADERS) | {"Cache-Control": "no-cache"}
    headers.pop("Pragma", None)
    return Response(status_code=200, content_type=content_type, body=(_STATIC / name).read_text(), headers=headers)


@app.get("/api/jobs")
def jobs() -> Response[str]:
    return _json(200, console.jobs_list(_deps()))


@app.get("/api/jobs/<job_id>")
def job(job_id: str) -> Response[str]:
    return _json(200, console.job_page(job_id, _deps()))


@app.get("/api/jobs/<job_id>/users")
def users(job_id: str) -> Response[str]:
    return _json(200, console.users_of(job_id, _deps()))


@app.post("/api/jobs/<job_id>/resend")
def resend(job_id: str) -> Response[str]:
    done = console.resend_to_unreached(job_id, _deps())
    metrics.add_metric(name="ActivationEmailsResent", unit="Count", value=len(done["queued"]))
    return _json(200, done)


@app.post("/api/jobs/<job_id>/resume-emails")
def resume_emails(job_id: str) -> Response[str]:
    return _json(200, console.resume(job_id, _deps()))


@app.post("/api/uploads")
def upload() -> Response[str]:
    return _json(200, console.upload_form(_body(), _deps()))


@app.get("/api/template")
def template() -> Response[str]:
    headers = dict(SECURITY_HEADERS) | {"Content-Disposition": 'attachment; filename="portal-users-template.csv"'}
    return Response(status_code=200, content_type="text/csv; charset=utf-8", body=SAMPLE_CSV, headers=headers)


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: a request may name Contacts, and holds the token.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
