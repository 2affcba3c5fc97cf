"""`make bench` in its smallest form: every measurement's code path runs, so that a change to the template or the
pipeline cannot silently leave a measurement unable to produce its numbers (as the splitter's memory once was,
over an `Fn::Sub` it could not resolve). Targets are not judged here: at a few hundred rows the per-job requests
dominate and the throughput ratio means little."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# `make bench` runs it first, so that a measurement that can no longer be taken is found in a minute rather than
# after the whole bench; `make test` leaves it out (its minute of two cores is the console's browser tests' now).
pytestmark = pytest.mark.skipif(
    os.environ.get("PORTAL_IMPORT_BENCH_SMOKE") != "1", reason="make bench runs it (PORTAL_IMPORT_BENCH_SMOKE=1)"
)
# The smallest sizes that still run every measurement (none skipped): 1, 2 and 6 share one metered run.
SMALLEST = ["--rows-small", "200", "--rows-large", "200", "--split-rows", "200"]
SMALLEST += ["--email-rows", "50", "--email-rate", "50", "--cognito-rows", "60"]


def test_every_measurement_of_the_bench_is_taken_with_exact_counts(tmp_path: Path) -> None:
    # Given the bench's smallest form, writing its report into a temp dir
    report_path = tmp_path / "report.json"
    command = [sys.executable, str(ROOT / "bench" / "run.py"), *SMALLEST]
    command += ["--work-dir", str(tmp_path / "work"), "--output", str(report_path)]
    # When it runs (its exit status says whether targets were met, which is not the question here)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert report_path.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    # Then every measurement was taken: none could not be measured, none was skipped
    assert [m["name"].split(".")[0] for m in report["measurements"]] == ["1", "2", "3", "4", "5", "6", "7"]
    not_taken = {m["name"]: m["value"] for m in report["measurements"] if m["status"] in ("ERROR", "skipped")}
    assert not_taken == {}
    # And every run's counts were exact: each row created its user and sent its email
    problems = {
        m["name"]: m["details"].get("problems", []) + m["details"].get("countProblems", [])
        for m in report["measurements"]
    }
    assert {name: found for name, found in problems.items() if found} == {}
    for m in report["measurements"]:
        if "counts" in m["details"]:
            assert m["details"]["counts"] == {
                "status": "COMPLETED",
                "totalRows": 200,
                "succeeded": 200,
                "failed": 0,
                "emailsSent": 200,
            }, m["name"]
    split = next(m for m in report["measurements"] if m["name"].startswith("4."))
    assert split["details"]["totalRows"] == 200
    assert split["details"]["rowsQueueMessages"] == split["details"]["chunks"] >= 1
    assert next(m for m in report["measurements"] if m["name"].startswith("6."))["details"]["totalUsd"] > 0
