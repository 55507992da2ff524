"""Tasks shared by every request flow."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

import flows  # noqa: F401  (telemetry off before Prefect loads)
from dsr.discovery import Discovery
from dsr.erasure import discover_now
from dsr.runtime import runtime_for

#: Personal data must never be persisted as a task result, and every run must do its work:
#: idempotency lives in the control database, not in Prefect's caches.
TASK_OPTIONS = dict(cache_policy=NO_CACHE, persist_result=False)


@task(name="discover", **TASK_OPTIONS)
def discover_subject(config_dir: str, request_id: str) -> Discovery:
    discovery = discover_now(runtime_for(config_dir), request_id)
    get_run_logger().info(
        "request %s: %d record(s) in %d collection(s), %d link(s)",
        request_id, len(discovery.owned()), len(discovery.counts()), len(discovery.links()),
    )
    return discovery
