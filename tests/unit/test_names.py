"""A Contact's names as people read them (emails, pool attributes, the activation page): one line, nothing that
hides or turns text around, at most MAX_NAME_CHARS characters; names people really have are kept as they are."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from portal_import.aws.userpool import attributes_of
from portal_import.domain.activation import activation_values
from portal_import.domain.activation_page import SignIn, form_page
from portal_import.domain.names import MAX_NAME_CHARS, clean_name
from portal_import.domain.people import Contact

# Every kind of character that must not reach a reader: C0 and C1 controls, DEL, format characters (bidi overrides
# and isolates, zero-width space, joiners, BOM, soft hyphen, a tag), line and paragraph separators, other spaces.
INVISIBLE = [
    *"\x00\x07\t\n\x0b\x0c\r\x1b\x7f\x85",
    *"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f",
    *"\u200b\u200c\u200d\u2060\ufeff\u00ad\U000e0041",
    *"\u2028\u2029",
    *"\u00a0\u2007\u202f\u3000",
]


@pytest.mark.parametrize(
    "name",
    [
        "Ana",
        "Zoë",
        "Ōta",
        'Renée & "Jo" O\'Brien',
        "<img src=x onerror=alert(1)>",
        "Mary Ann",
        "José-María",
        "山田",
        "",
    ],
)
def test_a_name_people_really_have_is_kept_as_it_is(name: str) -> None:
    # Given / When / Then
    assert clean_name(name) == name


@pytest.mark.parametrize("char", INVISIBLE)
def test_each_invisible_character_between_words_becomes_one_space(char: str) -> None:
    # Given / When / Then
    assert clean_name(f"Ana{char}Maria") == "Ana Maria"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Ana\r\n\r\nYour account is locked: call +1 555 0100", "Ana Your account is locked: call +1 555 0100"),
        ("Ana\u202e\u2066 \u200d\n Maria", "Ana Maria"),
        ("\u202eAna\u202c", "Ana"),
        ("  \t Ana \n", "Ana"),
        ("\x1b[2J\x1b[31mAna", "[2J [31mAna"),
        ("\u200b\u200b\n", ""),
    ],
)
def test_runs_collapse_into_one_space_and_the_ends_are_trimmed(raw: str, clean: str) -> None:
    # Given / When / Then
    assert clean_name(raw) == clean


def test_a_name_longer_than_the_cap_is_cut_to_it_without_a_trailing_space() -> None:
    # Given / When / Then
    assert clean_name("x" * 5000) == "x" * MAX_NAME_CHARS
    assert clean_name("x" * (MAX_NAME_CHARS - 1) + "\u202e" + "y" * 50) == "x" * (MAX_NAME_CHARS - 1)


@given(st.text())
@example("a\u2029\u2028b")
@example("\U000e0041" * 3)
def test_a_clean_name_prints_on_one_line_within_the_cap(raw: str) -> None:
    # Given / When
    name = clean_name(raw)

    # Then nothing in it is a control, format character, separator or space other than ' '
    assert name.isprintable()
    assert not {unicodedata.category(char) for char in name} & {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
    assert len(name) <= MAX_NAME_CHARS
    assert name == name.strip() and "  " not in name


@given(st.text())
def test_cleaning_twice_changes_nothing_and_keeps_every_printable_word(raw: str) -> None:
    # Given / When
    name = clean_name(raw)

    # Then
    assert clean_name(name) == name
    words = "".join(char if char.isprintable() else " " for char in raw).split()
    if len(" ".join(words)) <= MAX_NAME_CHARS:
        assert name.split(" ") == words or name == ""


def test_every_reader_of_a_contact_gets_its_clean_names() -> None:
    # Given a directory Contact whose names try to write a paragraph into the email and reverse the page's text
    contact = Contact(
        "0037KWyWfty6uEv0001",
        email="ana@example.com",
        first_name="Ana\n\nYour account is locked",
        last_name="\u202eatO",
    )

    # When the worker makes its pool user, and the email sender (which reads the Contact, never a name from its
    # queue) its activation email
    attributes = {item["Name"]: item["Value"] for item in attributes_of(contact.pool_user("005a"))}
    email = activation_values(
        portal_url="https://p", first_name=contact.first_name, token="t", expires_at="2025-03-04T09:30:12Z"
    )

    # Then each shows the names on one line, without the override
    assert (attributes["given_name"], attributes["family_name"]) == ("Ana Your account is locked", "atO")
    assert (contact.first_name, contact.last_name) == ("Ana Your account is locked", "atO")
    assert email["greeting"] == "Hello Ana Your account is locked,"


def test_the_activation_page_greets_a_pool_user_written_before_names_were_cleaned_on_one_line() -> None:
    # Given a pool user whose given_name an earlier version wrote raw / When the page greets it
    page = form_page(
        portal_name="P", first_name="Ana\u202e\r\nX", sign_in=SignIn("U1"), token="t", rules="r", min_length=8
    )

    # Then
    assert "<h1>Welcome, Ana X</h1>" in page
