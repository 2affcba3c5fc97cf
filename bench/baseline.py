"""The throughput baseline: the straightforward per-row import script, on the same in-process moto as
`portal-import local run`.

It creates the directory table (key schema from template.yaml) and a bucket, loads the directory with the
local runtime's own loader, then times, from the upload to the result files: read the file from S3, and for
each row GetItem the Role, GetItem the Contact (through its Salesforce alias item first for a Salesforce
ID), create the user with a conditional PutItem, make its pool user (AdminCreateUser, AdminAddUserToGroup), send
the activation email with SESv2 SendEmail; then
write success.csv and failure.csv to S3. It prints one JSON object on stdout.

    .venv/bin/python bench/baseline.py import.csv --contacts contacts.csv --roles roles.csv
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
import warnings
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "template.yaml"
REGION = "us-east-1"
BUCKET = "portal-import-baseline"
SENDER = "no-reply@example.com"


class RequestCounter:
    """Counts 'Service.Operation' of every AWS request while on (the timed part only)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.on = False

    def install(self) -> None:
        import botocore.client

        original = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009 - private to botocore
        counter = self

        def counted(client: Any, operation_name: str, api_params: Any) -> Any:
            if counter.on:
                counter.counts[f"{client.meta.service_model.service_id}.{operation_name}"] += 1
            return original(client, operation_name, api_params)

        setattr(botocore.client.BaseClient, "_make_api_call", counted)  # noqa: B010 - private to botocore


def _create_directory_table(ddb: Any) -> str:
    from portal_import_local.template import load_template

    properties = load_template(TEMPLATE)["Resources"]["DirectoryTable"]["Properties"]
    name = "portal-import-baseline-directory"
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        GlobalSecondaryIndexes=properties.get("GlobalSecondaryIndexes", []),
        BillingMode=properties.get("BillingMode", "PAY_PER_REQUEST"),
    )
    return name


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def import_rows(body: str, table: str, clients: dict[str, Any]) -> tuple[list[list[Any]], list[list[Any]]]:
    """Every row, one at a time: the success and failure rows of the result files."""
    from portal_import.domain.activation import new_user_id
    from portal_import.domain.ids import normalize_contact_id
    from portal_import.domain.rules import is_valid_email

    ddb, ses = clients["dynamodb"], clients["sesv2"]
    success: list[list[Any]] = []
    failure: list[list[Any]] = []
    seen: set[str] = set()
    for row_number, record in enumerate(csv.DictReader(io.StringIO(body)), start=2):
        given_id, given_role = record.get("ContactId") or "", record.get("Role") or ""
        contact_value, role = given_id.strip(), given_role.strip()
        if not contact_value and not role:
            continue
        if not contact_value:
            failure.append([row_number, given_id, given_role, "Missing Contact ID"])
            continue
        if not role:
            failure.append([row_number, given_id, given_role, "Role is required"])
            continue
        role_item = ddb.get_item(TableName=table, Key=_key("ROLE", role), ConsistentRead=True).get("Item")
        if not role_item or not role_item.get("Active", {}).get("BOOL"):
            failure.append([row_number, given_id, given_role, "Invalid Role"])
            continue
        ref = normalize_contact_id(contact_value)
        if ref.key in seen:
            failure.append([row_number, given_id, given_role, "Duplicate Contact ID in file"])
            continue
        seen.add(ref.key)
        contact_id = ref.key if ref.kind == "contact" else ""
        if ref.kind == "salesforce":
            alias = ddb.get_item(
                TableName=table, Key=_key(f"SALESFORCE#{ref.key}", "CONTACT"), ConsistentRead=True
            ).get("Item")
            contact_id = alias["ContactId"]["S"] if alias else ""
        contact = (
            ddb.get_item(TableName=table, Key=_key(f"CONTACT#{contact_id}", "CONTACT"), ConsistentRead=True).get("Item")
            if contact_id
            else None
        )
        if contact is None:
            failure.append([row_number, given_id, given_role, "Contact not found"])
            continue
        user_id = new_user_id()
        try:
            ddb.put_item(
                TableName=table,
                Item={
                    **_key(f"CONTACT#{contact_id}", "USER"),
                    "ContactId": {"S": contact_id},
                    "UserId": {"S": user_id},
                    "Role": {"S": role},
                    "CreatedAt": {"S": datetime.now(UTC).isoformat()},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ddb.exceptions.ConditionalCheckFailedException:
            failure.append([row_number, given_id, given_role, "User already exists"])
            continue
        cognito, pool = clients["cognito-idp"], clients["pool"]
        cognito.admin_create_user(
            UserPoolId=pool,
            Username=user_id,
            UserAttributes=[{"Name": "custom:contact_id", "Value": contact_id}],
            MessageAction="SUPPRESS",
        )
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=user_id, GroupName=role)
        email = contact.get("Email", {}).get("S", "")
        status = "No valid email"
        if is_valid_email(email):
            first_name = contact.get("FirstName", {}).get("S", "")
            ses.send_email(
                FromEmailAddress=SENDER,
                Destination={"ToAddresses": [email]},
                Content={
                    "Simple": {
                        "Subject": {"Data": "Activate your portal account"},
                        "Body": {"Text": {"Data": f"Hello {first_name}, set your password: https://portal/activate"}},
                    }
                },
            )
            status = "Sent"
        success.append([row_number, contact_id, role, user_id, status])
    return success, failure


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def run(import_csv: Path, contacts: Path, roles: Path) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    counter = RequestCounter()
    counter.install()
    with mock_aws():
        from portal_import.aws.directory import Directory
        from portal_import.aws.userpool import UserPool
        from portal_import_cli.seed import load_directory, read_directory

        services = ("dynamodb", "s3", "ses", "sesv2", "cognito-idp")
        clients: dict[str, Any] = {n: boto3.client(n, region_name=REGION) for n in services}
        clients["pool"] = clients["cognito-idp"].create_user_pool(PoolName="baseline")["UserPool"]["Id"]
        table = _create_directory_table(clients["dynamodb"])
        clients["s3"].create_bucket(Bucket=BUCKET)
        clients["ses"].verify_email_identity(EmailAddress=SENDER)
        load_directory(Directory(table), read_directory(contacts, roles), UserPool(clients["pool"]))
        s3 = clients["s3"]

        counter.on = True
        started = time.perf_counter()
        s3.put_object(Bucket=BUCKET, Key=f"imports/{import_csv.name}", Body=import_csv.read_bytes())
        body = s3.get_object(Bucket=BUCKET, Key=f"imports/{import_csv.name}")["Body"].read().decode("utf-8-sig")
        success, failure = import_rows(body, table, clients)
        s3.put_object(
            Bucket=BUCKET,
            Key="results/baseline/success.csv",
            Body=_csv(["RowNumber", "ContactId", "Role", "UserId", "ActivationEmail"], success),
        )
        s3.put_object(
            Bucket=BUCKET,
            Key="results/baseline/failure.csv",
            Body=_csv(["RowNumber", "ContactId", "Role", "Error"], failure),
        )
        seconds = time.perf_counter() - started
        counter.on = False
    return {
        "totalRows": len(success) + len(failure),
        "succeeded": len(success),
        "failed": len(failure),
        "emailsSent": sum(1 for row in success if row[4] == "Sent"),
        "seconds": round(seconds, 3),
        "awsRequests": dict(sorted(counter.counts.items())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("import_csv", type=Path)
    parser.add_argument("--contacts", type=Path, required=True)
    parser.add_argument("--roles", type=Path, required=True)
    args = parser.parse_args()
    # The same embedded-AWS environment as `portal-import local run`: never a real account.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION})
    warnings.filterwarnings("ignore")
    print(json.dumps(run(args.import_csv, args.contacts, args.roles)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
