"""The import console's API under `portal-import local serve` (docs/contracts.md §8): only a token of the console's
administrators' pool gets any answer but 401, on every route; with one, a file goes through the upload form the API
signs straight to imports/, and the job it starts, its result files, its users and Resend are read back as the
console reads them."""

from __future__ import annotations

import base64
import csv
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from portal_import.domain.sample import SAMPLE_CSV
from portal_import_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from serving import serve_environment, start_serve, stop_serve  # noqa: E402

EXAMPLE = ROOT / "tests" / "fixtures" / "mixed"


@pytest.fixture(scope="module")
def ready(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("console")
    process, ready = start_serve(EXAMPLE / "contacts.csv", EXAMPLE / "roles.csv", cwd=work, env=serve_environment(work))
    yield ready
    stop_serve(process)


def _cognito(ready: dict[str, str]) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=ready["endpoint"],
        region_name=ready["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _sign_in(ready: dict[str, str], client_id: str, username: str, password: str) -> str:
    tokens = _cognito(ready).initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    return str(tokens["IdToken"])


def call(
    ready: dict[str, str], method: str, path: str, *, token: str = "", body: Any = None
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(ready["consoleUrl"] + path.lstrip("/"), data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, {k.lower(): v for k, v in refused.headers.items()}, refused.read()


@pytest.fixture(scope="module")
def token(ready: dict[str, str]) -> str:
    """The administrator `local serve` created, signed in through the console's own client."""
    return _sign_in(ready, ready["adminUserPoolClientId"], ready["consoleUsername"], ready["consolePassword"])


def _api_routes() -> list[tuple[str, str]]:
    """Every route of the console's API, as the template declares them, with a job id in place of {jobId}."""
    template = load_template(ROOT / "template.yaml")
    events = template["Resources"]["ConsoleFunction"]["Properties"]["Events"].values()
    return [
        (event["Properties"]["Method"], event["Properties"]["Path"].replace("{jobId}", "20261207T000000Z-0"))
        for event in events
        if event["Type"] == "HttpApi" and event["Properties"]["Path"].startswith("/api/")
    ]


def test_the_ready_line_names_the_console_and_an_administrator_whose_password_is_permanent(
    ready: dict[str, str], token: str
) -> None:
    assert ready["consoleUrl"] == ready["endpoint"] + "/console/"
    assert ready["consoleUsername"] and len(ready["consolePassword"]) >= 14
    assert token.count(".") == 2  # signing in asked for no new password: tokens came back at once


@pytest.mark.parametrize(("method", "path"), _api_routes())
def test_every_api_route_answers_401_without_an_administrators_token(
    ready: dict[str, str], method: str, path: str
) -> None:
    # Given a portal user's own token (another pool's), a forged one and none at all
    cognito = _cognito(ready)
    portal_user = f"005{uuid.uuid4().hex[:12]}0001"
    cognito.admin_create_user(UserPoolId=ready["userPoolId"], Username=portal_user, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=ready["userPoolId"], Username=portal_user, Password="Portal-Us3r-Password!", Permanent=True
    )
    portal_token = _sign_in(ready, ready["userPoolClientId"], portal_user, "Portal-Us3r-Password!")
    forged = portal_token[: portal_token.rindex(".")] + ".c2lnbmF0dXJl"
    body = {} if method == "POST" else None
    for token in ("", "not-a-jwt", forged, portal_token):
        # When the route is asked / Then the API answers 401 itself, and says nothing more
        status, _, answer = call(ready, method, path, token=token, body=body)
        assert (status, json.loads(answer)) == (401, {"message": "Unauthorized"}), (token[:12], method, path)


def test_an_unknown_route_is_404_and_an_unknown_job_a_sentence(ready: dict[str, str], token: str) -> None:
    assert call(ready, "GET", "api/nothing-here", token=token)[0] == 404
    status, _, answer = call(ready, "GET", "api/jobs/20990101T000000Z-nope", token=token)
    assert status == 404 and "jobs list" in json.loads(answer)["error"]


def test_the_sample_template_is_the_clis(ready: dict[str, str], token: str) -> None:
    status, headers, answer = call(ready, "GET", "api/template", token=token)
    assert status == 200 and answer.decode() == SAMPLE_CSV
    assert headers["content-type"].startswith("text/csv") and "attachment" in headers["content-disposition"]


def _post_form(url: str, fields: dict[str, str], name: str, data: bytes) -> int:
    """The browser's upload: multipart/form-data, the form's fields first and the file last, as S3 requires."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    with urllib.request.urlopen(request, timeout=60) as answer:
        return int(answer.status)


def test_a_file_uploaded_through_the_signed_form_is_the_job_a_bucket_drop_starts(
    ready: dict[str, str], token: str, tmp_path: Path
) -> None:
    # Given the worked example, and a form the API signs for it (emails on, the stack's own limit on size)
    data = (EXAMPLE / "import.csv").read_bytes()
    status, _, answer = call(
        ready,
        "POST",
        "api/uploads",
        token=token,
        body={"fileName": "wizard.csv", "size": len(data), "sendActivationEmail": True},
    )
    assert status == 200, answer
    form = json.loads(answer)
    assert form["key"] == "imports/wizard.csv" and form["url"].startswith(ready["endpoint"])
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    most = int(load_template(ROOT / "template.yaml")["Parameters"]["MaxFileBytes"]["Default"])
    assert ["content-length-range", 1, most] in policy["conditions"]
    assert {"x-amz-meta-send-activation-email": "true"} in policy["conditions"]
    # When the browser posts the file with it
    assert _post_form(form["url"], form["fields"], "wizard.csv", data) in (200, 204)
    # Then the job appears in the jobs list, newest first, and runs to the end
    deadline = time.monotonic() + 180
    while True:
        jobs = json.loads(call(ready, "GET", "api/jobs", token=token)[2])["jobs"]
        mine = [job for job in jobs if job["sourceKey"] == "imports/wizard.csv"]
        if mine and mine[0]["finished"]:
            break
        assert time.monotonic() < deadline, f"the uploaded file's job did not finish: {mine}"
        time.sleep(1)
    job_id = mine[0]["jobId"]
    assert mine[0]["sendActivationEmail"] is True and mine[0]["mode"] == "import"
    # and its page counts failures by reason with what to do, and links each result file, which downloads
    page = json.loads(call(ready, "GET", f"api/jobs/{job_id}", token=token)[2])
    assert page["status"] == "COMPLETED" and page["succeeded"] + page["failed"] == page["totalRows"]
    assert sum(f["rows"] for f in page["failuresByReason"]) == page["failed"]
    assert all(f["whatToDo"] for f in page["failuresByReason"])
    with urllib.request.urlopen(page["files"]["success.csv"], timeout=30) as answer:
        success = list(csv.DictReader(answer.read().decode("utf-8-sig").splitlines()))
    assert len(success) == page["succeeded"]
    # and its users, with their email and activation; Resend finds no one left to reach
    users = json.loads(call(ready, "GET", f"api/jobs/{job_id}/users", token=token)[2])["users"]
    assert sorted(u["userId"] for u in users) == sorted(row["UserId"] for row in success)
    status, _, answer = call(ready, "POST", f"api/jobs/{job_id}/resend", token=token, body={})
    assert status in (200, 409), answer
    if status == 200:
        assert json.loads(answer)["queued"] == []


def test_an_upload_the_stack_would_refuse_is_refused_before_any_form(ready: dict[str, str], token: str) -> None:
    most = int(load_template(ROOT / "template.yaml")["Parameters"]["MaxFileBytes"]["Default"])
    status, _, answer = call(ready, "POST", "api/uploads", token=token, body={"fileName": "big.csv", "size": most + 1})
    assert status == 413 and "split it into smaller files" in json.loads(answer)["error"]


def _portal_import(ready: dict[str, str], *args: str, work: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "portal_import_cli", *args]
    command += ["--stack", "portal-import-local", "--endpoint-url", ready["endpoint"]]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=serve_environment(work))


def test_admins_add_list_and_remove_the_consoles_administrators(ready: dict[str, str], tmp_path: Path) -> None:
    # When an operator invites one: they are listed, waiting for their first sign-in
    added = _portal_import(ready, "admins", "add", "Ops@Example.com", work=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "invited Ops@Example.com" in added.stderr and ready["consoleUrl"] in added.stderr
    listed = json.loads(_portal_import(ready, "admins", "list", "--json", work=tmp_path).stdout)
    by_email = {admin["email"].lower(): admin for admin in listed}
    assert by_email["ops@example.com"]["status"] == "FORCE_CHANGE_PASSWORD"
    assert by_email[ready["consoleUsername"]]["status"] == "CONFIRMED"
    # and inviting them again says so
    again = _portal_import(ready, "admins", "add", "ops@example.com", work=tmp_path)
    assert again.returncode == 1 and "is an administrator of the console already" in again.stderr
    # When they are removed: no longer listed, and removing them again says they are none
    assert _portal_import(ready, "admins", "remove", "ops@example.com", work=tmp_path).returncode == 0
    listed = json.loads(_portal_import(ready, "admins", "list", "--json", work=tmp_path).stdout)
    assert "ops@example.com" not in {admin["email"].lower() for admin in listed}
    gone = _portal_import(ready, "admins", "remove", "ops@example.com", work=tmp_path)
    assert gone.returncode == 1 and "is no administrator of the console" in gone.stderr
    # and an address that is none is a usage error
    assert _portal_import(ready, "admins", "add", "not-an-address", work=tmp_path).returncode == 2
