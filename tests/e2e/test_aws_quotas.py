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

from portal_import_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "local" / "portal_import_local" / "sample" / "import.csv"
# What the sample's rows come to, quotas or not (it is the worked example of tests/fixtures/mixed).
EXPECTED = ROOT / "tests" / "fixtures" / "mixed" / "expected.csv"
# The stack's Cognito pacing of the import: one parameter per quota category.
PACING = ("CognitoUserCreationRate", "CognitoUserUpdateRate")


def test_a_stack_paced_faster_than_cognito_allows_is_throttled_and_imports_the_sample_all_the_same(
    tmp_path: Path,
) -> None:
    # Given the stack told to create users far faster than Cognito's quotas let it
    declared = load_template(ROOT / "template.yaml")["Parameters"]
    assert set(PACING) <= set(declared)
    fast = [f"--parameter={name}=1000" for name in PACING]
    # When the bundled sample is imported on the local AWS holding AWS's quotas (SES's are the integration tests')
    command = [sys.executable, "-m", "portal_import_cli", "local", "run", str(SAMPLE), *fast, "--aws-quotas"]
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
    report = json.loads(result.stdout)
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
