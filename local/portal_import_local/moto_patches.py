"""Fixes to moto that the local runtime needs to stay fast; behaviour is unchanged.

moto's TransactWriteItems deep-copies every table a transaction touches, once per action, so that it can
roll back: with a directory of thousands of items that is seconds and gigabytes per call. Here only the
items the transaction touches are saved, and restored if it is cancelled. Transactions and single-item writes
take one lock, so that a transaction is atomic among threads (local serve, concurrent senders in tests): saving
and restoring outside it would undo another writer's changes made in between.

moto serializes each DynamoDB response by walking the API's shape model value by value (about 70 ms for a
BatchGetItem of 100 items); the JSON protocol's body is the result as JSON, so json.dumps writes it directly
(anything it cannot write, such as binary values, still goes the long way).

moto parses a condition expression anew for every item a transaction writes, though a batch of users carries
the same one on each: parsed once here (the parsed condition is only evaluated, never changed).

moto's SQS asks every message of a queue whether it is visible on each send, receive and delete, and each
answer builds two datetimes (about 12 µs): at 2,000 messages deep a send took 66 ms. The same clock read
from time.time() costs a fraction of that.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import moto.dynamodb.models as dynamodb_models
import moto.dynamodb.models.table as dynamodb_tables
import moto.sqs.models as sqs_models
from moto.core.responses import ActionResult
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

_original_transact_write_items = DynamoDBBackend.transact_write_items
_single_item_writes = {name: getattr(DynamoDBBackend, name) for name in ("put_item", "update_item", "delete_item")}
_lock = threading.RLock()  # re-entered by a rollback's own writes
_installed = False


class _CopyAllButTables:
    """Stands in for the `copy` module inside moto's DynamoDB backend during a transaction."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    table = backend.get_table(op["TableName"])
    if op_type != "Put":
        return table.name, op["Key"]
    attributes = op["Item"]
    key = {table.hash_key_attr: attributes[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attributes[table.range_key_attr]
    return table.name, key


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    with _lock:
        saved: dict[str, tuple[str, dict[str, Any], dict[str, Any] | None]] = {}
        for action in transact_items:
            try:
                op_type, op = next(iter(action.items()))
                table_name, key = _key_of(self, op_type, op)
            except Exception:  # noqa: BLE001, S112 - a malformed action: moto's own validation reports it below
                continue
            identity = json.dumps([table_name, key], sort_keys=True)
            if identity not in saved:
                current = self.get_item(table_name, key)
                saved[identity] = (table_name, key, current.to_json()["Attributes"] if current else None)
        dynamodb_models.copy = _CopyAllButTables  # type: ignore[assignment]
        try:
            _original_transact_write_items(self, transact_items)
        except Exception:
            for table_name, key, attributes in saved.values():
                if attributes is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise
        finally:
            dynamodb_models.copy = copy


_original_serialized = DynamoHandler.serialized


def _serialized(self: DynamoHandler, action_result: ActionResult) -> Any:
    result = action_result.result
    if isinstance(result, dict):
        try:
            body = json.dumps(result)
        except (TypeError, ValueError):
            pass
        else:
            return 200, {**self.response_headers, "Content-Type": "application/x-amz-json-1.0"}, body
    return _original_serialized(self, action_result)


_original_get_filter_expression = dynamodb_models.get_filter_expression
_parsed_conditions: dict[str, Any] = {}


def _get_filter_expression(expr: Any, names: Any, values: Any) -> Any:
    key = json.dumps([expr, names, values], sort_keys=True, default=str)
    if key not in _parsed_conditions:
        if len(_parsed_conditions) > 1000:
            _parsed_conditions.clear()
        _parsed_conditions[key] = _original_get_filter_expression(expr, names, values)
    return _parsed_conditions[key]


_original_unix_time_millis = sqs_models.unix_time_millis


def _unix_time_millis(dt: Any = None) -> float:
    """moto's clock in milliseconds since the epoch; the current time without building datetimes."""
    return time.time() * 1000.0 if dt is None else float(_original_unix_time_millis(dt))


def _locked(write: Any) -> Any:
    def locked_write(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return write(self, *args, **kwargs)

    return locked_write


def install() -> None:
    global _installed
    if not _installed:
        for name, write in _single_item_writes.items():
            setattr(DynamoDBBackend, name, _locked(write))
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
        sqs_models.unix_time_millis = _unix_time_millis
        DynamoHandler.serialized = _serialized  # type: ignore[method-assign,assignment]
        dynamodb_models.get_filter_expression = _get_filter_expression
        dynamodb_tables.get_filter_expression = _get_filter_expression
        _installed = True
