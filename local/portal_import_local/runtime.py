"""The local stand-in for the Lambda service: delivers the bucket's notification and the SQS event source
mappings to the functions in-process, with the template's batch sizes, partial batch failures and redrive.

The local clock runs fast in one place: a message whose processing failed becomes visible again at once
instead of after its queue's visibility timeout, so retries and redrive to the DLQ happen in seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import time
import traceback
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import boto3
import yaml
from botocore.exceptions import ClientError
from moto.cognitoidp.models import cognitoidp_backends

from portal_import.aws.jobs import Jobs
from portal_import.aws.notifier import EVENT_SOURCE
from portal_import.domain.notification import DETAIL_TYPE_COMPLETED, IMPORT_COMPLETED
from portal_import.domain.results import results_prefix
from portal_import.domain.summary import SUMMARY_FILE
from portal_import_local import invocations, ses_events
from portal_import_local.faults import FaultPlan
from portal_import_local.host import CallLog, FunctionHost, install_call_counting
from portal_import_local.http_api import (
    BAD_GATEWAY,
    INTERNAL_ERROR,
    MISSING_ROUTE,
    NOT_FOUND,
    Answer,
    HttpRequest,
    answer_of,
)
from portal_import_local.jwt_authorizer import UNAUTHORIZED, authorized_claims
from portal_import_local.moto_patches import SES_DAILY_QUOTA
from portal_import_local.outbox import iter_sent_emails, sent_emails, sent_message_count
from portal_import_local.quotas import AwsQuotas
from portal_import_local.stack import ACCOUNT, DEFAULT_ENDPOINT, REGION, HttpApi, RestApi, Stack, provision
from portal_import_local.waf import Firewall, WebAcl

_IDLE_SLEEP = 0.02
# The longest nap while waiting for SES's next event: queues still draining are looked at again after it.
_LONGEST_IDLE_SLEEP = 0.25
# Lambda retries a failed asynchronous invocation (the S3 notification) twice.
_ASYNC_ATTEMPTS = 3
# The stack's pacing of its Cognito calls, one rate per quota category.
_COGNITO_PACING = (
    "CognitoUserCreationRate",
    "CognitoUserUpdateRate",
    "CognitoUserAccountRecoveryRate",
    "CognitoUserReadRate",
)
# Locally the daily email quota is a parameter (on AWS the template's 0 reads the account's SES quota), the quota the
# local SES says its account has (`portal-import doctor`); and moto has no Cognito quotas to keep to, so pool users are
# paced at a rate that never makes a local run wait, unless the local AWS enforces AWS's quotas (--aws-quotas): then the
# stack keeps the template's pacing. Only the parameters the template declares are given.
_LOCAL_PARAMETERS = {"DailyEmailQuota": str(SES_DAILY_QUOTA), **dict.fromkeys(_COGNITO_PACING, "1000")}
# From the top-level `Parameters:` to the next top-level key (a comment at the margin does not end it).
_PARAMETERS_SECTION = re.compile(r"^Parameters:\n.*?(?=^[A-Za-z]|\Z)", re.MULTILINE | re.DOTALL)
# How often the scheduled sweep may run for one job before the runtime says it is stuck.
_MAX_SWEEPS = 3
# A queue with no dead-letter queue of its own (a DLQ's consumer) retries this often before the runtime gives up.
_MAX_RECEIVES_WITHOUT_REDRIVE = 10


class JobAnnouncedTwice(RuntimeError):
    """More than one results-ready message for one job: docs/contracts.md §4 allows exactly one."""


class SplitterGaveUp(RuntimeError):
    """Every attempt of the splitter failed before a job existed: nothing will carry the file on."""


class JobStalled(RuntimeError):
    """Every queue is empty but the job has no results: some rows can no longer be accounted for."""


@dataclass(frozen=True)
class Notification:
    subject: str
    message: str
    attributes: dict[str, str]


def provision_local(
    template_path: Path,
    parameters: dict[str, str],
    session: boto3.Session,
    *,
    api_endpoint: str = DEFAULT_ENDPOINT,
    aws_quotas: bool = False,
) -> Stack:
    """The stack as the local runtime provisions it: the template with the local runtime's defaults (`parameters`
    win)."""
    defaults = local_parameters(declared_parameters(template_path), aws_quotas=aws_quotas)
    return provision(template_path, {**defaults, **parameters}, session, api_endpoint=api_endpoint)


def declared_parameters(template_path: Path) -> set[str]:
    """The names of the template's parameters, read from its top-level Parameters section alone: loading the whole
    template takes half a second, and provisioning loads it anyway."""
    section = _PARAMETERS_SECTION.search(template_path.read_text(encoding="utf-8"))
    if section is None:
        return set()
    return set(yaml.safe_load(section.group(0)).get("Parameters") or {})


def local_parameters(declared: Collection[str], *, aws_quotas: bool) -> dict[str, str]:
    """The local runtime's own values of the template's parameters `declared`: with `aws_quotas`, Cognito's pacing
    is the template's own, since the local Cognito then refuses what AWS's would."""
    return {
        name: value
        for name, value in _LOCAL_PARAMETERS.items()
        if name in declared and not (aws_quotas and name in _COGNITO_PACING)
    }


class LocalRuntime:
    def __init__(
        self,
        template_path: Path,
        parameters: dict[str, str],
        faults: FaultPlan | None = None,
        *,
        api_endpoint: str = DEFAULT_ENDPOINT,
        stack: Stack | None = None,
        aws_quotas: bool = False,
    ) -> None:
        """Provisions the template on the active moto; or, given the `stack` an earlier runtime provisioned there
        (with these parameters), runs on it (the integration tests share one a module). With `aws_quotas`, the
        functions' calls over AWS's rate quotas are refused (quotas.AwsQuotas), SES's at the stack's
        EmailRatePerSecond."""
        install_call_counting()
        invocations.install()
        ses_events.install()
        self.session = boto3.Session(region_name=REGION)
        self.stack: Stack = stack or provision_local(
            template_path, parameters, self.session, api_endpoint=api_endpoint, aws_quotas=aws_quotas
        )
        self.faults = faults or FaultPlan()
        ses_events.SCHEDULE.delay = self.faults.event_delay  # with a seed, SES's events come jittered
        quotas = AwsQuotas.of_stack(self.stack.parameters) if aws_quotas else None
        self.calls = CallLog(faults=self.faults, quotas=quotas)
        self.hosts = {logical_id: FunctionHost(spec, self.calls) for logical_id, spec in self.stack.functions.items()}
        # Each REST API's web ACL at work (none: a firewall without rules lets every request through).
        self._firewalls = {api.logical_id: Firewall(api.web_acl or WebAcl(rules=())) for api in self.stack.apis}
        self._s3 = self.session.client("s3")
        self._sqs = self.session.client("sqs")
        self._ddb = self.session.client("dynamodb")
        self._sns = self.session.client("sns")
        self._notifications_url = self._subscribe_to_topic()
        self._notifications: list[Notification] = []
        self._completed_events_url = self._route_completed_events()
        self._completed_details: list[dict[str, Any]] = []
        self.stuck: list[str] = []  # bodies of messages that failed every local retry on a queue without DLQ
        self._log_stream: Any = sys.stderr
        invocations.set_invoker(
            self.invoke_by_name
        )  # Invoke runs the stack's functions here (local serve: handed over)

    def send_function_logs_to(self, stream: Any) -> None:
        """Function log lines go to `stream` instead of stdout (which belongs to the command's own output)."""
        # The functions share one Logger; it reads its service name from the environment when created.
        any_function = next(iter(self.stack.functions.values()))
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", any_function.environment.get("POWERTOOLS_SERVICE_NAME", ""))
        from portal_import.observability import logger

        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            try:
                handler.setStream(stream)
            except ValueError:  # the previous stream was closed already: nothing to flush
                handler.stream = stream
        self._log_stream = stream

    def answer_http(self, request: HttpRequest) -> Answer:
        """A request to the stack's REST API (its web ACL first) or HTTP API (its route's JWT authorizer first),
        then the function of its route, as API Gateway would answer it."""
        for api in self.stack.apis:
            resource = api.resource_of(request.path)
            if resource is not None:
                blocked = self._firewalls[api.logical_id].inspect(request.source_ip)
                return blocked or self._invoke(api, resource, request)
        for http_api in self.stack.http_apis:
            if http_api.serves(request.path):
                return self._invoke_http_api(http_api, request)
        return MISSING_ROUTE

    def _invoke_http_api(self, api: HttpApi, request: HttpRequest) -> Answer:
        found = api.route_of(request.method, request.path)
        if found is None:
            return NOT_FOUND
        template, route, parameters = found
        claims = None
        if route.authorizer is not None:
            claims = authorized_claims(request.header("authorization"), route.authorizer)
            if claims is None:
                return UNAUTHORIZED
        event = request.event_v2(f"{request.method} {template}", api.stage, api.api_id, parameters, claims)
        try:
            result = self.hosts[route.function].invoke(event)
        except Exception as crash:  # noqa: BLE001 - an HTTP API answers 500 and Lambda logs the crash
            self._log_crash(route.function, crash)
            return INTERNAL_ERROR
        return answer_of(result)

    def _invoke(self, api: RestApi, resource: str, request: HttpRequest) -> Answer:
        function = api.routes.get((request.method, resource))
        if function is None:
            return MISSING_ROUTE
        try:
            result = self.hosts[function].invoke(request.event(resource, api.stage, api.api_id))
        except Exception as crash:  # noqa: BLE001 - API Gateway answers 502 and Lambda logs the crash
            self._log_crash(function, crash)
            return BAD_GATEWAY
        return answer_of(result)

    def invoke_by_name(self, name: str, payload: bytes) -> tuple[bytes, bool] | None:
        """A synchronous Invoke of the stack's function `name`, as Lambda answers it: the result as JSON, or the
        error document when the function raised (then True). None when `name` is not one of the stack's."""
        function = next((spec.logical_id for spec in self.stack.functions.values() if spec.name == name), None)
        if function is None:
            return None
        try:
            result = self.hosts[function].invoke(json.loads(payload or b"{}"))
        except Exception as crash:  # noqa: BLE001 - Lambda answers the error document and logs the crash
            self._log_crash(function, crash)
            return json.dumps({"errorMessage": str(crash)[:200], "errorType": type(crash).__name__}).encode(), True
        return json.dumps(result).encode(), False

    def _log_crash(self, function: str, crash: BaseException) -> None:
        """What Lambda would write to the function's log group when an invocation raises, scrubbed as the
        functions' own lines are (the stack trace ends with the exception's message)."""
        from portal_import.observability import scrub  # late, as in send_function_logs_to: it creates the Logger

        line = {
            "level": "ERROR",
            "message": f"Invocation of {function} failed",
            "function": function,
            "errorType": type(crash).__name__,
            "stackTrace": traceback.format_exception(crash),
        }
        self._log_stream.write(json.dumps(scrub(line)) + "\n")

    def _subscribe_to_topic(self) -> str:
        """An SQS queue on the topic stands in for the administrator's inbox."""
        url = self._sqs.create_queue(QueueName="portal-import-local-notifications")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.session.client("sns").subscribe(TopicArn=self.stack.topic_arn, Protocol="sqs", Endpoint=arn)
        return str(url)

    def _route_completed_events(self) -> str:
        """An SQS queue on a rule for the stack's Import Completed events stands in for whatever an account routes
        them to; their detail says which link is which file."""
        url = self._sqs.create_queue(QueueName="portal-import-local-import-completed")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = self.session.client("events")
        rule = "portal-import-local-import-completed"
        pattern = {"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE_COMPLETED]}
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, Targets=[{"Id": "local", "Arn": arn}])
        return str(url)

    # Dropping a file

    def upload(self, path: Path, key: str, metadata: dict[str, str]) -> dict[str, Any]:
        with path.open("rb") as handle:
            response = self._s3.put_object(Bucket=self.stack.bucket, Key=key, Body=handle, Metadata=metadata)
        head = self._s3.head_object(Bucket=self.stack.bucket, Key=key, VersionId=response["VersionId"])
        return self.s3_event(key, head)

    def s3_event(self, key: str, head: Mapping[str, Any]) -> dict[str, Any]:
        """The bucket notification S3 sends for this object version."""
        now = datetime.now(UTC)
        version = head.get("VersionId")
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "AWS:LOCALADMIN"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "local"},
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "FileDropped",
                        "bucket": {
                            "name": self.stack.bucket,
                            "ownerIdentity": {"principalId": "LOCALADMIN"},
                            "arn": f"arn:aws:s3:::{self.stack.bucket}",
                        },
                        "object": {
                            "key": quote_plus(key, safe="/"),  # S3 URL-encodes keys in events
                            "size": int(head["ContentLength"]),
                            "eTag": head["ETag"].strip('"'),
                            "versionId": version,
                            "sequencer": hashlib.sha256(f"{key}{version}{now}".encode()).hexdigest()[:18].upper(),
                        },
                    },
                }
            ]
        }

    def deliver_s3_event(self, event: dict[str, Any]) -> list[str]:
        """Invokes the function the bucket notifies, retrying as Lambda does for asynchronous invocations."""
        key = unquote_plus(event["Records"][0]["s3"]["object"]["key"])
        trigger = self.stack.bucket_trigger
        if not trigger.matches(key):
            return []
        error: Exception | None = None
        for _ in range(_ASYNC_ATTEMPTS):
            try:
                result = self.hosts[trigger.function].invoke(event)
                if self.faults.redeliver_now():  # S3 delivers events at least once
                    self.deliver_s3_event(event)
                return list(result.get("jobIds", [])) if isinstance(result, dict) else []
            except Exception as failure:  # noqa: BLE001 - Lambda retries whatever the function raised
                self._log_crash(trigger.function, failure)
                error = failure
        # Lambda gives up: the event goes to the function's dead-letter queue. A job the attempts started is not
        # lost with it: the scheduled sweeper splits it again once it has stalled.
        version = event["Records"][0]["s3"]["object"].get("versionId")
        started = Jobs(self.stack.jobs_table).job_ids(source_version_id=version) if version else []
        if started:
            return started
        raise SplitterGaveUp(
            f"the splitter failed {_ASYNC_ATTEMPTS} times before it could start a job "
            f"(on AWS the file's event waits in the dropped-file dead-letter queue): {error}"
        ) from error

    # Delivering queues

    def pump(self) -> bool:
        """SES's events that are due published, then one pass over every event source mapping; True when any event
        was published or any batch delivered."""
        delivered = self._publish_due_ses_events()
        for trigger in self.stack.queue_triggers:
            response = self._sqs.receive_message(
                QueueUrl=trigger.queue_url,
                MaxNumberOfMessages=min(trigger.batch_size, 10),
                VisibilityTimeout=trigger.visibility_timeout,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages:
                continue
            delivered = True
            failed = self._invoke_with_batch(
                trigger.function, trigger.queue_arn, messages, trigger.report_item_failures
            )
            for message in messages:
                receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                no_redrive = trigger.queue_url not in self.stack.dead_letter_queues
                if message["MessageId"] in failed and no_redrive and receives >= _MAX_RECEIVES_WITHOUT_REDRIVE:
                    # AWS would keep retrying until the retention period ends; locally, give up and say so.
                    self.stuck.append(message["Body"])
                    self._sqs.delete_message(QueueUrl=trigger.queue_url, ReceiptHandle=message["ReceiptHandle"])
                    continue
                if message["MessageId"] in failed:
                    # The fast clock: the visibility timeout of a failed message is over at once.
                    self._sqs.change_message_visibility(
                        QueueUrl=trigger.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    self._sqs.delete_message(QueueUrl=trigger.queue_url, ReceiptHandle=message["ReceiptHandle"])
                    if self.faults.redeliver_now():  # SQS delivers at least once
                        self._sqs.send_message(QueueUrl=trigger.queue_url, MessageBody=message["Body"])
        return delivered

    def _publish_due_ses_events(self) -> bool:
        """Publishes each SES event now due to its configuration set's event destination, as SES does: moto then
        delivers it to whatever the topic has subscribed (the stack's queue, raw). True when any was due."""
        due = ses_events.SCHEDULE.take_due()
        for event in due:
            topic = ses_events.destination_topic(event)
            if topic is None:  # no destination for this type of event (or the set is gone): SES publishes nothing
                continue
            try:
                self._sns.publish(TopicArn=topic, Message=json.dumps(event.record))
            except ClientError as error:  # a topic deleted since: the event is lost, as on AWS
                self._log_stream.write(
                    json.dumps({"level": "WARNING", "message": f"SES event not published: {error}"}) + "\n"
                )
        return bool(due)

    def ses_events_scheduled(self) -> bool:
        """Whether SES has events still to publish (the mailbox simulator's, a few seconds after each send)."""
        return len(ses_events.SCHEDULE) > 0

    def run_until_ses_events_recorded(self, timeout: float, job_id: str | None = None) -> None:
        """Delivers events until SES has published every event it scheduled and every queue is drained (each event
        recorded by the function its queue triggers), and, with `job_id`, until each of its emails is sent, given
        up on or held (a batch the guard's ramp delays is on its queue, not yet visible); TimeoutError when
        `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.pump():
                continue
            settled = job_id is None or self._emails_settled(job_id)
            if settled and not self.ses_events_scheduled() and self.queues_empty():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"SES's delivery events were not all recorded within {timeout:.0f} seconds "
                    f"({len(ses_events.SCHEDULE)} still to publish)"
                )
            time.sleep(min(max(ses_events.SCHEDULE.seconds_to_next() or 0.0, _IDLE_SLEEP), _LONGEST_IDLE_SLEEP))

    def _invoke_with_batch(
        self, function: str, queue_arn: str, messages: Sequence[Mapping[str, Any]], report_item_failures: bool
    ) -> set[str]:
        event = {"Records": [_sqs_record(message, queue_arn) for message in messages]}
        everything = {message["MessageId"] for message in messages}
        try:
            response = self.hosts[function].invoke(event)
        except Exception as crash:  # noqa: BLE001 - a crashed invocation fails its whole batch, as on Lambda
            self._log_crash(function, crash)
            return everything
        if not report_item_failures:
            return set()
        failures = (response or {}).get("batchItemFailures", []) if isinstance(response, dict) else []
        return {failure["itemIdentifier"] for failure in failures}

    def _emails_settled(self, job_id: str) -> bool:
        job = Jobs(self.stack.jobs_table).get(job_id)
        return job is None or job.emails_accounted

    def queues_empty(self, *, besides: Sequence[str] = ()) -> bool:
        """Whether every event source mapping's queue is drained (those of the functions `besides` aside)."""
        for trigger in self.stack.queue_triggers:
            if trigger.function in besides:
                continue
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=trigger.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if int(attributes["ApproximateNumberOfMessages"]) or int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            ):
                return False
        return True

    def dead_letters(self) -> int:
        total = 0
        for dlq_url in self.stack.dead_letter_queues.values():
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            total += int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        return total

    # Waiting for a job

    def notifications(self) -> list[Notification]:
        while True:
            response = self._sqs.receive_message(QueueUrl=self._notifications_url, MaxNumberOfMessages=10)
            messages = response.get("Messages", [])
            if not messages:
                return list(self._notifications)
            for message in messages:
                envelope = json.loads(message["Body"])
                attributes = {
                    name: value.get("Value", "") for name, value in envelope.get("MessageAttributes", {}).items()
                }
                self._notifications.append(
                    Notification(
                        subject=envelope.get("Subject", ""), message=envelope.get("Message", ""), attributes=attributes
                    )
                )
                self._sqs.delete_message(QueueUrl=self._notifications_url, ReceiptHandle=message["ReceiptHandle"])

    def completion_notice(self, job_id: str) -> Notification | None:
        notices = [
            notification
            for notification in self.notifications()
            if notification.attributes.get("event") == IMPORT_COMPLETED
            and notification.attributes.get("jobId") == job_id
        ]
        if len(notices) > 1:
            raise JobAnnouncedTwice(f"job {job_id} was announced {len(notices)} times")
        return notices[0] if notices else None

    def completion_detail(self, job_id: str) -> dict[str, Any] | None:
        """The detail of the job's Import Completed event (the summary, `links`, `linksExpireInSeconds`), if it came."""
        while True:
            response = self._sqs.receive_message(QueueUrl=self._completed_events_url, MaxNumberOfMessages=10)
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                self._completed_details.append(json.loads(message["Body"]).get("detail", {}))
                self._sqs.delete_message(QueueUrl=self._completed_events_url, ReceiptHandle=message["ReceiptHandle"])
        return next((detail for detail in self._completed_details if detail.get("jobId") == job_id), None)

    def results_exist(self, job_id: str) -> bool:
        listed = self._s3.list_objects_v2(Bucket=self.stack.bucket, Prefix=results_prefix(job_id) + SUMMARY_FILE)
        return bool(listed.get("KeyCount"))

    def run_until_done(self, job_id: str, timeout: float, *, besides: Sequence[str] = ()) -> Notification:
        """Delivers events until the job's results and notification exist and every queue is drained, but those of
        the functions `besides`, which may still hold work that follows the job (the group pass's)."""
        deadline = time.monotonic() + timeout
        sweeps = 0
        while True:
            delivered = self.pump()
            if (delivered and not besides) or not self.queues_empty(besides=besides):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"job {job_id} did not finish within {timeout:.0f} seconds")
                if not delivered:
                    time.sleep(_IDLE_SLEEP)
                continue
            notice = self.completion_notice(job_id) if self.results_exist(job_id) else None
            if notice is not None:
                return notice
            if delivered:
                continue  # the queues `besides` are still at work: the job's own may fill again
            if sweeps < _MAX_SWEEPS:
                sweeps += 1
                self.run_schedules()
                continue
            raise JobStalled(
                f"job {job_id} stopped before its results were written "
                f"({self.dead_letters()} message(s) in dead-letter queues, "
                f"{len(self.stuck)} that failed every retry)"
            )

    def run_schedules(self) -> None:
        """Nothing is left to deliver but the job is not done: let the stall period pass (on the local clock)
        and invoke the scheduled functions, as EventBridge would once it has."""
        for schedule in self.stack.schedule_triggers:
            host = self.hosts[schedule.function]
            stalled_minutes = int(host.spec.environment.get("STALLED_JOB_MINUTES", "0"))
            moment = datetime.now(UTC) + timedelta(minutes=stalled_minutes + 1)
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT,
                "time": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "region": REGION,
                "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{schedule.function}Schedule"],
                "detail": {},
            }
            try:
                host.invoke(event)
            except Exception as crash:  # noqa: BLE001 - the next scheduled run would try again
                self._log_crash(schedule.function, crash)

    # Reading results

    def download(self, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=self.stack.bucket, Key=key)["Body"].read())

    def sent_emails(self) -> list[bytes]:
        """MIME of every email SES accepted, one per recipient, in the order they were sent."""
        return sent_emails(ACCOUNT, REGION)

    def iter_sent_emails(self, *, first_message: int = 0) -> Iterator[bytes]:
        """The same, one at a time; from the send `first_message` on (sent_message_count counts them)."""
        return iter_sent_emails(ACCOUNT, REGION, first_message=first_message)

    def sent_message_count(self) -> int:
        return sent_message_count(ACCOUNT, REGION)

    def pool_users(self) -> list[dict[str, Any]]:
        """Every user of the stack's user pool, as moto holds it: username, status, attributes (`sub` left out)
        and groups, by username. Read from moto directly: listing a million users page by page takes hours."""
        pool = cognitoidp_backends[ACCOUNT][REGION].user_pools.get(self.stack.user_pool_id)
        if pool is None:
            return []
        return [
            {
                "username": user.username,
                "status": user.status,
                "enabled": user.enabled,
                "attributes": {item["Name"]: item["Value"] for item in user.attributes if item["Name"] != "sub"},
                "groups": sorted(group.group_name for group in user.groups),
            }
            for user in sorted(pool.users.values(), key=lambda user: user.username)
        ]

    def verify_sender(self, address: str) -> None:
        """SES only sends from a verified identity; a deployment verifies it once, the local stack here."""
        self.session.client("ses").verify_email_identity(EmailAddress=address)


def _sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
            "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
            ),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
