"""The local outbox renders SES templates as Handlebars does ({{x}} escaped, {{{x}}} raw), and the stack's
activation email, sent by the email sender on moto, shows a hostile or awkward first name as text in both parts."""

from __future__ import annotations

import dataclasses
import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from portal_import.domain.people import PortalUser
from portal_import_local.outbox import sent_emails
from portal_import_local.stack import REGION

from .conftest import SAMPLE_JOB_ID, with_bodies

HOSTILE = "<img src=x onerror=alert(1)>"
AWKWARD = 'Renée & "Jo" O\'Brien'
SENDER = "sender@example.com"


class Page(HTMLParser):
    """What a mail client makes of an HTML part: its tags, each paragraph's text and each link's target."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.paragraphs: list[str] = []
        self.links: list[str] = []
        self._in_paragraph = False
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "p":
            self.paragraphs.append("")
            self._in_paragraph = True
        if tag == "a":
            self.links += [value or "" for name, value in attrs if name == "href"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_paragraph = False

    def handle_data(self, data: str) -> None:
        if self._in_paragraph:
            self.paragraphs[-1] += data


def rendered(session: boto3.Session, template: dict[str, str], data: dict[str, Any]) -> EmailMessage:
    """The one email the outbox shows for a templated send of `template` with `data` to one recipient."""
    ses = session.client("ses")
    ses.verify_email_identity(EmailAddress=SENDER)
    ses.create_template(Template={"TemplateName": "t", **template})
    ses.send_bulk_templated_email(
        Source=SENDER,
        Template="t",
        DefaultTemplateData="{}",
        Destinations=[
            {"Destination": {"ToAddresses": ["to@example.com"]}, "ReplacementTemplateData": json.dumps(data)}
        ],
    )
    (raw,) = sent_emails(DEFAULT_ACCOUNT_ID, REGION)
    return message_from_bytes(raw, policy=policy.default)


def part(message: EmailMessage, kind: str) -> str:
    body = message.get_body(preferencelist=(kind,))
    assert body is not None, f"no {kind} part"
    return str(body.get_content())


def test_double_stash_values_are_escaped_and_triple_stash_values_are_raw(aws: boto3.Session) -> None:
    # Given a template naming one value every way Handlebars can, and one value it is not given
    template = {
        "SubjectPart": "{{{name}}}",
        "TextPart": "{{name}}|{{{name}}}|{{ name }}|{{{ name }}}|{{& name}}|[{{missing}}][{{{missing}}}]",
        "HtmlPart": '<p title="{{name}}">{{{name}}}</p>',
    }

    # When it is sent with a name holding every character Handlebars escapes
    message = rendered(aws, template, {"name": "<b a='1'>\"&`=</b>"})

    # Then {{name}} is escaped with Handlebars' table, {{{name}}} and {{&name}} are not, a missing value is empty
    escaped = "&lt;b a&#x3D;&#x27;1&#x27;&gt;&quot;&amp;&#x60;&#x3D;&lt;/b&gt;"
    raw = "<b a='1'>\"&`=</b>"
    assert part(message, "plain").rstrip("\r\n") == f"{escaped}|{raw}|{escaped}|{raw}|{raw}|[][]"
    assert part(message, "html").rstrip("\r\n") == f'<p title="{escaped}">{raw}</p>'
    assert str(message["Subject"]) == raw


def test_numbers_booleans_and_nulls_are_written_as_handlebars_writes_them(aws: boto3.Session) -> None:
    template = {"SubjectPart": "s", "TextPart": "{{n}} {{yes}} {{no}} [{{none}}]", "HtmlPart": "h"}
    message = rendered(aws, template, {"n": 3, "yes": True, "no": False, "none": None})
    assert part(message, "plain").rstrip("\r\n") == "3 true false []"


@pytest.mark.parametrize("first_name", [HOSTILE, AWKWARD])
def test_the_activation_email_shows_the_first_name_as_text_in_both_parts(
    cloud: Any, load_event: Any, first_name: str
) -> None:
    # Given the stack's template and a new user whose Contact has a hostile or awkward first name
    cloud.seed_directory()
    cloud.start_job(SAMPLE_JOB_ID, chunks=1, rows=5)
    cloud.verify_sender()
    batch = json.loads(load_event("sqs_emails")["Records"][0]["body"])
    (recipient,) = batch["recipients"] = batch["recipients"][:1]
    (contact,) = cloud.directory().contacts([recipient["contactId"]]).values()
    cloud.directory().put_contacts([dataclasses.replace(contact, first_name=first_name)])
    cloud.directory().put_users(
        [PortalUser(recipient["contactId"], recipient["userId"], "Customer", job_id=SAMPLE_JOB_ID, row=2)]
    )

    # When the email sender sends the user's activation email
    assert cloud.email_sender(with_bodies(load_event("sqs_emails"), json.dumps(batch))) == {"batchItemFailures": []}

    # Then the HTML part holds no markup from the name, and shows it, and the link, as in the text part
    (message,) = cloud.sent_emails()
    text, markup = part(message, "plain"), part(message, "html")
    page = Page(markup)
    assert "<img" not in markup
    assert set(page.tags) == {"html", "body", "p", "strong", "a"}
    assert page.paragraphs[0] == f"Hello {first_name},"
    (link,) = [word for word in text.split() if "/activate?token=" in word]
    assert page.links == [link]
    # and the text part and subject show everything as typed, with no entity in them
    assert text.startswith(f"Hello {first_name},\n")
    assert "&#x" not in text and "&amp;" not in text
    assert str(message["Subject"]) == "Activate your Customer Portal account"
