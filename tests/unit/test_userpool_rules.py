"""What the import sends Cognito for a portal user, and the limits moto does not check (usernames, group names)."""

import pytest

from portal_import.aws.userpool import MAX_ATTRIBUTE_CHARS, PoolUser, check_group_name


def test_a_pool_user_carries_the_contacts_attributes_and_only_a_valid_email() -> None:
    # Given / When / Then
    assert PoolUser("005a", "0037KWyWfty6uEv0001", "ana@example.com", "Ana", "Ōta").attributes() == [
        {"Name": "email", "Value": "ana@example.com"},
        {"Name": "given_name", "Value": "Ana"},
        {"Name": "family_name", "Value": "Ōta"},
        {"Name": "custom:contact_id", "Value": "0037KWyWfty6uEv0001"},
    ]
    assert PoolUser("005a", "0037KWyWfty6uEv0001", "bob@").attributes() == [
        {"Name": "custom:contact_id", "Value": "0037KWyWfty6uEv0001"}
    ]


def test_an_attribute_longer_than_cognito_takes_is_cut_to_its_limit() -> None:
    # Given / When
    attributes = PoolUser("005a", "0037KWyWfty6uEv0001", first_name="x" * 5000).attributes()

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
