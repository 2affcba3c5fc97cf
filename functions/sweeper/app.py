"""Sweeper: on a schedule, finishes the jobs whose progress has stalled."""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from portal_import import wiring
from portal_import.config import SweeperSettings
from portal_import.flows.sweep import SweepDeps, sweep
from portal_import.observability import logger, metrics, tracer


@lru_cache(maxsize=1)
def _deps(settings: SweeperSettings) -> SweepDeps:
    return wiring.sweep_deps(settings)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=EventBridgeModel)
def handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, list[str]]:
    settings = SweeperSettings.from_env()
    # The scheduled event's time is "now": a sweep judges staleness as of when it was scheduled.
    swept = sweep(event.time, _deps(settings), settings)
    metrics.add_metric(name="StalledJobsSwept", unit="Count", value=len(swept))
    return {"jobIds": swept}
