"""`local serve`: the embedded stack kept running behind an S3-compatible endpoint, so that any S3 client can drop
files into imports/ and collect results/, and any SQS client can subscribe to the results topic.

One process holds both sides. The endpoint is moto's server, answering on 127.0.0.1 from a thread; the functions
run in-process on the same moto state, and the main thread does what Lambda would: it notices each new object
version under imports/ (the bucket notification), delivers the queues, and runs the sweeper when a job is left
with nothing to deliver. SIGINT or SIGTERM stops it within a second or so of the current step.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from portal_import.domain.notification import IMPORT_COMPLETED
from portal_import.domain.results import results_prefix
from portal_import.domain.shown import visible
from portal_import_cli.seed import read_directory
from portal_import_local import invocations
from portal_import_local.account import REGION
from portal_import_local.handoff import Handoff
from portal_import_local.http_api import ApiMiddleware
from portal_import_local.outbox import write_outbox
from portal_import_local.runtime import LocalRuntime
from portal_import_local.startup import running_stack

_POLL_SECONDS = 0.1
# A job whose queues have been empty this long without its results is stalled: the sweeper finishes it.
_IDLE_BEFORE_SWEEP_SECONDS = 2.0
# Lambda's longest run: a synchronous Invoke waits that long for its function.
_INVOKE_SECONDS = 900.0


class PortInUse(Exception):
    pass


@dataclass
class _Watch:
    """What the loop knows: object versions already delivered, and the jobs not yet announced."""

    seen: set[tuple[str, str]] = field(default_factory=set)
    open_jobs: dict[str, str] = field(default_factory=dict)  # jobId -> the file's key
    idle_since: float | None = None


class LocalServer:
    """The endpoint, bound at once (so that port 0 names its port before the stack is provisioned with it), and
    the loop that does Lambda's work once `attach` gave it the runtime."""

    def __init__(self, host: str, port: int, out: TextIO = sys.stderr, outbox: Path | None = None) -> None:
        from werkzeug.serving import make_server

        self._out = out
        self._outbox = outbox
        self._emails_written = 0
        self._sends_written = 0  # SES sends whose emails are in the outbox
        self._stop = threading.Event()
        self._watch = _Watch()
        self.console_administrator: tuple[str, str] | None = None  # the one `attach` creates
        self._app = _Dispatch()
        _check_free(host, port)
        try:
            self._server = make_server(host, port, self._app, threaded=True, request_handler=_request_handler())
        except (OSError, SystemExit) as error:  # werkzeug prints its own message and exits when the port is taken
            raise PortInUse(f"cannot listen on {host}:{port}; choose another --port") from error
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request is noise for an administrator

    def attach(self, runtime: LocalRuntime) -> None:
        """What the endpoint answers: the stack's REST API under its stage (the activation page), and moto for the
        rest."""
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.runtime = runtime
        self.console_administrator = create_console_administrator(runtime)
        stages = [api.stage for api in runtime.stack.apis] + [api.stage for api in runtime.stack.http_apis]
        # A page request or an Invoke arrives on a server thread; the function runs on this loop's thread.
        self._handoff = Handoff()
        inner = DomainDispatcherApplication(create_backend_app)
        self._app.inner = ApiMiddleware(inner, stages, self._handoff, runtime.answer_http)
        invocations.set_invoker(
            lambda name, payload: self._handoff.call(
                lambda: runtime.invoke_by_name(name, payload), timeout=_INVOKE_SECONDS
            )
        )
        self._s3 = runtime.session.client("s3")

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def ready(self) -> dict[str, str | bool]:
        """What a client needs, as printed on stdout once the endpoint answers: with the console's address and the
        administrator the server created, whose password is permanent (signing in asks for no new one); and, with
        --aws-quotas, that the stack's calls are held to AWS's rate quotas."""
        stack = self.runtime.stack
        console = self.console_administrator or ("", "")
        quotas: dict[str, str | bool] = {"awsQuotas": True} if self.runtime.calls.quotas is not None else {}
        return {
            "consoleUrl": stack.console_url,
            "consoleUsername": console[0],
            "consolePassword": console[1],
            "adminUserPoolId": stack.admin_user_pool_id,
            "adminUserPoolClientId": stack.admin_user_pool_client_id,
            "endpoint": self.endpoint,
            "bucket": stack.bucket,
            "topicArn": stack.topic_arn,
            "region": REGION,
            "userPoolId": stack.user_pool_id,
            "userPoolClientId": stack.user_pool_client_id,
            "portalUrl": stack.portal_url,
            **quotas,
        }

    def start(self) -> None:
        self._watch.seen.update(self._versions())  # what the seeding left is not an upload
        self._thread.start()

    def stop(self, *_: object) -> None:
        self._stop.set()
        self._handoff.wake.set()

    def serve_forever(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.step():
                    self._handoff.wake.wait(_POLL_SECONDS)  # a page request or an Invoke wakes the loop at once
        finally:
            self._server.shutdown()
            self._thread.join(timeout=5)

    def step(self) -> bool:
        """One round of what Lambda would do; True when something was delivered."""
        busy = self._handoff.run_pending()
        for key, version in sorted(set(self._versions()) - self._watch.seen):
            self._watch.seen.add((key, version))
            busy = self._file_dropped(key, version) or busy
        if self.runtime.pump():
            busy = True
        self._write_outbox()
        self._announce()
        if busy:
            self._watch.idle_since = None
        elif self._watch.open_jobs and self.runtime.queues_empty():
            now = time.monotonic()
            if self._watch.idle_since is None:
                self._watch.idle_since = now
            elif now - self._watch.idle_since > _IDLE_BEFORE_SWEEP_SECONDS:
                self._say(f"{len(self._watch.open_jobs)} job(s) left with nothing to deliver: running the sweeper")
                self.runtime.run_schedules()
                self._watch.idle_since = None
        return busy

    def _versions(self) -> list[tuple[str, str]]:
        bucket = self.runtime.stack.bucket
        found: list[tuple[str, str]] = []
        for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="imports/"):
            found += [(v["Key"], v.get("VersionId") or "null") for v in page.get("Versions", [])]
        return found

    def _file_dropped(self, key: str, version: str) -> bool:
        shown = visible(key)  # any S3 client chose it: an escape in it must not reach the terminal as one
        if not self.runtime.stack.bucket_trigger.matches(key):
            self._say(f"{shown}: not a .csv file under imports/, so no job starts")
            return False
        head = self._s3.head_object(Bucket=self.runtime.stack.bucket, Key=key, VersionId=version)
        try:
            job_ids = self.runtime.deliver_s3_event(self.runtime.s3_event(key, head))
        except RuntimeError as error:
            self._say(f"{shown}: {visible(str(error))}")
            return True
        for job_id in job_ids:
            self._watch.open_jobs[job_id] = key
            self._say(f"{shown}: job {job_id} started")
        return True

    def _write_outbox(self) -> None:
        """Each activation email sent since the last step, into --outbox (only the new sends are rendered)."""
        sends = self.runtime.sent_message_count()
        if self._outbox is None or sends <= self._sends_written:
            return
        new = self.runtime.iter_sent_emails(first_message=self._sends_written)
        self._emails_written += write_outbox(self._outbox, new, first=self._emails_written + 1)
        self._sends_written = sends

    def _announce(self) -> None:
        if not self._watch.open_jobs:
            return
        for notice in self.runtime.notifications():
            job_id = notice.attributes.get("jobId", "")
            if notice.attributes.get("event") != IMPORT_COMPLETED or job_id not in self._watch.open_jobs:
                continue
            del self._watch.open_jobs[job_id]
            self._say(
                f"job {job_id}: {notice.subject}; results in s3://{self.runtime.stack.bucket}/{results_prefix(job_id)}"
            )

    def _say(self, text: str) -> None:
        print(f"portal-import: {text}", file=self._out, flush=True)


class _Dispatch:
    """The WSGI application the server was bound with; what it answers is set once the stack exists."""

    inner: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.inner is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"the local stack is still being created\n"]
        return self.inner(environ, start_response)


def _request_handler() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler


def _check_free(host: str, port: int) -> None:
    """Fails with a sentence instead of werkzeug's own message and exit when the port is taken."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortInUse(f"cannot listen on {host}:{port} ({error.strerror}); choose another --port") from error


CONSOLE_ADMINISTRATOR = "admin@example.com"


def create_console_administrator(runtime: LocalRuntime) -> tuple[str, str] | None:
    """One administrator of the console's pool, with a permanent password made for this server (what `portal-import
    admins add` and the invitation's first sign-in do on AWS); None when the stack has no console."""
    pool = runtime.stack.admin_user_pool_id
    if not pool:
        return None
    cognito = runtime.session.client("cognito-idp")
    # Every kind of character the pool's policy asks for, and 128 bits of chance.
    password = f"Local-{secrets.token_urlsafe(16)}-9a"
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=CONSOLE_ADMINISTRATOR,
        UserAttributes=[
            {"Name": "email", "Value": CONSOLE_ADMINISTRATOR},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(UserPoolId=pool, Username=CONSOLE_ADMINISTRATOR, Password=password, Permanent=True)
    return CONSOLE_ADMINISTRATOR, password


def serve(args: argparse.Namespace, template: Path, log_path: Path) -> int:
    """Listen, provision (the links point at this address), seed, print the ready line, and deliver events until
    SIGINT or SIGTERM."""
    data = read_directory(args.contacts, args.roles)
    if args.outbox is not None:
        args.outbox.mkdir(parents=True, exist_ok=True)
    server = LocalServer(args.host, args.port, outbox=args.outbox)  # before provisioning: a taken port fails at once
    with running_stack(args, template, data, log_path, append=True, api_endpoint=server.endpoint) as runtime:
        server.attach(runtime)
        previous = {sig: signal.signal(sig, _stopper(server)) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            server.start()
            print(json.dumps(server.ready()), flush=True)
            server._say(
                f"serving on {server.endpoint}; drop files with "
                f"aws --endpoint-url {server.endpoint} s3 cp FILE.csv s3://{runtime.stack.bucket}/imports/ "
                f"(function logs: {log_path}); activation links open {runtime.stack.portal_url}/activate"
                + (f", and each email sent is written to {args.outbox}" if args.outbox else "")
                + ("; the functions' calls over AWS's rate quotas are refused" if args.aws_quotas else "")
                + "; Ctrl-C stops"
            )
            server.serve_forever()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    server._say("stopped")
    return 0


def _stopper(server: LocalServer) -> Any:
    def handle(signum: int, frame: FrameType | None) -> None:
        server.stop()

    return handle
