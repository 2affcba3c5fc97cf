"""`portal-import` with a meter: what each AWS request made by function code carries, for the cost estimate.

The local runtime counts requests per "Service.Operation"; AWS bills DynamoDB by items and their size, SQS by
64 KiB of payload and SES by recipient. This runs the same command (`portal_import_cli.main.main`) with a
read-only tap on botocore beneath the runtime's own counter, and writes what it saw to a JSON file. It
changes no request and no response.

    .venv/bin/python bench/meter.py --meter-out meter.json -- local run import.csv --json --stats ...
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import botocore.client
from botocore.exceptions import ClientError

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
SQS_BILLING_CHUNK_BYTES = 64 * 1024


def _value_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value (its published sizing rules, to the byte or close)."""
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "B":
        return len(content)
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(element.encode()) for element in content)
    if kind == "NS":
        return sum(_value_size({"N": element}) for element in content)
    if kind == "BS":
        return sum(len(element) for element in content)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(element) for name, element in content.items())
    return 0


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


class Meter:
    """Per 'Service.Operation': calls, items, DynamoDB read/write request units, billed SQS requests, emails;
    per queue (by name): messages sent and their bytes."""

    def __init__(self) -> None:
        self.operations: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.queues: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def record(self, service: str, operation: str, params: dict[str, Any], response: dict[str, Any] | None) -> None:
        entry = self.operations[f"{service}.{operation}"]
        entry["calls"] += 1
        if response is None:
            entry["failedCalls"] += 1
        if service == "DynamoDB":
            items, rru, wru = _dynamodb_units(operation, params, response or {})
            entry["items"] += items
            entry["rru"] += rru
            entry["wru"] += wru
        elif service == "SQS" and operation in ("SendMessage", "SendMessageBatch"):
            bodies = (
                [params["MessageBody"]] if operation == "SendMessage" else [e["MessageBody"] for e in params["Entries"]]
            )
            payload = sum(len(body.encode()) for body in bodies)
            entry["items"] += len(bodies)
            entry["bytes"] += payload
            entry["billedRequests"] += max(1, math.ceil(payload / SQS_BILLING_CHUNK_BYTES))
            queue = self.queues[params["QueueUrl"].rsplit("/", 1)[-1]]
            queue["messages"] += len(bodies)
            queue["bytes"] += payload
        elif service in ("SES", "SESv2"):
            entry["emails"] += _recipients(operation, params)
        elif service == "S3" and operation in ("PutObject", "UploadPart"):
            body = params.get("Body", b"")
            entry["bytes"] += len(body) if isinstance(body, (bytes, bytearray, str)) else 0

    def report(self) -> dict[str, Any]:
        return {
            "operations": {
                name: {k: _number(v) for k, v in counts.items()} for name, counts in sorted(self.operations.items())
            },
            "queues": {name: dict(counts) for name, counts in sorted(self.queues.items())},
        }


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 1)


def _recipients(operation: str, params: dict[str, Any]) -> int:
    if operation == "SendBulkTemplatedEmail":
        return len(params.get("Destinations", []))
    if operation == "SendBulkEmail":
        return len(params.get("BulkEmailEntries", []))
    if operation in ("SendEmail", "SendRawEmail", "SendTemplatedEmail"):
        return 1
    return 0


def _dynamodb_units(operation: str, params: dict[str, Any], response: dict[str, Any]) -> tuple[int, float, float]:
    """(items, read request units, write request units) of one DynamoDB request."""
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return 1, _read_units(item_size(response.get("Item", {})), consistent), 0
    if operation == "BatchGetItem":
        items = rru = 0.0
        for table, request in params["RequestItems"].items():
            unprocessed = len(response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
            found = response.get("Responses", {}).get(table, [])
            served = len(request["Keys"]) - unprocessed
            table_consistent = bool(request.get("ConsistentRead"))
            # A key that names no item still costs the minimum unit.
            rru += sum(_read_units(item_size(item), table_consistent) for item in found)
            rru += max(0, served - len(found)) * _read_units(0, table_consistent)
            items += served
        return int(items), rru, 0
    if operation in ("Query", "Scan"):
        size = sum(item_size(item) for item in response.get("Items", []))
        return len(response.get("Items", [])), _read_units(size, consistent), 0
    if operation == "PutItem":
        return 1, 0, _write_units(item_size(params["Item"]))
    if operation in ("UpdateItem", "DeleteItem"):
        # The item's size when the response shows it (ReturnValues), otherwise taken as within one unit.
        return 1, 0, _write_units(item_size(response.get("Attributes", {})))
    if operation == "BatchWriteItem":
        requests = [entry for entries in params["RequestItems"].values() for entry in entries]
        wru = sum(_write_units(item_size(entry.get("PutRequest", {}).get("Item", {}))) for entry in requests)
        return len(requests), 0, wru
    if operation == "TransactWriteItems":
        actions = params["TransactItems"]
        wru = sum(2 * _write_units(item_size(action.get("Put", {}).get("Item", {}))) for action in actions)
        return len(actions), 0, wru
    if operation == "TransactGetItems":
        return len(params["TransactItems"]), 2.0 * len(params["TransactItems"]), 0
    return 0, 0, 0


METER = Meter()
_original_make_api_call = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009 - private to botocore


def _metered_make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
    from portal_import_local import host  # imported by now: install() imports it after patching

    in_function_code = host._current.get() is not None
    service = self.meta.service_model.service_id
    try:
        response = _original_make_api_call(self, operation_name, api_params)
    except ClientError:
        if in_function_code:
            METER.record(service, operation_name, api_params, None)
        raise
    if in_function_code:
        METER.record(service, operation_name, api_params, response)
    return response


def install() -> None:
    """Patches botocore before the runtime's counter captures it, so the counter calls through the meter."""
    if "portal_import_local.host" in sys.modules:
        raise RuntimeError("install the meter before portal_import_local.host is imported")
    setattr(botocore.client.BaseClient, "_make_api_call", _metered_make_api_call)  # noqa: B010 - private to botocore
    import portal_import_local.host  # noqa: F401 - captures the metered call as its original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meter-out", type=Path, required=True, help="where to write what the meter saw (JSON)")
    parser.add_argument("portal_import_args", nargs=argparse.REMAINDER, help="-- then portal-import's arguments")
    args = parser.parse_args()
    install()
    from portal_import_cli import main as cli

    command = args.portal_import_args[1:] if args.portal_import_args[:1] == ["--"] else args.portal_import_args
    status = cli.main(command)
    args.meter_out.write_text(json.dumps(METER.report(), indent=2) + "\n", encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
