"""What a person reads when a command's AWS call keeps failing: the shared adapters turn passing faults into
portal_import.errors.Transient, and the CLI still says which kind of failure it was and what to do."""

from __future__ import annotations

import argparse

import pytest
from botocore.exceptions import EndpointConnectionError

from portal_import.errors import Transient
from portal_import_cli.errors import reported


def _failing(error: Exception) -> int:
    @reported
    def command(args: argparse.Namespace) -> int:
        raise error

    return command(argparse.Namespace())


def test_an_endpoint_that_cannot_be_reached_through_every_retry_says_to_check_the_network(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a call the adapters retried until it gave up, because the endpoint could not be reached
    unreachable = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    try:
        raise Transient(str(unreachable)) from unreachable
    except Transient as error:
        failed = error
    # When the command fails with it
    status = _failing(failed)
    # Then the sentence is the one for a network that cannot reach AWS, not a passing fault's
    err = capsys.readouterr().err
    assert status == 1
    assert "cannot reach AWS" in err and "check your network, --region, or that `local serve` is running" in err


def test_a_throttled_call_through_every_retry_says_to_try_again(capsys: pytest.CaptureFixture[str]) -> None:
    status = _failing(Transient("ClientError: Rate exceeded"))
    err = capsys.readouterr().err
    assert status == 1
    assert (
        err.strip()
        == "portal-import: AWS kept failing for a passing reason (ClientError: Rate exceeded); try again in a minute."
    )
