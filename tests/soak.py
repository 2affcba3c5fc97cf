"""`make soak`: the fault-equivalence check of tests/e2e/test_faults.py on many seeds, at both fault levels.

One case of ROWS rows covering every row rule, its fault-free run, then each seed at 0.1/0.5/0.5 and at
0.03/0.3/0.3, PARALLEL runs at a time (each `portal-import local run` in a subprocess), each compared with the
fault-free run by tests/fixtures/fault_runs.py. One line a run as it ends: level, seed, rows, emails expected /
sent / duplicated / missing, discrepancies (how many, and the first two), seconds; then totals per level and
overall. Exit status 1 when any run differs from the fault-free one (its files are kept and the folder printed).

    .venv/bin/python tests/soak.py [--seeds N] [--first-seed S] [--rows N] [--parallel N] [--work-dir D]
    SEEDS=5 make soak

The seeds start at 1001, apart from the test's (11-13, 21-22), so the two look at different faults.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from fault_runs import HIGH, LOW, Case, FaultRun, Level, Run, fault_free_run, faulted_run

LEVELS = (HIGH, LOW)
FIRST_SEED = 1001
SHOWN = 2  # discrepancies quoted on a run's line
QUOTE_CHARS = 160


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=int(os.environ.get("SEEDS") or 20), help="seeds (env SEEDS)")
    parser.add_argument("--first-seed", type=int, default=FIRST_SEED)
    parser.add_argument("--rows", type=int, default=600, help="rows of the case (every rule covered)")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time")
    parser.add_argument("--work-dir", type=Path, help="cases and results (kept; default: a temp dir)")
    return parser.parse_args(argv)


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _line(result: FaultRun) -> str:
    emails = "/".join(
        _count(n) for n in (result.emails_expected, result.emails_sent, result.duplicated, result.recipients_missing)
    )
    found = result.discrepancies
    quoted = "; ".join(d if len(d) <= QUOTE_CHARS else d[: QUOTE_CHARS - 3] + "..." for d in found[:SHOWN])
    return (
        f"{result.level:<13} seed {result.seed:<5} rows {result.rows:<5} emails {emails:<17} "
        f"discrepancies {len(found)}{': ' + quoted if found else ''}{'; ...' if len(found) > SHOWN else ''}  "
        f"{result.seconds:.0f} s"
    )


def _totals(name: str, results: list[FaultRun], *, name_seeds: bool = True) -> str:
    differing = sorted(r.seed or 0 for r in results if not r.equal)
    counted = [r for r in results if r.emails_sent is not None]

    def total(attribute: str) -> int:
        return sum(getattr(r, attribute) or 0 for r in counted)

    uncounted = len(results) - len(counted)
    return (
        f"{name:<13} {len(results)} run(s), {len(differing)} with discrepancies"
        + (f" (seeds {', '.join(map(str, differing))})" if differing and name_seeds else "")
        + f"; emails {total('emails_expected')} expected / {total('emails_sent')} sent / "
        f"{total('duplicated')} duplicated / {total('recipients_missing')} missing"
        + (f" ({uncounted} run(s) left no emails to count)" if uncounted else "")
        + f"; {sum(r.seconds for r in results):.0f} s of runs"
    )


def _one(case: Case, fault_free: Run, work: Path, level: Level, seed: int) -> FaultRun:
    out = work / f"{level.name.replace('/', '_')}-seed{seed}" / "out"
    started = time.monotonic()
    try:
        return faulted_run(case, fault_free, out, level, seed)
    except Exception as error:  # a run whose outputs cannot even be read: a discrepancy too, not the end
        seconds = round(time.monotonic() - started, 1)
        why = f"its results could not be read: {type(error).__name__}: {error}"
        expected = int(fault_free.summary["emailsQueued"])
        return FaultRun(level.name, seed, case.rows, expected, None, None, None, seconds, [why], out)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="portal-import-soak-"))
    started = time.monotonic()
    case = Case.write(work / "case", args.rows)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    fault_free = fault_free_run(case, work / "fault-free" / "out")
    print(
        f"soak: {len(seeds)} seed(s) from {args.first_seed} at {' and '.join(level.name for level in LEVELS)}, "
        f"{args.rows} rows, {args.parallel} at a time; the fault-free run queued "
        f"{fault_free.summary['emailsQueued']} emails ({fault_free.seconds:.0f} s)",
        flush=True,
    )
    print("(emails: expected/sent/duplicated/missing)")
    results: list[FaultRun] = []
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        futures = [pool.submit(_one, case, fault_free, work, level, seed) for seed in seeds for level in LEVELS]
        try:
            for future in as_completed(futures):
                results.append(future.result())
                print(_line(results[-1]), flush=True)
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            print("interrupted: the totals count the runs that ended", file=sys.stderr)
    print()
    for level in LEVELS:
        print(_totals(level.name, [r for r in results if r.level == level.name]))
    print(_totals("all", results, name_seeds=False))
    differing = [r for r in results if not r.equal]
    print(f"{time.monotonic() - started:.0f} s in all")
    if differing:
        print(f"results of the runs that differ are kept in {work}")
    elif args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if differing or len(results) < len(futures) else 0


if __name__ == "__main__":
    sys.exit(main())
