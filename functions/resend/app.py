"""Resend: carries out `portal-import resend` (docs/contracts.md §6). The administrator's command invokes it with
the job, and at most the Contacts to reach; the stack decides each recipient's user, address and name."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import ResendSettings
from portal_import.flows.resend import ResendDeps, answer
from portal_import.flows.resume import RESUME_EMAILS, ResumeDeps, resume_emails
from portal_import.observability import logger, metrics, tracer


@lru_cache(maxsize=1)
def _deps() -> ResendDeps:
    return wiring.resend_deps(ResendSettings.from_env())


@lru_cache(maxsize=1)
def _resume_deps() -> ResumeDeps:
    return wiring.resume_deps(ResendSettings.from_env())


@logger.inject_lambda_context(clear_state=True, log_event=False)  # the request names Contacts: not for the log
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("action") == RESUME_EMAILS:  # `portal-import resume-emails JOB`
        resumed = resume_emails(str(event.get("jobId", "")), _resume_deps())
        logger.info("Resume emails", extra={"answer": resumed})
        return resumed
    done = answer(event, _deps())
    if "refused" in done:
        logger.info("Resend refused", extra={"reason": done["refused"]})
    else:
        metrics.add_metric(name="ActivationEmailsResent", unit="Count", value=len(done["queued"]))
        logger.info("Resend queued", extra={"request": done["request"], "queued": len(done["queued"])})
    return done
