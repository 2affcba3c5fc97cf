"""The project's own exceptions: what the adapters (portal_import.aws) raise for what AWS answered, so that no flow
needs to know botocore to tell a passing fault from a refusal."""

from __future__ import annotations


class Transient(Exception):
    """A call failed in a way that says nothing about the request (throttling, a 5xx answer, a timeout, a lost
    connection): the same call may succeed a little later. portal_import.retry retries only these.

    One that is still raised after the retries fails the step: the message is delivered again, or the work goes
    back on the queue; it never becomes a row's `Processing error` or an email that is not delivered."""


class SettledThenFailed(Transient):
    """A ledger write failed for a passing reason after the sender's settlements (and the job's counters) were
    written: its caller must not write them again, or the counters would move twice."""


class OutOfPace(Transient):
    """A rate limiter has no slot left before the invocation's deadline: the work goes on in a later delivery."""


class SendRefused(Exception):
    """SES refused a send as a whole, for a reason that sending again would not change (e.g. the sender identity
    is not verified). The message is SES's wording, which says what to fix."""


class UserPoolConflict(Exception):
    """The pool holds a user under this username that is not this Contact's: nothing is changed."""


class PasswordRefused(Exception):
    """The pool refused the password (its policy, or a rule the activation page does not know): the link stays
    valid. The message is Cognito's error code, never its message, which may quote the request."""
