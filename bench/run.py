"""`make bench`: what the pipeline costs and how fast it goes, measured in one run on this machine.

1. AWS requests made by function code per 1,000 rows (and SES calls per email), with exact row counts
2. Local throughput against a per-row baseline script on the same moto
3. A 1,000,000-row file completes locally with exact counts (wall time, peak memory)
4. The splitter's memory for a 1,000,000-row file (tracemalloc, AWS out of process)
5. The email rate shared by concurrent senders
6. Cost per 1,000,000 rows at AWS list prices, from the requests measured in 1
7. Cognito under AWS's quotas (--aws-quotas): users created per second, calls per user, predicted AWS wall times

Prints a table, saves everything as JSON (bench/results/latest.json), exits 1 when a target is missed.
See bench/README.md for what each number means.

    .venv/bin/python bench/run.py --rows-small 2000 --skip-large     # a quick version
"""

from __future__ import annotations

import argparse
import bisect
import functools
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TEMPLATE = REPO / "template.yaml"
PYTHON = Path(sys.executable)
PORTAL_IMPORT = PYTHON.with_name("portal-import")
sys.path.insert(0, str(BENCH))

from data import DataFiles, generate  # noqa: E402 - bench/ is not a package
from split_memory import server_available  # noqa: E402

from portal_import.aws.userpool import DEFAULT_RATES, USER_CREATION, USER_UPDATE  # noqa: E402 - after sys.path, as bench/'s own
from portal_import_local.quotas import burst_of  # noqa: E402 - likewise

# Targets
MAX_REQUESTS_PER_1000_ROWS = 50  # SES excluded
MIN_SPEEDUP = 5.0
MAX_SPLIT_PEAK_BYTES = 64 * 1024 * 1024
EMAIL_WINDOWS_SECONDS = (1, 5, 10, 30)
MIN_SUSTAINED_SHARE = 0.95
# Measurement 7: Cognito calls per created user at import (AdminCreateUser; AdminAddUserToGroup only for users with
# no valid email, none in the bench's data); the group pass's one call a user is reported beside it.
MAX_COGNITO_CALLS_PER_USER = 1.0
# AWS's default rates of the two categories an import's users cost; the pace before issue 27: both calls a user at
# 20 users a second.
USER_CREATION_RATE = DEFAULT_RATES[USER_CREATION]
USER_UPDATE_RATE = DEFAULT_RATES[USER_UPDATE]
MIN_CREATION_SHARE = 0.9  # users created a second, of UserCreation's rate
RATE_BEFORE = 20.0
PREDICTED_USERS = (100_000, 1_000_000)
FAST_EMAIL_RATE = 100_000  # emails/s: high enough that sending never waits (measurements 1-3)


# --- running things --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessRun:
    returncode: int
    stdout: str
    stderr: str
    elapsed_seconds: float
    max_rss_kib: int  # of the process and the descendants it waited for


class RunFailed(RuntimeError):
    """A benchmark step could not produce its numbers; the message says which and why."""


def run_process(command: list[str], logs: Path, name: str) -> ProcessRun:
    """Runs a command to completion, its output kept in logs/<name>.stdout|stderr, and measures its peak RSS."""
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / f"{name}.stdout", logs / f"{name}.stderr"
    started = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=REPO)  # noqa: S603 - our own commands
        # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would mix in every earlier child).
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    print(f"    {name}: exit {process.returncode} after {elapsed:.0f} s", flush=True)
    max_rss = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss  # bytes on macOS
    return ProcessRun(
        returncode=process.returncode,
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
        elapsed_seconds=round(elapsed, 3),
        max_rss_kib=max_rss,
    )


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class LocalRun:
    rows: int
    report: dict[str, Any]  # the --json --stats object
    process: ProcessRun
    meter: dict[str, Any] | None  # bench/meter.py's view of the same requests


def local_run(
    files: DataFiles,
    work: Path,
    name: str,
    *,
    email_rate: float,
    metered: bool = False,
    parameters: dict[str, str] | None = None,
    aws_quotas: bool = False,
    emails: bool = True,
) -> LocalRun:
    """`portal-import local run` on the file, emails on (unless not `emails`), as a subprocess; its JSON report
    parsed."""
    arguments = [
        "local",
        "run",
        str(files.import_csv),
        "--contacts",
        str(files.contacts),
        "--roles",
        str(files.roles),
        *(["--send-activation-email"] if emails else []),
        "--email-rate",
        f"{email_rate:g}",
        "--json",
        "--stats",
        "--out",
        str(work / name / "results"),
    ]
    for parameter, value in (parameters or {}).items():
        arguments += ["--parameter", f"{parameter}={value}"]
    if aws_quotas:
        arguments.append("--aws-quotas")
    meter_path = work / name / "meter.json"
    meter_path.unlink(missing_ok=True)  # from an earlier run into the same --work-dir
    if metered:
        command = [str(PYTHON), str(BENCH / "meter.py"), "--meter-out", str(meter_path), "--", *arguments]
    else:
        command = [str(PORTAL_IMPORT), *arguments]
    print(f"  {name}: portal-import local run, {files.rows:,} rows, --email-rate {email_rate:g} ...", flush=True)
    process = run_process(command, work / "logs", name)
    try:
        report = json.loads(process.stdout)
    except json.JSONDecodeError:
        raise RunFailed(
            f"{name}: portal-import exited {process.returncode} without its JSON report: {_tail(process.stderr)}"
        ) from None
    meter = json.loads(meter_path.read_text(encoding="utf-8")) if metered and meter_path.exists() else None
    return LocalRun(rows=files.rows, report=report, process=process, meter=meter)


def count_problems(report: dict[str, Any], rows: int, *, emails: bool = True) -> list[str]:
    """Every way the counts differ from 'each row created a user and got its email' (empty: exact); without
    `emails`, 'and no email was sent'."""
    problems = []
    if report.get("status") != "COMPLETED":
        problems.append(f"status {report.get('status')} ({report.get('error')})")
    sent = rows if emails else 0
    for key, expected in (("totalRows", rows), ("succeeded", rows), ("failed", 0), ("emailsSent", sent)):
        if report.get(key) != expected:
            problems.append(f"{key} {report.get(key)} != {expected}")
    return problems


# --- the measurements ------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    name: str
    value: str
    target: str
    status: str  # pass | FAIL | ERROR (could not measure) | skipped | info
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def missed(self) -> bool:
        return self.status in ("FAIL", "ERROR")


def _finite(value: float) -> float | None:
    """JSON has no infinity: None where a ratio had nothing to divide by."""
    return round(value, 4) if math.isfinite(value) else None


def _verdict(ok: bool, problems: list[str]) -> str:
    return "pass" if ok and not problems else "FAIL"


def is_ses(operation: str) -> bool:
    return operation.split(".", 1)[0].startswith("SES")


def is_cognito(operation: str) -> bool:
    return operation.split(".", 1)[0] == "Cognito Identity Provider"


def measure_requests(run: LocalRun) -> Measurement:
    """1. Requests made by function code per 1,000 rows (SES and Cognito apart: measurement 7 counts Cognito's
    calls per user), and SES calls per email sent."""
    requests: dict[str, int] = run.report.get("awsRequests", {})
    non_ses = sum(count for operation, count in requests.items() if not is_ses(operation) and not is_cognito(operation))
    ses = sum(count for operation, count in requests.items() if is_ses(operation))
    per_1000 = non_ses * 1000 / run.rows
    emails = run.report.get("emailsSent") or 0
    ses_per_email = ses / emails if emails else math.inf
    problems = count_problems(run.report, run.rows)
    return Measurement(
        name="1. AWS requests / 1,000 rows (excl. SES, Cognito)",
        value=f"{per_1000:.1f} requests; SES {ses_per_email:.3f} calls/email"
        + (f"; counts: {'; '.join(problems)}" if problems else ""),
        target=f"<= {MAX_REQUESTS_PER_1000_ROWS}, exact counts",
        status=_verdict(per_1000 <= MAX_REQUESTS_PER_1000_ROWS, problems),
        details={
            "rows": run.rows,
            "requestsPer1000RowsExcludingSes": round(per_1000, 2),
            "sesCalls": ses,
            "sesCallsPerEmail": _finite(ses_per_email),
            "byOperation": requests,
            "byOperationPer1000Rows": {op: round(n * 1000 / run.rows, 2) for op, n in requests.items()},
            "countProblems": problems,
            "counts": {k: run.report.get(k) for k in ("status", "totalRows", "succeeded", "failed", "emailsSent")},
        },
    )


def run_baseline(files: DataFiles, work: Path) -> dict[str, Any]:
    print(f"  baseline: per-row script on in-process moto, {files.rows:,} rows ...", flush=True)
    command = [str(PYTHON), str(BENCH / "baseline.py"), str(files.import_csv)]
    command += ["--contacts", str(files.contacts), "--roles", str(files.roles)]
    process = run_process(command, work / "logs", "baseline")
    if process.returncode != 0:
        raise RunFailed(f"baseline exited {process.returncode}: {_tail(process.stderr)}")
    result: dict[str, Any] = json.loads(process.stdout)
    return result


def measure_throughput(run: LocalRun, baseline: dict[str, Any]) -> Measurement:
    """2. Rows per second from upload to results: the pipeline against the per-row baseline, same rows."""
    pipeline_rate = run.rows / run.report["wallSeconds"]
    baseline_rate = baseline["totalRows"] / baseline["seconds"] if baseline["seconds"] else 0.0
    speedup = pipeline_rate / baseline_rate if baseline_rate else math.inf
    problems = [f"pipeline {problem}" for problem in count_problems(run.report, run.rows)]
    if baseline["totalRows"] != run.rows or baseline["succeeded"] != run.rows:
        problems.append(f"baseline processed {baseline['totalRows']} rows, {baseline['succeeded']} succeeded")
    if baseline["succeeded"] != run.report.get("succeeded"):
        problems.append(f"success counts differ: baseline {baseline['succeeded']}, pipeline {run.report['succeeded']}")
    return Measurement(
        name=f"2. Throughput, {run.rows:,} rows",
        value=f"{pipeline_rate:.0f} rows/s vs baseline {baseline_rate:.0f} = {speedup:.1f}x"
        + (f"; {'; '.join(problems)}" if problems else ""),
        target=f">= {MIN_SPEEDUP:g}x baseline",
        status=_verdict(speedup >= MIN_SPEEDUP, problems),
        details={
            "rows": run.rows,
            "pipelineWallSeconds": run.report["wallSeconds"],
            "pipelineRowsPerSecond": round(pipeline_rate, 1),
            "baselineSeconds": baseline["seconds"],
            "baselineRowsPerSecond": round(baseline_rate, 1),
            "speedup": _finite(speedup),
            "baseline": baseline,
            "problems": problems,
        },
    )


def measure_large_file(run: LocalRun) -> Measurement:
    """3. A large file completes locally with exact counts: its wall time and the process's peak memory."""
    problems = count_problems(run.report, run.rows)
    wall = run.report.get("wallSeconds", 0.0)
    return Measurement(
        name=f"3. {run.rows:,}-row file, local",
        value=f"{wall:.0f} s upload->results ({run.process.elapsed_seconds:.0f} s in all), "
        f"peak RSS {run.process.max_rss_kib / 1024:.0f} MiB" + (f"; counts: {'; '.join(problems)}" if problems else ""),
        target="completes, exact counts",
        status=_verdict(True, problems),
        details={
            "rows": run.rows,
            "wallSeconds": wall,
            "rowsPerSecond": round(run.rows / wall, 1) if wall else None,
            "elapsedSecondsInclProvisioningAndSeeding": run.process.elapsed_seconds,
            "peakRssKiB": run.process.max_rss_kib,
            "countProblems": problems,
            "counts": {k: run.report.get(k) for k in ("status", "totalRows", "succeeded", "failed", "emailsSent")},
            "awsRequests": run.report.get("awsRequests"),
        },
    )


def measure_split_memory(rows: int, data: Callable[[int], DataFiles], work: Path) -> Measurement:
    """4. Peak traced memory of split_file for a file of `rows` rows, with moto's server in another process."""
    name = f"4. Splitter memory, {rows:,} rows"
    target = f"< {MAX_SPLIT_PEAK_BYTES / 2**20:.0f} MiB"
    missing = server_available()
    if missing:
        return Measurement(name=name, value=f"not measured: {missing}", target=target, status="ERROR")
    files = data(rows)
    print(f"  splitter: split_file under tracemalloc, {files.rows:,} rows ...", flush=True)
    result_path = work / "split.json"
    command = [str(PYTHON), str(BENCH / "split_memory.py"), str(files.import_csv), "--roles", str(files.roles)]
    process = run_process([*command, "--result", str(result_path)], work / "logs", "split")
    if not result_path.exists():
        raise RunFailed(f"split_memory.py exited {process.returncode}: {_tail(process.stderr)}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    if "error" in result:
        return Measurement(name=name, value=f"not measured: {result['error']}", target=target, status="ERROR")
    problems = []
    if result["totalRows"] != files.rows:
        problems.append(f"job has {result['totalRows']} rows, not {files.rows}")
    if result["jobStatus"] != "PROCESSING" or result["rowsQueueMessages"] != result["chunks"]:
        problems.append(
            f"job {result['jobStatus']}, {result['rowsQueueMessages']} messages for {result['chunks']} chunks"
        )
    peak = result["peakBytes"]
    return Measurement(
        name=name,
        value=f"peak {peak / 2**20:.1f} MiB ({result['splitSeconds']:.0f} s traced)"
        + (f"; {'; '.join(problems)}" if problems else ""),
        target=target,
        status=_verdict(peak < MAX_SPLIT_PEAK_BYTES, problems),
        details={**result, "problems": problems},
    )


def most_in_window(times: list[float], window: float) -> int:
    """The most sends in any window of `window` seconds (half-open, sliding over the sorted send times)."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, start + window) - i for i, start in enumerate(ordered)), default=0)


@dataclass(frozen=True)
class Pace:
    """How a series of moments (sends, calls) kept to a rate R: the most in each window of W s against R*W+R, and
    the sustained rate from the first to the last."""

    windows: dict[str, dict[str, Any]]
    span: float
    sustained: float
    holds: bool  # no window above its limit, and sustained >= MIN_SUSTAINED_SHARE R
    peak: str  # the window closest to its limit, in words

    @classmethod
    def of(cls, times: list[float], rate: float) -> Pace:
        windows = {}
        for window in EMAIL_WINDOWS_SECONDS:
            most = most_in_window(times, window)
            windows[f"{window}s"] = {"most": most, "limit": rate * window + rate, "ok": most <= rate * window + rate}
        span = max(times) - min(times) if len(times) > 1 else 0.0
        sustained = 0.0  # fewer than two moments: no rate to speak of
        if len(times) > 1:
            sustained = (len(times) - 1) / span if span else math.inf  # all at one instant
        worst_name, worst = max(windows.items(), key=lambda item: item[1]["most"] / item[1]["limit"])
        return cls(
            windows=windows,
            span=span,
            sustained=sustained,
            holds=all(entry["ok"] for entry in windows.values()) and sustained >= MIN_SUSTAINED_SHARE * rate,
            peak=f"peak {worst['most']} in {worst_name} (limit {worst['limit']:g})",
        )


def measure_email_rate(run: LocalRun, rate: float) -> Measurement:
    """5. Emails per second shared by concurrent senders: bursts per window, and the sustained rate."""
    times: list[float] = run.report.get("emailSendTimes", [])
    pace = Pace.of(times, rate)
    problems = count_problems(run.report, run.rows)
    if len(times) != run.report.get("emailsSent"):
        problems.append(f"{len(times)} send times for {run.report.get('emailsSent')} emails")
    return Measurement(
        name=f"5. Email rate R={rate:g}/s, {run.rows:,} emails",
        value=f"sustained {pace.sustained:.1f}/s; {pace.peak}" + (f"; {'; '.join(problems)}" if problems else ""),
        target=f"most in W s <= R*W+R; sustained >= {MIN_SUSTAINED_SHARE:g} R",
        status=_verdict(pace.holds, problems),
        details={
            "rate": rate,
            "emails": len(times),
            "sustainedPerSecond": _finite(pace.sustained),
            "sendSpanSeconds": round(pace.span, 3),
            "windows": pace.windows,
            "wallSeconds": run.report.get("wallSeconds"),
            "problems": problems,
        },
    )


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3 * 3600 else f"{seconds / 60:.0f} min"


def measure_cognito_pace(run: LocalRun) -> Measurement:
    """7. An import under AWS's default Cognito quotas (`--aws-quotas`: the local Cognito refuses calls over each
    category's rate), no emails: users created a second against UserCreation's rate, the most in any second against
    rate + burst, Cognito calls per created user at import and in the group pass, and the AWS wall time this predicts
    for 100,000 and 1,000,000 users beside the pace before issue 27 (20 users a second)."""
    requests: dict[str, int] = run.report.get("awsRequests", {})
    created = run.report.get("succeeded") or 0
    group_calls = requests.get("Cognito Identity Provider.AdminAddUserToGroup", 0)
    import_calls = sum(count for op, count in requests.items() if is_cognito(op)) - group_calls
    per_user = import_calls / created if created else math.inf
    times: list[float] = sorted(run.report.get("userCreationTimes", []))
    sustained = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    burst = burst_of(USER_CREATION_RATE)  # the local Cognito's, as it refuses calls
    most = most_in_window(times, 1.0)
    throttled: dict[str, int] = run.report.get("awsThrottles", {})
    problems = count_problems(run.report, run.rows, emails=False)
    if len(times) != created:
        problems.append(f"{len(times)} pool users created for {created} created rows")
    if group_calls < created:
        problems.append(f"{group_calls} group adds for {created} users: the group pass did not place them all")
    rate = min(sustained, USER_CREATION_RATE) or USER_CREATION_RATE
    predicted = {
        f"{users:,}": {
            "importMinutes": round(users / rate / 60, 1),
            "groupsMinutes": round(users / USER_UPDATE_RATE / 60, 1),
            "beforeMinutes": round(users / RATE_BEFORE / 60, 1),
        }
        for users in PREDICTED_USERS
    }
    holds = sustained >= MIN_CREATION_SHARE * USER_CREATION_RATE and most <= USER_CREATION_RATE + burst
    words = "; ".join(
        f"{users:,}: import {_duration(users / rate)} (was {_duration(users / RATE_BEFORE)}), "
        f"groups {_duration(users / USER_UPDATE_RATE)}"
        for users in PREDICTED_USERS
    )
    return Measurement(
        name=f"7. Cognito under --aws-quotas, {run.rows:,} users",
        value=f"{sustained:.1f} users/s; most {most} in 1 s (limit {USER_CREATION_RATE + burst:g}); "
        f"{per_user:.2f} calls/user at import, {group_calls / created if created else 0:.2f} in the group pass; "
        f"throttled {sum(throttled.values())}; AWS: {words}" + (f"; {'; '.join(problems)}" if problems else ""),
        target=f">= {MIN_CREATION_SHARE * USER_CREATION_RATE:g} users/s; most in 1 s <= "
        f"{USER_CREATION_RATE + burst:g}; <= {MAX_COGNITO_CALLS_PER_USER:g} calls/user at import",
        status=_verdict(per_user <= MAX_COGNITO_CALLS_PER_USER and holds, problems),
        details={
            "userCreationRate": USER_CREATION_RATE,
            "sustainedUsersPerSecond": _finite(sustained),
            "mostInOneSecond": most,
            "limitInOneSecond": USER_CREATION_RATE + burst,
            "byOperation": {op: n for op, n in requests.items() if is_cognito(op)},
            "callsPerCreatedUserAtImport": _finite(per_user),
            "groupPassCallsPerUser": group_calls / created if created else None,
            "throttled": throttled,
            "predictedAws": predicted,
            "wallSeconds": run.report.get("wallSeconds"),
            "problems": problems,
        },
    )


# --- 6. the cost model -----------------------------------------------------------------------------------------

PRICES_AS_OF = "2025-01-01"  # us-east-1 list prices, on-demand; DynamoDB after its November 2024 reduction
PRICES = {
    "dynamodb_per_million_write_units": 0.625,
    "dynamodb_per_million_read_units": 0.125,
    "lambda_arm64_per_gb_second": 0.0000133334,
    "lambda_per_million_requests": 0.20,
    "sqs_per_million_requests": 0.40,  # each 64 KiB of payload is one request
    "s3_per_thousand_put_copy_post_list": 0.005,
    "s3_per_thousand_get": 0.0004,
    "ses_per_thousand_emails": 0.10,
    "sns_per_million_publishes": 0.50,
    "eventbridge_per_million_events": 1.00,
}
# Assumed billed duration of the work of each invocation (the email sender's wait for its rate comes on top).
ASSUMED_SECONDS = {
    "SplitterFunction per 1M rows": 150.0,
    "WorkerFunction per invocation": 3.0,
    "EmailSenderFunction per invocation": 1.0,
    "AggregatorFunction per 1M rows": 120.0,
}
# Once per job whatever its size: measured, not scaled with the rows.
PER_JOB_OPERATIONS = {"SNS.Publish", "EventBridge.PutEvents"}
PER_JOB_QUEUES = {"AggregateQueue"}
_S3_PUT_CLASS = {"PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
_S3_PUT_CLASS |= {"ListObjects", "ListObjectsV2", "PostObject"}


def estimate_cost(
    meter: dict[str, Any], measured_rows: int, template: dict[str, Any], rows: int = 1_000_000
) -> dict[str, Any]:
    """Dollars for `rows` rows that all create a user and get an email, from one metered run scaled linearly.

    DynamoDB units, SQS payload-billed requests, S3 request classes and SES recipients come from the meter
    (bench/meter.py); what happens once per job (PER_JOB_*) is not scaled. Lambda invocations follow from the
    messages each queue received and the template's batch sizes (full batches assumed); their duration is
    ASSUMED_SECONDS plus, for the email sender, the time its concurrent invocations wait for the rate. Lambda's
    own SQS polling (a ReceiveMessage and a DeleteMessageBatch per batch) is added to SQS; idle polling,
    storage, logs and X-Ray are per month, not per import, and left out.
    """
    scale = rows / measured_rows
    operations: dict[str, dict[str, float]] = meter["operations"]

    def total(key: str, service: str | None = None, names: set[str] | None = None) -> float:
        return sum(
            counts.get(key, 0) * (1 if operation in PER_JOB_OPERATIONS else scale)
            for operation, counts in operations.items()
            if (service is None or operation.split(".")[0] == service)
            and (names is None or operation.split(".", 1)[1] in names)
        )

    emails = total("emails", "SES") + total("emails", "SESv2")
    resources = template["Resources"]
    globals_ = template.get("Globals", {}).get("Function", {})
    parameters = template.get("Parameters", {})
    email_rate = float(parameters["EmailRatePerSecond"]["Default"])

    # Lambda: invocations per function from its event source, GB-seconds from memory x duration.
    lambda_rows = {}
    sqs_polling = 0.0
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        memory_gb = float(properties.get("MemorySize", globals_.get("MemorySize", 128))) / 1024
        invocations = 0.0
        waiting = 0.0
        for event in properties.get("Events", {}).values():
            if event["Type"] == "S3":
                invocations += 1  # one file
            elif event["Type"] == "SQS":
                queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
                sent: dict[str, int] = next((q for name, q in meter["queues"].items() if f"-{queue}-" in name), {})
                factor = 1 if queue in PER_JOB_QUEUES else scale
                messages, payload = factor * sent.get("messages", 0), factor * sent.get("bytes", 0)
                batches = math.ceil(messages / int(event["Properties"].get("BatchSize", 10)))
                invocations += batches
                # Lambda's poller: one receive (billed per 64 KiB) and one delete per batch.
                if batches:
                    sqs_polling += batches * (max(1, math.ceil(payload / batches / 65536)) + 1)
                if logical_id == "EmailSenderFunction":
                    concurrency = event["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency", 1)
                    # Each concurrent sender sleeps until its reserved slots: all of them wait all along.
                    waiting = concurrency * emails / email_rate
        work = ASSUMED_SECONDS.get(f"{logical_id} per invocation", 0.0) * invocations
        work += ASSUMED_SECONDS.get(f"{logical_id} per 1M rows", 0.0) * rows / 1e6
        lambda_rows[logical_id] = {
            "invocations": invocations,
            "seconds": round(work + waiting, 1),
            "gbSeconds": round((work + waiting) * memory_gb, 1),
        }
    invocations = sum(entry["invocations"] for entry in lambda_rows.values())
    gb_seconds = sum(entry["gbSeconds"] for entry in lambda_rows.values())

    write_units, read_units = total("wru", "DynamoDB"), total("rru", "DynamoDB")
    sqs_requests = total("billedRequests", "SQS") + sqs_polling
    s3_put = total("calls", "S3", _S3_PUT_CLASS) + 1  # + the administrator's upload
    s3_get = total("calls", "S3") - total("calls", "S3", _S3_PUT_CLASS)
    sns, events = total("calls", "SNS"), total("calls", "EventBridge")

    services = {
        "DynamoDB": {
            "quantity": f"{write_units:,.0f} WRU, {read_units:,.0f} RRU",
            "usd": (
                write_units * PRICES["dynamodb_per_million_write_units"]
                + read_units * PRICES["dynamodb_per_million_read_units"]
            )
            / 1e6,
        },
        "Lambda": {
            "quantity": f"{invocations:,.0f} invocations, {gb_seconds:,.0f} GB-s",
            "usd": gb_seconds * PRICES["lambda_arm64_per_gb_second"]
            + invocations * PRICES["lambda_per_million_requests"] / 1e6,
            "byFunction": lambda_rows,
        },
        "SQS": {
            "quantity": f"{sqs_requests:,.0f} requests ({sqs_polling:,.0f} of them Lambda's polling)",
            "usd": sqs_requests * PRICES["sqs_per_million_requests"] / 1e6,
        },
        "S3": {
            "quantity": f"{s3_put:,.0f} PUT/LIST, {s3_get:,.0f} GET",
            "usd": s3_put * PRICES["s3_per_thousand_put_copy_post_list"] / 1e3
            + s3_get * PRICES["s3_per_thousand_get"] / 1e3,
        },
        "SES": {"quantity": f"{emails:,.0f} emails", "usd": emails * PRICES["ses_per_thousand_emails"] / 1e3},
        "SNS": {
            "quantity": f"{sns:,.0f} publishes (negligible)",
            "usd": sns * PRICES["sns_per_million_publishes"] / 1e6,
        },
        "EventBridge": {
            "quantity": f"{events:,.0f} events (negligible)",
            "usd": events * PRICES["eventbridge_per_million_events"] / 1e6,
        },
    }
    return {
        "rows": rows,
        "scaledFromRows": measured_rows,
        "pricesAsOf": PRICES_AS_OF,
        "region": "us-east-1",
        "prices": PRICES,
        "assumedSeconds": ASSUMED_SECONDS,
        "emailRatePerSecond": email_rate,
        "services": services,
        "totalUsd": sum(entry["usd"] for entry in services.values()),
    }


def measure_cost(run: LocalRun) -> Measurement:
    """6. The estimate per 1,000,000 rows, by service (no target: it is there to be read)."""
    from portal_import_local.template import load_template

    if run.meter is None:
        raise RunFailed("the metered run left no meter report")
    estimate = estimate_cost(run.meter, run.rows, load_template(TEMPLATE))
    biggest = max(estimate["services"].items(), key=lambda item: item[1]["usd"])
    return Measurement(
        name="6. Cost per 1,000,000 rows (AWS list)",
        value=f"${estimate['totalUsd']:.2f} (largest: {biggest[0]} ${biggest[1]['usd']:.2f})",
        target="-",
        status="info",
        details=estimate,
    )


# --- the run ---------------------------------------------------------------------------------------------------


def _attempt(name: str, measure: Callable[[], Measurement]) -> Measurement:
    """A measurement, or an ERROR row saying why it could not be taken (the others still run)."""
    try:
        return measure()
    except Exception as error:  # noqa: BLE001 - every failure becomes a row of the table, not a traceback
        return Measurement(name=name, value=f"not measured: {error}", target="", status="ERROR")


def _skipped(name: str, why: str) -> Measurement:
    return Measurement(name=name, value=why, target="", status="skipped")


def print_table(measurements: list[Measurement]) -> None:
    headers = ("measurement", "measured", "target", "result")
    rows = [(m.name, m.value, m.target, m.status) for m in measurements]
    widths = [min(90, max(len(headers[i]), *(len(row[i]) for row in rows))) for i in range(4)]
    line = "  ".join(f"{{:<{width}}}" for width in widths)
    print()
    print(line.format(*headers))
    print(line.format(*("-" * width for width in widths)))
    for row in rows:
        print(line.format(*row))


def print_cost(measurement: Measurement) -> None:
    estimate = measurement.details
    if not estimate.get("services"):
        return
    print(f"\nCost per {estimate['rows']:,} rows, {estimate['region']} list prices as of {estimate['pricesAsOf']}")
    scaled = f"scaled from {estimate['scaledFromRows']:,} measured rows"
    print(f"({scaled}; EmailRatePerSecond {estimate['emailRatePerSecond']:g}, the template's default)")
    for service, entry in estimate["services"].items():
        print(f"  {service:<12} {entry['usd']:>10.4f} USD   {entry['quantity']}")
    print(f"  {'total':<12} {estimate['totalUsd']:>10.4f} USD")
    for logical_id, entry in estimate["services"]["Lambda"]["byFunction"].items():
        if entry["invocations"]:
            print(f"    {logical_id:<22} {entry['invocations']:>9,.0f} invocations {entry['gbSeconds']:>10,.0f} GB-s")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows-small", type=int, default=20_000, help="rows for measurements 1, 2 and 6")
    parser.add_argument("--rows-large", type=int, default=1_000_000, help="rows for measurements 3 and 4")
    parser.add_argument("--skip-large", action="store_true", help="skip measurement 3 (the large local run)")
    parser.add_argument("--skip-split", action="store_true", help="skip measurement 4 (splitter memory)")
    parser.add_argument("--skip-baseline", action="store_true", help="skip measurement 2's baseline script")
    parser.add_argument("--skip-email", action="store_true", help="skip measurement 5 (email rate)")
    parser.add_argument("--split-rows", type=int, help="rows for measurement 4 (default: --rows-large)")
    parser.add_argument("--email-rate", type=float, default=50.0, help="R of measurement 5, emails/s")
    parser.add_argument("--email-rows", type=int, default=1_500, help="rows (emails) of measurement 5")
    parser.add_argument("--skip-cognito", action="store_true", help="skip measurement 7 (Cognito pace)")
    parser.add_argument("--cognito-rows", type=int, default=1_500, help="rows (users) of measurement 7")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "latest.json", help="the JSON report")
    parser.add_argument("--work-dir", type=Path, help="data, logs and results of the runs (kept; default: a temp dir)")
    parser.add_argument("--keep-work", action="store_true", help="keep the temp work directory afterwards")
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="portal-import-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    load_at_start = os.getloadavg()
    print(f"Benchmark: work directory {work}", flush=True)

    @functools.cache
    def data(rows: int) -> DataFiles:
        return generate(rows, work / f"data-{rows}")

    measurements: list[Measurement] = []
    try:
        small: LocalRun | None = None
        try:
            small = local_run(data(args.rows_small), work, "requests", email_rate=FAST_EMAIL_RATE, metered=True)
        except RunFailed as error:
            measurements.append(
                Measurement("1. AWS requests / 1,000 rows (excl. SES, Cognito)", str(error), "", "ERROR")
            )
        if small is not None:
            measurements.append(
                _attempt("1. AWS requests / 1,000 rows (excl. SES, Cognito)", lambda: measure_requests(small))
            )
        throughput_name = f"2. Throughput, {args.rows_small:,} rows"
        if args.skip_baseline:
            measurements.append(_skipped(throughput_name, "--skip-baseline"))
        elif small is None:
            measurements.append(Measurement(throughput_name, "not measured: the pipeline run failed", "", "ERROR"))
        else:
            measurements.append(
                _attempt(throughput_name, lambda: measure_throughput(small, run_baseline(data(args.rows_small), work)))
            )
        large_name = f"3. {args.rows_large:,}-row file, local"
        if args.skip_large:
            measurements.append(_skipped(large_name, "--skip-large"))
        else:
            measurements.append(
                _attempt(
                    large_name,
                    lambda: measure_large_file(
                        local_run(data(args.rows_large), work, "large", email_rate=FAST_EMAIL_RATE)
                    ),
                )
            )
        split_rows = args.split_rows or args.rows_large
        split_name = f"4. Splitter memory, {split_rows:,} rows"
        if args.skip_split:
            measurements.append(_skipped(split_name, "--skip-split"))
        else:
            measurements.append(_attempt(split_name, lambda: measure_split_memory(split_rows, data, work)))
        email_name = f"5. Email rate R={args.email_rate:g}/s"
        if args.skip_email:
            measurements.append(_skipped(email_name, "--skip-email"))
        else:
            measurements.append(
                _attempt(
                    email_name,
                    lambda: measure_email_rate(
                        local_run(data(args.email_rows), work, "email-rate", email_rate=args.email_rate),
                        args.email_rate,
                    ),
                )
            )
        cost_name = "6. Cost per 1,000,000 rows (AWS list)"
        if small is None:
            measurements.append(Measurement(cost_name, "not measured: the metered run failed", "", "ERROR"))
        else:
            measurements.append(_attempt(cost_name, lambda: measure_cost(small)))
        cognito_name = "7. Cognito under --aws-quotas"
        if args.skip_cognito:
            measurements.append(_skipped(cognito_name, "--skip-cognito"))
        else:
            measurements.append(
                _attempt(
                    cognito_name,
                    lambda: measure_cognito_pace(
                        local_run(
                            data(args.cognito_rows),
                            work,
                            "cognito-pace",
                            email_rate=FAST_EMAIL_RATE,
                            aws_quotas=True,
                            emails=False,  # measurement 5's; here the sender's turns would only slow the workers
                        )
                    ),
                )
            )
    finally:
        if args.work_dir is None and not args.keep_work:  # only the temp dir this run made
            shutil.rmtree(work, ignore_errors=True)

    print_table(measurements)
    print_cost(next(m for m in measurements if m.name.startswith("6.")))
    report = {
        "startedAt": started.isoformat(timespec="seconds"),
        "finishedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            # Other work on the machine slows the runs: 1, 5 and 15-minute load averages at start and end.
            "loadAverageAtStart": load_at_start,
            "loadAverageAtEnd": os.getloadavg(),
        },
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "passed": not any(m.missed for m in measurements),
        "measurements": [asdict(m) for m in measurements],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    kept = args.work_dir is not None or args.keep_work
    print(f"\nSaved {args.output}" + (f"; work files in {work}" if kept else ""))
    return 1 if any(m.missed for m in measurements) else 0


if __name__ == "__main__":
    sys.exit(main())
