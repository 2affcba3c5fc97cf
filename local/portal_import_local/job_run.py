"""One `local run`: provision, seed, drop the file, deliver events until done, and collect the results."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from portal_import.domain.results import results_prefix
from portal_import.domain.summary import RESULT_FILES, SUMMARY_FILE, Summary
from portal_import_cli.commands import column_metadata_of
from portal_import_cli.seed import read_directory
from portal_import_local.faults import FaultPlan
from portal_import_local.outbox import write_outbox
from portal_import_local.startup import running_stack


def run_import(args: argparse.Namespace, template: Path, log_path: Path, timeout: float) -> dict[str, Any]:
    data = read_directory(args.contacts, args.roles)  # before provisioning: a bad file fails fast
    faults = FaultPlan(
        seed=args.seed,
        api_error=args.fault_api_error,
        redeliver=args.fault_redeliver,
        ses_throttle=args.fault_ses_throttle,
        poison_contact=args.fault_poison_contact,
    )
    echo = sys.stderr if args.verbose else None
    with running_stack(args, template, data, log_path, echo=echo, faults=faults) as runtime:
        # Only what the administrator asked for travels as metadata; the rest is the stack's default.
        metadata = {"send-activation-email": "true"} if args.send_activation_email else {}
        if args.mode:
            metadata["mode"] = args.mode
        metadata |= column_metadata_of(args)
        started = time.monotonic()
        event = runtime.upload(args.import_csv, f"imports/{args.import_csv.name}", metadata)
        (job_id,) = runtime.deliver_s3_event(event)
        notice = runtime.run_until_done(job_id, timeout)
        wall_seconds = time.monotonic() - started
        completed = runtime.completion_detail(job_id)

    result_dir: Path = args.out or Path("import-results") / job_id
    result_dir.mkdir(parents=True, exist_ok=True)
    for name in RESULT_FILES:
        (result_dir / name).write_bytes(runtime.download(results_prefix(job_id) + name))
    notification = {"subject": notice.subject, "message": notice.message, "attributes": notice.attributes}
    (result_dir / "notification.json").write_text(json.dumps(notification, indent=2) + "\n", encoding="utf-8")
    # Every message the topic carried for this job, in order: exactly one import-completed, and one emails-sent
    # when emails were queued (tests count them).
    notices = [
        {"subject": seen.subject, "message": seen.message, "attributes": seen.attributes}
        for seen in runtime.notifications()
        if seen.attributes.get("jobId") == job_id
    ]
    (result_dir / "notices.json").write_text(json.dumps(notices, indent=2) + "\n", encoding="utf-8")
    pool_users = runtime.pool_users()
    (result_dir / "pool-users.json").write_text(json.dumps(pool_users, indent=1) + "\n", encoding="utf-8")
    outbox = result_dir / "outbox"
    outbox.mkdir(exist_ok=True)
    for stale in outbox.glob("*.eml"):  # from an earlier run into the same --out
        stale.unlink()
    sent = write_outbox(outbox, runtime.iter_sent_emails())

    summary = Summary.from_json(json.loads((result_dir / SUMMARY_FILE).read_text(encoding="utf-8"))).to_json()
    return {
        **{
            key: summary[key]
            for key in ("jobId", "status", "error", "totalRows", "succeeded", "failed", "emailsQueued")
        },
        "emailsSent": sent,
        "poolUsers": len(pool_users),
        "resultDir": result_dir,
        "notification": notification,
        "completedDetail": completed,  # the Import Completed event's: which link in the message is which file
        "awsRequests": dict(sorted(runtime.calls.counts.items())),
        "wallSeconds": round(wall_seconds, 3),
        "emailSendTimes": runtime.calls.email_send_times,
        "userCreationTimes": runtime.calls.user_creation_times,
    }
