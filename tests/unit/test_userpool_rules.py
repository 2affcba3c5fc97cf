"""What the import sends Cognito for a portal user, and the limits moto does not check (usernames, group names)."""

import pytest

from portal_import.aws.userpool import MAX_ATTRIBUTE_CHARS, attributes_of, check_group_name
from portal_import.domain.people import PoolUser


def test_a_pool_user_carries_the_contacts_attributes_and_only_a_valid_email() -> None:
    # Given / When / Then
    assert attributes_of(PoolUser("005a", "0037KWyWfty6uEv0001", "ana@example.com", "Ana", "Ōta")) == [
        {"Name": "email", "Value": "ana@example.com"},
        {"Name": "given_name", "Value": "Ana"},
        {"Name": "family_name", "Value": "Ōta"},
        {"Name": "custom:contact_id", "Value": "0037KWyWfty6uEv0001"},
    ]
    assert attributes_of(PoolUser("005a", "0037KWyWfty6uEv0001", "bob@")) == [
        {"Name": "custom:contact_id", "Value": "0037KWyWfty6uEv0001"}
    ]


def test_an_attribute_longer_than_cognito_takes_is_cut_to_its_limit() -> None:
    # Given / When
    attributes = attributes_of(PoolUser("005a", "0037KWyWfty6uEv0001", first_name="x" * 5000))

    # Then
    assert len(attributes[0]["Value"]) == MAX_ATTRIBUTE_CHARS


@pytest.mark.parametrize("role", ["Customer", "Partenaire Privilégié", "x" * 128])
def test_a_role_is_a_group_name_as_it_is(role: str) -> None:
    # Given / When / Then
    assert check_group_name(role) == role


@pytest.mark.parametrize("role", ["", "x" * 129, "Cust\nomer", "Customer\u202e"])
def test_a_role_cognito_cannot_name_a_group_is_refused_saying_why(role: str) -> None:
    # Given / When / Then
    with pytest.raises(ValueError, match="a group name"):
        check_group_name(role)
