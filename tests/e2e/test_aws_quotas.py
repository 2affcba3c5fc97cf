"""`portal-import local run --aws-quotas` as an administrator runs it: a stack paced faster than Cognito allows is
throttled as on AWS, says so under --stats, and still imports the bundled sample with the outcome it has without
the quotas."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from portal_import_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "local" / "portal_import_local" / "sample" / "import.csv"
# What the sample's rows come to, quotas or not (it is the worked example of tests/fixtures/mixed).
EXPECTED = ROOT / "tests" / "fixtures" / "mixed" / "expected.csv"
# The stack's Cognito pacing of the import: one parameter per quota category.
PACING = ("CognitoUserCreationRate", "CognitoUserUpdateRate")


def local_run_with_quotas(tmp_path: Path, *arguments: str) -> dict[str, Any]:
    """`portal-import local run ARGUMENTS --aws-quotas --json --stats` into tmp_path/r, as an administrator runs it;
    its report."""
    command = [sys.executable, "-m", "portal_import_cli", "local", "run", *arguments, "--aws-quotas"]
    command += ["--out", str(tmp_path / "r"), "--json", "--stats"]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'local'}", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_a_stack_paced_faster_than_cognito_allows_is_throttled_and_imports_the_sample_all_the_same(
    tmp_path: Path,
) -> None:
    # Given the stack told to create users far faster than Cognito's quotas let it
    declared = load_template(ROOT / "template.yaml")["Parameters"]
    assert set(PACING) <= set(declared)
    fast = [f"--parameter={name}=1000" for name in PACING]
    # When the bundled sample is imported on the local AWS holding AWS's quotas (SES's are the integration tests')
    report = local_run_with_quotas(tmp_path, str(SAMPLE), *fast)
    # Then the local Cognito refused user creations (UserCreation, 50 a second) as Cognito would, and the stack retried
    assert report["awsThrottles"].get("Cognito.UserCreation", 0) > 0, report["awsThrottles"]
    assert set(report["awsThrottles"]) <= {"Cognito.UserCreation", "Cognito.UserUpdate"}
    requests = report["awsRequests"]
    assert requests["Cognito Identity Provider.AdminCreateUser"] > report["succeeded"]  # refused ones again
    # And every row came out as it does without the quotas
    outcomes = Counter(row["Outcome"] for row in csv.DictReader(EXPECTED.read_text(encoding="utf-8").splitlines()))
    assert report["status"] == "COMPLETED"
    assert (report["succeeded"], report["failed"]) == (
        outcomes["created"],
        sum(outcomes.values()) - outcomes["created"],
    )
    assert len(report["userCreationTimes"]) == report["succeeded"]


def test_under_cognitos_default_quotas_users_are_created_at_their_rate_and_all_join_their_groups(
    tmp_path: Path,
) -> None:
    # Given 150 Contacts, each named by one row: 120 with an address (the group pass places them), 30 without
    # (the worker places them at import), in three Roles
    roles = ["Partner User", "Customer", "Distributor Admin"]
    contacts = ["ContactId,SalesforceId,Email,FirstName,LastName,PortalUserId"]
    rows = ["ContactId,Role"]
    for n in range(150):
        contact_id = f"00340000000000{n:05d}"
        contacts.append(f"{contact_id},,{f'p{n}@example.com' if n % 5 else ''},First{n},Last{n},")
        rows.append(f"{contact_id},{roles[n % 3]}")
    (tmp_path / "contacts.csv").write_text("\n".join(contacts) + "\n", encoding="utf-8")
    (tmp_path / "roles.csv").write_text("Name,Active\n" + "".join(f"{role},true\n" for role in roles), encoding="utf-8")
    (tmp_path / "quota.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    # When they are imported on the local AWS holding Cognito's default quotas, the stack at the template's pacing
    files = ["--contacts", str(tmp_path / "contacts.csv"), "--roles", str(tmp_path / "roles.csv")]
    report = local_run_with_quotas(tmp_path, str(tmp_path / "quota.csv"), *files)

    # Then every row created its user, never more than UserCreation's 50 a second and the local Cognito's burst (5)
    # in any second, faster than UserUpdate's 25 (so group membership does not hold the import), and no call was
    # refused. The target itself, 90 % of UserCreation's rate, is bench measurement 7's: a machine busy with other
    # tests is no place to time it.
    assert (report["succeeded"], report["failed"]) == (150, 0)
    times = sorted(report["userCreationTimes"])
    assert len(times) == 150
    assert (len(times) - 1) / (times[-1] - times[0]) > 30
    assert max(sum(1 for later in times[i:] if later < start + 1) for i, start in enumerate(times)) <= 55
    assert report["awsThrottles"] == {}
    # one AdminCreateUser a user, and one AdminAddUserToGroup: the worker's for the 30, the group pass's for the rest
    requests = report["awsRequests"]
    assert requests["Cognito Identity Provider.AdminCreateUser"] == 150
    assert requests["Cognito Identity Provider.AdminAddUserToGroup"] == 150
    # And the pool the run leaves has each in exactly its Role's group
    pool = {user["username"]: user for user in json.loads((tmp_path / "r" / "pool-users.json").read_text())}
    success = list(csv.DictReader((tmp_path / "r" / "success.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert len(success) == 150
    assert all(pool[row["UserId"]]["groups"] == [row["Role"]] for row in success)
