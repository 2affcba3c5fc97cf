"""Many people activating at once while the group pass runs, on the local AWS holding Cognito's default quotas
(`--aws-quotas`): every activation succeeds, each user is in its Role's group before its password is set, and the
pass places the rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import boto3
import pytest

from portal_import.config import ActivationSettings
from portal_import.flows.activate import Answer, activate, open_link
from portal_import.invocation import calls_until
from portal_import.wiring import activation_deps
from portal_import_local.host import as_function_code
from portal_import_local.runtime import LocalRuntime

from .conftest import MIXED, TEMPLATE, seeded
from .test_activation import GOOD, emails, link_of, sign_in

# A request's time for its Cognito calls, as the activation function gives it (25 s, less its margin).
REQUEST_SECONDS = 20.0


@pytest.fixture
def held_runtime(aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRuntime]:
    """The stack paced at the template's Cognito rates, on a local AWS that refuses what AWS's quotas would."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    with (tmp_path / "logs.jsonl").open("w") as logs:
        yield seeded(LocalRuntime(TEMPLATE, {}, aws_quotas=True), logs)


def test_everyone_activating_at_once_under_cognitos_quotas_gets_in_with_the_role(held_runtime: LocalRuntime) -> None:
    runtime = held_runtime
    # Given an import whose activation emails went out, its users still waiting for the group pass (held back
    # until the people activate: on AWS it runs beside the import, here it would be through in a second)
    event = runtime.upload(MIXED / "import.csv", "imports/everyone.csv", {"send-activation-email": "true"})
    (job_id,) = runtime.deliver_s3_event(event)
    stack = runtime.stack
    runtime.stack = replace(stack, queue_triggers=[t for t in stack.queue_triggers if t.function != "GroupFunction"])
    runtime.run_until_done(job_id, timeout=300)
    runtime.stack = stack
    links = [link_of(message) for message in emails(runtime)]
    assert len(links) == 21
    groups_queue = [t.queue_url for t in runtime.stack.queue_triggers if t.function == "GroupFunction"]
    waiting = runtime.session.client("sqs").get_queue_attributes(
        QueueUrl=groups_queue[0], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert int(waiting["ApproximateNumberOfMessages"]) > 0
    # and the activation page as its function builds it (its limiters at the template's rates)
    environment = {**runtime.hosts["ActivationFunction"].spec.environment}
    deps = activation_deps(ActivationSettings.from_env(environment))
    answers: dict[str, tuple[int, int]] = {}
    start = threading.Barrier(len(links), timeout=30)

    def person(link: str) -> None:
        token = link.rsplit("=", 1)[1]
        with as_function_code(runtime.calls):
            start.wait()
            with calls_until(time.time() + REQUEST_SECONDS):
                opened: Answer = open_link(token, deps)
            with calls_until(time.time() + REQUEST_SECONDS):
                done: Answer = activate(token, GOOD, GOOD, deps)
        answers[token] = (opened.status, done.status)

    # When every person opens their link and sets their password at the same moment, while the group pass runs
    people = [threading.Thread(target=person, args=(link,)) for link in links]
    for thread in people:
        thread.start()
    while any(thread.is_alive() for thread in people):
        runtime.pump()
    for thread in people:
        thread.join()

    # Then each of them got the form and then the page that says the password is set: none was told to wait
    assert sorted(answers.values()) == [(200, 200)] * len(links)
    # and their calls kept to each quota category's rate, shared with the pass: what the local Cognito refused (calls
    # bunched when threads wake late) was made again at a slot of its own, and failed nobody
    assert runtime.calls.quotas is not None
    refused = runtime.calls.quotas.refused()
    assert set(refused) <= {"Cognito.UserUpdate", "Cognito.UserRead", "Cognito.UserAccountRecovery"}
    assert sum(refused.values()) < len(links)

    # And once the pass is through, every user the import created is in its Role's group, and an activated one's
    # first token holds it
    runtime.run_until_ses_events_recorded(timeout=120)
    cognito = runtime.session.client("cognito-idp")
    success = runtime.download(f"results/{job_id}/success.csv").decode("utf-8-sig").splitlines()[1:]
    for line in success:
        user_id, role = line.split(",")[3], line.split(",")[2]
        groups = cognito.admin_list_groups_for_user(UserPoolId=runtime.stack.user_pool_id, Username=user_id)
        assert [group["GroupName"] for group in groups["Groups"]] == [role], user_id
    activated = line_of_first_activated(runtime, success)
    assert sign_in(runtime, activated[0], GOOD)["cognito:groups"] == [activated[1]]


def line_of_first_activated(runtime: LocalRuntime, success: list[str]) -> tuple[str, str]:
    """(UserId, Role) of the first row of the success file whose user is CONFIRMED."""
    cognito = runtime.session.client("cognito-idp")
    for line in success:
        user_id, role = line.split(",")[3], line.split(",")[2]
        found = cognito.admin_get_user(UserPoolId=runtime.stack.user_pool_id, Username=user_id)
        if found["UserStatus"] == "CONFIRMED":
            return user_id, role
    raise AssertionError("no user of the import activated")
