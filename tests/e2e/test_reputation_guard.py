"""The reputation guard as an administrator meets it, against `portal-import local serve` (docs/contracts.md §7): a
file whose addresses bounce at 25 % (SES mailbox simulator addresses), sent at a low email rate, is held long before
its end with one emails-held notification; `users` says who is held and who bounced; `resume-emails` sends the held
emails, each person still getting one email at most."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from serving import serve_environment, start_serve, stop_serve  # noqa: E402

from .test_admin_cli import STACK, Server  # noqa: E402

ROWS = 80
MINIMUM = 10  # GuardMinimumEmails: the guard judges once this many emails have an outcome


def _files(work: Path) -> tuple[Path, Path, Path]:
    """A directory of ROWS Contacts whose every fourth address bounces, its Roles, and the import of all of them."""
    contacts = ["ContactId,SalesforceId,Email,FirstName,LastName,PortalUserId"]
    rows = ["ContactId,Role"]
    for n in range(ROWS):
        kind = "bounce" if n % 4 == 1 else "success"
        contacts.append(f"003GRD{n:013d},,{kind}+r{n}@simulator.amazonses.com,Person{n},Last,")
        rows.append(f"003GRD{n:013d},Customer")
    paths = (work / "contacts.csv", work / "roles.csv", work / "bounce25.csv")
    for path, lines in zip(paths, (contacts, ["Name,Active", "Customer,true"], rows), strict=True):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    work = tmp_path_factory.mktemp("guard")
    contacts, roles, import_file = _files(work)
    outbox = work / "outbox"
    process, ready = start_serve(
        contacts,
        roles,
        cwd=work,
        env=serve_environment(work),
        extra=["--email-rate", "4", "--parameter", f"GuardMinimumEmails={MINIMUM}", "--outbox", str(outbox)],
    )
    try:
        yield Server(process, ready["endpoint"], work), import_file
    finally:
        stop_serve(process)


def _messages(server: Server, queue_url: str) -> list[dict[str, Any]]:
    sqs = server.client("sqs")
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        found += batch
    return found


def test_a_file_that_bounces_is_held_early_notifies_once_and_resumes_on_command(
    server: tuple[Server, Path],
) -> None:
    serve, import_file = server
    # Given the administrators' topic, subscribed by a queue
    sqs, sns = serve.client("sqs"), serve.client("sns")
    queue_url = sqs.create_queue(QueueName="guard-notices")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=serve.outputs()["NotificationTopicArn"], Protocol="sqs", Endpoint=queue_arn)

    # When a file of which every fourth address bounces is submitted with emails on, and waited for
    submitted = serve.run("submit", import_file, "--send-activation-email", "--wait", "--json", "--interval", "0.5")

    # Then the wait ends once the emails are held, saying so and what to do (exit 0)
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    job_id = job["jobId"]
    assert "held by the reputation guard" in submitted.stderr and f"resume-emails {job_id}" in submitted.stderr
    # long before its end: most of the file's emails are held, not sent
    status = json.loads(serve.run("status", job_id, "--json").stdout)
    assert (
        status["emailsSent"] < ROWS / 2 and status["emailsHeld"] == ROWS - status["emailsSent"] - status["emailsFailed"]
    )
    assert status["emailsBounced"] >= 1 and "bounced" in status["emailsHeldWhy"]
    # and one emails-held notification says why
    events = [json.loads(m["Body"])["MessageAttributes"]["event"]["Value"] for m in _messages(serve, queue_url)]
    assert events.count("emails-held") == 1
    # and users says who is held and who bounced, with why
    users = json.loads(serve.run("users", job_id, "--json").stdout)
    assert sum(1 for u in users if u["email"] == "held") == status["emailsHeld"]
    bounced = [u for u in users if u["delivery"] == "bounced"]
    assert bounced and all(u["deliveryDetail"].startswith("Permanent/General") for u in bounced)

    # When the administrator resumes the job's emails
    resumed = serve.run("resume-emails", job_id, "--json")

    # Then the held emails are queued again, and go out (the guard judging only what comes after)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == {"resumed": job_id, "queued": status["emailsHeld"]}
    again = json.loads(serve.run("watch", job_id, "--json", "--interval", "0.5").stdout)
    assert again["emailsSent"] > status["emailsSent"]
    # and nobody got a second email
    sent_to = [path.name.split("-", 1)[1] for path in (serve.work / "outbox").glob("*.eml")]
    assert len(sent_to) == len(set(sent_to)) == again["emailsSent"]
    # and a job that holds nothing more says so
    if again["emailsHeld"] == 0:
        refused = serve.run("resume-emails", job_id)
        assert refused.returncode != 0 and "has no held emails" in refused.stderr
    assert STACK
