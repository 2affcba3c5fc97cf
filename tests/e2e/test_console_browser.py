"""The import console in a real browser (docs/contracts.md §8): Debian's chromium, driven by Playwright, against
`portal-import local serve`. An administrator signs in with the ready line's credentials, downloads the template,
maps a file that does not auto-map (Map Fields), starts the import, follows the job to the end, downloads its result
files (the same as `portal-import local run` writes for the same file and options), resends, and finds the job first
in the jobs list. Every request the page makes goes to the stack itself; the pages carry their CSP and read at 320 px
without scrolling sideways."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import pytest

from portal_import.domain.sample import SAMPLE_CSV

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from serving import serve_environment, start_serve, stop_serve  # noqa: E402

EXAMPLE = ROOT / "tests" / "fixtures" / "mixed"
KEEP_SCREENSHOT = os.environ.get("PORTAL_IMPORT_KEEP_SCREENSHOT") == "1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HEADER = "Contact: Contact ID,Portal Role,Notes"
MAPPING = ("--contact-id-column", "Contact: Contact ID", "--role-column", "Portal Role")
SESSION_ENDED = "Your session ended: sign in again."  # what the sign-in says when a session stops working


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example with its header renamed as a Salesforce export names it: it does not auto-map."""
    work = tmp_path_factory.mktemp("console-browser")
    lines = (EXAMPLE / "import.csv").read_bytes().split(b"\r\n", 1)
    (work / "export.csv").write_bytes(HEADER.encode() + b"\r\n" + lines[1])
    return work


@pytest.fixture(scope="module")
def served(work: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """The server, and (run meanwhile) `local run`'s results for the same file with the same options."""
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portal_import_cli",
            "local",
            "run",
            str(work / "export.csv"),
            "--contacts",
            str(EXAMPLE / "contacts.csv"),
            "--roles",
            str(EXAMPLE / "roles.csv"),
            *MAPPING,
            "--send-activation-email",
            "--json",
            "--out",
            str(work / "run"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=work,
        env=serve_environment(work),
    )
    home = work / "serve"
    home.mkdir()
    process, ready = start_serve(EXAMPLE / "contacts.csv", EXAMPLE / "roles.csv", cwd=home, env=serve_environment(home))
    try:
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr[-2000:]
        yield ready, work / "run"
    finally:
        stop_serve(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "no chromium: `make chromium` installs Debian's (make test does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def picture(page: Page, step: str, tmp_path: Path) -> None:
    """The page as the administrator sees it; kept as docs/console-<step>.png with PORTAL_IMPORT_KEEP_SCREENSHOT=1."""
    path = ROOT / "docs" / f"console-{step}.png" if KEEP_SCREENSHOT else tmp_path / f"console-{step}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG")


def sign_in(page: Page, ready: dict[str, str]) -> None:
    page.goto(ready["consoleUrl"])
    submit_sign_in(page, ready)
    page.get_by_role("heading", name="New import").wait_for(timeout=15_000)


def submit_sign_in(page: Page, ready: dict[str, str]) -> None:
    """The sign-in form, as the page shows it, filled with the ready line's administrator and sent."""
    page.get_by_label("Username").fill(ready["consoleUsername"])
    page.get_by_label("Password").fill(ready["consolePassword"])
    page.get_by_role("button", name="Sign in").click()


def rows_of(data: bytes, *, ignored: tuple[str, ...] = ("UserId",)) -> list[dict[str, str]]:
    """A result file's rows in row order, without the columns whose values differ from run to run."""
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    kept = [{name: value for name, value in row.items() if name not in ignored} for row in rows]
    return sorted(kept, key=lambda row: int(row.get("RowNumber") or 0))


def download(page: Page, name: str, folder: Path) -> bytes:
    with page.expect_download() as started:
        page.get_by_role("link", name=name).click()
    path = folder / started.value.suggested_filename
    started.value.save_as(path)
    return path.read_bytes()


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 320, page.url


def test_an_administrator_maps_imports_follows_and_resends_in_the_browser(
    served: tuple[dict[str, str], Path], browser: Browser, work: Path, tmp_path: Path
) -> None:
    ready, expected = served
    origin = ready["endpoint"]
    context = browser.new_context(viewport={"width": 1024, "height": 900}, accept_downloads=True)
    # local serve answers the pages and the API on the one thread that also runs the import: under a loaded
    # machine (make test on two cores) an answer can wait well past Playwright's 30-second default
    context.set_default_timeout(120_000)
    page = context.new_page()
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    answers: list[Any] = []
    page.on("response", lambda response: answers.append(response) if response.url == ready["consoleUrl"] else None)

    # Given the console, signed in with the ready line's administrator
    page.goto(ready["consoleUrl"])
    page.get_by_role("button", name="Sign in").wait_for()
    picture(page, "sign-in", tmp_path)
    sign_in(page, ready)
    csp = answers[0].headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "form-action 'none'" in csp
    assert answers[0].headers["x-frame-options"] == "DENY"

    # When the template is downloaded: it is the sample the CLI writes
    assert download(page, "Download sample CSV template", tmp_path).decode() == SAMPLE_CSV

    # When a file that does not auto-map is chosen: the reader says why, and the selects let it be mapped
    page.get_by_label("CSV file").set_input_files(str(work / "export.csv"))
    page.get_by_label("ContactId column").wait_for()
    assert "Contact ID" in page.get_by_role("alert").inner_text()
    page.get_by_label("ContactId column").select_option("Contact: Contact ID")
    page.get_by_label("Role column").select_option("Portal Role")
    assert page.get_by_role("alert").count() == 0
    preview = page.get_by_role("table", name="The first rows of export.csv")
    assert preview.get_by_role("row").count() > 1 and "Distributor Admin" in preview.inner_text()
    send = page.get_by_label("Send activation email")
    if not send.is_checked():
        send.check()
    picture(page, "new-import", tmp_path)
    page.get_by_role("button", name="Start import").click()

    # Then the job's page opens at its own address and its progress reaches the end
    page.wait_for_url("**/console/jobs/*", timeout=60_000)
    job_id = page.url.rsplit("/", 1)[-1]
    progress = page.get_by_role("progressbar")
    page.wait_for_function(
        """() => { const bar = document.querySelector('[role=progressbar]');
                   return document.getElementById('job-status').textContent === 'completed'
                          && bar.getAttribute('aria-valuemax') !== null
                          && bar.getAttribute('aria-valuenow') === bar.getAttribute('aria-valuemax'); }""",
        timeout=90_000,
    )
    total = json.loads((expected / "summary.json").read_text(encoding="utf-8"))["totalRows"]
    assert progress.get_attribute("aria-valuenow") == progress.get_attribute("aria-valuemax") == str(total)
    assert "completed" in page.get_by_text("Status:").inner_text()
    page.get_by_role("table", name="The users the job created").wait_for(timeout=15_000)
    picture(page, "job", tmp_path)

    # and its result files are what `local run` writes for the same file and options
    success = download(page, "Success file", tmp_path)
    failure = download(page, "Failure file", tmp_path)
    assert rows_of(success) == rows_of((expected / "success.csv").read_bytes())
    assert rows_of(failure) == rows_of((expected / "failure.csv").read_bytes())
    assert page.get_by_role("link", name="Summary").get_attribute("href")
    failures = page.get_by_role("table", name="Failures by reason")
    assert failures.get_by_role("row").count() > 1

    # When Resend is pressed: its answer is shown
    page.get_by_role("button", name="Resend").click()
    page.get_by_role("status").filter(has_text="email").wait_for(timeout=15_000)

    # and the jobs list shows the job first, linking to its page
    page.get_by_role("link", name="All jobs and New import").click()
    jobs = page.get_by_role("table", name="Jobs, newest first")
    jobs.wait_for()
    assert jobs.get_by_role("row").nth(1).get_by_role("link").inner_text() == job_id
    picture(page, "jobs", tmp_path)

    # The pages load only their own three files: any other name under static/ is not there
    for name, status in (("app.js", 200), ("console.css", 200), ("reader.js", 200), ("template.yaml", 404)):
        assert page.request.get(f"{ready['consoleUrl']}static/{name}").status == status, name

    # Every request the page made went to the stack itself: no third-party asset
    origins = {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in seen if not url.startswith("blob:")}
    assert origins == {origin}, origins
    context.close()


def test_the_pages_read_at_320_px_without_scrolling_sideways(
    served: tuple[dict[str, str], Path], browser: Browser, work: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    ready, _ = served
    context = browser.new_context(viewport={"width": 320, "height": 640})
    context.set_default_timeout(120_000)  # as above
    page = context.new_page()
    page.goto(ready["consoleUrl"])
    page.get_by_role("button", name="Sign in").wait_for()
    no_sideways_scroll(page)
    sign_in(page, ready)
    page.get_by_label("CSV file").set_input_files(str(work / "export.csv"))
    page.get_by_label("ContactId column").select_option("Contact: Contact ID")
    page.get_by_label("Role column").select_option("Portal Role")
    no_sideways_scroll(page)
    picture(page, "narrow", tmp_path)
    # its own job (a validation creates no user), so the test stands alone
    page.get_by_role("button", name="Validate").click()
    page.wait_for_url("**/console/jobs/*", timeout=60_000)
    page.get_by_role("progressbar").wait_for()
    page.get_by_text("completed").first.wait_for(timeout=60_000)
    no_sideways_scroll(page)
    # a job's address opens that job directly, as a bookmark would
    page.goto(page.url)
    page.get_by_role("progressbar").wait_for()
    assert page.get_by_role("heading", level=2).first.inner_text().startswith("Job ")
    # (the page's last call has answered: a call still on its way when the session is spoiled below would sign out
    # before the reload, and the reload would find no session to say anything about)
    idle = page.get_by_text("A validation creates no users.")
    idle.wait_for()
    # a session that ended while the page was away brings the sign-in back, saying why, and then the same job
    page.evaluate("sessionStorage.setItem('expiresAt', '1')")
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text(SESSION_ENDED, timeout=15_000)
    submit_sign_in(page, ready)
    page.get_by_role("progressbar").wait_for()
    assert page.get_by_role("heading", level=2).first.inner_text().startswith("Job ")
    idle.wait_for()
    # and so does a token the API no longer takes (401)
    page.evaluate("sessionStorage.setItem('idToken', 'a.forged.token')")
    page.reload()
    # (the API's answer, from a server that may be busy: as long as any other wait here)
    expect(page.get_by_role("alert")).to_contain_text(SESSION_ENDED, timeout=120_000)
    page.get_by_role("button", name="Sign in").wait_for()
    context.close()


def test_an_invited_administrator_chooses_their_own_password_at_the_first_sign_in(
    served: tuple[dict[str, str], Path], browser: Browser
) -> None:
    # Given an administrator invited as `portal-import admins add` does, with the temporary password the email holds
    ready, _ = served
    temporary = "Temp-Passw0rd-from-invite!"
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=ready["endpoint"],
        region_name=ready["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    cognito.admin_create_user(
        UserPoolId=ready["adminUserPoolId"],
        Username="new.admin@example.com",
        TemporaryPassword=temporary,
        UserAttributes=[{"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    context = browser.new_context(viewport={"width": 800, "height": 700})
    context.set_default_timeout(120_000)
    page = context.new_page()
    # When they sign in with it: the console asks for their own password, twice
    page.goto(ready["consoleUrl"])
    page.get_by_label("Username").fill("new.admin@example.com")
    page.get_by_label("Password").fill(temporary)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Choose your password").wait_for()
    page.get_by_label("New password", exact=True).fill("Mine-and-0nly-mine!")
    page.get_by_label("New password again").fill("Mine-and-0nly-m1ne!")
    page.get_by_role("button", name="Set password").click()
    assert "not the same" in page.get_by_role("alert").inner_text()
    page.get_by_label("New password again").fill("Mine-and-0nly-mine!")
    page.get_by_role("button", name="Set password").click()
    # Then they are in, and the new password is theirs: it signs in, with no challenge any more
    page.get_by_role("heading", name="New import").wait_for()
    user = cognito.admin_get_user(UserPoolId=ready["adminUserPoolId"], Username="new.admin@example.com")
    assert user["UserStatus"] == "CONFIRMED"
    signed = cognito.initiate_auth(
        ClientId=ready["adminUserPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "new.admin@example.com", "PASSWORD": "Mine-and-0nly-mine!"},
    )
    assert "AuthenticationResult" in signed and "ChallengeName" not in signed
    context.close()
