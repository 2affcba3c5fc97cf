"""Unit tests of the row rules (docs/contracts.md §2) and their error texts, including the worked example end to end."""

import csv
from pathlib import Path

import pytest

from portal_import.domain.ids import ContactRef, normalize_contact_id
from portal_import.domain.reader import Record, open_import
from portal_import.domain.rules import (
    CONTACT_NOT_FOUND,
    DUPLICATE_CONTACT_ID,
    INVALID_ROLE,
    MISSING_CONTACT_ID,
    ROLE_REQUIRED,
    USER_ALREADY_EXISTS,
    FileChecks,
    contact_not_found,
    is_valid_email,
    user_already_exists,
    with_detail,
)

MIXED = Path(__file__).resolve().parents[1] / "fixtures" / "mixed"
ROLES = {
    "Partner User": True,
    "Customer": True,
    "Legacy Partner": False,
    "Partenaire Privilégié": True,
}
CONTACT = "0037KWyWfty6uEv0001"
RULE_1_TO_4_ERRORS = (
    MISSING_CONTACT_ID,
    ROLE_REQUIRED,
    INVALID_ROLE,
    DUPLICATE_CONTACT_ID,
)


def check_all(rows: list[tuple[str, str]], roles: dict[str, bool] = ROLES) -> list[str | None]:
    checks = FileChecks(roles)
    return [checks.check(Record(number, cid, role)).error for number, (cid, role) in enumerate(rows, start=2)]


def test_rule_1_empty_contact_id_is_missing() -> None:
    # Given / When
    row = FileChecks(ROLES).check(Record(2, "   ", "Customer"))

    # Then
    assert row.error == "Missing Contact ID"
    assert row.ref is None


def test_rule_1_comes_before_rule_2() -> None:
    # Given a row with neither a Contact ID nor a Role / When / Then
    assert check_all([("", "")]) == ["Missing Contact ID"]


def test_rule_2_empty_role_is_required() -> None:
    # Given / When
    row = FileChecks(ROLES).check(Record(2, CONTACT, " \t"))

    # Then
    assert row.error == "Role is required"
    assert row.ref is None


def test_rule_2_comes_before_rule_5() -> None:
    # Given an unusable Contact ID and no Role / When / Then
    assert check_all([("abc", "")]) == ["Role is required"]


def test_rule_3_role_differing_only_in_case_suggests_the_right_name() -> None:
    # Given / When / Then
    assert check_all([(CONTACT, "partner user")]) == ["Invalid Role: 'partner user' (did you mean 'Partner User'?)"]


def test_rule_3_inactive_role_says_it_is_not_active() -> None:
    # Given / When / Then
    assert check_all([(CONTACT, "Legacy Partner")]) == ["Invalid Role: 'Legacy Partner' is not active"]


def test_rule_3_unknown_role_lists_the_active_roles() -> None:
    # Given / When / Then
    assert check_all([(CONTACT, "Foo")]) == [
        "Invalid Role: 'Foo' is not an active portal Role (active Roles: Customer, Partenaire Privilégié, Partner User)"
    ]


def test_rule_3_lists_at_most_ten_active_roles() -> None:
    # Given a portal with many active Roles
    roles = {f"Role {number:02}": True for number in range(1, 16)}

    # When
    [error] = check_all([(CONTACT, "Foo")], roles)

    # Then
    assert error is not None
    assert error.endswith(
        "(active Roles: Role 01, Role 02, Role 03, Role 04, Role 05, "
        "Role 06, Role 07, Role 08, Role 09, Role 10 and 5 more)"
    )


def test_rule_3_with_no_active_roles_says_so() -> None:
    # Given / When / Then
    assert check_all([(CONTACT, "Customer")], {"Customer": False, "Other": False}) == [
        "Invalid Role: 'Customer' is not active"
    ]
    assert check_all([(CONTACT, "Foo")], {}) == [
        "Invalid Role: 'Foo' is not an active portal Role (there are no active Roles)"
    ]


def test_rule_3_comes_before_rule_5_and_keeps_the_contact_reference() -> None:
    # Given / When
    row = FileChecks(ROLES).check(Record(2, "abc", "Foo"))

    # Then
    assert row.error is not None and row.error.startswith("Invalid Role")
    assert row.ref is not None and row.ref.kind == "invalid"


def test_role_is_matched_after_trimming_and_the_input_is_kept_as_given() -> None:
    # Given / When
    row = FileChecks(ROLES).check(Record(19, "  003T51M4lm8yatX0001 ", " Partner User  "))

    # Then
    assert row.error is None
    assert (row.contact_id, row.role) == ("003T51M4lm8yatX0001", "Partner User")
    assert (row.input_contact_id, row.input_role) == (
        "  003T51M4lm8yatX0001 ",
        " Partner User  ",
    )
    assert row.ref == ContactRef("contact", "003T51M4lm8yatX0001", "")


def test_rule_4_second_row_for_the_same_contact_names_the_first() -> None:
    # Given / When / Then
    assert check_all([(CONTACT, "Customer"), ("x", "Customer"), (CONTACT, "Partner User")]) == [
        None,
        None,
        "Duplicate Contact ID in file: same Contact as row 2",
    ]


def test_rule_4_15_and_18_character_forms_of_one_salesforce_id_are_duplicates() -> None:
    # Given the same Salesforce ID in 15-character, lowercase 18 and canonical 18 form / When / Then
    assert check_all(
        [
            ("003FU3EhWt9xlvt", "Customer"),
            ("003fu3ehwt9xlvtyka", "Customer"),
            ("003FU3EhWt9xlvtYKA", "Customer"),
        ]
    ) == [
        None,
        "Duplicate Contact ID in file: same Contact as row 2",
        "Duplicate Contact ID in file: same Contact as row 2",
    ]


def test_rule_4_ignores_earlier_rows_that_failed_rules_1_to_3() -> None:
    # Given a first row with a bad Role, then the same Contact with a good one / When / Then
    assert check_all([(CONTACT, "Nope"), (CONTACT, ""), (CONTACT, "Customer"), (CONTACT, "Customer")]) == [
        "Invalid Role: 'Nope' is not an active portal Role "
        "(active Roles: Customer, Partenaire Privilégié, Partner User)",
        "Role is required",
        None,
        "Duplicate Contact ID in file: same Contact as row 4",
    ]


def test_rule_4_contact_id_and_salesforce_id_of_one_contact_are_not_duplicates_here() -> None:
    # Given a 19-character ID and a Salesforce ID (the worker decides by rule 6 later) / When / Then
    assert check_all([(CONTACT, "Customer"), ("003FU3EhWt9xlvt", "Customer")]) == [
        None,
        None,
    ]


def test_rule_4_same_unusable_id_twice_is_a_duplicate() -> None:
    # Given / When / Then
    assert check_all([("abc", "Customer"), (" abc ", "Customer")]) == [
        None,
        "Duplicate Contact ID in file: same Contact as row 2",
    ]


def test_rule_5_text_for_an_unusable_id_gives_the_reason() -> None:
    # Given / When / Then
    assert contact_not_found(normalize_contact_id("00351hTRu4SV3SUBG1"), "00351hTRu4SV3SUBG1", "Customer") == (
        "Contact not found: '00351hTRu4SV3SUBG1' is not a valid 18-character Salesforce ID "
        "(its checksum does not match)"
    )


def test_rule_5_text_for_unknown_ids() -> None:
    # Given / When / Then
    assert contact_not_found(normalize_contact_id("003eQ6f6qqCtpZt0001"), "003eQ6f6qqCtpZt0001", "Customer") == (
        "Contact not found: no Contact has ID '003eQ6f6qqCtpZt0001'"
    )
    assert contact_not_found(normalize_contact_id("003dQrnpUsuUL02"), "003dQrnpUsuUL02", "Customer") == (
        "Contact not found: no Contact has Salesforce ID '003dQrnpUsuUL02QIG'"
    )
    assert contact_not_found(normalize_contact_id("abc"), "abc", "Customer").startswith(
        CONTACT_NOT_FOUND + ": 'abc' is 3 characters"
    )


def test_rule_6_text_says_no_action_is_needed() -> None:
    # Given / When / Then
    assert user_already_exists("0035JNYkG8jl6v10001", "005UItKqA6dZ1DD0001") == (
        "User already exists: Contact 0035JNYkG8jl6v10001 already has portal user 005UItKqA6dZ1DD0001; "
        "no action is needed"
    )
    assert user_already_exists("a", "b").startswith(USER_ALREADY_EXISTS)


def test_with_detail() -> None:
    # Given / When / Then
    assert with_detail("Invalid Role", "x") == "Invalid Role: x"
    assert with_detail("Processing error", "") == "Processing error"


def test_very_long_role_is_shortened_in_the_error() -> None:
    # Given / When
    [error] = check_all([(CONTACT, "R" * 5000)])

    # Then
    assert error is not None and len(error) < 300


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("contact0.oazr@example.com", True),
        ("a.b+tag@mail.example.co.uk", True),
        ("bob@", False),
        ("@example.com", False),
        ("not-an-email", False),
        ("", False),
        ("bob@example", False),
        ("bob smith@example.com", False),
        ("bob@@example.com", False),
        ("bob@example.com.", False),
        ("bob@.example.com", False),
    ],
)
def test_is_valid_email(address: str, valid: bool) -> None:
    # Given / When / Then
    assert is_valid_email(address) is valid


def test_worked_example_gives_exactly_the_expected_rule_1_to_4_errors() -> None:
    # Given the worked example's file, its Roles and its expected outcomes
    with (MIXED / "roles.csv").open(newline="", encoding="utf-8") as roles_file:
        roles = {row["Name"]: row["Active"].strip().lower() == "true" for row in csv.DictReader(roles_file)}
    with (MIXED / "expected.csv").open(newline="", encoding="utf-8") as expected_file:
        expected = {
            int(row["RowNumber"]): (row["Outcome"] if row["Outcome"] in RULE_1_TO_4_ERRORS else None)
            for row in csv.DictReader(expected_file)
        }
    checks = FileChecks(roles)

    # When every record of the file is checked
    with (MIXED / "import.csv").open("rb") as import_file:
        rows = [checks.check(record) for record in open_import(import_file).records()]

    # Then each row fails exactly the rule expected.csv gives it, or none of rules 1-4
    assert {row.row_number for row in rows} == set(expected)
    for row in rows:
        outcome = expected[row.row_number]
        if outcome is None:
            assert row.error is None, (row.row_number, row.error)
            assert row.ref is not None and row.ref.kind in (
                "contact",
                "salesforce",
                "invalid",
            )
        else:
            assert row.error is not None and row.error.startswith(outcome), (
                row.row_number,
                row.error,
            )


def test_a_role_stretched_over_lines_by_a_stray_quote_says_a_quote_may_be_missing() -> None:
    # Given a Role cell that holds the two lines after it
    record = Record(row_number=3, contact_id=CONTACT, role="Customer\n003b,Customer\r\n003c,Customer")

    # When
    error = FileChecks(ROLES).check(record).error

    # Then the rule's error comes first, then why
    assert error is not None
    assert error.startswith("Invalid Role: 'Customer\\n003b,Customer\\r\\n003c,Customer' is not an active portal Role")
    assert error.endswith("; the Role holds 2 line breaks: a quote may be missing")


def test_a_contact_id_stretched_over_a_line_says_so_in_rule_5() -> None:
    # Given a ContactId cell holding the line after it
    cell = "003a,Customer\n003b01"

    # When
    error = contact_not_found(normalize_contact_id(cell), cell, "Customer")

    # Then
    assert error.startswith("Contact not found: '003a,Customer\\n003b01' is 20 characters")
    assert error.endswith("; the ContactId holds 1 line break: a quote may be missing")


def test_a_missing_contact_id_with_a_multi_line_role_says_so() -> None:
    # Given / When
    error = FileChecks(ROLES).check(Record(row_number=2, contact_id="", role="Customer\n003b,Customer")).error

    # Then
    assert error == "Missing Contact ID; the Role holds 1 line break: a quote may be missing"


def test_surrounding_line_breaks_are_trimmed_and_not_counted() -> None:
    # Given a Role whose line break is only trailing white space
    assert FileChecks(ROLES).check(Record(row_number=2, contact_id=CONTACT, role="Customer\r\n")).error is None


@pytest.mark.parametrize(
    ("role", "shown"),
    [("Customer\u202e", "Customer\\u202e"), ("Cust\u200bomer", "Cust\\u200bomer"), ("\x00Customer", "\\x00Customer")],
)
def test_invisible_characters_in_a_role_are_shown_as_escapes(role: str, shown: str) -> None:
    # Given / When
    error = FileChecks(ROLES).check(Record(row_number=2, contact_id=CONTACT, role=role)).error

    # Then
    assert error is not None and error.startswith(f"Invalid Role: '{shown}' is not an active portal Role")


def test_invisible_characters_in_a_contact_id_are_shown_as_escapes() -> None:
    # Given a 19-character ID holding a right-to-left override
    cell = "0037KWyWfty6uEv\u202e001"

    # When / Then
    assert contact_not_found(normalize_contact_id(cell), cell, "Customer") == (
        "Contact not found: no Contact has ID '0037KWyWfty6uEv\\u202e001'"
    )
