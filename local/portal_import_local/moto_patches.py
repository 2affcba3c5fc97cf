"""Fixes to moto that the local runtime needs: to stay fast (behaviour unchanged), to take any object key and list
object versions as S3 does, and to answer what `portal-import doctor` reads of SES as SES would.

moto's TransactWriteItems deep-copies every table a transaction touches, once per action, so that it can
roll back: with a directory of thousands of items that is seconds and gigabytes per call. Here only the
items the transaction touches are saved, and restored if it is cancelled. Transactions and single-item writes
take one lock, so that a transaction is atomic among threads (local serve, concurrent senders in tests): saving
and restoring outside it would undo another writer's changes made in between.

moto serializes each DynamoDB response by walking the API's shape model value by value (about 70 ms for a
BatchGetItem of 100 items); the JSON protocol's body is the result as JSON, so json.dumps writes it directly
(anything it cannot write, such as binary values, still goes the long way).

moto parses a condition expression anew for every item a transaction writes, though a batch of users or email
claims carries the same one on each: parsed once here, keyed on the values it names (the parsed condition is only
evaluated, never changed).

moto checks an UpdateItem's expression with a validator that walks its syntax tree a few dozen times (about 15 ms
an item): the email ledger writes two a recipient. Updates of the plain form the adapters use (SET a = :v, ADD
a :v, REMOVE a, on top-level names) are carried out directly here, with the same condition check, item creation
and size limit; any other form (a function, a path, a #name, a stream) goes moto's own way.

Before any of that, moto's request handler parses every condition and update expression of a request once more,
to check the names and values it uses: those checks read parsed expressions only, and get them from a cache here.

moto's SQS asks every message of a queue whether it is visible on each send, receive and delete, and each
answer builds two datetimes (about 12 µs): at 2,000 messages deep a send took 66 ms. The same clock read
from time.time() costs a fraction of that.

moto's ListObjectVersions ignores `encoding-type=url`, which botocore asks for on every call (as for ListObjects):
it writes keys into the XML as they are, so one key holding a character XML 1.0 cannot carry (ESC, NUL, most
controls) fails the whole listing with a 500, and a carriage return comes back as a line feed. S3 URL-encodes the
keys when asked, and botocore decodes them; here moto does the same, as its own ListObjectsV2 does. `local serve`
lists versions to notice uploads: without this, any S3 client could stop it with one key.

moto's server routes an object's URL with `.+`, which stops at a line break: it answered 404 to any request on a
key holding one, which S3 takes. Its key now matches any character.

moto's SESv2 has no GetAccount and no GetConfigurationSetEventDestinations (NotImplementedError), says every
identity is not verified for sending (though its SES sends from any identity it holds), and says a configuration set
created without SendingOptions does not send. The local SES answers GetAccount with production access, sending on, a
quota no local run reaches and what moto counted as sent; a set's event destinations from the one SES v1
destination moto keeps for it, in v2's spelling; every identity it holds verified for sending, a domain's DKIM set
up; and a set's SendingEnabled as SES does, true unless turned off. moto's server (`local serve`) routes the two
operations' paths too: its catch-all "/v2/.*" is a regular expression in-process, a literal path behind a server.

moto's CloudFormation reads every template with PyYAML's pure-Python loader, JSON included: the stack's
transformed template (JSON, as the local stack sends it) took 1.4 s of each stack's 5. A template that is JSON is
now read as JSON; any other goes moto's way. JSON is YAML, so the result is the same.

moto's Cognito imports the same static signing key (its jwks-private.json) for every user pool it creates: 0.3 s
of RSA arithmetic a pool, two pools a stack. Here a key is imported once per process and reused: signing reads it
and never changes it.

Each of these rewrites a moto internal, which a moto release may change without notice. So each is a `Patch`
(PATCHES, at the end) that says which moto it was written for and when it can go, and `install()` first checks that
every target still has the shape its replacement expects: it refuses to install any of them, naming the patch, when
one does not (PatchNoLongerFits). pyproject.toml pins moto to the versions these patches were checked on.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import moto.cognitoidp.models as cognitoidp_models
import moto.dynamodb.models as dynamodb_models
import moto.dynamodb.models.table as dynamodb_tables
import moto.dynamodb.responses as dynamodb_responses
import moto.s3.urls as s3_urls
import moto.sesv2.urls as sesv2_urls
import moto.sqs.models as sqs_models
from joserfc import jwk
from moto.cloudformation.models import Stack
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.exceptions import ConditionalCheckFailed, ItemSizeToUpdateTooLarge
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoHandler
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response
from moto.ses.models import ConfigurationSet, EmailIdentity, SESBackend, ses_backends
from moto.sesv2.models import SESV2Backend
from moto.sesv2.responses import SESV2Response

MOTO_WRITTEN_FOR = "5.2.6"  # the moto every patch here was written for and checked against

_original_transact_write_items = DynamoDBBackend.transact_write_items
_original_put_item = DynamoDBBackend.put_item
_original_delete_item = DynamoDBBackend.delete_item
_original_list_object_versions = S3Response.list_object_versions
_original_s3_url_module = S3Backend._url_module
_lock = threading.RLock()  # re-entered by a rollback's own writes
_MISSING = object()  # an attribute a target no longer has


def _itself(target: Any) -> Any:
    return target


class PatchNoLongerFits(RuntimeError):
    """A patched moto (or botocore) attribute is no longer what its patch was written for."""


@dataclass(frozen=True)
class Expectation:
    """Something a replacement relies on beyond its target's parameters: `found` says what is there instead (given
    the target), or None when it is as expected."""

    expected: str
    found: Callable[[Any], str | None]


@dataclass(frozen=True)
class Patch:
    """One attribute of moto (or botocore) replaced: what the replacement expects of it, the version it was written
    for, and when it can go."""

    name: str
    owner: Any  # the class or module whose attribute is replaced
    attribute: str
    replacement: Any
    parameters: tuple[str, ...]  # the target's, by name: what the replacement is called with, or calls it with
    can_go_when: str
    written_for: str = MOTO_WRITTEN_FOR
    package: str = "moto"
    relies_on: tuple[Expectation, ...] = ()
    signature_of: Callable[[Any], Any] = _itself  # given the target, the callable whose parameters count
    shape: str = "a callable"  # what the target is, as the error says it: the callable itself, or what holds it

    @property
    def target(self) -> str:
        owner = self.owner
        where = owner.__name__ if inspect.ismodule(owner) else f"{owner.__module__}.{owner.__qualname__}"
        return f"{where}.{self.attribute}"

    def applied(self) -> bool:
        return getattr(self.owner, self.attribute, _MISSING) is self.replacement

    def mismatch(self, target: Any) -> tuple[str, str] | None:
        """(expected, found) for the first way `target` is not what the replacement expects; None if there is none."""
        expected = f"{self.shape} taking ({', '.join(self.parameters)})"
        if target is _MISSING:
            return expected, "no such attribute"
        try:
            found = tuple(inspect.signature(self.signature_of(target)).parameters)
        except (AttributeError, TypeError, ValueError) as error:  # not callable, or not the kind of object expected
            return expected, f"{target!r} ({error})"
        if found != self.parameters:
            return expected, f"{getattr(target, '__qualname__', repr(target))} taking ({', '.join(found)})"
        for expectation in self.relies_on:
            instead = expectation.found(target)
            if instead is not None:
                return expectation.expected, instead
        return None

    def check(self, target: Any) -> None:
        mismatch = self.mismatch(target)
        if mismatch is not None:
            expected, found = mismatch
            raise PatchNoLongerFits(
                f"The local runtime's patch {self.name!r} no longer fits {self.target}: it expects {expected}, and "
                f"found {found}. The patch was written for {self.package} {self.written_for}; "
                f"{self.package} {version(self.package)} is installed. It can go {self.can_go_when}. Check the patch "
                f"against the installed {self.package}, then fix or remove it; or install the {self.package} it was "
                "written for."
            )


def install_patches(patches: Iterable[Patch]) -> None:
    """Checks every patch not yet applied against its target, then applies them: none if any does not fit.
    Applying twice changes nothing (a patch whose replacement is in place is neither checked nor applied again)."""
    pending = [patch for patch in patches if not patch.applied()]
    for patch in pending:
        patch.check(getattr(patch.owner, patch.attribute, _MISSING))
    for patch in pending:
        setattr(patch.owner, patch.attribute, patch.replacement)


def _source(target: Any) -> str:
    try:
        return inspect.getsource(target)
    except (OSError, TypeError):  # no source to read (a builtin, a compiled module)
        return ""


def _code_has(marker: str, why: str, of: Callable[[Any], Any] = _itself) -> Expectation:
    """Expects the code of the target (or of what `of` picks given the target) to contain `marker`."""
    return Expectation(
        f"code that contains {marker!r} ({why})",
        lambda target: None if marker in _source(of(target)) else f"code without it ({_where(of(target))})",
    )


def _where(code: Any) -> str:
    try:
        return f"{inspect.getsourcefile(code)}, line {inspect.getsourcelines(code)[1]}"
    except (OSError, TypeError):
        return repr(code)


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
        saved: dict[str, tuple[str, dict[str, Any], Item | None]] = {}
        for action in transact_items:
            try:
                op_type, op = next(iter(action.items()))
                table_name, key = _key_of(self, op_type, op)
            except Exception:  # noqa: BLE001, S112 - a malformed action: moto's own validation reports it below
                continue
            identity = json.dumps([table_name, key], sort_keys=True)
            if identity not in saved:
                current = self.get_item(table_name, key)
                # A copy (moto's Item copies itself cheaply); written out as JSON only if it has to be restored.
                saved[identity] = (table_name, key, copy.deepcopy(current) if current else None)
        dynamodb_models.copy = _CopyAllButTables  # type: ignore[assignment]
        try:
            _original_transact_write_items(self, transact_items)
        except Exception:
            for table_name, key, before in saved.values():
                if before is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before.to_json()["Attributes"])
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
_PLACEHOLDER = re.compile(r":[A-Za-z0-9_]+")


def _cached(cache: dict[str, Any], key: str, make: Any) -> Any:
    """cache[key], made once (a bounded cache: cleared when it grows past a thousand entries)."""
    if key not in cache:
        if len(cache) > 1000:
            cache.clear()
        cache[key] = make()
    return cache[key]


def _get_filter_expression(expr: Any, names: Any, values: Any) -> Any:
    # Keyed on the values the condition names: an update's other values (a link per item) would defeat the cache.
    key = _condition_key(expr, names, values)
    return _cached(_parsed_conditions, key, lambda: _original_get_filter_expression(expr, names, values))


_original_condition_parser = dynamodb_responses.create_condition_expression_parser
_original_update_parser = dynamodb_responses.UpdateExpressionParser


def _condition_key(expr: Any, names: Any, values: Any) -> str:
    used = set(_PLACEHOLDER.findall(expr)) if isinstance(expr, str) else None
    if used is not None and isinstance(values, dict):
        values = {name: value for name, value in values.items() if name in used}
    return json.dumps([expr, names, values], sort_keys=True, default=str)


class _CheckedCondition:
    """What the request handler reads of a parsed condition: the expression and the names and values it uses."""

    def __init__(self, expr: Any, names: Any, values: Any) -> None:
        parser = _original_condition_parser(expr, names, values)
        self._parsed = parser.parse()
        self._names = list(parser.expr_attr_names_found)
        self._values = list(parser.expr_attr_values_found)

    def parse(self) -> Any:
        return self._parsed

    @property
    def expr_attr_names_found(self) -> list[Any]:
        return list(self._names)  # a copy: the handler adds to the list it gets

    @property
    def expr_attr_values_found(self) -> list[Any]:
        return list(self._values)


_checked_conditions: dict[str, _CheckedCondition] = {}
_checked_updates: dict[str, Any] = {}


def _checked_condition(expr: Any, names: Any, values: Any) -> _CheckedCondition:
    key = _condition_key(expr, names, values)
    checked: _CheckedCondition = _cached(_checked_conditions, key, lambda: _CheckedCondition(expr, names, values))
    return checked


class _CheckedUpdates:
    """The request handler's UpdateExpressionParser: it only looks for the names and values a tree holds."""

    @staticmethod
    def make(expression: str) -> Any:
        return _cached(_checked_updates, expression, lambda: _original_update_parser.make(expression))


_original_unix_time_millis = sqs_models.unix_time_millis


def _unix_time_millis(dt: Any = None) -> float:
    """moto's clock in milliseconds since the epoch; the current time without building datetimes."""
    return time.time() * 1000.0 if dt is None else float(_original_unix_time_millis(dt))


_original_update_item: Any = DynamoDBBackend.update_item  # called with None where moto declares a value
_CLAUSE = re.compile(r"(SET|ADD|REMOVE)\s+(.*?)(?=\s+(?:SET|ADD|REMOVE)\s|$)", re.DOTALL)
_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_ACTION = {
    "SET": re.compile(rf"^({_NAME})\s*=\s*(:[A-Za-z0-9_]+)$"),
    "ADD": re.compile(rf"^({_NAME})\s+(:[A-Za-z0-9_]+)$"),
    "REMOVE": re.compile(rf"^({_NAME})$"),
}
_plain_updates: dict[str, list[tuple[str, str, str]] | None] = {}
_ITEM_SIZE_LIMIT = 405_000  # moto's LimitedSizeDict: DynamoDB's 400 KB, as measured


def _plain(expression: str) -> list[tuple[str, str, str]] | None:
    """(clause, name, value placeholder) for each action of a plain update expression; None for any other."""
    if expression not in _plain_updates:
        actions: list[tuple[str, str, str]] | None = []
        rest = _CLAUSE.sub("", expression).strip()
        for clause, body in _CLAUSE.findall(expression.strip()):
            for part in body.split(","):
                match = _ACTION[clause].match(part.strip())
                if match is None or actions is None:
                    actions = None
                    break
                actions.append((clause, match.group(1), match.group(2) if clause != "REMOVE" else ""))
        names = [name for _, name, _ in actions or []]
        _plain_updates[expression] = actions if actions and not rest and len(set(names)) == len(names) else None
    return _plain_updates[expression]


def _update_item(
    self: DynamoDBBackend,
    table_name: str,
    key: dict[str, Any],
    update_expression: str | None = None,
    expression_attribute_names: dict[str, Any] | None = None,
    expression_attribute_values: dict[str, Any] | None = None,
    attribute_updates: dict[str, Any] | None = None,
    expected: dict[str, Any] | None = None,
    condition_expression: str | None = None,
    return_values_on_condition_check_failure: str | None = None,
) -> Any:
    names, values = expression_attribute_names, expression_attribute_values or {}
    actions = _plain(update_expression) if update_expression else None
    table = self.get_table(table_name)
    plain = actions is not None and not (names or attribute_updates or expected) and _fits(table, actions, values)
    with _lock:
        updated = None
        if plain:
            assert actions is not None
            failure = return_values_on_condition_check_failure
            condition = (condition_expression, names, values)
            updated = _update_plainly(self, table, key, actions, condition, failure)
        if updated is not None:
            return updated
        return _original_update_item(  # moto's own way
            self,
            table_name,
            key,
            update_expression=update_expression,
            expression_attribute_names=expression_attribute_names,
            expression_attribute_values=expression_attribute_values,
            attribute_updates=attribute_updates,
            expected=expected,
            condition_expression=condition_expression,
            return_values_on_condition_check_failure=return_values_on_condition_check_failure,
        )


def _fits(table: Table, actions: list[tuple[str, str, str]], values: dict[str, Any]) -> bool:
    """Whether a plain update can be carried out here: no stream to feed, every value given, no key attribute set."""
    return (
        table.stream_shard is None
        and all(placeholder in values for _, _, placeholder in actions if placeholder)
        and not any(name in (table.hash_key_attr, table.range_key_attr) for _, name, _ in actions)
    )


def _update_plainly(
    backend: DynamoDBBackend,
    table: Table,
    key: dict[str, Any],
    actions: list[tuple[str, str, str]],
    condition: tuple[str | None, Any, dict[str, Any]],
    return_values_on_condition_check_failure: str | None,
) -> Item | None:
    """The item as updated, called under the lock; None (nothing written) for what moto answers with its own error.
    `condition` is the request's condition expression, its names and its values (the update's too)."""
    values = condition[2]
    hash_value, range_value = backend.get_keys_value(table, key)
    item = table.get_item(hash_value, range_value)
    if not _get_filter_expression(*condition).expr(item):
        if return_values_on_condition_check_failure == "ALL_OLD" and item is not None:
            raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
        raise ConditionalCheckFailed
    if item is not None:
        changed = dict(item.attrs)
    else:  # created by the update: its key, then what the update sets
        changed = {table.hash_key_attr: hash_value}
        if range_value is not None and table.range_key_attr is not None:
            changed[table.range_key_attr] = range_value
    if not _apply(actions, values, changed):
        return None
    # LimitedSizeDict's own limit (it checks only item by item, in __setitem__), before anything is written
    if sum(bytesize(name) + value.size() for name, value in changed.items()) > _ITEM_SIZE_LIMIT:
        raise ItemSizeToUpdateTooLarge()
    attributes = LimitedSizeDict()
    dict.update(attributes, changed)
    if item is None:
        data: dict[str, Any] = {table.hash_key_attr: {hash_value.type: hash_value.value}}
        if range_value is not None and table.range_key_attr is not None:
            data[table.range_key_attr] = {range_value.type: range_value.value}
        table.put_item(data)
        item = table.get_item(hash_value, range_value)
    assert isinstance(item, Item)
    item.attrs = attributes
    return item


def _apply(actions: list[tuple[str, str, str]], values: dict[str, Any], changed: dict[str, Any]) -> bool:
    """Carries out the actions on `changed`; False for an ADD moto refuses (its own error says why)."""
    for clause, name, placeholder in actions:
        if clause == "REMOVE":
            changed.pop(name, None)
            continue
        value = DynamoType(values[placeholder])
        if clause == "ADD" and name in changed:
            current = changed[name]
            if current.type != value.type or not (value.is_number() or value.is_set()):
                return False
            if value.is_number():
                value = current + value
            else:
                value = DynamoType({value.type: current.value + [v for v in value.value if v not in current.value]})
        elif clause == "ADD" and not (value.is_number() or value.is_set()):
            return False
        changed[name] = value
    return True


def _locked(write: Any) -> Any:
    def locked_write(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _lock:
            return write(self, *args, **kwargs)

    return locked_write


# What S3 URL-encodes in a ListObjectVersions answer when asked to (its API reference, EncodingType).
_ENCODED_FIELDS = ("KeyMarker", "NextKeyMarker", "Prefix", "Delimiter")
_ENCODED_LISTS = (("Versions", "Key"), ("DeleteMarkers", "Key"), ("CommonPrefixes", "Prefix"))


def _url_encoded_versions(result: dict[str, Any]) -> dict[str, Any]:
    encoded: dict[str, Any] = {
        name: quote(value) if name in _ENCODED_FIELDS and value else value for name, value in result.items()
    }
    for name, field in _ENCODED_LISTS:
        if name in encoded:
            encoded[name] = [{**entry, field: quote(entry[field])} for entry in encoded[name]]
    return {**encoded, "EncodingType": "url"}


def _list_object_versions(self: S3Response) -> Any:
    if self.querystring.get("encoding-type", [None])[0] != "url":
        return _original_list_object_versions(self)
    serialized = self.serialized

    def url_encoded(action_result: ActionResult) -> Any:
        if not isinstance(action_result.result, dict):  # an error (NoSuchBucket...), answered by the same handler
            return serialized(action_result)
        return serialized(ActionResult(_url_encoded_versions(action_result.result)))

    self.serialized = url_encoded  # type: ignore[method-assign]  # this request's handler only: moto makes one each
    return _original_list_object_versions(self)


_ROUTED_KEY = "(?P<key_name>.+)"


def _s3_url_module(self: S3Backend) -> Any:
    # moto reloads its S3 routes module each time it reads it (its routes depend on the environment).
    module = _original_s3_url_module.fget(self)  # type: ignore[attr-defined]
    any_key = r"(?P<key_name>[\s\S]+)"
    module.url_paths = {path.replace(_ROUTED_KEY, any_key): view for path, view in module.url_paths.items()}
    return module


# Made once, so that installing again finds them in place.
_locked_put_item = _locked(_original_put_item)
_locked_delete_item = _locked(_original_delete_item)
_any_key_url_module = property(_s3_url_module)


# What the local SES answers of its account (SESv2 GetAccount): production access, sending on, a quota no local run
# reaches (the local runtime's DailyEmailQuota is the same number), and what moto counted as sent.
SES_DAILY_QUOTA = 1_000_000
SES_MAX_SEND_RATE = 1000.0
_original_sesv2_call_action = SESV2Response.call_action
_original_get_email_identity = SESV2Response.get_email_identity
_original_configuration_set_v2 = ConfigurationSet.to_dict_v2
# SES v1 spells event types in camel case, v2 in upper snake case (deliveryDelay, DELIVERY_DELAY).
_UPPER_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
# A v1 destination's fields (moto keeps the v1 request as it came) under their v2 names.
_V2_DESTINATIONS = {
    "SNSDestination": ("SnsDestination", {"TopicARN": "TopicArn"}),
    "KinesisFirehoseDestination": (
        "KinesisFirehoseDestination",
        {"IAMRoleARN": "IamRoleArn", "DeliveryStreamARN": "DeliveryStreamArn"},
    ),
    "CloudWatchDestination": ("CloudWatchDestination", {}),
}


def _ses_backend(response: SESV2Response) -> SESBackend:
    backend: SESBackend = ses_backends[response.current_account][response.region]
    return backend


def _account(response: SESV2Response) -> dict[str, Any]:
    return {
        "ProductionAccessEnabled": True,
        "SendingEnabled": True,
        "EnforcementStatus": "HEALTHY",
        "DedicatedIpAutoWarmupEnabled": False,
        "SendQuota": {
            "Max24HourSend": float(SES_DAILY_QUOTA),
            "MaxSendRate": SES_MAX_SEND_RATE,
            "SentLast24Hours": float(_ses_backend(response).sent_message_count),
        },
    }


def _v2_destination(stored: dict[str, Any]) -> dict[str, Any]:
    """moto's one stored (v1) event destination of a configuration set, as SESv2 spells it."""
    destination: dict[str, Any] = {
        "Name": stored.get("Name", ""),
        "Enabled": bool(stored.get("Enabled", False)),
        "MatchingEventTypes": [
            _UPPER_SNAKE.sub("_", str(kind)).upper() for kind in stored.get("MatchingEventTypes", [])
        ],
    }
    for v1_name, (v2_name, fields) in _V2_DESTINATIONS.items():
        if v1_name in stored:
            destination[v2_name] = {fields.get(key, key): value for key, value in stored[v1_name].items()}
    return destination


def _event_destinations(response: SESV2Response) -> dict[str, Any]:
    name = response._get_param("ConfigurationSetName")
    backend = _ses_backend(response)
    backend.describe_configuration_set(name)  # a set that does not exist is answered as GetConfigurationSet does
    stored = backend.config_set_event_destination.get(name)
    return {"EventDestinations": [] if stored is None else [_v2_destination(stored)]}


# The SESv2 operations moto does not implement that the local SES answers, by the names its router gives them.
_SESV2_ANSWERS: dict[str, Callable[[SESV2Response], dict[str, Any]]] = {
    "GetAccount": _account,
    "GetConfigurationSetEventDestinations": _event_destinations,
}


def _sesv2_call_action(self: SESV2Response) -> Any:
    answer = _SESV2_ANSWERS.get(self._get_action())
    if answer is None:
        return _original_sesv2_call_action(self)
    try:
        return self.serialized(ActionResult(answer(self)))
    except ServiceException as error:  # the set does not exist: the same answer as moto's other operations give
        return self.serialized(ActionResult(error))


def _get_email_identity(self: SESV2Response) -> str:
    """moto's answer, verified for sending, and a domain's DKIM set up: moto's SES sends from any identity it holds,
    verified at once, and keeps no DKIM state (its VerifyDomainDkim answers fixed tokens, which nobody can publish)."""
    answer = json.loads(_original_get_email_identity(self))
    answer["VerifiedForSendingStatus"] = True
    if answer.get("IdentityType") == "DOMAIN":
        answer["DkimAttributes"] = {**answer.get("DkimAttributes", {}), "SigningEnabled": True, "Status": "SUCCESS"}
    return json.dumps(answer)


def _configuration_set_v2(self: ConfigurationSet) -> dict[str, Any]:
    """moto's answer, with SendingEnabled the boolean SESv2 gives: true unless it was turned off. moto answers what
    the set was created with (a set created without SendingOptions would say false)."""
    answer = _original_configuration_set_v2(self)
    given = self.enabled.get("SendingEnabled", True) if isinstance(self.enabled, dict) else self.enabled
    return {**answer, "SendingOptions": {"SendingEnabled": bool(given)}}


_original_sesv2_url_module = SESV2Backend._url_module
# The paths of the SESv2 operations answered here. moto's catch-all "/v2/.*" routes them in-process (a regular
# expression) but not behind `local serve`, whose server takes each path as a literal route.
_SESV2_PATHS = (
    "{0}/v2/email/account$",
    "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/event-destinations$",
)


def _sesv2_url_module(self: SESV2Backend) -> Any:
    module = _original_sesv2_url_module.fget(self)  # type: ignore[attr-defined]
    paths = {**module.url_paths, **dict.fromkeys(_SESV2_PATHS, SESV2Response.dispatch)}
    return SimpleNamespace(url_bases=module.url_bases, url_paths=paths)


_sesv2_routes = property(_sesv2_url_module)


def _without_routes(_: Any) -> str | None:
    routed = [path for path in sesv2_urls.url_paths if path in _SESV2_PATHS]
    return f"routes {routed!r}" if routed else None


def _not_implemented(*methods: str) -> Expectation:
    return Expectation(
        f"moto's SESv2 without {', '.join(methods)} (answered here)",
        lambda _: ", ".join(f"SESV2Response.{m}" for m in methods if hasattr(SESV2Response, m)) or None,
    )


def _is(what: str, actual: Callable[[], Any], expected: Any) -> Expectation:
    return Expectation(f"{what} to be {expected!r}", lambda _: None if actual() is expected else repr(actual()))


def _has_key(what: str, routes: Callable[[], dict[str, Any]], marker: str) -> Expectation:
    return Expectation(
        f"{what} to have a route with {marker!r}",
        lambda _: None if any(marker in path for path in routes()) else f"routes {sorted(routes())!r}",
    )


def _other_update_parser_uses(_: Any) -> str | None:
    code = _source(dynamodb_responses)
    others = code.count("UpdateExpressionParser") - code.count("UpdateExpressionParser.make(") - 1  # 1: its import
    return f"{others} other uses in {dynamodb_responses.__file__}" if others else None


def _reads_milliseconds_since_the_epoch(clock: Any) -> str | None:
    now = clock()
    return None if abs(now - time.time() * 1000.0) < 60_000 else f"a clock that read {now!r}"


_TRANSACTION_GOES = "when moto's TransactWriteItems stops deep-copying every table it touches"
_CONDITIONS_GO = "when moto parses each condition expression once per request rather than once per item"
_REQUEST_CHECKS_GO = "when moto's DynamoDB request handler stops parsing every expression a second time"
_CONDITION_PARAMETERS = ("expr", "names", "values")
_ENCODING = re.compile(r"encoding[-_]type", re.IGNORECASE)


def _parse_stack_template(self: Stack) -> None:
    template = self.template
    assert isinstance(template, str)  # moto parses only a template it was given as text
    try:
        self.template_dict = json.loads(template)
    except ValueError:  # YAML, short-form tags and all
        self.template_dict = Stack.parse_template(template)


_imported_keys: dict[str, jwk.RSAKey] = {}


def _import_key_once(value: Any, parameters: Any = None, password: Any = None) -> jwk.RSAKey:
    """joserfc's RSAKey.import_key as moto's Cognito calls it, each key imported once per process."""
    if not isinstance(value, dict) or parameters is not None or password is not None:
        return jwk.RSAKey.import_key(value, parameters, password)
    name = json.dumps(value, sort_keys=True)
    key = _imported_keys.get(name)
    if key is None:  # two threads may both import it: either key signs the same
        key = _imported_keys[name] = jwk.RSAKey.import_key(value)
    return key


_cognito_jwk = SimpleNamespace(RSAKey=SimpleNamespace(import_key=_import_key_once))  # the jwk moto's Cognito uses


PATCHES = (
    Patch(
        "TransactWriteItems saves only the items it touches",
        DynamoDBBackend,
        "transact_write_items",
        _transact_write_items,
        ("self", "transact_items"),
        _TRANSACTION_GOES,
        relies_on=(
            _code_has("copy.deepcopy(", "its backup of every table, which the patch makes a no-op for tables"),
            _is("moto.dynamodb.models.copy (swapped during a transaction)", lambda: dynamodb_models.copy, copy),
        ),
    ),
    # A cancelled transaction's rollback calls put_item(table_name, attributes) and delete_item(table_name, key).
    Patch(
        "PutItem takes the transactions' lock",
        DynamoDBBackend,
        "put_item",
        _locked_put_item,
        (
            "self",
            "table_name",
            "item_attrs",
            "expected",
            "condition_expression",
            "expression_attribute_names",
            "expression_attribute_values",
            "overwrite",
            "return_values_on_condition_check_failure",
        ),
        _TRANSACTION_GOES,
    ),
    Patch(
        "DeleteItem takes the transactions' lock",
        DynamoDBBackend,
        "delete_item",
        _locked_delete_item,
        (
            "self",
            "table_name",
            "key",
            "expression_attribute_names",
            "expression_attribute_values",
            "condition_expression",
            "return_values_on_condition_check_failure",
        ),
        _TRANSACTION_GOES,
    ),
    Patch(
        "UpdateItem carries out plain updates directly",
        DynamoDBBackend,
        "update_item",
        _update_item,
        tuple(inspect.signature(_update_item).parameters),  # it stands in for moto's: the same names, in order
        "when moto's UpdateItem validates an expression without walking its tree a few dozen times (15 ms an item)",
        relies_on=(_code_has("> 405000", "the item size limit restated here", lambda _: LimitedSizeDict.__setitem__),),
    ),
    Patch(
        "DynamoDB responses written with json.dumps",
        DynamoHandler,
        "serialized",
        _serialized,
        ("self", "action_result"),
        "when moto's JSON-protocol responses stop walking the API's shape model value by value",
        relies_on=(
            Expectation(
                "moto's ActionResult to hold the answer in .result (written here as JSON)",
                lambda _: None if isinstance(vars(ActionResult).get("result"), property) else "no result property",
            ),
        ),
    ),
    Patch(
        "conditions parsed once (backend)",
        dynamodb_models,
        "get_filter_expression",
        _get_filter_expression,
        _CONDITION_PARAMETERS,
        _CONDITIONS_GO,
    ),
    Patch(
        "conditions parsed once (tables)",
        dynamodb_tables,
        "get_filter_expression",
        _get_filter_expression,
        _CONDITION_PARAMETERS,
        _CONDITIONS_GO,
    ),
    Patch(
        "request checks read cached condition parsers",
        dynamodb_responses,
        "create_condition_expression_parser",
        _checked_condition,
        _CONDITION_PARAMETERS,
        _REQUEST_CHECKS_GO,
        relies_on=(
            _code_has("self.expr_attr_names_found", "read here", lambda _: ConditionExpressionParser.__init__),
            _code_has("self.expr_attr_values_found", "read here", lambda _: ConditionExpressionParser.__init__),
        ),
    ),
    Patch(
        "request checks read cached update parsers",
        dynamodb_responses,
        "UpdateExpressionParser",
        _CheckedUpdates,
        ("expression_str",),
        _REQUEST_CHECKS_GO,
        signature_of=lambda parser: parser.make,  # the only part of the class the request handler uses
        shape="a class with a make()",
        relies_on=(Expectation("the request handler to use it only through make()", _other_update_parser_uses),),
    ),
    Patch(
        "SQS reads the clock without building datetimes",
        sqs_models,
        "unix_time_millis",
        _unix_time_millis,
        ("dt",),
        "when moto's SQS asks whether a message is visible without building two datetimes",
        relies_on=(Expectation("milliseconds since the epoch", _reads_milliseconds_since_the_epoch),),
    ),
    Patch(
        "ListObjectVersions URL-encodes keys when asked",
        S3Response,
        "list_object_versions",
        _list_object_versions,
        ("self",),
        "when moto's ListObjectVersions honours encoding-type=url (then this one would encode the keys twice)",
        relies_on=(
            _code_has("self.serialized(ActionResult(", "the answer the patch encodes"),
            Expectation(
                "code that ignores encoding-type",
                lambda target: f"code that reads it ({_where(target)})" if _ENCODING.search(_source(target)) else None,
            ),
        ),
    ),
    Patch(
        "S3 routes keys holding a line break",
        S3Backend,
        "_url_module",
        _any_key_url_module,
        ("self",),
        "when moto's S3 routes an object's key with a pattern that matches a line break",
        signature_of=lambda routes: routes.fget,  # a property, read on each request
        shape="a property with a getter",
        relies_on=(_has_key("moto.s3.urls.url_paths", lambda: s3_urls.url_paths, _ROUTED_KEY),),
    ),
    Patch(
        "SESv2 answers GetAccount and GetConfigurationSetEventDestinations",
        SESV2Response,
        "call_action",
        _sesv2_call_action,
        ("self",),
        "when moto's SESv2 implements GetAccount and GetConfigurationSetEventDestinations",
        relies_on=(
            _not_implemented("get_account", "get_configuration_set_event_destinations"),
            _code_has("self._get_action()", "the operation's name, which the patch reads too"),
            _code_has(
                "self.config_set_event_destination[configuration_set_name] = event_destination",
                "the one v1 destination a set has, as it was created, answered in v2's spelling",
                lambda _: SESBackend.create_configuration_set_event_destination,
            ),
            _code_has("self.sent_message_count +=", "the count of emails sent", lambda _: SESBackend.send_email),
        ),
    ),
    Patch(
        "SESv2 routes GetAccount and GetConfigurationSetEventDestinations behind local serve",
        SESV2Backend,
        "_url_module",
        _sesv2_routes,
        ("self",),
        "when moto's SESv2 routes /v2/email/account and a set's /event-destinations itself",
        signature_of=lambda routes: routes.fget,  # a property, read when the server builds its routes
        shape="a property with a getter",
        relies_on=(Expectation("moto.sesv2.urls.url_paths without those routes", _without_routes),),
    ),
    Patch(
        "SESv2 GetEmailIdentity says verified",
        SESV2Response,
        "get_email_identity",
        _get_email_identity,
        ("self",),
        "when moto's GetEmailIdentity says VerifiedForSendingStatus true for the identities its SES sends from",
        relies_on=(
            _code_has("self.verified_for_sending_status = False", "what moto says", lambda _: EmailIdentity.__init__),
            _code_has("json.dumps(", "a JSON answer, amended here"),
        ),
    ),
    Patch(
        "SESv2 GetConfigurationSet says SendingEnabled as a boolean",
        ConfigurationSet,
        "to_dict_v2",
        _configuration_set_v2,
        ("self",),
        "when moto's GetConfigurationSet answers SendingEnabled true for a set created without SendingOptions",
        relies_on=(_code_has('"SendingOptions": {"SendingEnabled": self.enabled}', "the field replaced here"),),
    ),
    Patch(
        "a stack's JSON template read as JSON",
        Stack,
        "_parse_template",
        _parse_stack_template,
        ("self",),
        "when moto's CloudFormation reads a JSON template without its pure-Python YAML loader",
        relies_on=(
            _code_has(
                "self.parse_template(self.template)",
                "the one thing the replacement does",
                lambda _: Stack._parse_template,
            ),
            _code_has("yaml.load(template, Loader=yaml.Loader)", "what JSON skips", lambda _: Stack.parse_template),
        ),
    ),
    Patch(
        "Cognito's static signing key imported once",
        cognitoidp_models,
        "jwk",
        _cognito_jwk,
        ("value", "parameters", "password"),
        "when moto's Cognito imports its signing key once rather than for every user pool",
        relies_on=(
            _code_has(
                "jwk.RSAKey.import_key(jwks_file)",
                "the module's one use of jwk, answered here",
                lambda _: cognitoidp_models,
            ),
        ),
        signature_of=lambda module: module.RSAKey.import_key,
        shape="a module with RSAKey.import_key",
    ),
)


def install() -> None:
    """Installs every patch above not yet in place (the stack calls it once per stack); installs none, raising
    PatchNoLongerFits, if the installed moto no longer has what one of them expects."""
    install_patches(PATCHES)
