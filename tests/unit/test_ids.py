"""Unit tests of Contact ID normalization and the Salesforce checksum."""

import pytest

from portal_import.domain.ids import (
    ContactRef,
    canonical_salesforce_id,
    normalize_contact_id,
    salesforce_checksum,
    to_salesforce_18,
)


def test_checksum_matches_the_documented_vector() -> None:
    # Given the 15-character ID quoted in the contract
    id15 = "00558000001N0Ke"

    # When it is converted
    id18 = to_salesforce_18(id15)

    # Then it gets the documented suffix
    assert salesforce_checksum(id15) == "AAK"
    assert id18 == "00558000001N0KeAAK"


def test_19_character_id_is_a_contact_id_matched_as_given() -> None:
    # Given / When
    ref = normalize_contact_id("0037KWyWfty6uEv0001")

    # Then
    assert ref == ContactRef("contact", "0037KWyWfty6uEv0001", "")


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("003dQrnpUsuUL02", "003dQrnpUsuUL02QIG"),
        ("003f2UxG4uikYAZ", "003f2UxG4uikYAZAF2"),
    ],
)
def test_15_character_id_is_converted_to_its_18_character_form(given: str, canonical: str) -> None:
    # Given a 15-character Salesforce ID from the worked example / When
    ref = normalize_contact_id(given)

    # Then it is matched on the 18-character form the directory holds
    assert ref == ContactRef("salesforce", canonical, "")


def test_18_character_id_resolves_to_itself() -> None:
    # Given / When
    ref = normalize_contact_id("003ZATPp7p6pQP0YDM")

    # Then
    assert ref == ContactRef("salesforce", "003ZATPp7p6pQP0YDM", "")


def test_lowercase_18_character_id_gets_the_case_its_checksum_implies() -> None:
    # Given an 18-character ID typed in lowercase (the Contact's Salesforce ID is 003FU3EhWt9xlvt)
    # When
    ref = normalize_contact_id("003fu3ehwt9xlvtyka")

    # Then it matches the 18-character form of that Contact's ID
    assert ref == ContactRef("salesforce", to_salesforce_18("003FU3EhWt9xlvt"), "")
    assert ref.key == "003FU3EhWt9xlvtYKA"


def test_uppercase_18_character_id_resolves_like_its_canonical_form() -> None:
    # Given / When
    ref = normalize_contact_id("003FU3EHWT9XLVTYKA")

    # Then
    assert ref.key == "003FU3EhWt9xlvtYKA"


def test_18_character_id_with_a_bad_checksum_is_invalid_with_a_reason() -> None:
    # Given / When
    ref = normalize_contact_id("00351hTRu4SV3SUBG1")

    # Then
    assert ref.kind == "invalid"
    assert ref.key == "00351hTRu4SV3SUBG1"
    assert ref.reason == (
        "'00351hTRu4SV3SUBG1' is not a valid 18-character Salesforce ID (its checksum does not match)"
    )


def test_checksum_bit_on_a_digit_makes_the_id_invalid() -> None:
    # Given an ID whose suffix claims an uppercase letter where a digit stands ('B' = bit 1 = position 1 is '0')
    # When
    ref = normalize_contact_id("00558000001N0KeBAK")

    # Then
    assert ref.kind == "invalid"


def test_suffix_character_outside_the_alphabet_makes_the_id_invalid() -> None:
    # Given / When ('9' is not in the checksum alphabet)
    ref = normalize_contact_id("00558000001N0KeAA9")

    # Then
    assert ref.kind == "invalid"


@pytest.mark.parametrize("given", ["abc", "0037KWyWfty6uEv00", "0037KWyWfty6uEv00011", "0"])
def test_wrong_length_is_invalid_and_says_what_to_use(given: str) -> None:
    # Given / When
    ref = normalize_contact_id(given)

    # Then
    assert ref.kind == "invalid"
    assert ref.key == given
    assert "use the 19-character Contact ID or a 15- or 18-character Salesforce ID" in ref.reason


def test_wrong_length_reason_names_the_value_and_its_length() -> None:
    # Given / When
    ref = normalize_contact_id("abc")

    # Then
    assert ref.reason == (
        "'abc' is 3 characters; use the 19-character Contact ID or a 15- or 18-character Salesforce ID"
    )


def test_15_characters_with_punctuation_is_not_a_salesforce_id() -> None:
    # Given / When
    ref = normalize_contact_id("003dQrnp-suUL02")

    # Then
    assert ref.kind == "invalid"
    assert "letters and digits" in ref.reason


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("003FU3EhWt9xlvt", "003FU3EhWt9xlvtYKA"),
        ("003CGiVTWnqVpRZYO0", "003CGiVTWnqVpRZYO0"),
        ("003cgivtwnqvprzyo0", "003CGiVTWnqVpRZYO0"),
        ("0037KWyWfty6uEv0001", None),
        ("", None),
        ("00351hTRu4SV3SUBG1", None),
    ],
)
def test_canonical_salesforce_id_for_seeding_the_directory(given: str, canonical: str | None) -> None:
    # Given / When / Then
    assert canonical_salesforce_id(given) == canonical
