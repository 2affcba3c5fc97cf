"""The activation email's HTML values: escaped by the sender with Handlebars' table, once, so a Contact's name
shows as written and never as markup, whatever SES does with the template."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_import.domain.activation import activation_defaults, activation_values, html_escape

TOKEN = "q3Vb_8rT-x0aLmN5pQ2sUv7wYz1cDe4fGh6jKo9iR0E"
# Handlebars' escapeExpression, character by character (handlebars/lib/handlebars/utils.js).
HANDLEBARS = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "`": "&#x60;", "=": "&#x3D;"}


def values(first_name: str) -> dict[str, str]:
    return activation_values(
        portal_url="https://portal.example.com", first_name=first_name, token=TOKEN, expires_at="2025-03-04T09:30:12Z"
    )


@pytest.mark.parametrize(("character", "escaped"), HANDLEBARS.items())
def test_each_character_handlebars_escapes_is_escaped_as_handlebars_does(character: str, escaped: str) -> None:
    assert html_escape(f"a{character}b") == f"a{escaped}b"


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;"),
        ('Renée & "Jo" O\'Brien', "Renée &amp; &quot;Jo&quot; O&#x27;Brien"),
        ("`=`", "&#x60;&#x3D;&#x60;"),
        # A name that looks escaped already is still shown as typed: Handlebars does not guess
        ("Tom &amp; Jerry", "Tom &amp;amp; Jerry"),
        ("José / Zoë (née Ünal)", "José / Zoë (née Ünal)"),
    ],
)
def test_names_are_escaped_exactly_as_handlebars_escapes_them(name: str, escaped: str) -> None:
    assert html_escape(name) == escaped


@given(st.text())
def test_escaped_text_holds_no_markup_and_reads_back_as_written(text: str) -> None:
    escaped = html_escape(text)
    assert not set(escaped) & set("<>\"'`=")
    assert html.unescape(escaped) == text


def test_a_hostile_first_name_reaches_the_html_part_as_text_and_the_text_part_as_typed() -> None:
    # Given a Contact whose first name is markup
    name = "<img src=x onerror=alert(1)>"

    # When the sender builds the recipient's template values
    got = values(name)

    # Then the subject and text part get the name as typed, the HTML part an escaped copy with no tag in it
    assert got["greeting"] == f"Hello {name},"
    assert got["greetingHtml"] == "Hello &lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;,"


def test_values_are_escaped_once_for_the_html_part_and_not_at_all_for_the_text_part() -> None:
    got = values('Renée & "Jo" O\'Brien')
    assert got["greeting"] == 'Hello Renée & "Jo" O\'Brien,'
    # one &amp; for the &, not &amp;amp;: escaped once, by the sender only
    assert got["greetingHtml"] == "Hello Renée &amp; &quot;Jo&quot; O&#x27;Brien,"
    assert html.unescape(got["greetingHtml"]) == got["greeting"]


def test_every_value_has_an_html_twin_that_reads_back_as_the_plain_one() -> None:
    for got in (values("Jo"), values(""), activation_defaults(portal_name="Ben & Jerry's <Partners>")):
        plain = {name: value for name, value in got.items() if not name.endswith("Html")}
        assert set(got) == set(plain) | {f"{name}Html" for name in plain}
        for name, value in plain.items():
            assert html.unescape(got[f"{name}Html"]) == value


def test_the_link_in_the_html_part_is_the_link_of_the_text_part() -> None:
    got = values("Jo")
    assert got["link"] == f"https://portal.example.com/activate?token={TOKEN}"
    assert got["linkHtml"] == f"https://portal.example.com/activate?token&#x3D;{TOKEN}"


def test_the_portal_name_is_shown_as_typed_in_the_subject_and_escaped_in_the_html_part() -> None:
    assert activation_defaults(portal_name="Ben & Jerry's") == {
        "portalName": "Ben & Jerry's",
        "portalNameHtml": "Ben &amp; Jerry&#x27;s",
    }
