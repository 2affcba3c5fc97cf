"""`portal-import local serve`: any S3 client drops a file and collects results, any SQS client subscribed to the
topic gets the notification, and SIGINT or SIGTERM stops the server within seconds."""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from serving import start_serve  # noqa: E402

EXAMPLE = ROOT / "tests" / "fixtures" / "mixed"
READY_TIMEOUT = 120


class Served:
    def __init__(self, process: subprocess.Popen[str], ready: dict[str, str]) -> None:
        self.process = process
        self.ready = ready

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.ready["endpoint"],
            region_name=self.ready["region"],
            aws_access_key_id="anything",
            aws_secret_access_key="anything",
        )

    def aws(self, *args: str) -> str:
        """The AWS CLI against the served endpoint (the one `make test` installs, or one on PATH); its stdout."""
        command = [_aws_cli(), "--endpoint-url", self.ready["endpoint"], "--region", self.ready["region"], *args]
        environment = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stop(self, signum: int) -> tuple[int, str]:
        self.process.send_signal(signum)
        _, err = self.process.communicate(timeout=15)
        return self.process.returncode, err


def _aws_cli() -> str:
    installed = ROOT / ".venv-awscli" / "bin" / "aws"
    found = str(installed) if installed.exists() else shutil.which("aws")
    assert found, "no AWS CLI: `make awscli` installs it into .venv-awscli (make test does)"
    return found


def _start(tmp_path: Path) -> Served:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'local'}", "HOME": str(tmp_path)}
    return Served(*start_serve(EXAMPLE / "contacts.csv", EXAMPLE / "roles.csv", cwd=tmp_path, env=env))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = _start(tmp_path)
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def _rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(body.decode("utf-8-sig").splitlines()))


def test_an_s3_client_drops_a_file_and_collects_its_results(served: Served) -> None:
    # Given the ready line, and an administrator's inbox: an SQS queue subscribed to the topic
    assert set(served.ready) == {
        "endpoint",
        "bucket",
        "topicArn",
        "region",
        "userPoolId",
        "userPoolClientId",
        "portalUrl",
        # the import console (docs/contracts.md §8), and the administrator the server made for it
        "consoleUrl",
        "consoleUsername",
        "consolePassword",
        "adminUserPoolId",
        "adminUserPoolClientId",
    }
    # the activation page is served here too, under its REST API's stage as on AWS
    assert served.ready["portalUrl"] == served.ready["endpoint"] + "/v1"
    sqs, s3 = served.client("sqs"), served.client("s3")
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    served.client("sns").subscribe(TopicArn=served.ready["topicArn"], Protocol="sqs", Endpoint=arn)

    # When the worked example is dropped into imports/ as `aws s3 cp --metadata` would
    bucket = served.ready["bucket"]
    s3.put_object(
        Bucket=bucket,
        Key="imports/example.csv",
        Body=(EXAMPLE / "import.csv").read_bytes(),
        Metadata={"send-activation-email": "true"},
    )

    # Then the inbox gets the results-ready message
    deadline = time.monotonic() + 120
    notice: dict[str, Any] | None = None
    while notice is None and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1).get("Messages", []):
            notice = json.loads(message["Body"])
    assert notice is not None, "no notification within 120 s"
    assert notice["MessageAttributes"]["event"]["Value"] == "import-completed"
    job_id = notice["MessageAttributes"]["jobId"]["Value"]

    # and results/<jobId>/ holds exactly the worked example's outcome
    results = f"results/{job_id}/"
    summary = json.loads(s3.get_object(Bucket=bucket, Key=results + "summary.json")["Body"].read())
    assert (summary["status"], summary["sendActivationEmail"]) == ("COMPLETED", True)
    expected = _rows((EXAMPLE / "expected.csv").read_bytes())
    failures = _rows(s3.get_object(Bucket=bucket, Key=results + "failure.csv")["Body"].read())
    successes = _rows(s3.get_object(Bucket=bucket, Key=results + "success.csv")["Body"].read())
    assert summary["totalRows"] == len(expected) == len(failures) + len(successes)
    expected_failures = {row["RowNumber"]: row["Outcome"] for row in expected if row["Outcome"] != "created"}
    assert {row["RowNumber"]: row["Error"].split(":")[0] for row in failures} == expected_failures

    # and each created row's UserId is a user of the served pool, in exactly its Role's group, who signs in with
    # the Role in its ID token once given a password (the AWS CLI's `cognito-idp` commands make these same calls)
    cognito, pool = served.client("cognito-idp"), served.ready["userPoolId"]
    for row in successes:
        user = cognito.admin_get_user(UserPoolId=pool, Username=row["UserId"])
        attributes = {item["Name"]: item["Value"] for item in user["UserAttributes"]}
        assert attributes["custom:contact_id"] == row["ContactId"]
        groups = cognito.admin_list_groups_for_user(UserPoolId=pool, Username=row["UserId"])["Groups"]
        assert [group["GroupName"] for group in groups] == [row["Role"]]
    first = successes[0]
    cognito.admin_set_user_password(
        UserPoolId=pool, Username=first["UserId"], Password="Correct-Horse-9", Permanent=True
    )
    tokens = cognito.initiate_auth(
        ClientId=served.ready["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": first["UserId"], "PASSWORD": "Correct-Horse-9"},
    )["AuthenticationResult"]
    payload = tokens["IdToken"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["cognito:groups"] == [first["Role"]]
    # and, as the AWS CLI lists them, no failed row made a pool user: the created users and the directory's own
    listed = json.loads(served.aws("cognito-idp", "list-users", "--user-pool-id", pool))["Users"]
    contacts = list(csv.DictReader((EXAMPLE / "contacts.csv").read_text(encoding="utf-8").splitlines()))
    existing = {row["PortalUserId"] for row in contacts if row.get("PortalUserId")}
    assert sorted(user["Username"] for user in listed) == sorted({row["UserId"] for row in successes} | existing)
    groups = json.loads(
        served.aws("cognito-idp", "admin-list-groups-for-user", "--user-pool-id", pool, "--username", first["UserId"])
    )["Groups"]
    assert [group["GroupName"] for group in groups] == [first["Role"]]

    # and SIGTERM stops it cleanly
    code, err = served.stop(signal.SIGTERM)
    assert code == 0, err[-3000:]
    assert f"job {job_id} started" in err
    assert "stopped" in err


def test_a_taken_port_is_a_usage_error_and_sigint_stops_the_server(served: Served, tmp_path: Path) -> None:
    # Given a server running: a second one on its port says so, without a traceback
    port = served.ready["endpoint"].rsplit(":", 1)[1]
    second = subprocess.run(
        [sys.executable, "-m", "portal_import_cli", "local", "serve", "--port", port],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'local'}"},
    )
    assert second.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
    assert "Traceback" not in second.stderr
    # When Ctrl-C reaches the first / Then it stops within seconds, cleanly
    started = time.monotonic()
    code, err = served.stop(signal.SIGINT)
    assert code == 0, err[-3000:]
    assert time.monotonic() - started < 10
    assert "Traceback" not in err
