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
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import pytest

from portal_import_local.template import load_template

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from serving import serve_environment, start_serve, stop_serve  # noqa: E402

EXAMPLE = ROOT / "tests" / "fixtures" / "mixed"
# The README shows the browser test's screenshot: `make screenshot` runs it with this set, to keep a new one.
KEEP_SCREENSHOT = os.environ.get("PORTAL_IMPORT_KEEP_SCREENSHOT") == "1"
SCREENSHOT = ROOT / "docs" / "activation-page.png"
SIGN_IN_URL = "https://portal.example.com/login"
GOOD = "Corr3ct-Horse-Battery!"
_LINK = re.compile(r"(http://[^\s<>\"]+/activate\?token=[A-Za-z0-9_.\-]+)")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


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
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=serve_environment(self.work))
        assert done.returncode == 0, done.stderr
        return done.stdout

    def portal_import(self, *args: str) -> str:
        command = [sys.executable, "-m", "portal_import_cli", *args]
        command += ["--stack", "portal-import-local", "--endpoint-url", self.ready["endpoint"]]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=serve_environment(self.work))
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


def _serve(work: Path, *parameters: str) -> Iterator[Served]:
    outbox = work / "outbox"
    extra = ["--outbox", str(outbox)]
    for parameter in parameters:
        extra += ["--parameter", parameter]
    process, ready = start_serve(
        EXAMPLE / "contacts.csv", EXAMPLE / "roles.csv", cwd=work, env=serve_environment(work), extra=extra
    )
    yield Served(process, ready, work, outbox)
    stop_serve(process)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from _serve(tmp_path_factory.mktemp("activation"), f"PortalSignInUrl={SIGN_IN_URL}")


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A second server, whose links expire 36 seconds after they were sent."""
    yield from _serve(tmp_path_factory.mktemp("short-lived"), "ActivationLinkTtlHours=0.01")


@pytest.fixture(scope="module")
def job(served: Served) -> str:
    return _import(served)


@pytest.fixture(scope="module")
def short_job(short_lived: Served) -> str:
    return _import(short_lived)


def _import(served: Served) -> str:
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


@contextmanager
def browser_page() -> Iterator[Page]:
    """A page of Debian's chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "no chromium: `make chromium` installs Debian's (make test does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 640, "height": 720})
        finally:
            browser.close()


def picture(page: Page, name: str, tmp_path: Path) -> None:
    """The page as the person sees it; kept in docs/ by `make screenshot`."""
    path = ROOT / "docs" / name if KEEP_SCREENSHOT else tmp_path / name
    path.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(path))
    assert path.read_bytes().startswith(b"\x89PNG")


def set_password_in(page: Page, link: str, password: str) -> str:
    """Opens the link, types the password twice and submits; the text of the page that answers."""
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(password)
    page.get_by_label("New password again").fill(password)
    page.get_by_role("button", name="Set password").click()
    page.get_by_text("Your password is set").wait_for(timeout=15_000)
    return page.inner_text("main")


def test_in_a_real_browser_the_form_sets_the_password(served: Served, job: str, tmp_path: Path) -> None:
    # Given a link no one used yet (the third email: the first two belong to the test above)
    message = served.emails(3)[2]
    link = link_in(message)
    user = _user_of(served, job, link)
    address = str(message["To"])
    with browser_page() as page:
        # When the person opens it: the form says they will sign in with the address the email reached
        page.goto(link)
        assert page.get_by_role("heading").inner_text().startswith("Welcome")
        assert f"You will sign in with your email address {address}" in page.inner_text("main")
        # the page's own style applies under its Content-Security-Policy (allowed by its hash)
        assert page.eval_on_selector("button", "b => getComputedStyle(b).backgroundColor") == "rgb(11, 92, 173)"
        page.get_by_label("New password", exact=True).fill(GOOD)
        page.get_by_label("New password again").fill(GOOD)
        picture(page, SCREENSHOT.name, tmp_path)  # the page as the person sees it, filled in
        page.get_by_role("button", name="Set password").click()
        # Then the success page names the address and leads to the portal's sign-in page
        page.get_by_text("Your password is set").wait_for(timeout=15_000)
        said = page.inner_text("main")
        assert f"Sign in to Customer Portal with your email address {address} and your new password." in said
        assert page.get_by_role("link", name="Go to sign in").get_attribute("href") == SIGN_IN_URL
        picture(page, "activation-done.png", tmp_path)
    # and the address, in any letter case, signs in with the Role the file gave them
    claims = served.sign_in(address.upper(), GOOD)
    assert (claims["cognito:username"], claims["cognito:groups"]) == (user["UserId"], [user["Role"]])


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


def _directory_table(served: Served) -> str:
    (table,) = [t for t in json.loads(served.aws("dynamodb", "list-tables"))["TableNames"] if "Directory" in t]
    return str(table)


def _latest_link_to(served: Served, address: str, *, after: int = 0, timeout: float = 60) -> str:
    """The link of the latest email to `address` once the outbox holds more than `after` emails."""
    sent = served.emails(after + 1, timeout=timeout)
    return link_in([message for message in sent if str(message["To"]) == address][-1])


def test_two_contacts_sharing_an_address_in_a_browser(served: Served, job: str, tmp_path: Path) -> None:
    # Given two users of the import, the second's Contact given the first's address since (a shared inbox)
    sent = served.emails(_emails_of_the_import(served, job))
    first, second = sent[4], sent[5]
    shared = str(first["To"])
    first_user, second_user = _user_of(served, job, link_in(first)), _user_of(served, job, link_in(second))
    key = json.dumps({"pk": {"S": f"CONTACT#{second_user['ContactId']}"}, "sk": {"S": "CONTACT"}})
    served.aws(
        "dynamodb",
        "update-item",
        "--table-name",
        _directory_table(served),
        "--key",
        key,
        "--update-expression",
        "SET Email = :shared",
        "--expression-attribute-values",
        json.dumps({":shared": {"S": shared.upper()}}),
    )
    before = len(served.emails(1))
    served.portal_import("resend", job, "--contact", second_user["ContactId"])
    second_link = _latest_link_to(served, shared.upper(), after=before)
    with browser_page() as page:
        # When the first activates: they sign in with the address
        said = set_password_in(page, link_in(first), GOOD)
        assert f"with your email address {shared}" in said
        # and the second's success page names their username, and why
        said = set_password_in(page, second_link, GOOD + "2")
        assert f"Sign in to Customer Portal with the username {second_user['UserId']} and your new password." in said
        assert f"Your email address {shared.upper()} is already how another account signs in" in said
    # Then the address signs the first in (any case), the second signs in by username, each with their Role
    claims = served.sign_in(shared.upper(), GOOD)
    assert (claims["cognito:username"], claims["cognito:groups"]) == (first_user["UserId"], [first_user["Role"]])
    claims = served.sign_in(second_user["UserId"], GOOD + "2")
    assert claims["cognito:groups"] == [second_user["Role"]]


def _renew_in(page: Page, link: str) -> str:
    """Opens a link that is no longer valid, presses "Email me a new link"; the text of the page that answers."""
    page.goto(link)
    page.get_by_role("button", name="Email me a new link").click()
    page.wait_for_url("**/activate/renew")
    return page.inner_text("main")


def test_a_replaced_link_gets_a_new_one_from_the_page_once_in_15_minutes(
    short_lived: Served, short_job: str, tmp_path: Path
) -> None:
    served = short_lived
    # Given a user whose import link an administrator's resend replaced
    sent = served.emails(_emails_of_the_import(served, short_job))
    old, address = link_in(sent[0]), str(sent[0]["To"])
    user = _user_of(served, short_job, old)
    served.portal_import("resend", short_job, "--contact", user["ContactId"])
    resent = _latest_link_to(served, address, after=len(sent))
    with browser_page() as page:
        # When the person opens the old link: 410, and a page offering a new link
        page.goto(old)
        assert "We can email you a new link" in page.inner_text("main")
        picture(page, "activation-renew.png", tmp_path)
        # and presses the button: a new link is on its way, to an address the page does not name
        said = _renew_in(page, old)
        assert said.startswith("A new link is on its way") and address not in said
        picture(page, "activation-renewed.png", tmp_path)
        renewed = _latest_link_to(served, address, after=len(sent) + 1)
        assert renewed not in (old, resent)
        # Then asking again, from either earlier link, is refused for 15 minutes and sends nothing
        for earlier in (old, resent):
            said = _renew_in(page, earlier)
            assert said.startswith("A new link was sent already") and "ask again in 15 minutes" in said
        # and the new link sets the password, once
        said = set_password_in(page, renewed, GOOD)
        assert f"with your email address {address}" in said
    assert len(served.emails(1)) == len(sent) + 2
    assert http("GET", renewed)[0] == 410
    status, _, page_text = http("GET", old)
    assert status == 410 and "Ask your administrator" in page_text  # activated: no new link on offer
    assert served.sign_in(address, GOOD)["cognito:groups"] == [user["Role"]]
    # and `users` and `status` count the renewal
    listed = json.loads(served.portal_import("users", short_job, "--json"))
    assert [u["renewals"] for u in listed if u["contactId"] == user["ContactId"]] == [1]
    assert json.loads(served.portal_import("status", short_job, "--json"))["linksRenewed"] == 1


def test_an_expired_link_gets_a_new_one_from_the_page_and_every_answer_over_plain_http(
    short_lived: Served, short_job: str, tmp_path: Path
) -> None:
    served = short_lived
    # Given a user whose import link expired (ActivationLinkTtlHours=0.01: 36 seconds)
    sent = served.emails(_emails_of_the_import(served, short_job))
    link, address = link_in(sent[1]), str(sent[1]["To"])
    user = _user_of(served, short_job, link)
    token = link.rsplit("=", 1)[1]
    api = served.ready["portalUrl"] + "/activate"
    deadline = time.monotonic() + 60
    while (answer := http("GET", link))[0] == 200:
        assert time.monotonic() < deadline, "the link did not expire within 60 s"
        time.sleep(1)
    # When it is opened: 410 and the offer
    status, headers, page_text = answer
    assert status == 410 and 'action="activate/renew"' in page_text and headers["cache-control"] == "no-store"
    # and a new link is asked for: 202; a second time: 429 with Retry-After; nothing else is sent
    before = len(served.emails(1))
    status, _, page_text = http("POST", api + "/renew", {"token": token})
    assert status == 202 and "A new link is on its way" in page_text
    renewed = _latest_link_to(served, address, after=before)
    assert renewed != link
    status, headers, page_text = http("POST", api + "/renew", {"token": token})
    assert status == 429 and int(headers["retry-after"]) > 800 and "ask again in" in page_text
    # Then the new link: 200 and the form; 409 to a renewal; 400 for a weak password; 200 once; then 410
    new_token = renewed.rsplit("=", 1)[1]
    assert http("GET", renewed)[0] == 200
    assert http("POST", api + "/renew", {"token": new_token})[0] == 409
    assert http("POST", api, {"token": new_token, "password": "weak", "confirm": "weak"})[0] == 400
    form = {"token": new_token, "password": GOOD, "confirm": GOOD}
    assert http("POST", api, form)[0] == 200
    assert http("POST", api, form)[0] == 410
    # and every link of theirs is a plain 410 now, to a renewal too; so is a token nobody was sent
    for used in (token, new_token, user["ContactId"] + ".not-a-secret-anyone-was-sent-xxxxxxxxxxxxx"):
        status, _, page_text = http("GET", f"{api}?token={used}")
        assert status == 410 and "Email me a new link" not in page_text
        assert http("POST", api + "/renew", {"token": used})[0] == 410
    claims = served.sign_in(address, GOOD)
    assert (claims["cognito:username"], claims["cognito:groups"]) == (user["UserId"], [user["Role"]])
