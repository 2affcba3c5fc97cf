"""The stack's REST and HTTP APIs, answered locally: a request as API Gateway hands it to a function through a Lambda
proxy integration (payload format 1.0 for a REST API, 2.0 for an HTTP API), and the function's answer as API
Gateway sends it back.

`local serve` answers every path under the API's stage on its own address beside moto's endpoint (ApiMiddleware):
the request is handed to the thread that runs every function, as Lambda would run one invocation at a time here.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from portal_import_local.account import ACCOUNT
from portal_import_local.handoff import Handoff

# What a REST API answers for a path or method it has no route for (an API without authorizers says this), and
# when the function failed, timed out or answered something that is not a proxy response.
MISSING_ROUTE = (
    403,
    {"content-type": "application/json", "x-amzn-errortype": "MissingAuthenticationTokenException"},
    b'{"message":"Missing Authentication Token"}',
)
BAD_GATEWAY = (502, {"content-type": "application/json"}, b'{"message": "Internal server error"}')
TIMED_OUT = (504, {"content-type": "application/json"}, b'{"message": "Endpoint request timed out"}')
_INTEGRATION_TIMEOUT_SECONDS = 29  # a REST API's limit for an integration's answer

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # as the client sent it: the stage first (/v1/activate)
    query: str  # the raw query string
    headers: dict[str, str]
    body: bytes
    source_ip: str = "127.0.0.1"

    def query_values(self) -> dict[str, list[str]]:
        """Each query parameter's values, in the order the query gives them."""
        values: dict[str, list[str]] = {}
        for name, value in parse_qsl(self.query, keep_blank_values=True):
            values.setdefault(name, []).append(value)
        return values

    def header(self, name: str) -> str:
        """A header's value whatever the case of its name; "" when the request has none."""
        return next((value for key, value in self.headers.items() if key.lower() == name), "")

    def event(self, resource: str, stage: str, api_id: str) -> dict[str, Any]:
        """The request as a REST API's Lambda proxy event (payload format 1.0) for the route `resource`."""
        now = time.time()
        multi = self.query_values()
        host = self.header("host") or "127.0.0.1"
        return {
            "resource": resource,
            "path": resource,  # without the stage, as API Gateway's default endpoint passes it
            "httpMethod": self.method,
            "headers": dict(self.headers),
            "multiValueHeaders": {name: [value] for name, value in self.headers.items()},
            "queryStringParameters": {name: values[-1] for name, values in multi.items()} or None,  # the last wins
            "multiValueQueryStringParameters": multi or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": api_id,
                "domainName": host,
                "domainPrefix": host.split(".", 1)[0],
                "extendedRequestId": uuid.uuid4().hex[:16],
                "httpMethod": self.method,
                "identity": {"sourceIp": self.source_ip, "userAgent": self.header("user-agent")},
                "path": self.path,
                "protocol": "HTTP/1.1",
                "requestId": str(uuid.uuid4()),
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "resourceId": "local",
                "resourcePath": resource,
                "stage": stage,
            },
            # No binary media types: API Gateway passes the body as text, whatever its content type.
            "body": self.body.decode("utf-8", "replace") if self.body else None,
            "isBase64Encoded": False,
        }

    def event_v2(
        self, route_key: str, stage: str, api_id: str, path_parameters: dict[str, str], claims: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The request as an HTTP API's Lambda proxy event (payload format 2.0) for the route `route_key`."""
        now = time.time()
        joined = self.query_values()
        host = self.header("host") or "127.0.0.1"
        headers = {name.lower(): value for name, value in self.headers.items() if name.lower() != "cookie"}
        cookies = [c.strip() for c in self.header("cookie").split(";") if c.strip()]
        context: dict[str, Any] = {
            "accountId": ACCOUNT,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": self.method,
                "path": self.path,
                "protocol": "HTTP/1.1",
                "sourceIp": self.source_ip,
                "userAgent": self.header("user-agent"),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        }
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,  # the stage first, as a named stage's requests have it
            "rawQueryString": self.query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if cookies:
            event["cookies"] = cookies
        if joined:
            event["queryStringParameters"] = {name: ",".join(values) for name, values in joined.items()}
        if path_parameters:
            event["pathParameters"] = path_parameters
        if self.body:
            event["body"] = self.body.decode("utf-8", "replace")
        return event


# What an HTTP API answers for a route it does not have, and when the function failed.
NOT_FOUND = (404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
INTERNAL_ERROR = (500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')


def answer_of(result: Any) -> Answer:
    """A function's result as API Gateway sends it: a proxy response (statusCode, headers, multiValueHeaders, body,
    isBase64Encoded), or 502 for anything else, as a REST API answers a malformed one."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return BAD_GATEWAY
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name).lower()] = ", ".join(str(v) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw


class ApiMiddleware:
    """A WSGI application that answers every path under the REST API's stages and hands everything else to `inner`
    (moto). A request is answered by `answer` on the thread that runs the functions (through `handoff`); the answer
    goes back to the server thread that holds the connection."""

    def __init__(
        self,
        inner: Callable[..., Iterable[bytes]],
        stages: Iterable[str],
        handoff: Handoff,
        answer: Callable[[HttpRequest], Answer],
    ) -> None:
        self._inner = inner
        self._prefixes = tuple(f"/{stage}/" for stage in stages)
        self._handoff = handoff
        self._answer = answer

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(self._prefixes) or _is_signed(environ):
            return self._inner(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = HttpRequest(
            method=environ["REQUEST_METHOD"].upper(),
            path=path,
            query=environ.get("QUERY_STRING", ""),
            headers=_headers(environ),
            body=environ["wsgi.input"].read(length) if length else b"",
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),  # what WAF counts a client by
        )
        answered = self._handoff.call(lambda: self._answer(request), timeout=_INTEGRATION_TIMEOUT_SECONDS)
        status, headers, body = answered if answered is not None else TIMED_OUT
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [body]


def _is_signed(environ: dict[str, Any]) -> bool:
    """An AWS SDK's request, or a pre-signed URL (SigV4): for moto, never for the API (a bucket could be named like
    a stage)."""
    signed_header = environ.get("HTTP_AUTHORIZATION", "").startswith("AWS4-")
    return signed_header or "X-Amz-Signature=" in environ.get("QUERY_STRING", "")


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers as a browser writes their names (Content-Type): a REST API passes them as sent."""
    headers = {_name(key[5:]): str(value) for key, value in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[_name(key)] = str(environ[key])
    return headers


def _name(environ_key: str) -> str:
    return "-".join(part.capitalize() for part in environ_key.split("_"))
