"""Console: the import console's API (docs/contracts.md §8), on the HTTP API whose JWT authorizer lets through only
tokens of the administrators' pool. What each route reads and does is portal_import.flows.console's; here each is
answered as JSON. Nothing of a request is logged (it may name Contacts), only its route and answer."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import ConsoleSettings
from portal_import.domain.activation_page import SECURITY_HEADERS
from portal_import.domain.sample import SAMPLE_CSV
from portal_import.flows import console
from portal_import.flows.console import ConsoleDeps, Refused
from portal_import.observability import logger, metrics, tracer

_JSON = "application/json"


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
