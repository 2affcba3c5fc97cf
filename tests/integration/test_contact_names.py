"""A Contact whose names, in the directory, hold line breaks, a bidi override and escapes (written by another tool,
or before names were cleaned): the pool user the worker makes and the activation email it is sent show them on
one line, without any of those characters."""

from __future__ import annotations

import json
from typing import Any

from .conftest import SAMPLE_JOB_ID, with_bodies

CONTACT = "0037KWyWfty6uEv0001"  # row 2 of events/sqs_rows.json, a Contact with a valid address
FORGED_FIRST = "Ana\r\n\r\nYour account is locked. Call +1 555 0100\u202e"
FORGED_LAST = "\u2066\x1b[31mOta\u200d\u2028"


def test_names_reach_the_pool_user_and_the_email_on_one_line(cloud: Any, load_event: Any) -> None:
    # Given the worked example's directory, one of whose Contacts has forged names
    cloud.seed_directory()
    cloud.session.client("dynamodb").update_item(
        TableName=cloud.stack.directory_table,
        Key={"pk": {"S": f"CONTACT#{CONTACT}"}, "sk": {"S": "CONTACT"}},
        UpdateExpression="SET FirstName = :first, LastName = :last",
        ExpressionAttributeValues={":first": {"S": FORGED_FIRST}, ":last": {"S": FORGED_LAST}},
    )
    cloud.start_job(SAMPLE_JOB_ID, chunks=2, rows=9)
    cloud.verify_sender()

    # When the worker creates its user and the email sender sends the activation emails
    cloud.worker(load_event("sqs_rows"))
    for message in cloud.email_messages():
        sent = cloud.email_sender(with_bodies(load_event("sqs_emails"), json.dumps(message)))
        assert sent == {"batchItemFailures": []}

    # Then the pool user's names are the Contact's words, on one line
    cognito = cloud.session.client("cognito-idp")
    (user,) = [
        user
        for user in cognito.list_users(UserPoolId=cloud.stack.user_pool_id)["Users"]
        if {"Name": "custom:contact_id", "Value": CONTACT} in user["Attributes"]
    ]
    attributes = {item["Name"]: item["Value"] for item in user["Attributes"]}
    assert attributes["given_name"] == "Ana Your account is locked. Call +1 555 0100"
    assert attributes["family_name"] == "[31mOta"
    # and the email greets the Contact on one line, the paragraph the name tried to add not in it
    (message,) = [m for m in cloud.sent_emails() if str(m["To"]) == "contact0.oazr@example.com"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert text.startswith("Hello Ana Your account is locked. Call +1 555 0100,\n")
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<p>Hello Ana Your account is locked. Call +1 555 0100,</p>" in html
    assert not {"\u202e", "\u2066", "\x1b", "\u200d", "\u2028"} & set(text + html)
