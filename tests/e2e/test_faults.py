"""Nothing lost, nothing twice: with seeded faults (API errors, redelivery, SES throttling) an import ends
with exactly the results of a fault-free run; a poison row costs only itself."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections import Counter
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from generate import write_case  # noqa: E402

ROWS = 300
FAULTS = ["--fault-api-error", "0.03", "--fault-redeliver", "0.3", "--fault-ses-throttle", "0.3"]


def run(case: tuple[Path, Path, Path], out: Path, *extra: str) -> dict[str, Any]:
    contacts, roles, import_csv = case
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "portal_import_local.cli",
            "local",
            "run",
            str(import_csv),
            "--contacts",
            str(contacts),
            "--roles",
            str(roles),
            "--send-activation-email",
            "--email-rate",
            "200",
            "--json",
            "--out",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=out.parent,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'local'}", "HOME": str(out.parent)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert personal_data_in_logs(out, contacts) == set()
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def personal_data_in_logs(out: Path, contacts: Path) -> set[str]:
    """Email addresses, names and activation tokens that appear in the functions' logs of a run (none should)."""
    people = list(csv.DictReader(contacts.read_text(encoding="utf-8").splitlines()))
    secrets = {person[field] for person in people for field in ("Email", "FirstName", "LastName") if person[field]}
    for message in (out / "outbox").glob("*.eml"):
        secrets.update(re.findall(r"token=([A-Za-z0-9_-]{16,})", message.read_text(encoding="utf-8")))
    logs = (out / "function-logs.jsonl").read_text(encoding="utf-8")
    assert logs.strip()  # the run logged, so finding nothing means something
    return {secret for secret in secrets if re.search(rf"(?<![\w.@]){re.escape(secret)}(?![\w@])", logs)}


def observable(out: Path) -> dict[str, Any]:
    """What an administrator sees, without what differs by nature between runs (new user IDs, times, ids)."""

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader((out / name).read_bytes().decode("utf-8-sig").splitlines()))

    success = rows("success.csv")
    assert all(row.pop("UserId").startswith("005") for row in success)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for varying in ("jobId", "startedAt", "completedAt", "successKey", "failureKey"):
        summary.pop(varying)
    recipients = Counter(message_from_bytes(p.read_bytes())["To"] for p in (out / "outbox").glob("*.eml"))
    return {"success": success, "failure": rows("failure.csv"), "summary": summary, "outbox": recipients}


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return write_case(tmp_path_factory.mktemp("case"), ROWS)


@pytest.fixture(scope="module")
def fault_free(case: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("fault-free") / "out"
    run(case, out)
    return observable(out)


def test_the_case_covers_every_rule(fault_free: dict[str, Any]) -> None:
    errors = {row["Error"].split(":")[0] for row in fault_free["failure"]}
    assert errors == {
        "Missing Contact ID",
        "Role is required",
        "Invalid Role",
        "Duplicate Contact ID in file",
        "Contact not found",
        "User already exists",
    }
    assert {row["ActivationEmail"] for row in fault_free["success"]} == {"Queued", "No valid email"}
    assert fault_free["summary"]["totalRows"] == ROWS


@pytest.mark.parametrize("seed", [int(s) for s in os.environ.get("FAULT_SEEDS", "1,2").split(",")])
def test_faults_change_nothing_an_administrator_sees(
    case: tuple[Path, Path, Path], fault_free: dict[str, Any], tmp_path: Path, seed: int
) -> None:
    # Given API errors, redelivered messages and SES throttling, seeded
    out = tmp_path / "out"
    # When the same file is imported on a fresh stack
    report = run(case, out, "--seed", str(seed), *FAULTS)
    # Then the results, the summary and the emails are exactly those of the fault-free run: no row lost or
    # doubled, no email sent twice (the runtime itself fails the run if the job was announced twice)
    assert observable(out) == fault_free
    assert report["emailsSent"] == fault_free["summary"]["emailsQueued"]


def test_a_poison_row_costs_only_itself(
    case: tuple[Path, Path, Path], fault_free: dict[str, Any], tmp_path: Path
) -> None:
    # Given a Contact whose processing always raises
    contacts = list(csv.DictReader(case[0].read_text(encoding="utf-8").splitlines()))
    created = {row["ContactId"]: row for row in fault_free["success"]}
    poison = next(c["ContactId"] for c in contacts if c["ContactId"] in created)
    poison_row = created[poison]["RowNumber"]
    out = tmp_path / "out"
    # When the file is imported
    run(case, out, "--fault-poison-contact", poison)
    seen = observable(out)
    # Then that row alone ends as Processing error; every other row is as in the fault-free run
    failure = {row["RowNumber"]: row for row in seen["failure"]}
    assert failure[poison_row]["Error"].startswith("Processing error")
    assert [r for r in seen["success"]] == [r for r in fault_free["success"] if r["RowNumber"] != poison_row]
    others = [r for r in seen["failure"] if r["RowNumber"] != poison_row]
    assert others == fault_free["failure"]
    assert seen["summary"]["failed"] == fault_free["summary"]["failed"] + 1
