"""AWS WAF's web ACL in front of the stack's REST API, emulated locally: its rate-based rules count each client
address on its own, and a client over a rule's limit gets the rule's Block answer (the template's custom response)
while every other client is served.

Only what a web ACL of the template may hold is emulated: rate-based statements keyed on the client's address,
with Block, under a default action of Allow. A web ACL with anything else stops the local stack from starting
instead of being half applied. WAF estimates each address's rate and may act some seconds late; here the count is
exact, over a window that slides.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portal_import_local.http_api import Answer

# What API Gateway answers for a request WAF blocked without a custom response of its own.
_FORBIDDEN: Answer = (403, {"content-type": "application/json"}, b'{"message":"Forbidden"}')
_CONTENT_TYPES = {"TEXT_HTML": "text/html", "TEXT_PLAIN": "text/plain", "APPLICATION_JSON": "application/json"}
_DEFAULT_WINDOW_SECONDS = 300  # RateBasedStatement's EvaluationWindowSec when the template leaves it out


class UnsupportedWebAcl(ValueError):
    """A web ACL holds something the local runtime does not emulate."""


@dataclass(frozen=True)
class RateBasedRule:
    name: str
    priority: int
    limit: int  # requests one client address may send within the window
    window_seconds: int
    block: Answer


@dataclass(frozen=True)
class WebAcl:
    rules: tuple[RateBasedRule, ...]  # in the order WAF evaluates them (by priority)

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> WebAcl:
        """The web ACL an AWS::WAFv2::WebACL's properties describe, their intrinsic functions already resolved."""
        if "Allow" not in properties.get("DefaultAction", {}):
            raise UnsupportedWebAcl("the local stack emulates only web ACLs whose default action is Allow")
        bodies = properties.get("CustomResponseBodies", {})
        rules = [_rate_based_rule(rule, bodies) for rule in properties.get("Rules", [])]
        return cls(tuple(sorted(rules, key=lambda rule: rule.priority)))


def _rate_based_rule(rule: Mapping[str, Any], bodies: Mapping[str, Any]) -> RateBasedRule:
    statement = rule.get("Statement", {}).get("RateBasedStatement")
    action = rule.get("Action", {})
    if statement is None or statement.get("AggregateKeyType") != "IP" or "ScopeDownStatement" in statement:
        raise UnsupportedWebAcl(f"web ACL rule {rule.get('Name')}: only rate-based rules keyed on IP are emulated")
    if "Block" not in action:
        raise UnsupportedWebAcl(f"web ACL rule {rule.get('Name')}: only the Block action is emulated")
    return RateBasedRule(
        name=str(rule["Name"]),
        priority=int(rule["Priority"]),
        limit=int(statement["Limit"]),
        window_seconds=int(statement.get("EvaluationWindowSec", _DEFAULT_WINDOW_SECONDS)),
        block=_block_answer(action["Block"] or {}, bodies),
    )


def _block_answer(block: Mapping[str, Any], bodies: Mapping[str, Any]) -> Answer:
    """What the client gets: the custom response (status, headers, the body it names), or API Gateway's 403."""
    custom = block.get("CustomResponse")
    if not custom:
        return _FORBIDDEN
    headers = {str(header["Name"]).lower(): str(header["Value"]) for header in custom.get("ResponseHeaders", [])}
    body = b""
    if custom.get("CustomResponseBodyKey"):
        named = bodies[custom["CustomResponseBodyKey"]]
        headers["content-type"] = _CONTENT_TYPES[named["ContentType"]]
        body = str(named["Content"]).encode()
    return int(custom["ResponseCode"]), headers, body


@dataclass
class Firewall:
    """A web ACL at work: the times of each client address's recent requests, per rule."""

    acl: WebAcl
    clock: Callable[[], float] = time.monotonic
    _seen: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inspect(self, client: str) -> Answer | None:
        """None to let the request through, or the Block answer of the first rule whose limit the client is over.

        Every request counts, blocked ones too (WAF counts what it evaluates): a client that keeps sending stays
        blocked, and one that stops is served again once its requests are older than the window."""
        now = self.clock()
        with self._lock:
            for rule in self.acl.rules:
                times = self._seen.setdefault((rule.name, client), deque())
                while times and times[0] <= now - rule.window_seconds:
                    times.popleft()
                times.append(now)
                if len(times) > rule.limit:
                    return rule.block
        return None
