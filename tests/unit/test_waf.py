"""The local web ACL: a rate-based rule keyed on the client's address, as template.yaml's properties describe it,
blocks a client over its limit with the rule's custom response, and serves every other client."""

from __future__ import annotations

from typing import Any

import pytest

from portal_import_local.waf import Firewall, UnsupportedWebAcl, WebAcl


def _properties(limit: int = 3, **statement: Any) -> dict[str, Any]:
    """A web ACL's properties as template.yaml writes them, intrinsic functions resolved."""
    return {
        "Scope": "REGIONAL",
        "DefaultAction": {"Allow": {}},
        "Rules": [
            {
                "Name": "RequestsPerClient",
                "Priority": 0,
                "Statement": {"RateBasedStatement": {"AggregateKeyType": "IP", "Limit": str(limit), **statement}},
                "Action": {
                    "Block": {
                        "CustomResponse": {
                            "ResponseCode": 429,
                            "CustomResponseBodyKey": "TooManyRequests",
                            "ResponseHeaders": [{"Name": "Cache-Control", "Value": "no-store"}],
                        }
                    }
                },
            }
        ],
        "CustomResponseBodies": {"TooManyRequests": {"ContentType": "TEXT_HTML", "Content": "<p>Wait.</p>"}},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_over_its_limit_gets_the_custom_response_and_another_client_is_let_through() -> None:
    # Given a web ACL allowing each client 3 requests in its window (300 s when the template does not say)
    firewall = Firewall(WebAcl.from_properties(_properties(limit=3)), clock=Clock())
    # When one client sends 3 requests, then a 4th
    assert [firewall.inspect("203.0.113.7") for _ in range(3)] == [None, None, None]
    # Then the 4th is answered by the web ACL itself, as the template says
    assert firewall.inspect("203.0.113.7") == (
        429,
        {"cache-control": "no-store", "content-type": "text/html"},
        b"<p>Wait.</p>",
    )
    # and another client is let through
    assert firewall.inspect("198.51.100.4") is None


def test_a_client_that_keeps_sending_too_fast_stays_blocked_and_one_that_stops_is_served_after_the_window() -> None:
    clock = Clock()
    firewall = Firewall(WebAcl.from_properties(_properties(limit=2, EvaluationWindowSec=60)), clock=clock)
    # Given a client sending one request every 20 s: 3 a window, over its limit of 2
    answers = []
    for _ in range(5):
        answers.append(firewall.inspect("203.0.113.7") is None)
        clock.now += 20
    # Then from its third request on it is blocked: its blocked requests count too, as WAF counts what it evaluates
    assert answers == [True, True, False, False, False]
    # When it stops for the window's length, it is served again
    clock.now += 60
    assert firewall.inspect("203.0.113.7") is None


@pytest.mark.parametrize(
    "change",
    [
        {"AggregateKeyType": "FORWARDED_IP"},  # a header the client could set
        {"ScopeDownStatement": {"ByteMatchStatement": {}}},
    ],
)
def test_a_rule_the_local_stack_would_only_half_apply_stops_it_from_starting(change: dict[str, Any]) -> None:
    properties = _properties()
    properties["Rules"][0]["Statement"]["RateBasedStatement"].update(change)
    with pytest.raises(UnsupportedWebAcl):
        WebAcl.from_properties(properties)


def test_a_web_acl_that_blocks_by_default_is_not_emulated() -> None:
    with pytest.raises(UnsupportedWebAcl):
        WebAcl.from_properties({**_properties(), "DefaultAction": {"Block": {}}})
