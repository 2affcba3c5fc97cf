"""Nothing lost, nothing twice: with seeded faults (API errors, redelivery, SES throttling) an import ends
with exactly the results of a fault-free run; a poison row costs only itself.

Each faulted run is compared with the fault-free run of the same 400-row case (every row rule) by
tests/fixtures/fault_runs.py: result files (UserId aside), summary, one email per recipient and none missing,
one import-completed and one emails-sent notice, no personal data in the logs. Seeds 11, 13 run at 0.1/0.5/0.5
and 21, 22 at 0.03/0.3/0.3 (`make soak` runs many others: 1001 on, twenty at each level); `FAULT_SEEDS=3,4,5 make
e2e` runs the given seeds at both levels instead. The faulted runs go two at a time, each a subprocess.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from fault_runs import HIGH, LOW, Case, FaultRun, Level, Run, fault_free_run, faulted_run, run_local  # noqa: E402

ROWS = 400
# Two at each level keep `make test` within its time; `make soak` is where many seeds run.
SEEDS = {HIGH: (11, 13), LOW: (21, 22)}
PARALLEL = 2  # the machine's cores
_NO_PARAMS = SimpleNamespace(params={})  # the callspec of a test that is not parametrized


def _runs() -> list[tuple[Level, int]]:
    override = os.environ.get("FAULT_SEEDS", "").strip()
    if override:
        return [(level, int(seed)) for level in SEEDS for seed in override.split(",")]
    return [(level, seed) for level, seeds in SEEDS.items() for seed in seeds]


RUNS = _runs()


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return Case.write(tmp_path_factory.mktemp("case"), ROWS)


@pytest.fixture(scope="module")
def fault_free(case: Case, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return fault_free_run(case, tmp_path_factory.mktemp("fault-free") / "out")


@pytest.fixture(scope="module")
def faulted(
    request: pytest.FixtureRequest, case: Case, fault_free: Run, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[Level, int], Future[FaultRun]]]:
    """Every selected faulted run, started at once, PARALLEL at a time; each test waits for its own."""
    params = [
        getattr(item, "callspec", _NO_PARAMS).params
        for item in request.session.items
        if getattr(item, "module", None) is request.module
    ]
    selected = {param["run"] for param in params if "run" in param}
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {
            (level, seed): pool.submit(
                faulted_run, case, fault_free, tmp_path_factory.mktemp(f"seed-{seed}") / "out", level, seed
            )
            for level, seed in RUNS
            if (level, seed) in selected
        }
        yield futures
        for future in futures.values():
            future.cancel()  # those not started yet, when the session ends early


def test_the_case_covers_every_rule(fault_free: Run) -> None:
    errors = {row["Error"].split(":")[0] for row in fault_free.failure}
    assert errors == {
        "Missing Contact ID",
        "Role is required",
        "Invalid Role",
        "Duplicate Contact ID in file",
        "Contact not found",
        "User already exists",
    }
    assert {row["ActivationEmail"] for row in fault_free.success} == {"Queued", "No valid email"}
    assert fault_free.summary["totalRows"] == ROWS
    assert fault_free.emails_sent == fault_free.summary["emailsQueued"] > 0


@pytest.mark.parametrize("run", RUNS, ids=[f"{level.name}-seed{seed}" for level, seed in RUNS])
def test_faults_change_nothing_an_administrator_sees(
    faulted: dict[tuple[Level, int], Future[FaultRun]], run: tuple[Level, int]
) -> None:
    # Given API errors, redelivered messages and SES throttling, seeded
    # When the same file is imported on a fresh stack
    result = faulted[run].result()
    # Then the results, the summary, the emails and the notices are exactly those of the fault-free run: no row
    # lost or doubled, every queued email sent once, one import-completed and one emails-sent notice
    assert result.discrepancies == [], "\n".join(["differs from the fault-free run:", *result.discrepancies])
    assert result.emails_sent == result.emails_expected
    assert result.duplicated == 0


def test_a_poison_row_costs_only_itself(case: Case, fault_free: Run, tmp_path: Path) -> None:
    # Given a Contact whose processing always raises
    contacts = list(csv.DictReader(case.contacts.read_text(encoding="utf-8").splitlines()))
    created = {row["ContactId"]: row for row in fault_free.success}
    poison = next(c["ContactId"] for c in contacts if c["ContactId"] in created)
    poison_row = created[poison]["RowNumber"]
    # When the file is imported
    seen = run_local(case, tmp_path / "out", "--fault-poison-contact", poison)
    assert seen.problems == []
    # Then that row alone ends as Processing error; every other row is as in the fault-free run
    failure = {row["RowNumber"]: row for row in seen.failure}
    assert failure[poison_row]["Error"].startswith("Processing error")
    assert seen.success == [r for r in fault_free.success if r["RowNumber"] != poison_row]
    others = [r for r in seen.failure if r["RowNumber"] != poison_row]
    assert others == fault_free.failure
    assert seen.summary["failed"] == fault_free.summary["failed"] + 1
