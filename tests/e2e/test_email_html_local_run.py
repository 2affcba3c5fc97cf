"""`portal-import local run` with activation emails for Contacts whose first names are markup or full of
ampersands and quotes: the outbox's HTML part shows each name escaped, its text part as typed."""

from __future__ import annotations

import csv
import email
import email.policy
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = {
    "hostile@example.com": "<img src=x onerror=alert(1)>",
    "renee@example.com": 'Renée & "Jo" O\'Brien',
}
CONTACT_IDS = ["0037KWyWfty6uEv0001", "0035ThlQ9vK9jW20001"]
CLI = [sys.executable, "-m", "portal_import_cli"]
ROLES = ROOT / "tests" / "fixtures" / "mixed" / "roles.csv"


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EmailMessage]:
    # Given a directory whose two Contacts have those first names, and a file giving each a portal user
    work = tmp_path_factory.mktemp("names")
    with (work / "contacts.csv").open("w", encoding="utf-8", newline="") as contacts:
        writer = csv.writer(contacts)
        writer.writerow(["ContactId", "SalesforceId", "Email", "FirstName", "LastName", "PortalUserId"])
        for contact_id, (address, name) in zip(CONTACT_IDS, NAMES.items(), strict=True):
            writer.writerow([contact_id, "", address, name, "Last", ""])
    (work / "import.csv").write_text("ContactId,Role\n" + "".join(f"{c},Customer\n" for c in CONTACT_IDS))

    # When the administrator imports it with activation emails on
    options = ["--contacts", work / "contacts.csv", "--roles", ROLES, "--send-activation-email", "--out", work / "out"]
    result = subprocess.run(
        [*CLI, "local", "run", str(work / "import.csv"), *map(str, options)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'local'}", "HOME": str(work)},
    )
    assert result.returncode == 0, result.stderr
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in (work / "out" / "outbox").glob("*.eml")
    ]
    return {str(message["To"]): message for message in messages}


def part(message: EmailMessage, kind: str) -> str:
    body = message.get_body(preferencelist=(kind,))
    assert body is not None, f"no {kind} part"
    return str(body.get_content())


def test_each_contact_gets_one_activation_email(outbox: dict[str, EmailMessage]) -> None:
    assert sorted(outbox) == sorted(NAMES)


@pytest.mark.parametrize("address", NAMES)
def test_the_html_part_shows_the_first_name_escaped_and_the_text_part_as_typed(
    outbox: dict[str, EmailMessage], address: str
) -> None:
    name, message = NAMES[address], outbox[address]
    markup, text = part(message, "html"), part(message, "plain")
    # Then the HTML part holds the name escaped as Handlebars escapes it, once, and no markup of the name's
    escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = escaped.replace('"', "&quot;").replace("'", "&#x27;").replace("=", "&#x3D;")
    assert f"<p>Hello {escaped},</p>" in markup
    assert "<img" not in markup and "&amp;amp;" not in markup
    # and the text part holds it verbatim
    assert text.startswith(f"Hello {name},")
    # and both parts carry the same activation link
    (link,) = [word for word in text.split() if "/activate?token=" in word]
    assert f'href="{link.replace("=", "&#x3D;")}"' in markup
