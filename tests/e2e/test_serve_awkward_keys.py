"""`portal-import local serve` keeps serving whatever key an S3 client gives a file: escapes, other controls, line
breaks, bidi overrides, separators, the longest key S3 takes. A key with a control character fails its job in one
sentence naming it with its escapes; any other key is imported; each job gets exactly one results-ready message;
and serve's own lines show every key through its escapes, so none acts on the terminal it is read in."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from portal_import.domain.shown import visible

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from serving import start_serve, stop_serve  # noqa: E402

EXAMPLE = ROOT / "tests" / "fixtures" / "mixed"
BODY = b"ContactId,Role\r\n0037KWyWfty6uEv0001,Customer\r\n"
# Each key with the status its job ends in.
JOBS = {
    "imports/\x1b[2J\x1b[31mred.csv": "FAILED",  # clears the screen, then writes in red
    "imports/bell\x07 tab\t del\x7f c1\x85.csv": "FAILED",
    "imports/line\nbreak\r\n.csv": "FAILED",
    "imports/nul\x00.csv": "FAILED",
    "imports/\u202evsc.csv": "COMPLETED",  # reads as imports/csv.exe
    "imports/zero\u200bwidth\u2028line\u2029paragraph\ufeff.csv": "COMPLETED",
    "imports/" + "é" * 506 + ".csv": "COMPLETED",  # 1,024 bytes: the longest key S3 takes
    "imports/100% + sure & <ok>.csv": "COMPLETED",
}
NO_JOB = ["imports/\x1b]0;title\x07.txt", "elsewhere/\x1b[2J.csv"]  # not imports/*.csv: no job starts
RAW = set("\x00\x07\t\r\x1b\x7f\x85\u202e\u200b\u2028\u2029\ufeff")


def _client(ready: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=ready["endpoint"],
        region_name=ready["region"],
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
    )


def _notices(sqs: Any, inbox: str, count: int, within: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    notices: list[dict[str, Any]] = []
    while len(notices) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            notices.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
    return notices


def test_serve_survives_every_key_and_each_job_ends_as_its_key_says(tmp_path: Path) -> None:
    # Given local serve, and an administrator's inbox subscribed to its topic
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT / 'local'}", "HOME": str(tmp_path)}
    process, ready = start_serve(EXAMPLE / "contacts.csv", EXAMPLE / "roles.csv", cwd=tmp_path, env=env)
    try:
        s3, sqs = _client(ready, "s3"), _client(ready, "sqs")
        inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        _client(ready, "sns").subscribe(TopicArn=ready["topicArn"], Protocol="sqs", Endpoint=arn)

        # When a file is dropped under each awkward key
        for key in [*JOBS, *NO_JOB]:
            s3.put_object(Bucket=ready["bucket"], Key=key, Body=BODY)

        # Then each job gets exactly one results-ready message, and none comes for the keys that start no job
        notices = _notices(sqs, inbox, len(JOBS), within=180)
        assert process.poll() is None, "local serve stopped"
        assert [n["MessageAttributes"]["event"]["Value"] for n in notices] == ["import-completed"] * len(JOBS)
        job_ids = [n["MessageAttributes"]["jobId"]["Value"] for n in notices]
        assert len(set(job_ids)) == len(JOBS)
        # and each job ends as its key says, a refused key named in one sentence through its escapes
        summaries = [
            json.loads(s3.get_object(Bucket=ready["bucket"], Key=f"results/{job}/summary.json")["Body"].read())
            for job in job_ids
        ]
        assert {s["sourceKey"]: s["status"] for s in summaries} == JOBS
        for summary, notice in zip(summaries, notices, strict=True):
            if summary["status"] == "FAILED":
                assert summary["error"].startswith(f"The file's name '{visible(summary['sourceKey'])}' holds ")
            assert not RAW & set(notice["Subject"] + notice["Message"])
            assert visible(summary["sourceKey"]) in notice["Message"]

        # and serve still answers: a plain file dropped now is imported, and is the only job announced since
        s3.put_object(Bucket=ready["bucket"], Key="imports/plain.csv", Body=BODY)
        (last,) = _notices(sqs, inbox, 1, within=60) + _notices(sqs, inbox, 2, within=3)
        assert last["MessageAttributes"]["jobId"]["Value"] not in job_ids
        assert last["MessageAttributes"]["status"]["Value"] == "COMPLETED"
    finally:
        err = stop_serve(process)

    # and what serve said named every key through its escapes, each on its own line
    assert process.returncode == 0, err[-3000:]
    assert not RAW & set(err)
    for key in JOBS:
        assert f"portal-import: {visible(key)}: job " in err
    assert f"portal-import: {visible(NO_JOB[0])}: not a .csv file under imports/, so no job starts" in err
