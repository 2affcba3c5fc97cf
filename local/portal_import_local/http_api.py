"""The stack's HTTP API, answered locally: a request as API Gateway's HTTP API hands it to a function (payload
format 2.0), and the function's answer as API Gateway sends it back.

`local serve` answers the API's routes on its own address beside moto's endpoint (HttpApiMiddleware): the
request is handed to the thread that runs every function, as Lambda would run one invocation at a time here.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from portal_import_local.stack import ACCOUNT

# What API Gateway answers when no route matches, and when the function failed or timed out.
NOT_FOUND = (404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
INTERNAL_ERROR = (500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: str  # the raw query string
    headers: dict[str, str]  # names in lower case, as HTTP API passes them
    body: bytes
    source_ip: str = "127.0.0.1"

    def event(self, route_key: str, api_id: str, host: str) -> dict[str, Any]:
        """The request as an HTTP API (payload format 2.0) event."""
        now = time.time()
        text = self.headers.get("content-type", "").startswith(_TEXT_TYPES)
        parameters: dict[str, str] = {}
        for name, value in parse_qsl(self.query, keep_blank_values=True):
            parameters[name] = f"{parameters[name]},{value}" if name in parameters else value  # as API Gateway joins
        return {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": dict(self.headers),
            **({"queryStringParameters": parameters} if parameters else {}),
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": api_id,
                "domainName": host,
                "domainPrefix": host.split(".", 1)[0],
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip,
                    "userAgent": self.headers.get("user-agent", ""),
                },
                "requestId": uuid.uuid4().hex,
                "routeKey": route_key,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            **(
                {"body": self.body.decode("utf-8", "replace") if text else base64.b64encode(self.body).decode()}
                if self.body
                else {}
            ),
            "isBase64Encoded": bool(self.body) and not text,
        }


def answer_of(result: Any) -> Answer:
    """A function's result as API Gateway sends it (payload format 2.0: a dict with statusCode, or any JSON)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name).lower()] = ", ".join(str(v) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw


@dataclass
class _Pending:
    request: HttpRequest
    done: threading.Event = field(default_factory=threading.Event)
    answer: Answer = INTERNAL_ERROR


class HttpApiMiddleware:
    """A WSGI application that answers the HTTP API's routes and hands everything else to `inner` (moto).

    A route's request waits in `pending` until the thread that runs the functions takes it (take_pending); the
    answer goes back to the server thread that holds the connection."""

    def __init__(self, inner: Callable[..., Iterable[bytes]], routes: Iterable[tuple[str, str]]) -> None:
        self._inner = inner
        self._routes = set(routes)
        self._paths = {path for _, path in self._routes}
        self.pending: queue.Queue[_Pending] = queue.Queue()
        self.wake = threading.Event()  # set when a request waits

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in self._paths or _is_signed(environ):
            return self._inner(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = HttpRequest(
            method=environ["REQUEST_METHOD"].upper(),
            path=path,
            query=environ.get("QUERY_STRING", ""),
            headers=_headers(environ),
            body=environ["wsgi.input"].read(length) if length else b"",
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
        )
        waiting = _Pending(request)
        self.pending.put(waiting)
        self.wake.set()
        waiting.done.wait(timeout=30)  # API Gateway's own limit for an integration
        status, headers, body = waiting.answer if waiting.done.is_set() else (503, {}, b"")
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [body]

    def take_pending(self, answer: Callable[[HttpRequest], Answer]) -> bool:
        """Answers every request waiting, in this thread; True when there was one."""
        self.wake.clear()
        answered = False
        while True:
            try:
                waiting = self.pending.get_nowait()
            except queue.Empty:
                return answered
            try:
                waiting.answer = answer(waiting.request)
            finally:
                waiting.done.set()
            answered = True


def _is_signed(environ: dict[str, Any]) -> bool:
    """An AWS SDK's request (SigV4): for moto, never for the page (a bucket could be named like a route)."""
    return "HTTP_AUTHORIZATION" in environ and environ["HTTP_AUTHORIZATION"].startswith("AWS4-")


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers
