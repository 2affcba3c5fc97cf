"""`portal-import resend` on the whole local stack: a job whose email batches were dead-lettered gets its emails
out with one command, each person once; named Contacts get a new link that replaces the old one; nobody already
reached is sent another by default; with --pending everyone who has not activated gets a new link, reached or not."""

from __future__ import annotations

import email
import re
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from portal_import.aws.directory import Directory
from portal_import.aws.ledger import Ledger
from portal_import.domain.activation import hash_token
from portal_import.flows.resend import LeftOut, Resend, ResendRefused
from portal_import_cli.deployment import Deployment, Target
from portal_import_local.runtime import LocalRuntime

MIXED = Path(__file__).resolve().parents[1] / "fixtures" / "mixed"


def recipients(runtime: LocalRuntime) -> Counter[str]:
    return Counter(str(email.message_from_bytes(raw)["To"]) for raw in runtime.sent_emails())


def addresses(runtime: LocalRuntime, contact_ids: list[str]) -> list[str]:
    """The directory's address of each Contact: where the stack sends their emails."""
    people = Directory(runtime.stack.directory_table).contacts(contact_ids)
    return [people[contact_id].email for contact_id in contact_ids]


def deployment_of(runtime: LocalRuntime) -> Deployment:
    """The administrator's commands on the local stack: resend invokes the stack's resend function (run in-process
    by the local runtime, as Lambda would)."""
    stack = runtime.stack
    target = Target(
        bucket=stack.bucket,
        jobs_table=stack.jobs_table,
        directory_table=stack.directory_table,
        resend_function=stack.functions["ResendFunction"].name,
    )
    return Deployment(target)


def resend(runtime: LocalRuntime, job_id: str, *contacts: str, pending: bool = False) -> Resend:
    deployment = deployment_of(runtime)
    done = deployment.resend(deployment.job(job_id), list(contacts), pending=pending)
    while runtime.pump():  # the email sender takes the queued batches, at the stack's rate
        pass
    return done


def import_with_emails(runtime: LocalRuntime, name: str, *, send: bool = True) -> str:
    metadata = {"send-activation-email": "true" if send else "false"}
    event = runtime.upload(MIXED / "import.csv", f"imports/{name}", metadata)
    (job_id,) = runtime.deliver_s3_event(event)
    runtime.run_until_done(job_id, timeout=300)
    return job_id


@pytest.fixture(autouse=True)
def _own_default_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # Deployment sets boto3's default session: undone after


def test_resend_recovers_a_job_whose_email_batches_were_dead_lettered(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job whose every email batch failed all its deliveries (the ledger could not be written), so its 21
    # emails were counted as not delivered
    def crash(self: Ledger, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("directory unavailable")

    with monkeypatch.context() as broken:
        broken.setattr(Ledger, "commit", crash)
        job_id = import_with_emails(runtime, "dead.csv")
    assert runtime.sent_emails() == [] and runtime.dead_letters() == 0

    # When the administrator resends, once the directory is back
    done = resend(runtime, job_id)

    # Then each of the 21 gets exactly one email; only the users without a valid email address were left out
    assert len(done.queued) == 21
    assert {left.reason for left in done.left_out} == {"the Contact has no valid email address"}
    sent = recipients(runtime)
    assert len(sent) == 21 and set(sent.values()) == {1}
    # and a second resend sends nobody anything: all are reached now
    again = resend(runtime, job_id)
    assert again.queued == [] and len(again.left_out) == 21 + len(done.left_out)
    assert {left.reason for left in again.left_out} == {
        "was sent an activation email already (--pending or --contact sends a new link)",
        "the Contact has no valid email address",
    }
    assert recipients(runtime) == sent


def test_a_named_contact_gets_a_new_link_that_replaces_the_old_one(runtime: LocalRuntime) -> None:
    # Given a job whose emails all went out
    job_id = import_with_emails(runtime, "fine.csv")
    first = recipients(runtime)
    assert first and set(first.values()) == {1}
    by_default = resend(runtime, job_id)
    assert by_default.queued == [] and recipients(runtime) == first

    # When the administrator resends to one of its Contacts (and names one the job did not create, and a typo)
    created = next(iter(Directory(runtime.stack.directory_table).activations(_contact_ids(runtime, job_id))))
    done = resend(runtime, job_id, created, "0030000000000000000", "nonsense")

    # Then that person has a second email, whose link is the one that works now
    (person,) = addresses(runtime, done.queued)
    assert recipients(runtime)[person] == 2
    last = [raw for raw in runtime.sent_emails() if email.message_from_bytes(raw)["To"] == person][-1]
    token = re.search(rb"token=([A-Za-z0-9_.-]+)", last)
    assert token is not None
    link = Directory(runtime.stack.directory_table).activations([created])[created]
    assert link.token_hash == hash_token(token.group(1).decode())
    # and the others were left out, each with a reason
    assert {(left.contact_id, left.reason) for left in done.left_out} == {
        ("0030000000000000000", "this job created no portal user for this Contact"),
        ("nonsense", "no such Contact in the directory"),
    }


def test_a_validation_job_has_nobody_to_resend_to(runtime: LocalRuntime) -> None:
    event = runtime.upload(MIXED / "import.csv", "imports/check.csv", {"mode": "validate"})
    (job_id,) = runtime.deliver_s3_event(event)
    runtime.run_until_done(job_id, timeout=300)
    with pytest.raises(ResendRefused, match="was a validation: it created no users"):
        resend(runtime, job_id)


def test_pending_sends_a_new_link_to_everyone_not_activated_and_never_to_who_has(runtime: LocalRuntime) -> None:
    # Given a job whose 21 emails all went out, and one of those 21 users has activated since
    job_id = import_with_emails(runtime, "pending.csv")
    first = recipients(runtime)
    assert len(first) == 21 and set(first.values()) == {1}
    emailed = _contact_ids(runtime, job_id)
    activated = emailed[0]
    activate(runtime, activated)

    # When the administrator resends to every user still pending
    done = resend(runtime, job_id, pending=True)

    # Then the 20 others get a second email, each with a new link, although they were reached before
    assert sorted(done.queued) == sorted(emailed[1:])
    again = recipients(runtime)
    (activated_email,) = [person for person in first if person not in addresses(runtime, done.queued)]
    assert again[activated_email] == 1
    assert {person: count for person, count in again.items() if person != activated_email} == {
        person: 2 for person in addresses(runtime, done.queued)
    }
    # and the user who activated was left out, as were those without a valid email address, each with the reason
    reasons = Counter(left.reason for left in done.left_out)
    assert reasons == {"has already activated their account": 1, "the Contact has no valid email address": 7}
    assert LeftOut(activated, "has already activated their account") in done.left_out


def test_pending_reaches_the_users_of_an_import_that_sent_no_emails(runtime: LocalRuntime) -> None:
    # Given a job that created its users without activation emails
    job_id = import_with_emails(runtime, "quiet.csv", send=False)
    assert runtime.sent_emails() == []
    assert {left.reason for left in resend(runtime, job_id).left_out} >= {
        "the import did not ask for activation emails (--pending or --contact sends one)"
    }

    # When the administrator resends to every user still pending
    done = resend(runtime, job_id, pending=True)

    # Then each user with a valid email address gets exactly one
    assert len(done.queued) == 21
    assert {left.reason for left in done.left_out} == {"the Contact has no valid email address"}
    sent = recipients(runtime)
    assert len(sent) == 21 and set(sent.values()) == {1}


def test_pending_waits_while_the_import_still_sends_its_emails(runtime: LocalRuntime) -> None:
    # Given a job of which only 5 of its 21 emails are counted as sent so far
    job_id = import_with_emails(runtime, "busy.csv")
    deployment = deployment_of(runtime)
    runtime.session.client("dynamodb").update_item(  # as the jobs table says while the emails go out
        TableName=runtime.stack.jobs_table,
        Key={"pk": {"S": job_id}},
        UpdateExpression="SET EmailsSent = :five",
        ExpressionAttributeValues={":five": {"N": "5"}},
    )

    # When the administrator resends to every user still pending / Then it is refused, saying when it will work
    with pytest.raises(ResendRefused, match=r"still sending .* \(5 of 21 done\); resend --pending once they are"):
        deployment.resend(deployment.job(job_id), [], pending=True)
    assert len(runtime.sent_emails()) == 21


def activate(runtime: LocalRuntime, contact_id: str) -> None:
    """Marks the Contact's user activated, as the activation does on the activation item."""
    runtime.session.client("dynamodb").update_item(
        TableName=runtime.stack.directory_table,
        Key={"pk": {"S": f"CONTACT#{contact_id}"}, "sk": {"S": "ACTIVATION"}},
        UpdateExpression="SET ActivatedAt = :at",
        ExpressionAttributeValues={":at": {"S": "2026-12-01T10:00:00.000Z"}},
    )


def _contact_ids(runtime: LocalRuntime, job_id: str) -> list[str]:
    success = runtime.download(f"results/{job_id}/success.csv").decode("utf-8-sig").splitlines()[1:]
    return [line.split(",")[1] for line in success if line.endswith("Queued")]
