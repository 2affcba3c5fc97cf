"""What goes wrong in a command, as a person reads it: one sentence on stderr that says what to do, and the exit
status scripts rely on (2 for a usage error, 1 for a failure, 130 when interrupted), never a traceback."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)

from portal_import.errors import Transient
from portal_import_cli.deployment import DeploymentError, TargetUnknown
from portal_import_cli.rendering import say

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
}


_UNREACHABLE = "cannot reach AWS ({error}); check your network, --region, or that `local serve` is running."


class UsageError(Exception):
    """A mistake in the command line (exit status 2)."""


class Interrupted(Exception):
    pass


def reported(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The command, with every failure ended as one sentence on stderr and an exit status."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (UsageError, TargetUnknown) as error:
            say(str(error))
            return 2
        except Interrupted as error:
            say(str(error))
            return 130
        except KeyboardInterrupt:
            say("interrupted.")
            return 130
        except DeploymentError as error:
            say(str(error))
            return 1
        except ClientError as error:
            say(_client_error_sentence(error))
            return 1
        except Transient as error:  # throttled, unavailable or unreachable through every retry of the shared adapters
            if isinstance(error.__cause__, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
                say(_UNREACHABLE.format(error=error.__cause__))
            else:
                say(f"AWS kept failing for a passing reason ({error}); try again in a minute.")
            return 1
        except (NoCredentialsError, PartialCredentialsError):
            say(
                "no AWS credentials were found: run `aws configure` or `aws sso login`, set AWS_PROFILE or pass "
                "--profile (local serve takes any, e.g. AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local)."
            )
            return 1
        except (SSOError, TokenRetrievalError):
            say("your AWS SSO session has expired or was never started: run `aws sso login` and try again.")
            return 1
        except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as error:
            say(_UNREACHABLE.format(error=error))
            return 1
        except BotoCoreError as error:
            say(f"the AWS call failed: {error}.")
            return 1
        except BrokenPipeError:
            # Whoever read stdout went away (`| head`): nothing is left to tell, and Python's own flush at exit must
            # not complain about it either.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except OSError as error:  # a local file: the one to upload, or where results go
            say(f"{error.filename or 'a local file'}: {error.strerror or error}.")
            return 1

    return run


def _client_error_sentence(error: ClientError) -> str:
    details = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    message = str(details.get("Message", "")).rstrip(".")
    operation = error.operation_name
    if code in ACCESS_DENIED or code == "403":
        return (
            f"access denied to {operation}{': ' + message if message else ''}; "
            "ask for that permission, or use --profile with an identity that has it."
        )
    if code in _EXPIRED:
        return "your AWS credentials have expired: refresh them (e.g. `aws sso login`) and try again."
    if code in _BAD_CREDENTIALS:
        return f"AWS does not accept your credentials ({code}): check --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID."
    if code == "ResourceNotFoundException":
        return (
            f"{operation} found no such table ({message}): check --stack, --jobs-table or --directory-table, "
            "and --region."
        )
    if code == "NoSuchBucket":
        return "the import bucket does not exist: check --stack or --bucket, and --region."
    return f"{operation} failed ({code}): {message}."
