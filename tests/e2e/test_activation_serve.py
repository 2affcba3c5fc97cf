"""The activation link end to end under `portal-import local serve --outbox DIR` (docs/contracts.md §6): a file dropped
with the AWS CLI, the email read from the outbox, its link used with plain HTTP and in a real browser (Debian's
chromium driven by Playwright), and the user signing in with the AWS CLI with the Role the file gave them."""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from portal_import_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from serving import start_serve, stop_serve  # noqa: E402

EXAMPLE = ROOT / "tests" / "fixtures" / "mixed"
# The README shows the browser test's screenshot: `make screenshot` runs it with this set, to keep a new one.
KEEP_SCREENSHOT = os.environ.get("PORTAL_IMPORT_KEEP_SCREENSHOT") == "1"
SCREENSHOT = ROOT / "docs" / "activation-page.png"
GOOD = "Corr3ct-Horse-Battery!"
_LINK = re.compile(r"(http://[^\s<>\"]+/activate\?token=[A-Za-z0-9_.\-]+)")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _environment(home: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'local'}",
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@dataclass
class Served:
    process: subprocess.Popen[str]
    ready: dict[str, str]
    work: Path
    outbox: Path

    def aws(self, *args: str) -> str:
        """The AWS CLI (the one `make test` installs) against the served endpoint; its stdout."""
        installed = ROOT / ".venv-awscli" / "bin" / "aws"
        cli = str(installed) if installed.exists() else shutil.which("aws")
        assert cli, "no AWS CLI: `make awscli` installs it into .venv-awscli (make test does)"
        command = [cli, "--endpoint-url", self.ready["endpoint"], "--region", self.ready["region"], *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=_environment(self.work))
        assert done.returncode == 0, done.stderr
        return done.stdout

    def portal_import(self, *args: str) -> str:
        command = [sys.executable, "-m", "portal_import_cli", *args]
        command += ["--stack", "portal-import-local", "--endpoint-url", self.ready["endpoint"]]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=_environment(self.work))
        assert done.returncode == 0, done.stderr
        return done.stdout

    def emails(self, count: int, timeout: float = 120) -> list[email.message.EmailMessage]:
        """The outbox's emails once it holds at least `count`, in the order they were sent."""
        deadline = time.monotonic() + timeout
        while len(files := sorted(self.outbox.glob("*.eml"))) < count:
            assert time.monotonic() < deadline, f"{len(files)} of {count} emails in the outbox after {timeout} s"
            time.sleep(0.2)
        return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]  # type: ignore[misc]

    def results(self, job_id: str, name: str) -> list[dict[str, str]]:
        text = self.aws("s3", "cp", f"s3://{self.ready['bucket']}/results/{job_id}/{name}", "-")
        return list(csv.DictReader(text.lstrip("\ufeff").splitlines()))

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        """USER_PASSWORD_AUTH with the AWS CLI; the ID token's claims."""
        answer = json.loads(
            self.aws(
                "cognito-idp",
                "initiate-auth",
                "--client-id",
                self.ready["userPoolClientId"],
                "--auth-flow",
                "USER_PASSWORD_AUTH",
                "--auth-parameters",
                f"USERNAME={username},PASSWORD={password}",
            )
        )
        payload = answer["AuthenticationResult"]["IdToken"].split(".")[1]
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("activation")
    outbox = work / "outbox"
    process, ready = start_serve(
        EXAMPLE / "contacts.csv",
        EXAMPLE / "roles.csv",
        cwd=work,
        env=_environment(work),
        extra=["--outbox", str(outbox)],
    )
    yield Served(process, ready, work, outbox)
    stop_serve(process)


@pytest.fixture(scope="module")
def job(served: Served) -> str:
    """The worked example dropped with the AWS CLI, activation emails on; its job id once its results exist."""
    served.aws(
        "s3",
        "cp",
        str(EXAMPLE / "import.csv"),
        f"s3://{served.ready['bucket']}/imports/activation.csv",
        "--metadata",
        "send-activation-email=true",
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        # s3api, not `s3 ls`: that exits 1 while nothing is listed yet
        listed = served.aws("s3api", "list-objects-v2", "--bucket", served.ready["bucket"], "--prefix", "results/")
        found = re.findall(r"results/([^/]+)/summary\.json", listed)
        if found:
            return str(found[0])
        time.sleep(0.5)
    pytest.fail("no results within 120 s")


def link_in(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    (link,) = set(_LINK.findall(body.get_content()))
    return link


def http(method: str, url: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    data = urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, {k.lower(): v for k, v in refused.headers.items()}, refused.read().decode()


def _emails_of_the_import(served: Served, job_id: str, timeout: float = 120) -> int:
    """How many activation emails the import sent, once it has sent them all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = json.loads(served.portal_import("status", job_id, "--json"))
        if state["emailsSent"] + state["emailsFailed"] >= state["emailsQueued"] > 0:
            return int(state["emailsSent"])
        time.sleep(0.5)
    pytest.fail(f"the import's emails were not all sent within {timeout} s")


def _user_of(served: Served, job_id: str, link: str) -> dict[str, str]:
    """The success row of the user a link is for (its token names the Contact)."""
    contact_id = link.rsplit("=", 1)[1].split(".")[0]
    (row,) = [row for row in served.results(job_id, "success.csv") if row["ContactId"] == contact_id]
    return row


def test_a_link_from_the_outbox_sets_the_password_once_and_a_resend_replaces_it(served: Served, job: str) -> None:
    # Given the first activation email the import sent, as the outbox holds it
    assert served.ready["portalUrl"] == served.ready["endpoint"] + "/v1"  # the REST API's stage, as on AWS
    link = link_in(served.emails(1)[0])
    assert link.startswith(served.ready["portalUrl"] + "/activate?token=")
    user = _user_of(served, job, link)
    token = link.rsplit("=", 1)[1]

    # When the person opens it: the form, with headers that keep the token to the page
    status, headers, page = http("GET", link)
    assert status == 200 and 'name="password"' in page
    assert (headers["cache-control"], headers["referrer-policy"]) == ("no-store", "no-referrer")
    # a weak password: 400 with the rules, and the link still valid
    status, _, page = http("POST", served.ready["portalUrl"] + "/activate", {"token": token, "password": "weak"})
    assert status == 400 and "This password is not accepted: a password has at least 12 characters" in page
    assert http("GET", link)[0] == 200
    # a good one: 200, and they sign in with the Role the file gave them
    form = {"token": token, "password": GOOD, "confirm": GOOD}
    status, _, page = http("POST", served.ready["portalUrl"] + "/activate", form)
    assert status == 200 and "Your password is set" in page
    claims = served.sign_in(user["UserId"], GOOD)
    assert claims["cognito:groups"] == [user["Role"]]
    # the same link again: 410
    assert http("POST", served.ready["portalUrl"] + "/activate", form)[0] == 410
    assert http("GET", link)[0] == 410

    # When, the import's emails all sent, the administrator resends to another user, whose first link is replaced
    sent = served.emails(_emails_of_the_import(served, job))
    old = link_in(sent[1])
    other = _user_of(served, job, old)
    before = len(sent)
    served.portal_import("resend", job, "--contact", other["ContactId"])
    new = link_in(served.emails(before + 1)[-1])
    # Then the old link is 410 and the new one works
    assert new != old
    assert http("GET", old)[0] == 410
    new_token = new.rsplit("=", 1)[1]
    assert http("POST", new.split("?")[0], {"token": new_token, "password": GOOD, "confirm": GOOD})[0] == 200
    assert served.sign_in(other["UserId"], GOOD)["cognito:groups"] == [other["Role"]]
    # and the administrator sees both activated
    status_json = json.loads(served.portal_import("status", job, "--json"))
    assert status_json["usersActivated"] == 2
    # and no token is in the functions' logs
    logs = (served.work / "import-results" / "serve-function-logs.jsonl").read_text(encoding="utf-8")
    assert token not in logs and new_token not in logs and GOOD not in logs


def test_in_a_real_browser_the_form_sets_the_password(served: Served, job: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "no chromium: `make chromium` installs Debian's (make test does)"
    # Given a link no one used yet (the third email: the first two belong to the test above)
    message = served.emails(3)[2]
    link = link_in(message)
    user = _user_of(served, job, link)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 640, "height": 720})
            # When the person opens it, types a password twice and submits
            page.goto(link)
            assert page.get_by_role("heading").inner_text().startswith("Welcome")
            # the page's own style applies under its Content-Security-Policy (allowed by its hash)
            assert page.eval_on_selector("button", "b => getComputedStyle(b).backgroundColor") == "rgb(11, 92, 173)"
            page.get_by_label("New password", exact=True).fill(GOOD)
            page.get_by_label("New password again").fill(GOOD)
            picture = SCREENSHOT if KEEP_SCREENSHOT else tmp_path / "activation-page.png"
            picture.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(picture))  # the page as the person sees it, filled in
            assert picture.read_bytes().startswith(b"\x89PNG")
            page.get_by_role("button", name="Set password").click()
            # Then the browser shows the success page, and the password signs in with the Role
            page.get_by_text("Your password is set").wait_for(timeout=15_000)
            assert user["UserId"] in page.content()
        finally:
            browser.close()
    assert served.sign_in(user["UserId"], GOOD)["cognito:groups"] == [user["Role"]]


def _from(client: str, method: str, url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    """A request from the local address `client` (127.0.0.0/8 is all this machine's), as another computer would."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    connection = HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=(client, 0))
    try:
        body = urlencode(form) if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def test_one_client_over_its_limit_gets_429_while_another_is_still_served(served: Served, job: str) -> None:
    # Given the web ACL's limit per client address, as the template sets it, and a link no one used yet
    limit = int(load_template(ROOT / "template.yaml")["Parameters"]["ActivationRequestsPerClient"]["Default"])
    link = link_in(served.emails(4)[3])
    user = _user_of(served, job, link)
    flooder, neighbour = "127.0.0.3", "127.0.0.4"
    api = served.ready["portalUrl"] + "/activate"

    # When one client guesses tokens as fast as it can, ten at a time, up to its limit: the page answers each (410)
    with ThreadPoolExecutor(max_workers=10) as pool:
        guesses = pool.map(lambda guess: _from(flooder, "GET", f"{api}?token=guess{guess:040d}")[0], range(limit))
        assert set(guesses) == {410}
    # Then its next request, even with a valid link, is answered 429 by the web ACL with a page saying what to do
    status, page = _from(flooder, "GET", link)
    assert status == 429 and "Wait five minutes" in page

    # When another client, the link's owner, opens it and sets the password
    status, page = _from(neighbour, "GET", link)
    assert status == 200 and 'name="password"' in page
    token = urlsplit(link).query.removeprefix("token=")
    assert _from(neighbour, "POST", api, {"token": token, "password": GOOD, "confirm": GOOD})[0] == 200
    # Then they sign in with the Role the file gave them, while the flooding client is still refused
    assert served.sign_in(user["UserId"], GOOD)["cognito:groups"] == [user["Role"]]
    assert _from(flooder, "GET", f"{api}?token=x")[0] == 429
