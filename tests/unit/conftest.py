"""What every unit test shares: the flows' metrics start empty.

Powertools keeps the metrics a flow adds in memory until its handler flushes them, and flushes on its own once one
metric holds 100 values, which needs the namespace a function's environment gives. Without a handler, metrics
from one test would pile up across the session until whichever test added the hundredth failed for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal_import.observability import metrics


@pytest.fixture(autouse=True)
def _no_metrics_left_over() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
