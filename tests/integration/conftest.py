"""Integration fixtures: the real template.yaml provisioned on moto, the four handlers run in-process with their
own environments, the sample events of events/, and small readers for what a user would look at afterwards.

Provisioning takes a second or more, so the tests of a module share one stack (`cloud`), emptied before each test;
so do `runtime`'s, per set of stack parameters. A test that must have a stack of its own is marked
@pytest.mark.fresh_stack; `aws` starts from an empty moto, as before."""

from __future__ import annotations

import copy
import email
import email.policy
import hashlib
import json
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.cognitoidp.models import cognitoidp_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict
from moto.dynamodb.models import dynamodb_backends
from moto.s3.models import FakeKey, MultipartDict, s3_backends
from moto.s3.utils import _VersionedKeyStore
from moto.ses.models import ses_backends
from moto.sqs.models import sqs_backends

from portal_import.aws import clients
from portal_import.aws.directory import Directory
from portal_import.aws.jobs import Jobs
from portal_import.aws.userpool import UserPool
from portal_import.domain.job import Job, JobStatus
from portal_import.domain.messages import EmailRecipient
from portal_import.domain.people import Contact, PortalUser
from portal_import.domain.times import now_iso
from portal_import_cli.seed import load_directory, read_directory
from portal_import_local import ses_events
from portal_import_local.host import CallLog, FunctionHost
from portal_import_local.outbox import sent_emails
from portal_import_local.runtime import LocalRuntime, provision_local
from portal_import_local.stack import ARTIFACT_BUCKET, REGION, Stack, provision

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TEMPLATE = ROOT / "template.yaml"
MIXED = ROOT / "tests" / "fixtures" / "mixed"
# Every SQS sample event belongs to this job (events/sqs_*.json).
SAMPLE_JOB_ID = "20250301T093012Z-5f2c1e9a7b3d"


def _load_event(name: str) -> dict[str, Any]:
    """A fresh copy of events/<name>.json, safe to patch."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))


@pytest.fixture
def load_event() -> Any:
    return _load_event


def with_bodies(event: dict[str, Any], *bodies: str) -> dict[str, Any]:
    """The SQS event with its records' bodies replaced (md5OfBody kept consistent), one body per record."""
    records = event["Records"]
    assert len(bodies) <= len(records), "the sample event has fewer records than bodies"
    patched = copy.deepcopy(records[: len(bodies)])
    for record, body in zip(patched, bodies, strict=True):
        record["body"] = body
        record["md5OfBody"] = hashlib.md5(body.encode()).hexdigest()  # what SQS itself sends
    return {"Records": patched}


@pytest.fixture(scope="module")
def _moto() -> Iterator[boto3.Session]:
    """The embedded AWS of a test module, started once for it: the functions' cached boto3 clients are dropped on
    both sides of it. A test gets it emptied (`aws`) or holding the module's provisioned stack (`cloud`)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            patch.delenv(name, raising=False)
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
            patch.setenv(name, value)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_REGION", REGION)
        clients.client.cache_clear()
        with mock_aws():
            yield boto3.Session(region_name=REGION)
        clients.client.cache_clear()


@pytest.fixture
def aws(_moto: boto3.Session) -> Iterator[boto3.Session]:
    """A fresh moto for the test: every resource of the module's earlier tests is gone, and goes again after it."""
    _fresh_moto()
    yield _moto
    _fresh_moto()


def _fresh_moto() -> None:
    BackendDict.reset()
    clients.client.cache_clear()
    ses_events.SCHEDULE.clear()  # SES events of sends into the moto just gone


@dataclass
class Cloud:
    """The provisioned stack, its handlers, and what an administrator or a recipient would see."""

    session: boto3.Session
    stack: Stack
    hosts: dict[str, FunctionHost]

    # Invoking the handlers as Lambda would

    def splitter(self, event: dict[str, Any]) -> Any:
        return self.hosts["SplitterFunction"].invoke(event)

    def worker(self, event: dict[str, Any]) -> Any:
        return self.hosts["WorkerFunction"].invoke(event)

    def email_sender(self, event: dict[str, Any]) -> Any:
        return self.hosts["EmailSenderFunction"].invoke(event)

    def aggregator(self, event: dict[str, Any]) -> Any:
        return self.hosts["AggregatorFunction"].invoke(event)

    # Queues, read from the event source mappings of the template

    def queue_of(self, function: str) -> str:
        (url,) = [t.queue_url for t in self.stack.queue_triggers if t.function == function]
        return url

    def drain(self, queue_url: str) -> list[str]:
        """Every message body waiting on the queue (received once; not visible again during the test)."""
        sqs = self.session.client("sqs")
        bodies: list[str] = []
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=3600).get(
                "Messages", []
            )
            if not messages:
                return bodies
            bodies += [message["Body"] for message in messages]

    def rows_messages(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.drain(self.queue_of("WorkerFunction"))]

    def email_messages(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.drain(self.queue_of("EmailSenderFunction"))]

    def aggregate_messages(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.drain(self.queue_of("AggregatorFunction"))]

    def group_pass(self) -> int:
        """The group pass over every request waiting on the group queue (one invocation each, as its mapping's
        batch size says); how many requests it took."""
        bodies = self.drain(self.queue_of("GroupFunction"))
        for body in bodies:
            event = with_bodies(_load_event("sqs_rows"), body)
            assert self.hosts["GroupFunction"].invoke(event) == {"batchItemFailures": []}
        return len(bodies)

    # The bucket

    def upload(self, key: str, body: bytes, metadata: dict[str, str]) -> dict[str, Any]:
        """Drops a file; returns the s3_put sample event patched to describe exactly that object version."""
        s3 = self.session.client("s3")
        put = s3.put_object(Bucket=self.stack.bucket, Key=key, Body=body, Metadata=metadata)
        event = _load_event("s3_put")
        record = event["Records"][0]
        record["s3"]["bucket"]["name"] = self.stack.bucket
        record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{self.stack.bucket}"
        record["s3"]["object"].update(
            key=key.replace(" ", "+"), size=len(body), eTag=put["ETag"].strip('"'), versionId=put["VersionId"]
        )
        return event

    def read(self, key: str) -> bytes:
        return bytes(self.session.client("s3").get_object(Bucket=self.stack.bucket, Key=key)["Body"].read())

    def keys(self, prefix: str) -> list[str]:
        listed = self.session.client("s3").list_objects_v2(Bucket=self.stack.bucket, Prefix=prefix)
        return [entry["Key"] for entry in listed.get("Contents", [])]

    # The tables, read through the data layer so the tests do not restate item layouts

    def seed_directory(self) -> None:
        """The worked example's directory: tests/fixtures/mixed/{contacts,roles}.csv."""
        load_directory(self.directory(), read_directory(MIXED / "contacts.csv", MIXED / "roles.csv"), self.pool())

    def pool(self) -> UserPool:
        return UserPool(self.stack.user_pool_id)

    def directory(self) -> Directory:
        return Directory(self.stack.directory_table)

    def jobs(self) -> Jobs:
        return Jobs(self.stack.jobs_table)

    def job(self, job_id: str) -> Job:
        job = self.jobs().get(job_id)
        assert job is not None, f"job {job_id} does not exist"
        return job

    def start_job(self, job_id: str, *, chunks: int, rows: int, send_activation_email: bool = True) -> None:
        """A job as the splitter leaves it once every chunk is queued (chunks start at rows 2, 7, ... as in
        events/sqs_rows.json)."""
        job = Job(
            job_id=job_id,
            source_bucket=self.stack.bucket,
            source_key="imports/sample.csv",
            mode="import",
            send_activation_email=send_activation_email,
            status=JobStatus.SPLITTING,
            started_at=now_iso(),
        )
        assert self.jobs().create(job, source_version="v1", source_version_id=None)
        self.jobs().finish_split(job_id, total_rows=rows, chunk_starts=[2 + 5 * seq for seq in range(chunks)])

    def enrol(
        self, job_id: str, people: list[tuple[str, str, str]], *, first_name: str = "", role: str = "Partner User"
    ) -> list[EmailRecipient]:
        """Contacts (contact id, user id, address) whose portal users the job created, as the worker leaves them in
        the directory; the email references a batch of theirs carries (row 2 on)."""
        directory = self.directory()
        directory.put_contacts(Contact(c, email=address, first_name=first_name) for c, _, address in people)
        directory.put_users(
            PortalUser(contact_id=c, user_id=u, role=role, job_id=job_id, row=2 + n)
            for n, (c, u, _) in enumerate(people)
        )
        return [EmailRecipient(row=2 + n, user_id=u, contact_id=c) for n, (c, u, _) in enumerate(people)]

    # What people receive

    def verify_sender(self) -> str:
        sender = self.stack.parameters["SenderAddress"]
        self.session.client("ses").verify_email_identity(EmailAddress=sender)
        return sender

    def sent_emails(self) -> list[email.message.EmailMessage]:
        """Every email SES accepted, one per recipient, as the recipient reads it."""
        from moto.core import DEFAULT_ACCOUNT_ID

        return [
            email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
            for raw in sent_emails(DEFAULT_ACCOUNT_ID, REGION)
        ]

    def subscribe_inbox(self) -> str:
        """An SQS queue subscribed to the results topic stands in for the administrator's inbox."""
        sqs = self.session.client("sqs")
        url = str(sqs.create_queue(QueueName="admin-inbox")["QueueUrl"])
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.session.client("sns").subscribe(TopicArn=self.stack.topic_arn, Protocol="sqs", Endpoint=arn)
        return url

    def subscribe_events(self) -> str:
        """An SQS queue that receives the stack's EventBridge events (source portal-user-import)."""
        sqs = self.session.client("sqs")
        url = str(sqs.create_queue(QueueName="automation")["QueueUrl"])
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = self.session.client("events")
        events.put_rule(Name="import-events", EventPattern=json.dumps({"source": ["portal-user-import"]}))
        events.put_targets(Rule="import-events", Targets=[{"Id": "automation", "Arn": arn}])
        return url


def _provision(session: boto3.Session) -> Stack:
    """template.yaml provisioned on moto."""
    with warnings.catch_warnings():
        # moto notes that it only records the bucket policy: expected, and not what these tests are about.
        warnings.simplefilter("ignore", UserWarning)
        return provision(TEMPLATE, {}, session)


@dataclass(frozen=True)
class _Baseline:
    """What the stack holds right after provisioning, besides its contents: whatever a test adds beyond it (a queue
    standing in for an inbox, its subscription, an EventBridge rule, a Role's group) is taken away after it."""

    queues: frozenset[str]
    subscriptions: frozenset[str]
    rules: frozenset[str]
    groups: frozenset[str]

    @classmethod
    def of(cls, session: boto3.Session, stack: Stack) -> _Baseline:
        subscriptions = session.client("sns").list_subscriptions().get("Subscriptions", [])
        return cls(
            queues=frozenset(sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues),
            subscriptions=frozenset(s["SubscriptionArn"] for s in subscriptions),
            rules=frozenset(r["Name"] for r in session.client("events").list_rules().get("Rules", [])),
            groups=frozenset(_user_pool(stack).groups) if stack.user_pool_id else frozenset(),
        )


def _user_pool(stack: Stack) -> Any:
    return cognitoidp_backends[DEFAULT_ACCOUNT_ID][REGION].user_pools[stack.user_pool_id]


class SharedStack:
    """A test module's provisioned stack, emptied for each test that uses it; provisioned again when a test asks for
    other parameters, or when a test of the module started moto afresh (`aws`, a fresh_stack test)."""

    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self._stack: Stack | None = None
        self._key: tuple[Any, ...] = ()
        self._baseline: _Baseline | None = None

    def stack_for(self, key: tuple[Any, ...], provisioner: Callable[[], Stack], *, fresh: bool = False) -> Stack:
        """The stack `provisioner` makes (`key` names its parameters), empty; a new one when `fresh`."""
        stack, baseline = self._stack, self._baseline
        if fresh or stack is None or baseline is None or self._key != key or not self._alive(stack):
            _fresh_moto()
            stack = self._stack = provisioner()
            self._key, self._baseline = key, _Baseline.of(self.session, stack)
            return stack
        _empty(self.session, stack, baseline)
        clients.client.cache_clear()  # as on a fresh stack: new boto3 clients
        return stack

    @staticmethod
    def _alive(stack: Stack) -> bool:
        return stack.jobs_table in dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables


def _empty(session: boto3.Session, stack: Stack, baseline: _Baseline) -> None:
    """Every item, message, object, pool user and sent email gone, and whatever a test added to the stack."""
    for table in dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables.values():
        table.items.clear()
    sqs = session.client("sqs")
    for name, queue in list(sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues.items()):
        if name in baseline.queues:
            # What moto's PurgeQueue does, without its once-a-minute limit.
            queue._messages = []
            queue._pending_messages = set()
        else:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
    sns = session.client("sns")
    for subscription in sns.list_subscriptions().get("Subscriptions", []):
        if subscription["SubscriptionArn"] not in baseline.subscriptions:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    events = session.client("events")
    for rule in events.list_rules().get("Rules", []):
        if rule["Name"] not in baseline.rules:
            targets = events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", [])
            if targets:
                events.remove_targets(Rule=rule["Name"], Ids=[t["Id"] for t in targets])
            events.delete_rule(Name=rule["Name"])
    _empty_buckets()
    if stack.user_pool_id:
        pool = _user_pool(stack)
        pool.users.clear()
        for name in [name for name in pool.groups if name not in baseline.groups]:
            del pool.groups[name]
    ses = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    ses.sent_messages.clear()
    ses.sent_message_count = 0
    ses_events.SCHEDULE.clear()  # an earlier test's sends' events, not yet published


def _empty_buckets() -> None:
    """Every object version and unfinished upload gone from the stack's buckets. On moto's own records: its listing
    of keys holding control characters is XML that botocore cannot read."""
    for bucket in s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets.values():
        if bucket.name == ARTIFACT_BUCKET:
            continue
        for key in list(bucket.keys):
            for version in bucket.keys.getlist(key):
                if isinstance(version, FakeKey):
                    version.dispose()  # its temporary file, as moto's own reset closes it
        for upload in bucket.multiparts.values():
            upload.dispose()
        bucket.keys = _VersionedKeyStore()
        bucket.multiparts = MultipartDict()


@pytest.fixture(scope="module")
def _provisioned(_moto: boto3.Session) -> SharedStack:
    return SharedStack(_moto)


@pytest.fixture
def cloud(_provisioned: SharedStack, request: pytest.FixtureRequest) -> Cloud:
    """The stack as provisioned, empty (its tables, queues, bucket, pool users and sent emails emptied after the
    module's earlier tests, which share it), with a host per function, each loading its app.py with its environment
    anew. A test marked @pytest.mark.fresh_stack gets a stack provisioned for it alone."""
    fresh = request.node.get_closest_marker("fresh_stack") is not None
    stack = _provisioned.stack_for(("cloud",), lambda: _provision(_provisioned.session), fresh=fresh)
    calls = CallLog()
    hosts = {logical_id: FunctionHost(spec, calls) for logical_id, spec in stack.functions.items()}
    return Cloud(session=_provisioned.session, stack=stack, hosts=hosts)


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    """The stack's parameters other than their defaults: a test gives its own with
    @pytest.mark.parametrize("stack_parameters", [{...}])."""
    return {}


@pytest.fixture
def runtime(
    _provisioned: SharedStack, tmp_path: Path, stack_parameters: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[LocalRuntime]:
    """The whole local stack, in-process, seeded with the worked example's directory: on the module's stack for
    these parameters, emptied (a fresh_stack test gets one of its own)."""
    key = ("runtime", tuple(sorted(stack_parameters.items())))
    stack = _provisioned.stack_for(
        key,
        lambda: provision_local(TEMPLATE, stack_parameters, _provisioned.session),
        fresh=request.node.get_closest_marker("fresh_stack") is not None,
    )
    with (tmp_path / "logs.jsonl").open("w") as logs:
        local = seeded(LocalRuntime(TEMPLATE, stack_parameters, stack=stack), logs)
        yield local
        local.send_function_logs_to(sys.stderr)  # the log file closes with this test


def seeded(local: LocalRuntime, logs: Any) -> LocalRuntime:
    """The runtime with its functions logging to `logs`, its sender verified and the worked example's directory."""
    local.send_function_logs_to(logs)
    local.verify_sender(local.stack.parameters["SenderAddress"])
    load_directory(
        Directory(local.stack.directory_table),
        read_directory(MIXED / "contacts.csv", MIXED / "roles.csv"),
        UserPool(local.stack.user_pool_id),
    )
    return local


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fresh_stack: the test gets a stack provisioned for it alone (`cloud`, `runtime`)"
    )


@pytest.fixture
def new_users(cloud: Cloud, load_event: Any) -> list[dict[str, Any]]:
    """The worked example's directory, the sample job, and the users the worker created for the batch's rows."""
    cloud.seed_directory()
    cloud.start_job(SAMPLE_JOB_ID, chunks=1, rows=5)
    recipients: list[dict[str, Any]] = json.loads(load_event("sqs_emails")["Records"][0]["body"])["recipients"]
    cloud.directory().put_users(
        PortalUser(contact_id=r["contactId"], user_id=r["userId"], role="Customer", job_id=SAMPLE_JOB_ID, row=r["row"])
        for r in recipients
    )
    cloud.verify_sender()
    # The batch names them only; where each email goes and whom it greets is the directory's
    people = cloud.directory().contacts(r["contactId"] for r in recipients)
    return [
        {**r, "email": people[r["contactId"]].email, "firstName": people[r["contactId"]].first_name} for r in recipients
    ]
