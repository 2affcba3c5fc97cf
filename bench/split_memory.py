"""The splitter's memory for one file: `split_file` in this process under tracemalloc, AWS out of process.

moto's standalone server runs in a child process (so its copies of the file are not traced here), on
127.0.0.1 and a free port; boto3 reaches it through AWS_ENDPOINT_URL. The stack of template.yaml is created
there as `local run` creates it (portal_import_local.stack.provision: SAM's translator, then moto's
CloudFormation, which resolves every intrinsic), so the splitter gets the environment its function has; then
the Roles are loaded, the file uploaded, and the peak of tracemalloc's traced memory during the split is taken.
The boto3 clients are built before tracing starts, as in a warm Lambda container. Writes one JSON object to
--result.

    .venv/bin/python bench/split_memory.py import.csv --roles roles.csv --result split.json

Needs moto's server (`moto[server]`: Flask).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import inspect
import json
import multiprocessing
import os
import socket
import sys
import time
import tracemalloc
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "template.yaml"
REGION = "us-east-1"
SERVER_START_SECONDS = 30


class ServerMissing(RuntimeError):
    """moto's standalone server cannot run in this environment."""


def server_available() -> str | None:
    """None when moto's server can run here, otherwise why not."""
    if importlib.util.find_spec("flask") is None or importlib.util.find_spec("flask_cors") is None:
        return "moto's server needs Flask and flask-cors: add the 'server' extra to moto in pyproject.toml"
    return None


def _serve(port: int) -> None:
    """The child process: moto's server until it is terminated."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    logging.getLogger("moto").setLevel(logging.ERROR)  # the resource types its CloudFormation only records
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    while True:
        time.sleep(3600)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(endpoint: str, server: multiprocessing.process.BaseProcess) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if not server.is_alive():
            raise ServerMissing(f"moto's server exited at start (exit code {server.exitcode})")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - our own local server
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise ServerMissing(f"moto's server did not answer on {endpoint} within {SERVER_START_SECONDS} s")


def _check_signature(split_file: Any) -> None:
    """split_file(dropped, deps, settings) is called as the brief of this measurement has it: optional parameters
    added since (such as the time left to the invocation) keep their defaults, so the whole file is split in
    one pass. A new required parameter needs a decision here."""
    for name, parameter in list(inspect.signature(split_file).parameters.items())[3:]:
        if parameter.default is inspect.Parameter.empty:
            raise TypeError(f"split_file has a new required parameter '{name}': teach bench/split_memory.py about it")


def measure(import_csv: Path, roles_csv: Path) -> dict[str, Any]:
    import boto3

    from portal_import.aws.directory import Directory
    from portal_import.config import SplitterSettings
    from portal_import.flows.split import DroppedFile, split_file
    from portal_import.wiring import split_deps
    from portal_import_local.stack import provision

    # The stack of template.yaml, created by moto's CloudFormation on the server as `local run` creates it: every
    # intrinsic (Ref, Fn::Sub, Fn::GetAtt, ...) is resolved there, and the splitter's environment is the one its
    # function was given. The bucket's notification is left out by provision(), so the upload starts nothing.
    session = boto3.Session(region_name=REGION)
    stack = provision(TEMPLATE, {}, session)
    environment = stack.functions["SplitterFunction"].environment
    clients: dict[str, Any] = {name: session.client(name) for name in ("dynamodb", "sqs", "s3")}
    with roles_csv.open(encoding="utf-8-sig", newline="") as handle:
        roles = {row["Name"]: row["Active"].strip().lower() == "true" for row in csv.DictReader(handle)}
    Directory(stack.directory_table).put_roles(roles)
    key = f"imports/{import_csv.name}"
    with import_csv.open("rb") as handle:
        put = clients["s3"].put_object(Bucket=stack.bucket, Key=key, Body=handle)
    size = import_csv.stat().st_size

    settings = SplitterSettings.from_env(environment)
    deps = split_deps(settings)
    dropped = DroppedFile(
        bucket=stack.bucket,
        key=key,
        version=put.get("VersionId") or put["ETag"].strip('"'),
        version_id=put.get("VersionId"),
        event_time=datetime.now(UTC).isoformat(),
        size=size,
    )
    _check_signature(split_file)

    tracemalloc.start()
    started = time.perf_counter()
    job_id = split_file(dropped, deps, settings)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    job = (
        clients["dynamodb"]
        .get_item(TableName=stack.jobs_table, Key={"pk": {"S": str(job_id)}}, ConsistentRead=True)
        .get("Item", {})
    )
    rows_queue = environment["ROWS_QUEUE_URL"]
    queued = clients["sqs"].get_queue_attributes(QueueUrl=rows_queue, AttributeNames=["ApproximateNumberOfMessages"])
    clients["sqs"].purge_queue(QueueUrl=rows_queue)
    return {
        "fileBytes": size,
        "peakBytes": peak,
        "splitSeconds": round(seconds, 3),
        "jobStatus": job.get("Status", {}).get("S"),
        "jobError": job.get("Error", {}).get("S"),
        "totalRows": int(job.get("TotalRows", {}).get("N", "0")),
        "chunks": int(job.get("ChunkCount", {}).get("N", "0")),
        "rowsQueueMessages": int(queued["Attributes"]["ApproximateNumberOfMessages"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("import_csv", type=Path)
    parser.add_argument("--roles", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True, help="where to write the JSON result")
    args = parser.parse_args()
    missing = server_available()
    if missing:
        args.result.write_text(json.dumps({"error": missing}) + "\n", encoding="utf-8")
        return 1
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        _wait_until_up(endpoint, server)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                "POWERTOOLS_SERVICE_NAME": "bench-splitter",
            }
        )
        result = measure(args.import_csv, args.roles)
    except ServerMissing as error:
        result = {"error": str(error)}
    finally:
        server.terminate()
        server.join(timeout=10)
    args.result.write_text(json.dumps(result) + "\n", encoding="utf-8")
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
